#!/bin/sh
# Cleanup: what only the FreeTDS build needed (gcc, openssl-devel: installed by 10-packages.sh),
# then the package caches, so the layer stays small. A failing dnf fails the build.
set -eu
# shellcheck source=/dev/null # images/common/lib.sh, bind-mounted at build time
. "${BUILD_DIR:-/build}/common/lib.sh"

dnf -y -q remove gcc openssl-devel >/dev/null
dnf clean all
rm -rf /var/cache/dnf /root/.cache
say "build-only packages removed; dnf on $(rpm -q python3)"
