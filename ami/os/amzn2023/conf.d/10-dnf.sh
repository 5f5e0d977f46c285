#!/usr/bin/env bash
# dnf: follow the latest release, update everything, and set REPO_UPGRADE for instances.
# shellcheck source=/dev/null # lib/common.sh of this tree, found at run time
. "$(dirname "$0")/../lib/common.sh"


dnf -y -q --releasever=latest upgrade
# Instances launched from the AMI apply this class of updates at first boot (cloud-init repo_upgrade).
install -d -m 0755 /etc/cloud/cloud.cfg.d
printf "repo_upgrade: %s\n" "$REPO_UPGRADE" >/etc/cloud/cloud.cfg.d/90-lava-repo-upgrade.cfg
info "system updated; repo_upgrade: $REPO_UPGRADE"
