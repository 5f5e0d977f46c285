#!/bin/sh
# lava with its database drivers (jinlava's extras: pyodbc for MSSQL, PyGreSQL, redshift-connector,
# pyarrow) from PyPI at LAVA_VERSION, or the bundle in packages/lava/; /usr/local/lib/lava for job
# code. PyGreSQL has no Linux wheels: it is compiled here against libpq, with the compiler and the
# headers installed for this step and removed in it (libpq5, which it loads, is named so it stays).
set -eu
# shellcheck source=/dev/null # images/common/lib.sh, bind-mounted at build time
. "${BUILD_DIR:-/build}/common/lib.sh"

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends libpq5 gcc libc6-dev python3-dev libpq-dev
if [ -n "${LAVA_BUNDLE:-}" ]; then
    python3 -m pip install --no-cache-dir --break-system-packages "${BUILD_DIR:-/build}/packages/lava/${LAVA_BUNDLE}[extras]"
else
    python3 -m pip install --no-cache-dir --break-system-packages "jinlava[extras]==${LAVA_VERSION:?}"
fi
apt-get purge -y -q --auto-remove gcc libc6-dev python3-dev libpq-dev
rm -rf /var/lib/apt/lists/* /root/.cache
install -d -m 0755 /usr/local/lib/lava
say "$(lava-worker --version)"
