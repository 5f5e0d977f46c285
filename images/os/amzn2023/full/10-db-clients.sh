#!/bin/sh
# PostgreSQL and MySQL/MariaDB clients.
set -eu
# shellcheck source=/dev/null # images/common/lib.sh, bind-mounted at build time
. "${BUILD_DIR:-/build}/common/lib.sh"

dnf -y -q install postgresql15 mariadb105
say "$(psql --version); $(mysql --version)"
