#!/usr/bin/env bash
# Python $PYTHON_VERSION from source into /opt/python/<version>, with python3/pip links; ssl and sqlite3 checked.
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
# --with-openssl-rpath: the ssl and hashlib modules find our OpenSSL without ldconfig.
./configure --prefix="$prefix" --enable-optimizations --with-lto --with-openssl=/usr/local \
    --with-openssl-rpath=auto --enable-loadable-sqlite-extensions >/dev/null
make -s -j"$(nproc)" >/dev/null
make -s altinstall >/dev/null
ln -sf "$python" /usr/local/bin/python3
ln -sf "$python" "/usr/local/bin/python$minor"
ln -sf "$prefix/bin/pip$minor" /usr/local/bin/pip3
"$python" -c "import ssl, sqlite3; print(ssl.OPENSSL_VERSION, sqlite3.sqlite_version)" ||
    die "Python $PYTHON_VERSION lacks the ssl or sqlite3 module"
"$python" -c "import ssl, sys; sys.exit(ssl.OPENSSL_VERSION.split()[1] != '$OPENSSL_VERSION')" ||
    die "Python's ssl module is not linked against OpenSSL $OPENSSL_VERSION"
info "$("$python" --version) in $prefix"
