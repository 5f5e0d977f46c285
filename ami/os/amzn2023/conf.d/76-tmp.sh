#!/usr/bin/env bash
# /tmp on the root volume, not tmpfs (jobs write large temporary files).
# shellcheck source=/dev/null # lib/common.sh of this tree, found at run time
. "$(dirname "$0")/../lib/common.sh"

systemctl mask tmp.mount
info "tmp.mount masked"
