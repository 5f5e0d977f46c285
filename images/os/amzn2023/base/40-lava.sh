#!/bin/sh
# lava: jinlava from PyPI at LAVA_VERSION, or the bundle in packages/lava/; /usr/local/lib/lava for job code.
set -eu
# shellcheck source=/dev/null # images/common/lib.sh, bind-mounted at build time
. "${BUILD_DIR:-/build}/common/lib.sh"

if [ -n "${LAVA_BUNDLE:-}" ]; then
    python3 -m pip install --no-cache-dir "${BUILD_DIR:-/build}/packages/lava/${LAVA_BUNDLE}"
else
    python3 -m pip install --no-cache-dir "jinlava==${LAVA_VERSION:?}"
fi
install -d -m 0755 /usr/local/lib/lava
say "$(lava-worker --version)"
