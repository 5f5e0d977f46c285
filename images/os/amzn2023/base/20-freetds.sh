#!/bin/sh
# FreeTDS (tsql) built from source against unixODBC; build tools removed afterwards.
set -eu
# shellcheck source=/dev/null # images/common/lib.sh, bind-mounted at build time
. "${BUILD_DIR:-/build}/common/lib.sh"

cd /tmp
curl -fsSL -o freetds.tgz "https://www.freetds.org/files/stable/freetds-${FREETDS_VERSION}.tar.gz"
tar -xzf freetds.tgz
cd "freetds-${FREETDS_VERSION}"
./configure --prefix=/usr/local --with-unixodbc=/usr --with-openssl >/dev/null
make -s -j"$(nproc)" >/dev/null
make -s install >/dev/null
cd / && rm -rf /tmp/freetds*
printf "[FreeTDS]\nDriver = /usr/local/lib/libtdsodbc.so\n" | odbcinst -i -d -r
say "$(tsql -C | head -1)"
