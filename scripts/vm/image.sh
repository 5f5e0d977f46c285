#!/usr/bin/env bash
# The VM images of the boot agent's VM test (tests/it/vm.rs).
#
#   scripts/vm/image.sh rootfs          make the VM OS (cached under build/vm/, keyed by scripts/deps/vm.lock)
#   scripts/vm/image.sh rootfs-record   make it anew and record its package set in scripts/deps/vm.lock
#   scripts/vm/image.sh check           exit 1 when the cached VM OS of vm.lock is missing
#   scripts/vm/image.sh paths           print the cached tar, kernel and initrd (one a line)
#   scripts/vm/image.sh disk FS OUT [--agent LAVA_RC] [--rc-local] [--moto URL]
#                                       a raw disk image at OUT with root on FS (xfs or ext4), made from the
#                                       VM OS; --agent installs that lava-rc with rc.d/install.sh (the unit);
#                                       --rc-local installs it for rc.local instead (unit disabled, /etc/rc.local
#                                       the shim); --moto: the AWS endpoint the agent uses (the S3 emulator)
#
# The VM OS: Debian 12 made with debootstrap from the mirror the lab OS uses, with a kernel, systemd,
# cron, rsyslog, xfsprogs and CA certificates (as on any instance: the agent's S3 client needs them);
# its package set must be vm.lock's. The lab's own parts (the network by
# DHCP, an ec2-user, the 9p share /lab and the report unit lab-report) come from scripts/vm/guest/.
# The kernel and initrd are taken out of it, for qemu's -kernel/-initrd (no boot loader).
# Disks are made with mkfs and a loop mount (root is needed, as for the rest of the tests).
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
deps="$top/scripts/deps"
guest="$top/scripts/vm/guest"
dir="$top/build/vm"
suite=bookworm
root=''
packages=linux-image-amd64,initramfs-tools,systemd-sysv,udev,cron,rsyslog,xfsprogs,ca-certificates

