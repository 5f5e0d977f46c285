#!/usr/bin/env bash
# Boot agent: lava-rc, the s3run link and its systemd unit (rc.d/install.sh), early: before the long builds.
# shellcheck source=/dev/null # lib/common.sh of this tree, found at run time
. "$(dirname "$0")/../lib/common.sh"


# Early on purpose: install.sh runs the agent, so an agent that cannot start on this system (a glibc
# newer than AL2023's 2.34) fails the build here, minutes in, not after the 30-45 minutes of builds.
[ -x "$LAVA_AMI_DIR/agent/lava-rc" ] || die "the tarball has no agent/lava-rc"
bash "$LAVA_AMI_DIR/rc.d/install.sh" "$LAVA_AMI_DIR/agent/lava-rc"
info "$(/usr/local/bin/lava-rc --version)"
