#!/bin/sh
# FreeTDS (tsql) built from source against unixODBC, with TLS from the system's OpenSSL 3.
# configure stops with "Cannot find OpenSSL libraries" without openssl/ssl.h: openssl-devel is
# installed with gcc by 10-packages.sh, and both are removed by 90-cleanup.sh.
set -eu
# shellcheck source=/dev/null # images/common/lib.sh, bind-mounted at build time
. "${BUILD_DIR:-/build}/common/lib.sh"

cd /tmp
curl -fsSL -o freetds.tar.bz2 "https://www.freetds.org/files/stable/freetds-${FREETDS_VERSION}.tar.bz2"
echo "${FREETDS_SHA256}  freetds.tar.bz2" | sha256sum -c - >/dev/null || {
    echo "freetds-${FREETDS_VERSION}.tar.bz2: SHA-256 $(sha256sum freetds.tar.bz2 | cut -d' ' -f1), pinned ${FREETDS_SHA256}" >&2
    exit 1
}
tar -xjf freetds.tar.bz2
cd "freetds-${FREETDS_VERSION}"
./configure --prefix=/usr/local --with-unixodbc=/usr --with-openssl >/dev/null
make -s -j"$(nproc)" >/dev/null
make -s install >/dev/null
cd / && rm -rf /tmp/freetds*
printf "[FreeTDS]\nDriver = /usr/local/lib/libtdsodbc.so\n" | odbcinst -i -d -r
# A FreeTDS that cannot encrypt is refused.
tsql -C | grep -Eq '^ *OpenSSL: yes$' || { tsql -C >&2; echo "FreeTDS was built without OpenSSL" >&2; exit 1; }
say "$(tsql -C | grep -E 'Version|OpenSSL' | tr -s ' ' | tr '\n' ';')"
