#!/usr/bin/env bash
# OpenSSL $OPENSSL_VERSION from source into /usr/local (before Python, which links against it).
# shellcheck source=/dev/null # lib/common.sh of this tree, found at run time
. "$(dirname "$0")/../lib/common.sh"


src=/usr/local/src/openssl-$OPENSSL_VERSION
install -d /usr/local/src
cd /usr/local/src || exit 1
retry 3 curl -fsSLO "https://github.com/openssl/openssl/releases/download/openssl-$OPENSSL_VERSION/openssl-$OPENSSL_VERSION.tar.gz"
tar -xzf "openssl-$OPENSSL_VERSION.tar.gz"
cd "$src" || exit 1
./config --prefix=/usr/local --openssldir=/usr/local/ssl --libdir=lib shared zlib >/dev/null
make -s -j"$(nproc)" >/dev/null
make -s install_sw install_ssldirs >/dev/null
echo /usr/local/lib >/etc/ld.so.conf.d/usr-local.conf
ldconfig
# Use the system trust store.
rm -rf /usr/local/ssl/certs
ln -s /etc/pki/tls/certs /usr/local/ssl/certs
ln -sf /etc/pki/tls/cert.pem /usr/local/ssl/cert.pem
info "$(/usr/local/bin/openssl version)"
