#!/usr/bin/env bash
# umask 077 for login shells (/etc/profile).
# shellcheck source=/dev/null # lib/common.sh of this tree, found at run time
. "$(dirname "$0")/../lib/common.sh"


grep -q "^umask 077" /etc/profile || printf "\n# lava: private files by default\numask 077\n" >>/etc/profile
info "umask 077"
