#!/usr/bin/env bash
# CloudWatch agent with the lava config at etc/config.json (where lava's worker boot script expects it), translated and enabled.
# shellcheck source=/dev/null # lib/common.sh of this tree, found at run time
. "$(dirname "$0")/../lib/common.sh"

cw=/opt/aws/amazon-cloudwatch-agent
retry 3 dnf -y -q install amazon-cloudwatch-agent
install_file "$LAVA_AMI_DIR/resources/cloudwatch/agent.json" "$cw/etc/config.json" 0644
# fetch-config runs the agent's own translator (a bad config fails here, not on every instance) and
# writes the agent's TOML/YAML; the unit then starts it with that at every boot.
"$cw/bin/amazon-cloudwatch-agent-ctl" -a fetch-config -m ec2 -c "file:$cw/etc/config.json" ||
    die "the CloudWatch agent rejects $cw/etc/config.json"
systemctl enable amazon-cloudwatch-agent
info "CloudWatch agent configured from $cw/etc/config.json"
