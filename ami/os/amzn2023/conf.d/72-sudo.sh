#!/usr/bin/env bash
# sudo keeps EC2_INSTANCE_NAME in the environment.
# shellcheck source=/dev/null # lib/common.sh of this tree, found at run time
. "$(dirname "$0")/../lib/common.sh"

printf 'Defaults env_keep += "EC2_INSTANCE_NAME"\n' >/etc/sudoers.d/lava-env
chmod 0440 /etc/sudoers.d/lava-env
visudo -cq -f /etc/sudoers.d/lava-env || die "sudoers fragment rejected"
info "sudo keeps EC2_INSTANCE_NAME"
