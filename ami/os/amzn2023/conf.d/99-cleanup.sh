#!/usr/bin/env bash
# Cleanup: package caches, sources, logs, shell history and the machine id, so the AMI starts clean.
# shellcheck source=/dev/null # lib/common.sh of this tree, found at run time
. "$(dirname "$0")/../lib/common.sh"

dnf -y -q clean all
rm -rf /usr/local/src/* /var/cache/dnf/*
find /var/log -type f -name '*.log' -exec truncate -s 0 {} +
rm -f /root/.bash_history /home/*/.bash_history
# Every instance must get its own machine id (journald, DHCP client ids, the CloudWatch agent): an
# empty /etc/machine-id makes systemd generate one at first boot. The build reboots after this step,
# which writes a new id, so the template's last provisioner empties it once more.
truncate -s 0 /etc/machine-id
[ -L /var/lib/dbus/machine-id ] || rm -f /var/lib/dbus/machine-id
info "cleaned up"
