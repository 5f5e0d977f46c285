#!/bin/sh
# Oracle Instant Client basiclite and SQL*Plus (libaio from apt, the rest shared).
set -eu
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends libaio1t64 unzip
ln -sf "$(find /usr/lib -name "libaio.so.1t64" | sed -n 1p)" "/usr/lib/$(uname -m)-linux-gnu/libaio.so.1"
rm -rf /var/lib/apt/lists/*
sh "${BUILD_DIR:-/build}/common/oracle.sh"
