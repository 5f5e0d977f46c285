#!/usr/bin/env bash
# PostgreSQL $POSTGRESQL_MAJOR client and libpq headers.
# shellcheck source=/dev/null # lib/common.sh of this tree, found at run time
. "$(dirname "$0")/../lib/common.sh"

retry 3 dnf -y -q install "postgresql$POSTGRESQL_MAJOR" libpq-devel
info "$(psql --version)"
