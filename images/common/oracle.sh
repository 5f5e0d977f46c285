#!/bin/sh
# Oracle Instant Client basiclite and SQL*Plus from packages/ (arch suffix x64 or arm64), unpacked
# under /opt/oracle, registered with ldconfig, sqlplus on the PATH. libaio comes from the OS step.
# Each zip is used only when its SHA-256 is the one packages/oracle.sha256 gives for it
# (sha256sum's format: the checksums Oracle's download page shows, written by the user who
# downloads the zips); a missing checksum or a different zip stops the build before anything is
# unpacked.
set -eu
# shellcheck source=/dev/null # images/common/lib.sh, bind-mounted at build time
. "${BUILD_DIR:-/build}/common/lib.sh"
packages="${BUILD_DIR:-/build}/packages"
sums="$packages/oracle.sha256"
for zip in instantclient-basiclite instantclient-sqlplus; do
    name="${zip}-linux-${ARCH_ORACLE}.zip"
    f="$packages/$name"
    [ -f "$f" ] || { echo "missing $f: see images/packages/README.md" >&2; exit 1; }
    [ -f "$sums" ] || { echo "missing $sums: the SHA-256 of each Oracle zip (sha256sum format); see images/packages/README.md" >&2; exit 1; }
    want=$(awk -v n="$name" '($2 == n || $2 == "*" n) { print $1 }' "$sums")
    [ -n "$want" ] || { echo "$sums: no SHA-256 for $name (expected a line '<sha256>  $name')" >&2; exit 1; }
    have=$(sha256sum "$f" | cut -d' ' -f1)
    [ "$have" = "$want" ] || { echo "$name: SHA-256 $have, expected $want ($sums): not using it" >&2; exit 1; }
done
for zip in instantclient-basiclite instantclient-sqlplus; do
    unzip -q -o "$packages/${zip}-linux-${ARCH_ORACLE}.zip" -d /opt/oracle
done
dir=$(find /opt/oracle -maxdepth 1 -type d -name "instantclient_*" | sort | tail -1)
echo "$dir" > /etc/ld.so.conf.d/oracle-instantclient.conf
ldconfig
ln -sf "$dir/sqlplus" /usr/local/bin/sqlplus
say "Oracle Instant Client in $dir (SHA-256 checked)"
