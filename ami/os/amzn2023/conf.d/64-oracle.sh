#!/usr/bin/env bash
# Oracle Instant Client basiclite and SQL*Plus from s3://$S3BUCKET/${S3PREFIX}oracle/ (arch suffix x64 or arm64).
# shellcheck source=/dev/null # lib/common.sh of this tree, found at run time
. "$(dirname "$0")/../lib/common.sh"

retry 3 dnf -y -q install libaio
arch=$(arch_oracle)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for zip in instantclient-basiclite instantclient-sqlplus; do
    retry 3 aws s3 cp --only-show-errors "s3://$S3BUCKET/${S3PREFIX}oracle/$zip-linux-$arch.zip" "$work/"
    unzip -q -o "$work/$zip-linux-$arch.zip" -d /opt/oracle
done
dir=$(find /opt/oracle -maxdepth 1 -type d -name 'instantclient_*' | sort | tail -1)
[ -n "$dir" ] || die "no instantclient_* folder in /opt/oracle"
echo "$dir" >/etc/ld.so.conf.d/oracle-instantclient.conf
ldconfig
ln -sf "$dir/sqlplus" /usr/local/bin/sqlplus
# cron's PATH is /usr/bin:/bin (lava links sqlplus into /usr/bin too).
ln -sf "$dir/sqlplus" /usr/bin/sqlplus
info "Oracle Instant Client in $dir"
