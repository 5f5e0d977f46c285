#!/usr/bin/env bash
# unixODBC and FreeTDS $FREETDS_VERSION (isql, tsql) from source.
# shellcheck source=/dev/null # lib/common.sh of this tree, found at run time
. "$(dirname "$0")/../lib/common.sh"

retry 3 dnf -y -q install unixODBC unixODBC-devel
cd /usr/local/src || exit 1
retry 3 curl -fsSLO "https://www.freetds.org/files/stable/freetds-$FREETDS_VERSION.tar.gz"
tar -xzf "freetds-$FREETDS_VERSION.tar.gz"
cd "freetds-$FREETDS_VERSION" || exit 1
./configure --prefix=/usr/local --with-unixodbc=/usr --with-openssl=/usr/local >/dev/null
make -s -j"$(nproc)" >/dev/null
make -s install >/dev/null
ldconfig
odbcinst -i -d -r <<INI
[FreeTDS]
Description = FreeTDS $FREETDS_VERSION
Driver = /usr/local/lib/libtdsodbc.so
INI
info "$(tsql -C | head -1)"
