#!/bin/sh
# Installs the lava bundle this script is part of, offline: a venv at PREFIX, with lava and every
# dependency from the wheels beside this script (pip --no-index: no network is used).
#   install.sh PREFIX          e.g. install.sh /opt/lava
# PYTHON=/path/to/python3.X chooses the interpreter; by default python<X.Y> of the bundle's runtime,
# on PATH or under /opt/python/ (where the lava AMI builds it).
set -eu
if [ $# -ne 1 ]; then
    echo "usage: $0 PREFIX" >&2
    exit 2
fi
prefix=$1
here=$(cd "$(dirname "$0")" && pwd)
# LAVA_VERSION, PYTHON_VERSION (X.Y), RUNTIME, ARCH: written by lava-build bundle.
# shellcheck source=/dev/null
. "$here/bundle.env"

python=${PYTHON:-}
if [ -z "$python" ]; then
    python=$(command -v "python$PYTHON_VERSION" 2>/dev/null || true)
fi
if [ -z "$python" ]; then
    for p in /opt/python/"$PYTHON_VERSION".*/bin/python"$PYTHON_VERSION"; do
        [ -x "$p" ] && python=$p
    done
fi
if [ -z "$python" ]; then
    echo "install.sh: no python$PYTHON_VERSION found for runtime $RUNTIME (set PYTHON=...)" >&2
    exit 1
fi
found=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if [ "$found" != "$PYTHON_VERSION" ]; then
    echo "install.sh: this bundle is for Python $PYTHON_VERSION ($RUNTIME); $python is Python $found" >&2
    exit 1
fi
machine=$(uname -m)
[ "$machine" = aarch64 ] && machine=arm64
if [ "$machine" != "$ARCH" ]; then
    echo "install.sh: this bundle is for $ARCH; this machine is $machine" >&2
    exit 1
fi

"$python" -m venv "$prefix"
"$prefix/bin/python" -m pip install --no-index --find-links "$here/wheels" \
    --disable-pip-version-check --no-cache-dir --quiet "jinlava==$LAVA_VERSION"
echo "lava $LAVA_VERSION installed in $prefix ($RUNTIME, $ARCH)"
