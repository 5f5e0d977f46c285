#!/usr/bin/env bash
# dnf: follow the latest release (persisted), update everything, and set REPO_UPGRADE for instances.
# shellcheck source=/dev/null # lib/common.sh of this tree, found at run time
. "$(dirname "$0")/../lib/common.sh"

# Versioned AL2023 repositories are frozen; dnf reads the release from /etc/dnf/vars/releasever on
# every run, so `latest` must be written there (a --releasever option lasts one command only).
# Instances then find new updates at boot with REPO_UPGRADE.
install_file "$LAVA_AMI_DIR/resources/dnf/releasever" /etc/dnf/vars/releasever 0644
[ "$(cat /etc/dnf/vars/releasever)" = latest ] || die "/etc/dnf/vars/releasever is not latest"
retry 3 dnf -y -q upgrade
# Instances launched from the AMI apply this class of updates at first boot (cloud-init repo_upgrade).
install -d -m 0755 /etc/cloud/cloud.cfg.d
printf "repo_upgrade: %s\n" "$REPO_UPGRADE" >/etc/cloud/cloud.cfg.d/90-lava-repo-upgrade.cfg
info "system updated to release $(rpm -q --qf '%{VERSION}' system-release); releasever latest; repo_upgrade: $REPO_UPGRADE"
