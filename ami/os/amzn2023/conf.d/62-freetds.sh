#!/usr/bin/env bash
# unixODBC and FreeTDS $FREETDS_VERSION (isql, tsql) from source, linked to our OpenSSL by rpath.
# shellcheck source=/dev/null # lib/common.sh of this tree, found at run time
. "$(dirname "$0")/../lib/common.sh"

retry 3 dnf -y -q install unixODBC unixODBC-devel
src=/usr/local/src
fetch_download "freetds-$FREETDS_VERSION.tar.bz2" "$src"
cd "$src" || exit 1
tar -xjf "freetds-$FREETDS_VERSION.tar.bz2"
cd "freetds-$FREETDS_VERSION" || exit 1
# The rpath makes tsql and the ODBC driver find libssl and libsybdb in /usr/local/lib without
# ldconfig (which must not know /usr/local/lib: see 30-openssl.sh).
./configure --prefix=/usr/local --with-unixodbc=/usr --with-openssl=/usr/local \
    LDFLAGS="-Wl,-rpath,/usr/local/lib -Wl,--enable-new-dtags" >/dev/null
make -s -j"$(nproc)" >/dev/null
make -s install >/dev/null
odbcinst -i -d -r <<INI
[FreeTDS]
Description = FreeTDS $FREETDS_VERSION
Driver = /usr/local/lib/libtdsodbc.so
INI
grep -q '/usr/local/lib/libssl.so.3' <<<"$(ldd /usr/local/lib/libtdsodbc.so)" || die "libtdsodbc.so does not load our OpenSSL"
info "$(tsql -C | sed -n 1p)"
