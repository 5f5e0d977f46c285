#!/usr/bin/env bash
# CloudWatch agent with the lava config.
# shellcheck source=/dev/null # lib/common.sh of this tree, found at run time
. "$(dirname "$0")/../lib/common.sh"


retry 3 dnf -y -q install amazon-cloudwatch-agent
install_file "$LAVA_AMI_DIR/resources/cloudwatch/agent.json" /opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.json 0644
systemctl enable amazon-cloudwatch-agent
info "CloudWatch agent configured"
