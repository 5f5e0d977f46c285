#!/usr/bin/env bash
# Platform-dependent Python packages (psutil $PSUTIL_VERSION) in the built Python, from pinned wheels for this arch.
# shellcheck source=/dev/null # lib/common.sh of this tree, found at run time
. "$(dirname "$0")/../lib/common.sh"

py=/opt/python/$PYTHON_VERSION/bin/python${PYTHON_VERSION%.*}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The wheel of this arch, by its name in downloads.lock (abi3: one wheel for every Python 3).
wheel=$(awk -v v="psutil-$PSUTIL_VERSION-" -v a="_$(arch_kernel).whl" \
    'index($1, v) == 1 && substr($1, length($1) - length(a) + 1) == a { print $1 }' "$LAVA_AMI_DIR/downloads.lock")
[ -n "$wheel" ] || die "no psutil $PSUTIL_VERSION wheel for $(arch_kernel) in downloads.lock"
fetch_download "$wheel" "$work"
# --no-index: nothing from PyPI (a private subnet reaches only S3); the wheel was checked above.
"$py" -m pip install --quiet --no-index --no-deps --disable-pip-version-check "$work/$wheel"
[ "$("$py" -c 'import psutil; print(psutil.__version__)')" = "$PSUTIL_VERSION" ] ||
    die "psutil $PSUTIL_VERSION is not importable in $py"
info "psutil $PSUTIL_VERSION in $py"
