#!/usr/bin/env bash
# SSM agent enabled, so instances can be reached with Session Manager.
# shellcheck source=/dev/null # lib/common.sh of this tree, found at run time
. "$(dirname "$0")/../lib/common.sh"


systemctl enable amazon-ssm-agent
info "amazon-ssm-agent enabled"
