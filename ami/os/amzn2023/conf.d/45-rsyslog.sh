#!/usr/bin/env bash
# rsyslog with lava's contract: local0 as raw JSON lines in /var/log/lava (and /var/log/messages), UDP 514 for containers, rotated.
# shellcheck source=/dev/null # lib/common.sh of this tree, found at run time
. "$(dirname "$0")/../lib/common.sh"

retry 3 dnf -y -q install rsyslog logrotate
install_file "$LAVA_AMI_DIR/resources/rsyslog.d/lava.conf" /etc/rsyslog.d/lava.conf 0644
install_file "$LAVA_AMI_DIR/resources/logrotate.d/lava" /etc/logrotate.d/lava 0644
# The whole configuration as rsyslog reads it, and the rotation as logrotate reads it.
rsyslogd -N1 || die "rsyslogd -N1 rejects the configuration"
logrotate -d /etc/logrotate.d/lava 2>/dev/null || die "logrotate -d rejects /etc/logrotate.d/lava"
systemctl enable rsyslog
info "rsyslog configured: local0 -> /var/log/lava (%rawmsg%) and /var/log/messages; UDP 514; logrotate.d/lava"
