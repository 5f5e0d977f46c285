#!/bin/sh
# Cleanup: package caches, so the layer stays small.
set -eu
# shellcheck source=/dev/null # images/common/lib.sh, bind-mounted at build time
. "${BUILD_DIR:-/build}/common/lib.sh"

dnf -y -q remove gcc >/dev/null || true
dnf clean all
rm -rf /var/cache/dnf /root/.cache
