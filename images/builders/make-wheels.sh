#!/bin/sh
# Runs inside a builder container as the invoking user (lava-build bundle): makes wheels of lava
# and every dependency for this container's OS, Python and architecture into /out/wheels.
# Environment: LAVA_PYTHON (X.Y), LAVA_SPEC (jinlava==V, or /src for a source tree mounted at /src-ro).
set -eu
py=$(command -v "python$LAVA_PYTHON" 2>/dev/null || true)
if [ -z "$py" ]; then
    for p in /opt/python/"$LAVA_PYTHON".*/bin/python"$LAVA_PYTHON"; do
        [ -x "$p" ] && py=$p
    done
fi
if [ -z "$py" ]; then
    echo "lava-bundle: no python$LAVA_PYTHON in the builder image" >&2
    exit 3
fi
"$py" -m venv /tmp/lava-bundle-venv
spec=$LAVA_SPEC
if [ "$spec" = /src ]; then
    # pip builds in the tree: a copy, so the mounted source is never written.
    cp -R /src-ro /tmp/src
    spec=/tmp/src
fi
/tmp/lava-bundle-venv/bin/python -m pip wheel --disable-pip-version-check --no-cache-dir \
    --wheel-dir /out/wheels "$spec"
