#!/bin/sh
# PostgreSQL client (psql) from the distribution, and MySQL's own client (mysql) from MySQL's
# repository, as on the AMI (ami/os/amzn2023/conf.d/60-mysql.sh, 66-postgresql.sh).
set -eu
# shellcheck source=/dev/null # images/common/lib.sh, bind-mounted at build time
. "${BUILD_DIR:-/build}/common/lib.sh"

retry 3 dnf -y -q install "postgresql${POSTGRESQL_MAJOR}"
retry 3 dnf -y -q install "https://repo.mysql.com/${MYSQL_REPO_RPM}"
retry 3 dnf -y -q install mysql-community-client
dnf clean all
say "$(psql --version); $(mysql --version)"
