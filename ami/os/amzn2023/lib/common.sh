#!/usr/bin/env bash
# Helpers shared by the conf.d steps: source it with
#   . "$(dirname "$0")/../lib/common.sh"
# It loads versions.sh, sets strict mode and PATH, and provides logging, `require`, `retry`,
# `fetch_download` and the three spellings of the machine architecture.

set -euo pipefail

# The steps run through `sudo env … bash`, whose PATH is sudo's secure_path (on some systems without
# /usr/local/bin). Set it here, our tools first: python3, sqlplus, tsql and openssl resolve to what
# this build installs. System tools call /usr/bin/python3 by full path and are not affected.
export PATH=/usr/local/bin:/usr/local/sbin:/usr/bin:/usr/sbin:/bin:/sbin
# packer must not look for updates on the internet (a private subnet reaches only S3).
export CHECKPOINT_DISABLE=1

LAVA_AMI_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export LAVA_AMI_DIR
# shellcheck source=/dev/null # a file of this tree, found at run time
. "$LAVA_AMI_DIR/versions.sh"

step_name=$(basename "$0" .sh)

if [ -t 2 ] && [ -z "${NO_COLOR:-}" ]; then
    _c_info=$'\e[36m' _c_warn=$'\e[33m' _c_err=$'\e[31m' _c_off=$'\e[0m'
else
    _c_info='' _c_warn='' _c_err='' _c_off=''
fi

info() { printf '%s[%s]%s %s\n' "$_c_info" "$step_name" "$_c_off" "$*" >&2; }
warn() { printf '%s[%s] warning:%s %s\n' "$_c_warn" "$step_name" "$_c_off" "$*" >&2; }
die() {
    printf '%s[%s] error:%s %s\n' "$_c_err" "$step_name" "$_c_off" "$*" >&2
    exit 1
}

# require VAR… : every variable named must be set and not empty.
require() {
    local v missing=()
    for v in "$@"; do
        [ -n "${!v:-}" ] || missing+=("$v")
    done
    ((${#missing[@]} == 0)) || die "not set: ${missing[*]}"
}

# retry TRIES CMD… : runs CMD until it succeeds, waiting 2, 4, 8… seconds (at most 60) between tries.
retry() {
    local tries=$1 n=1 wait=2
    shift
    until "$@"; do
        if ((n >= tries)); then
            warn "gave up after $n tries: $*"
            return 1
        fi
        warn "try $n of $tries failed: $*; again in ${wait}s"
        sleep "$wait"
        n=$((n + 1))
        wait=$((wait * 2 > 60 ? 60 : wait * 2))
    done
}

# The machine architecture as the kernel (x86_64/aarch64), Oracle's zips (x64/arm64) and
# Debian/Docker (amd64/arm64) spell it. LAVA_ARCH overrides uname -m (tests).
arch_kernel() {
    local m=${LAVA_ARCH:-$(uname -m)}
    case $m in
        x86_64 | amd64 | x64) echo x86_64 ;;
        aarch64 | arm64) echo aarch64 ;;
        *) die "unsupported architecture $m" ;;
    esac
}
arch_oracle() { [ "$(arch_kernel)" = x86_64 ] && echo x64 || echo arm64; }
arch_deb() { [ "$(arch_kernel)" = x86_64 ] && echo amd64 || echo arm64; }

# install_file SRC DEST MODE : copies a resource file into place, owned by root.
install_file() {
    install -D -o root -g root -m "$3" "$1" "$2"
}

# fetch_download FILE DEST_DIR : copies FILE from s3://$S3BUCKET/${S3PREFIX}downloads/ (where the
# sync put ami/resources.s3/downloads/) into DEST_DIR and checks it against its SHA-256 pinned in
# downloads.lock; an unpinned or differing file fails the step. A rotating CA bundle (sum
# ca-bundle) must be a bundle of certificates that openssl reads whole. Only S3 is reached, so a
# build in a subnet with just an S3 endpoint works.
fetch_download() {
    local file=$1 dest=$2 sum
    sum=$(awk -v f="$file" '$1 == f { print $3 }' "$LAVA_AMI_DIR/downloads.lock")
    [ -n "$sum" ] || die "$file is not listed in downloads.lock"
    [ "$sum" != - ] || die "$file is not pinned in downloads.lock (make downloads-pin)"
    install -d "$dest"
    retry 3 aws s3 cp --only-show-errors "s3://$S3BUCKET/${S3PREFIX}downloads/$file" "$dest/$file" ||
        die "cannot copy s3://$S3BUCKET/${S3PREFIX}downloads/$file (was ami/resources.s3/downloads/ synced?)"
    if [ "$sum" = ca-bundle ]; then
        local blocks parsed
        blocks=$(grep -c -- '-----BEGIN CERTIFICATE-----' "$dest/$file" || true)
        parsed=$(openssl storeutl -noout -certs "$dest/$file" 2>/dev/null | awk '/^Total found:/ { print $3 }')
        if [ "$blocks" -eq 0 ] || [ "${parsed:-0}" != "$blocks" ]; then
            die "$file is not a CA bundle (openssl reads ${parsed:-0} of its $blocks certificates)"
        fi
        info "$file fetched from S3: $blocks certificates (a rotating CA bundle: no pinned sum)"
        return
    fi
    printf '%s  %s\n' "$sum" "$dest/$file" | sha256sum --check --quiet - ||
        die "$file does not have its pinned SHA-256 $sum"
    info "$file fetched from S3, SHA-256 verified"
}
