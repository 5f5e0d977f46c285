#!/usr/bin/env bash
# unixODBC and FreeTDS $FREETDS_VERSION (isql, tsql) from source, on the system's OpenSSL; isql and tsql on cron's PATH.
# shellcheck source=/dev/null # lib/common.sh of this tree, found at run time
. "$(dirname "$0")/../lib/common.sh"

retry 3 dnf -y -q install unixODBC unixODBC-devel
src=/usr/local/src
fetch_download "freetds-$FREETDS_VERSION.tar.bz2" "$src"
cd "$src" || exit 1
tar -xjf "freetds-$FREETDS_VERSION.tar.bz2"
cd "freetds-$FREETDS_VERSION" || exit 1
# TLS through the distribution's OpenSSL 3 (openssl-devel). The rpath lets tsql find FreeTDS's
# own libraries in /usr/local/lib without registering that folder with ldconfig.
./configure --prefix=/usr/local --with-unixodbc=/usr --with-openssl \
    LDFLAGS="-Wl,-rpath,/usr/local/lib -Wl,--enable-new-dtags" >/dev/null
make -s -j"$(nproc)" >/dev/null
make -s install >/dev/null
odbcinst -i -d -r <<INI
[FreeTDS]
Description = FreeTDS $FREETDS_VERSION
Driver = /usr/local/lib/libtdsodbc.so
INI
# The system's libssl, and encryption built in.
grep -q '^ *OpenSSL: yes$' <<<"$(tsql -C)" || die "FreeTDS was built without OpenSSL"
grep -Eq 'libssl\.so\.3 => /(usr/)?lib64/' <<<"$(ldd /usr/local/lib/libtdsodbc.so)" ||
    die "libtdsodbc.so does not load the system's libssl.so.3"
# cron's PATH is /usr/bin:/bin: the clients a job runs by name must be there.
ln -sf /usr/local/bin/tsql /usr/bin/tsql
info "$(tsql -C | sed -n 1p)"
