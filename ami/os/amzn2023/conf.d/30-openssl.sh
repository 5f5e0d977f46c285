#!/usr/bin/env bash
# OpenSSL $OPENSSL_VERSION from source into /usr/local, private to what links it (rpath), before Python.
# shellcheck source=/dev/null # lib/common.sh of this tree, found at run time
. "$(dirname "$0")/../lib/common.sh"

# Our libssl.so.3/libcrypto.so.3 have the same soname as the system's. They must never be registered
# with ldconfig (/etc/ld.so.conf.d): sshd, dnf, curl and the AWS CLI would load them instead of
# AL2023's OpenSSL, outside the system crypto policy (OpenSSH 8.7 even refuses to start on a
# version mismatch). Only what is linked with -rpath /usr/local/lib finds them.
src=/usr/local/src
fetch_download "openssl-$OPENSSL_VERSION.tar.gz" "$src"
cd "$src" || exit 1
tar -xzf "openssl-$OPENSSL_VERSION.tar.gz"
cd "openssl-$OPENSSL_VERSION" || exit 1
./config --prefix=/usr/local --openssldir=/usr/local/ssl --libdir=lib shared zlib \
    -Wl,-rpath,/usr/local/lib -Wl,--enable-new-dtags >/dev/null
make -s -j"$(nproc)" >/dev/null
make -s install_sw install_ssldirs >/dev/null
# An older build of this AMI registered /usr/local/lib; make sure nothing does.
if grep -lsx '/usr/local/lib/\?' /etc/ld.so.conf /etc/ld.so.conf.d/*.conf; then
    die "/usr/local/lib is registered with ldconfig (file above): remove it"
fi
# Use the system trust store.
rm -rf /usr/local/ssl/certs
ln -s /etc/pki/tls/certs /usr/local/ssl/certs
ln -sf /etc/pki/tls/cert.pem /usr/local/ssl/cert.pem
# Our openssl finds its libraries through its rpath; the system's openssl keeps the system's.
grep -q '/usr/local/lib/libssl.so.3' <<<"$(ldd /usr/local/bin/openssl)" || die "/usr/local/bin/openssl does not load /usr/local/lib/libssl.so.3"
if grep -q '/usr/local/lib/' <<<"$(ldd /usr/bin/openssl)"; then
    die "/usr/bin/openssl loads a library from /usr/local/lib"
fi
info "$(/usr/local/bin/openssl version) in /usr/local (rpath); system: $(/usr/bin/openssl version)"
