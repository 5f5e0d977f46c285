#!/bin/sh
# Oracle Instant Client basiclite and SQL*Plus from packages/ (arch suffix x64 or arm64), unpacked
# under /opt/oracle, registered with ldconfig, sqlplus on the PATH. libaio comes from the OS step.
set -eu
# shellcheck source=/dev/null # images/common/lib.sh, bind-mounted at build time
. "${BUILD_DIR:-/build}/common/lib.sh"
for zip in instantclient-basiclite instantclient-sqlplus; do
    f="${BUILD_DIR:-/build}/packages/${zip}-linux-${ARCH_ORACLE}.zip"
    [ -f "$f" ] || { echo "missing $f: see images/packages/README.md" >&2; exit 1; }
    unzip -q -o "$f" -d /opt/oracle
done
dir=$(find /opt/oracle -maxdepth 1 -type d -name "instantclient_*" | sort | tail -1)
echo "$dir" > /etc/ld.so.conf.d/oracle-instantclient.conf
ldconfig
ln -sf "$dir/sqlplus" /usr/local/bin/sqlplus
say "Oracle Instant Client in $dir"
