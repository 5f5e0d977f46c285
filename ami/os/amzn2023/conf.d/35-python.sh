#!/usr/bin/env bash
# Python $PYTHON_VERSION from source into /opt/python/<version> on the system's OpenSSL, with python3/pip links; ssl and sqlite3 checked.
# shellcheck source=/dev/null # lib/common.sh of this tree, found at run time
. "$(dirname "$0")/../lib/common.sh"

prefix=/opt/python/$PYTHON_VERSION
minor=${PYTHON_VERSION%.*}
python=$prefix/bin/python$minor
src=/usr/local/src
fetch_download "Python-$PYTHON_VERSION.tar.xz" "$src"
cd "$src" || exit 1
tar -xJf "Python-$PYTHON_VERSION.tar.xz"
cd "Python-$PYTHON_VERSION" || exit 1
# ssl and hashlib link to the distribution's OpenSSL 3 (openssl-devel, step 15): dnf's security
# updates reach them, and only one libssl.so.3 is ever loaded in a process.
./configure --prefix="$prefix" --enable-optimizations --with-lto \
    --enable-loadable-sqlite-extensions >/dev/null
make -s -j"$(nproc)" >/dev/null
make -s altinstall >/dev/null
ln -sf "$python" /usr/local/bin/python3
ln -sf "$python" "/usr/local/bin/python$minor"
ln -sf "$prefix/bin/pip$minor" /usr/local/bin/pip3
"$python" -c "import ssl, sqlite3; print(ssl.OPENSSL_VERSION, sqlite3.sqlite_version)" ||
    die "Python $PYTHON_VERSION lacks the ssl or sqlite3 module"
system_openssl=$(rpm -q --qf '%{VERSION}' openssl-libs)
"$python" -c "import ssl, sys; sys.exit(ssl.OPENSSL_VERSION.split()[1] != '$system_openssl')" ||
    die "Python's ssl module is not linked against the system's OpenSSL $system_openssl"
info "$("$python" --version) in $prefix"
