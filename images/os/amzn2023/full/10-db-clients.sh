#!/bin/sh
# PostgreSQL client (psql) from the distribution, and MySQL's own client (mysql) at the AMI's
# version, as on the AMI (ami/os/amzn2023/conf.d/60-mysql.sh, 66-postgresql.sh): MySQL's signing
# key imported explicitly and checked against the key id MySQL publishes, every package's
# signature checked, no MySQL repository left in the image.
set -eu
# shellcheck source=/dev/null # images/common/lib.sh, bind-mounted at build time
. "${BUILD_DIR:-/build}/common/lib.sh"

retry 3 dnf -y -q install "postgresql${POSTGRESQL_MAJOR}"

work=$(mktemp -d)
base=https://repo.mysql.com
retry 3 curl -fsSLo "$work/mysql.key" "$base/RPM-GPG-KEY-mysql-2023"
ids=$(gpg --show-keys --with-colons "$work/mysql.key" | awk -F: '$1 == "pub" { print $5 }')
if ! printf '%s\n' "$ids" | grep -ix "$MYSQL_KEY_ID" >/dev/null; then
    echo "MySQL's key has id(s) $ids, not the published $MYSQL_KEY_ID" >&2
    exit 1
fi
rpm --import "$work/mysql.key"
rpms=""
for pkg in common client-plugins libs client; do
    file=mysql-community-$pkg-$MYSQL_VERSION-1.el9.$ARCH_KERNEL.rpm
    retry 3 curl -fsSLo "$work/$file" "$base/yum/mysql-8.4-community/el/9/$ARCH_KERNEL/$file"
    rpm -K "$work/$file" >/dev/null
    rpms="$rpms $work/$file"
done
# shellcheck disable=SC2086 # one word per package file
retry 3 dnf -y -q install $rpms
rm -rf "$work"
dnf clean all
say "$(psql --version); $(mysql --version)"
