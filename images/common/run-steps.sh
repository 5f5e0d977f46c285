#!/bin/sh
# Runs the numbered steps of one image type (os/<os>/<type>/NN-*.sh) in order, with the shared
# helpers; stops at the first failure, naming the step and its exit status.
set -eu
dir=$1
export BUILD_DIR=/build
for step in "$dir"/[0-9]*.sh; do
    [ -f "$step" ] || continue
    name=$(basename "$step")
    echo "== step $name"
    status=0
    sh "$step" || status=$?
    if [ "$status" -ne 0 ]; then
        echo "step $name failed with exit status $status" >&2
        exit "$status"
    fi
done
