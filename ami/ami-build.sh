#!/usr/bin/env bash
# Provisions a lava AMI build instance. Packer unpacks the provisioning tarball into ~/packer and runs
# this script as root with OS, REPO_UPGRADE, TIMEZONE, S3BUCKET, S3PREFIX, PYTHON_VERSION and
# AWS_DEFAULT_REGION set. It refuses to run on another OS than $OS, runs conf.d/[0-9]* in name order,
# stops at the first step that fails (naming it and its exit status), and installs /etc/skel into the
# build user's home. Overrides for tests: AMI_BUILD_OS_RELEASE (os-release file), AMI_BUILD_CONF_DIR,
# AMI_BUILD_USER and AMI_BUILD_HOME (whose home gets the skeleton), AMI_BUILD_SKEL.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
os_release=${AMI_BUILD_OS_RELEASE:-/etc/os-release}
conf_dir=${AMI_BUILD_CONF_DIR:-$here/conf.d}
skel=${AMI_BUILD_SKEL:-/etc/skel}
build_user=${AMI_BUILD_USER:-${SUDO_USER:-ec2-user}}

say() { printf 'ami-build: %s\n' "$*"; }
fail() { printf 'ami-build: error: %s\n' "$*" >&2; exit "${2:-1}"; }

[ -n "${OS:-}" ] || fail "OS is not set (e.g. OS=amzn2023)" 2
[ -r "$os_release" ] || fail "cannot read $os_release" 2
# os-release is a shell fragment by definition; read it in a subshell so nothing leaks.
# shellcheck source=/dev/null
running=$(. "$os_release" && printf '%s%s' "${ID:-}" "${VERSION_ID:-}")
if [ "$running" != "$OS" ]; then
    fail "this instance runs '$running' (ID+VERSION_ID of $os_release) but OS=$OS: refusing to provision" 2
fi
[ -d "$conf_dir" ] || fail "no step folder $conf_dir" 2

export AMI_BUILD_DIR=$here
started=$EPOCHREALTIME
count=0
for step in "$conf_dir"/[0-9]*; do
    [ -f "$step" ] || continue
    name=$(basename "$step")
    t0=$EPOCHREALTIME
    say "step $name: start"
    status=0
    if [ -x "$step" ]; then
        "$step" </dev/null || status=$?
    else
        bash "$step" </dev/null || status=$?
    fi
    secs=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
    if [ "$status" -ne 0 ]; then
        fail "step $name failed with exit status $status after ${secs}s; stopping (later steps not run)" "$status"
    fi
    say "step $name: ok in ${secs}s"
    count=$((count + 1))
done

if home=${AMI_BUILD_HOME:-$(getent passwd "$build_user" | cut -d: -f6)} && [ -n "$home" ] && [ -d "$skel" ]; then
    cp -a "$skel/." "$home/"
    if getent passwd "$build_user" >/dev/null; then
        chown -R "$build_user:" "$home"
    fi
    say "skeleton $skel installed into $home"
else
    say "warning: no home for build user $build_user: skeleton not installed"
fi
total=$(awk -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
say "all $count steps done in ${total}s"
