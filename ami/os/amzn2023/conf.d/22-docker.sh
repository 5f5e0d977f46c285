#!/usr/bin/env bash
# Docker installed and enabled; ec2-user in group docker.
# shellcheck source=/dev/null # lib/common.sh of this tree, found at run time
. "$(dirname "$0")/../lib/common.sh"


retry 3 dnf -y -q install docker
systemctl enable --now docker
usermod -aG docker ec2-user
info "docker $(docker --version | cut -d" " -f3 | tr -d ,) enabled"
