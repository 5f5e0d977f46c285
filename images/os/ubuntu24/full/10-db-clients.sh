#!/bin/sh
# PostgreSQL and MySQL clients.
set -eu
# shellcheck source=/dev/null # images/common/lib.sh, bind-mounted at build time
. "${BUILD_DIR:-/build}/common/lib.sh"

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends postgresql-client mysql-client
rm -rf /var/lib/apt/lists/*
say "$(psql --version); $(mysql --version)"
