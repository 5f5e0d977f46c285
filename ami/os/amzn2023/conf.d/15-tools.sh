#!/usr/bin/env bash
# Tools and development headers (OpenSSL's too: the system's OpenSSL 3): atop, cronie, dos2unix, lftp, nvme-cli, ldap clients, telnet, full gnupg.
# shellcheck source=/dev/null # lib/common.sh of this tree, found at run time
. "$(dirname "$0")/../lib/common.sh"


retry 3 dnf -y -q install atop cronie dos2unix lftp nvme-cli openldap-clients telnet \
    gcc make perl-core zlib-devel bzip2-devel libffi-devel libedit-devel readline-devel sqlite-devel openssl-devel \
    xz-devel ncurses-devel gdbm-devel libuuid-devel unzip bzip2 xz
# The minimal gnupg cannot import keys with every algorithm: swap in the full one.
dnf -y -q swap gnupg2-minimal gnupg2-full || dnf -y -q install gnupg2-full
systemctl enable --now crond atop
info "tools installed"
