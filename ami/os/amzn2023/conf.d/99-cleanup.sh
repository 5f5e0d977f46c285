#!/usr/bin/env bash
# Cleanup: package caches, sources, logs and shell history, so the AMI starts clean.
# shellcheck source=/dev/null # lib/common.sh of this tree, found at run time
. "$(dirname "$0")/../lib/common.sh"

dnf -y -q clean all
rm -rf /usr/local/src/* /var/cache/dnf/*
find /var/log -type f -name '*.log' -exec truncate -s 0 {} +
rm -f /root/.bash_history /home/*/.bash_history
info "cleaned up"
