#!/bin/sh
# lava with its database drivers (jinlava's extras: pyodbc for MSSQL, PyGreSQL, redshift-connector,
# pyarrow) from PyPI at LAVA_VERSION, or the bundle in packages/lava/; /usr/local/lib/lava for job
# code. PyGreSQL has no Linux wheels: it is compiled here against libpq, with the headers installed
# for this step and removed in it (libpq, which it loads, is named so it stays; gcc, from
# 10-packages.sh, goes in 90-cleanup.sh).
set -eu
# shellcheck source=/dev/null # images/common/lib.sh, bind-mounted at build time
. "${BUILD_DIR:-/build}/common/lib.sh"

dnf -y -q install libpq python3.12-devel libpq-devel
if [ -n "${LAVA_BUNDLE:-}" ]; then
    python3 -m pip install --no-cache-dir "${BUILD_DIR:-/build}/packages/lava/${LAVA_BUNDLE}[extras]"
else
    python3 -m pip install --no-cache-dir "jinlava[extras]==${LAVA_VERSION:?}"
fi
dnf -y -q remove python3.12-devel libpq-devel >/dev/null
install -d -m 0755 /usr/local/lib/lava
say "$(lava-worker --version)"
