#!/bin/sh
# PostgreSQL and MySQL clients: the OS's default MySQL-protocol client (MySQL 8.0's on Ubuntu 24.04,
# MariaDB's on Debian, where the lab builds these steps; lava picks its options by `mysql --version`).
set -eu
# shellcheck source=/dev/null # images/common/lib.sh, bind-mounted at build time
. "${BUILD_DIR:-/build}/common/lib.sh"

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends postgresql-client default-mysql-client
rm -rf /var/lib/apt/lists/*
say "$(psql --version); $(mysql --version)"
