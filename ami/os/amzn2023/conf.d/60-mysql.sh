#!/usr/bin/env bash
# MySQL client from MySQL's own repository ($MYSQL_REPO_RPM; the distribution's is old).
# shellcheck source=/dev/null # lib/common.sh of this tree, found at run time
. "$(dirname "$0")/../lib/common.sh"

retry 3 dnf -y -q install "https://repo.mysql.com/$MYSQL_REPO_RPM"
retry 3 dnf -y -q install mysql-community-client
info "$(mysql --version)"