log() { printf 'vm image: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
usage() { sed -n '2,14p' "$0" >&2; exit 2; }

# key: what the cached VM OS is made from (package list, the recorded set, the guest files).
key() {
    [ -f "$deps/vm.lock" ] || die "no scripts/deps/vm.lock (scripts/vm/image.sh rootfs-record makes it)"
    { printf '%s %s\n' "$suite" "$packages"; cat "$deps/vm.lock" "$guest"/*; } | sha256sum | cut -c1-12
}

cached() { echo "$dir/debian-12-vm-$(key)"; }

packages_of() { # packages_of ROOT: "name version" of every installed package, sorted
    dpkg-query --admindir="$1/var/lib/dpkg" -W -f='${db:Status-Abbrev}${Package} ${Version}\n' |
        awk '$1 == "ii" { print $2, $3 }' | LC_ALL=C sort
}

rootfs() {
    local mode=${1:-check} base='' mirror
    [ "$mode" = record ] || base=$(cached)
    if [ "$mode" = check ] && [ -f "$base.tar" ] && [ -f "$base.vmlinuz" ] && [ -f "$base.initrd" ]; then
        log "$base.tar (cached)"
        return 0
    fi
    command -v debootstrap >/dev/null || die "debootstrap is not installed (scripts/test-services.sh install installs it)"
    mkdir -p "$dir"
    root=$(mktemp -d "$dir/rootfs.XXXXXX")
    chmod 0755 "$root" # the tar's "." is the VM's /
    trap 'rm -rf "$root"' EXIT # root: global, for the trap
    mirror=$("$top/scripts/test-services.sh" mirror)
    log "debootstrap $suite ($packages) from $mirror into $root"
    if ! debootstrap --variant=minbase --include="$packages" "$suite" "$root" "$mirror" >"$dir/debootstrap.log" 2>&1; then
        die "debootstrap failed (log: $dir/debootstrap.log)"
    fi
    if [ "$mode" = record ]; then
        { echo "# The VM OS's package set (debootstrap $suite --variant=minbase --include=$packages),"
          echo "# recorded by 'make test-deps-update'; the VM OS is refused when debootstrap gives anything else."
          packages_of "$root"; } >"$deps/vm.lock"
        base=$(cached)
    elif ! diff -u <(grep -v '^#' "$deps/vm.lock") <(packages_of "$root") >"$dir/vm.diff"; then
        die "debootstrap gave other packages than scripts/deps/vm.lock (diff: $dir/vm.diff); move the pin with 'make test-deps-update'"
    fi
    if [ ! -f "$root/vmlinuz" ] || [ ! -f "$root/initrd.img" ]; then
        die "no kernel or initrd in the VM OS (/vmlinuz, /initrd.img)"
    fi
    # The lab's parts: DHCP on qemu's network, a user for crontabs, the share, the report unit.
    install -D -m 0644 "$guest/20-lab.network" "$root/etc/systemd/network/20-lab.network"
    install -D -m 0644 "$guest/lab-report.service" "$root/etc/systemd/system/lab-report.service"
    install -D -m 0755 "$guest/lab-report" "$root/usr/local/libexec/lab-report"
    mkdir -p "$root/lab"
    echo lava-vm >"$root/etc/hostname"
    chroot "$root" useradd --create-home --shell /bin/bash ec2-user
    chroot "$root" systemctl enable systemd-networkd.service systemd-networkd-wait-online.service lab-report.service 2>/dev/null
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    cp "$root/vmlinuz" "$base.vmlinuz.tmp"
    cp "$root/initrd.img" "$base.initrd.tmp"
    tar -C "$root" -cf "$base.tar.tmp" .
    mv "$base.vmlinuz.tmp" "$base.vmlinuz"
    mv "$base.initrd.tmp" "$base.initrd"
    mv "$base.tar.tmp" "$base.tar"
    log "$base.tar ($(du -h "$base.tar" | cut -f1)), kernel and initrd beside it"
}

disk() {
    local fs=${1:-} out=${2:-} agent='' rc_local='' moto='' base mnt
    [ $# -ge 2 ] || usage
    shift 2
    while [ $# -gt 0 ]; do
        case $1 in
            --agent) agent=${2:?--agent needs a path}; shift 2 ;;
            --rc-local) rc_local=1; shift ;;
            --moto) moto=${2:?--moto needs a URL}; shift 2 ;;
            *) log "disk: unknown option '$1': expected --agent, --rc-local or --moto"; exit 2 ;;
        esac
    done
    case $fs in
        xfs | ext4) ;;
        *) log "disk: file system '$fs': expected xfs or ext4"; exit 2 ;;
    esac
    base=$(cached)
    [ -f "$base.tar" ] || die "no VM OS at $base.tar (scripts/vm/image.sh rootfs makes it)"
    rm -f "$out"
    truncate -s 5G "$out"
    "mkfs.$fs" -q "$out" >/dev/null
    mnt=$(mktemp -d)
    mount -o loop "$out" "$mnt"
    # shellcheck disable=SC2064 # the paths are fixed now
    trap "umount '$mnt' && rmdir '$mnt'" EXIT
    tar -C "$mnt" -xpf "$base.tar"
    local pass=1
    [ "$fs" = ext4 ] || pass=0
    printf '/dev/vda / %s defaults 0 %s\nlab /lab 9p trans=virtio,version=9p2000.L,msize=262144 0 0\n' "$fs" "$pass" >"$mnt/etc/fstab"
    if [ -n "$agent" ]; then
        "$top/rc.d/install.sh" "$agent" "$mnt" >&2
        local unit=lava-rc.service
        if [ -n "$rc_local" ]; then
            # As an operator of a system that boots through rc.local: the unit off, the shim on.
            rm "$mnt/etc/systemd/system/multi-user.target.wants/lava-rc.service"
            ln -s /usr/local/libexec/lava-rc/rc.local "$mnt/etc/rc.local"
            unit=rc-local.service
        fi
        # The lab's stand-in for the instance role: the emulator's endpoint and test credentials;
        # and an IMDS deadline of 30 s, so that a boot without IMDS ends soon.
        mkdir -p "$mnt/etc/systemd/system/$unit.d"
        {
            echo "[Service]"
            [ -z "$moto" ] || echo "Environment=AWS_ENDPOINT_URL=$moto"
            echo "Environment=AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_SESSION_TOKEN=testing"
            if [ -z "$rc_local" ]; then
                echo "ExecStart="
                echo "ExecStart=/usr/local/bin/lava-rc boot --deadline 30"
            fi
        } >"$mnt/etc/systemd/system/$unit.d/lab.conf"
    fi
    log "disk $out: root on $fs${agent:+, lava-rc from $agent}${rc_local:+ (rc.local)}"
}

case "${1:-}" in
    rootfs) rootfs ;;
    rootfs-record) rootfs record ;;
    check) [ -f "$(cached).tar" ] || { echo "vm: no VM OS made from scripts/deps/vm.lock ($(cached).tar)"; exit 1; } ;;
    paths) b=$(cached); printf '%s\n' "$b.tar" "$b.vmlinuz" "$b.initrd" ;;
    disk) shift; disk "$@" ;;
    *) usage ;;
esac
