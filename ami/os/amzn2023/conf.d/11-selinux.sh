#!/usr/bin/env bash
# SELinux off on the kernel command line, after the upgrade (so a kernel it installed gets it too).
# shellcheck source=/dev/null # lib/common.sh of this tree, found at run time
. "$(dirname "$0")/../lib/common.sh"

# Every installed kernel's boot entry, and the default for kernels installed later.
grubby --update-kernel ALL --args selinux=0
# Every entry, not just one: after an upgrade there are two kernels. The listing is read whole (a
# `grubby … | grep -q` would fail under pipefail when grep stops reading first).
args=$(grubby --info ALL | awk '/^args=/')
[ -n "$args" ] || die "grubby lists no boot entry"
if lacking=$(grep -v 'selinux=0' <<<"$args"); then
    die "boot entries without selinux=0: $lacking"
fi
info "kernel argument selinux=0 set on: $(grubby --info ALL | awk -F= '/^kernel=/ { printf "%s ", $2 }')"
