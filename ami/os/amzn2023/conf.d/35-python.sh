#!/usr/bin/env bash
# Python $PYTHON_VERSION from source into /opt/python/<version>, with python3/pip links; ssl and sqlite3 checked.
# shellcheck source=/dev/null # lib/common.sh of this tree, found at run time
. "$(dirname "$0")/../lib/common.sh"


prefix=/opt/python/$PYTHON_VERSION
cd /usr/local/src || exit 1
retry 3 curl -fsSLO "https://www.python.org/ftp/python/$PYTHON_VERSION/Python-$PYTHON_VERSION.tgz"
tar -xzf "Python-$PYTHON_VERSION.tgz"
cd "Python-$PYTHON_VERSION" || exit 1
./configure --prefix="$prefix" --enable-optimizations --with-lto --with-openssl=/usr/local \
    --with-openssl-rpath=auto --enable-loadable-sqlite-extensions >/dev/null
make -s -j"$(nproc)" >/dev/null
make -s altinstall >/dev/null
minor=${PYTHON_VERSION%.*}
ln -sf "$prefix/bin/python$minor" /usr/local/bin/python3
ln -sf "$prefix/bin/python$minor" "/usr/local/bin/python$minor"
ln -sf "$prefix/bin/pip$minor" /usr/local/bin/pip3
"$prefix/bin/python$minor" -c "import ssl, sqlite3; print(ssl.OPENSSL_VERSION, sqlite3.sqlite_version)" ||
    die "Python $PYTHON_VERSION lacks the ssl or sqlite3 module"
info "Python $("$prefix/bin/python$minor" --version) in $prefix"
