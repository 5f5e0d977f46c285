#!/usr/bin/env bash
# SELinux off on the kernel command line, after the upgrade (so a kernel it installed gets it too).
# shellcheck source=/dev/null # lib/common.sh of this tree, found at run time
. "$(dirname "$0")/../lib/common.sh"

# Every installed kernel's boot entry, and the default for kernels installed later.
grubby --update-kernel ALL --args selinux=0
grubby --info ALL | grep -q 'selinux=0' || die "no boot entry carries selinux=0"
info "kernel argument selinux=0 set on: $(grubby --info ALL | awk -F= '/^kernel=/ { printf "%s ", $2 }')"
