#!/usr/bin/env bash
# rsyslog with a UDP 514 input on localhost and the lava rsyslog config.
# shellcheck source=/dev/null # lib/common.sh of this tree, found at run time
. "$(dirname "$0")/../lib/common.sh"


retry 3 dnf -y -q install rsyslog
install_file "$LAVA_AMI_DIR/resources/rsyslog.d/lava.conf" /etc/rsyslog.d/lava.conf 0644
systemctl enable rsyslog
info "rsyslog configured"
