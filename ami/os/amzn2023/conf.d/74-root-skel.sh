#!/usr/bin/env bash
# root and /etc/skel: AWS CLI config from /usr/local/etc/aws/config; skeleton homes mode 750.
# shellcheck source=/dev/null # lib/common.sh of this tree, found at run time
. "$(dirname "$0")/../lib/common.sh"

install -d -m 0755 /usr/local/etc/aws
install -d -m 0700 /root/.aws
ln -sf /usr/local/etc/aws/config /root/.aws/config
install -d -m 0750 /etc/skel/.aws
ln -sf /usr/local/etc/aws/config /etc/skel/.aws/config
chmod 0750 /etc/skel
sed -i 's/^#\?HOME_MODE.*/HOME_MODE 0750/' /etc/login.defs
info "root and skeleton set up"
