#!/usr/bin/env bash
# /tmp on the root volume, not tmpfs (jobs write large files), cleaned by systemd-tmpfiles after 7 days.
# shellcheck source=/dev/null # lib/common.sh of this tree, found at run time
. "$(dirname "$0")/../lib/common.sh"

systemctl mask tmp.mount
# A find in cron would also delete the PrivateTmp folders of long-running services; the tmpfiles.d
# rule excludes them.
install_file "$LAVA_AMI_DIR/resources/tmpfiles.d/tmp.conf" /etc/tmpfiles.d/tmp.conf 0644
grep -q '^q /tmp 1777 root root m:7d' <<<"$(systemd-tmpfiles --cat-config 2>/dev/null)" ||
    die "systemd-tmpfiles does not read /etc/tmpfiles.d/tmp.conf"
info "tmp.mount masked; /tmp cleaned by systemd-tmpfiles (7 days, PrivateTmp folders kept)"
