#!/usr/bin/env bash
# profile.d files: PATH, Python and Oracle environment for every login.
# shellcheck source=/dev/null # lib/common.sh of this tree, found at run time
. "$(dirname "$0")/../lib/common.sh"

install_file "$LAVA_AMI_DIR/resources/profile.d/lava.sh" /etc/profile.d/lava.sh 0644
info "profile.d/lava.sh installed"
