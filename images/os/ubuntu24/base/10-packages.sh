#!/bin/sh
# Python 3.12, OpenSSL 3, make, unixODBC, FreeTDS (tsql) from Ubuntu 24.04.
set -eu
# shellcheck source=/dev/null # images/common/lib.sh, bind-mounted at build time
. "${BUILD_DIR:-/build}/common/lib.sh"

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends python3 python3-pip python3-venv make openssl ca-certificates curl unzip unixodbc tdsodbc freetds-bin
rm -rf /var/lib/apt/lists/*
say "$(python3 --version), $(openssl version)"
