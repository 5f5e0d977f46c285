#!/usr/bin/env bash
# Health check: fails the build when a component is missing or below its minimum version.
# shellcheck source=/dev/null # lib/common.sh of this tree, found at run time
. "$(dirname "$0")/../lib/common.sh"

failed=()
check() { # check NAME CMD… : runs CMD, records NAME when it fails
    local name=$1
    shift
    if out=$("$@" 2>&1); then
        info "ok   $name: $(head -1 <<<"$out")"
    else
        warn "FAIL $name: $(head -1 <<<"$out")"
        failed+=("$name")
    fi
}
openssl_major() { /usr/local/bin/openssl version | awk '{ split($2, v, "."); exit !(v[1] >= 3) }'; }
python_exact() { [ "$(python3 -c 'import platform; print(platform.python_version())')" = "$PYTHON_VERSION" ]; }

check "openssl >= 3" openssl_major
check "python3 = $PYTHON_VERSION" python_exact
check "python3 sqlite3 module" python3 -c 'import sqlite3; print(sqlite3.sqlite_version)'
check "python3 ssl module" python3 -c 'import ssl; print(ssl.OPENSSL_VERSION)'
check "aws CLI" aws --version
check "aws credentials" aws sts get-caller-identity --output text --query Arn
check "docker" docker info --format '{{.ServerVersion}}'
check "psql" psql --version
check "mysql" mysql --version
check "sqlplus" sqlplus -V
check "isql" isql --version
check "tsql" tsql -C
check "lava-rc" /usr/local/bin/lava-rc --version

((${#failed[@]} == 0)) || die "health check failed: ${failed[*]}"
info "every component present"
