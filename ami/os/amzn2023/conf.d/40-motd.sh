#!/usr/bin/env bash
# Message of the day naming the AMI (from /usr/local/etc/ami-info).
# shellcheck source=/dev/null # lib/common.sh of this tree, found at run time
. "$(dirname "$0")/../lib/common.sh"


install_file "$LAVA_AMI_DIR/resources/motd.sh" /etc/update-motd.d/60-lava 0755
info "motd installed"
