#!/usr/bin/env bash
# MySQL client $MYSQL_VERSION from MySQL's packages (the distribution's is old), signing key imported explicitly.
# shellcheck source=/dev/null # lib/common.sh of this tree, found at run time
. "$(dirname "$0")/../lib/common.sh"

# The packages come from the build bucket (downloads.lock pins each file), not from repo.mysql.com:
# the build works in a private subnet, and no MySQL repository is left on the instances (an
# unreachable repository would make every dnf run at boot fail). MySQL has rotated its signing key
# before, so the key is imported explicitly and checked against the key id MySQL publishes, and
# every package's signature is checked against it.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
key=RPM-GPG-KEY-mysql-2023
fetch_download "$key" "$work"
ids=$(gpg --show-keys --with-colons "$work/$key" | awk -F: '$1 == "pub" { print $5 }')
grep -qix "$MYSQL_KEY_ID" <<<"$ids" || die "$key has key id(s) $ids, not MySQL's published $MYSQL_KEY_ID"
rpm --import "$work/$key"
arch=$(arch_kernel)
rpms=()
for pkg in common client-plugins libs client; do
    file=mysql-community-$pkg-$MYSQL_VERSION-1.el9.$arch.rpm
    fetch_download "$file" "$work"
    # rpm -K exits non-zero when a signature is missing, bad, or made with a key not imported.
    rpm -K "$work/$file" >/dev/null || die "$file: signature check failed ($(rpm -K "$work/$file" 2>&1))"
    rpms+=("$work/$file")
done
retry 3 dnf -y -q install "${rpms[@]}"
# Pinned: dnf never replaces these with another version (no MySQL repository is configured).
[ "$(rpm -q --qf '%{VERSION}' mysql-community-client)" = "$MYSQL_VERSION" ] ||
    die "mysql-community-client is not $MYSQL_VERSION"
info "$(mysql --version)"
