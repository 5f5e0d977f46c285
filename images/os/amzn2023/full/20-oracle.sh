#!/bin/sh
# Oracle Instant Client basiclite and SQL*Plus (libaio from dnf, the rest shared).
set -eu
dnf -y -q install libaio unzip
sh "${BUILD_DIR:-/build}/common/oracle.sh"
dnf clean all
