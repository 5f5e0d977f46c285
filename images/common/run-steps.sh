#!/bin/sh
# Runs the numbered steps of one image type (os/<os>/<type>/NN-*.sh) in order, with the shared
# helpers; stops at the first failure, naming the step and its exit status. A folder with no
# step (a misspelt os or type) is a failure: an image of zero steps is not a lava image.
set -eu
dir=$1
export BUILD_DIR=/build
count=0
for step in "$dir"/[0-9]*.sh; do
    [ -f "$step" ] || continue
    count=$((count + 1))
    name=$(basename "$step")
    echo "== step $name"
    status=0
    sh "$step" || status=$?
    if [ "$status" -ne 0 ]; then
        echo "step $name failed with exit status $status" >&2
        exit "$status"
    fi
done
if [ "$count" -eq 0 ]; then
    echo "no steps in $dir (expected os/<os>/<type>/NN-*.sh: is the os or type misspelt?)" >&2
    exit 1
fi
