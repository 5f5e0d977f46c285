#!/usr/bin/env bash
# Time zone from TIMEZONE.
# shellcheck source=/dev/null # lib/common.sh of this tree, found at run time
. "$(dirname "$0")/../lib/common.sh"


timedatectl set-timezone "$TIMEZONE"
info "time zone $TIMEZONE"
