#!/usr/bin/env bash
# cron.d entries for lava housekeeping.
# shellcheck source=/dev/null # lib/common.sh of this tree, found at run time
. "$(dirname "$0")/../lib/common.sh"

install_file "$LAVA_AMI_DIR/resources/cron.d/lava" /etc/cron.d/lava 0644
info "cron.d/lava installed"
