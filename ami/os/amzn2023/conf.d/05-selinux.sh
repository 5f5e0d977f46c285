#!/usr/bin/env bash
# SELinux off, on the kernel command line (takes effect at the reboot after the build).
# shellcheck source=/dev/null # lib/common.sh of this tree, found at run time
. "$(dirname "$0")/../lib/common.sh"


grubby --update-kernel ALL --args selinux=0
info "kernel argument selinux=0 set"
