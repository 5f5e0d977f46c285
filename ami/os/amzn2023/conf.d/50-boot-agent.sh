#!/usr/bin/env bash
# Boot agent: lava-rc, the s3run link and its systemd unit (rc.d/install.sh).
# shellcheck source=/dev/null # lib/common.sh of this tree, found at run time
. "$(dirname "$0")/../lib/common.sh"


[ -x "$LAVA_AMI_DIR/agent/lava-rc" ] || die "the tarball has no agent/lava-rc"
bash "$LAVA_AMI_DIR/rc.d/install.sh" "$LAVA_AMI_DIR/agent/lava-rc"
info "$(/usr/local/bin/lava-rc --version)"
