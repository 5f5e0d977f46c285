#!/usr/bin/env bash
# Health check: fails the build when a component is missing, or the system's OpenSSL was displaced.
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
# The Python this build made, by its full path (never whatever python3 PATH finds).
py=/opt/python/$PYTHON_VERSION/bin/python${PYTHON_VERSION%.*}
# The OpenSSL version of the distribution, which sshd, dnf, curl and /usr/bin/openssl must still use.
system_openssl=$(rpm -q --qf '%{VERSION}' openssl-libs)

ours_openssl() { /usr/local/bin/openssl version | grep "^OpenSSL $OPENSSL_VERSION "; }
system_openssl_cli() { /usr/bin/openssl version | grep "^OpenSSL $system_openssl "; }
ssh_openssl() { ssh -V 2>&1 | grep "OpenSSL $system_openssl "; }
sshd_libcrypto() { ldd /usr/sbin/sshd | grep libcrypto | grep -v /usr/local/; }
not_in_ldconfig() { ! ldconfig -p | grep /usr/local/lib/; }
python_exact() { [ "$("$py" -c 'import platform; print(platform.python_version())')" = "$PYTHON_VERSION" ]; }
python3_link() { [ "$(readlink -f /usr/local/bin/python3)" = "$(readlink -f "$py")" ] && echo "python3 -> $py"; }
packer_exact() { packer version | grep -x "Packer v$PACKER_VERSION"; }
python_ssl() { "$py" -c 'import ssl; print(ssl.OPENSSL_VERSION)' | grep "OpenSSL $OPENSSL_VERSION "; }

check "openssl $OPENSSL_VERSION in /usr/local" ours_openssl
check "/usr/bin/openssl is the system's $system_openssl" system_openssl_cli
check "ssh -V reports the system's OpenSSL $system_openssl" ssh_openssl
check "sshd loads the system's libcrypto" sshd_libcrypto
check "/usr/local/lib unknown to ldconfig" not_in_ldconfig
check "python = $PYTHON_VERSION ($py)" python_exact
check "python3 on PATH is $py" python3_link
check "python sqlite3 module" "$py" -c 'import sqlite3; print(sqlite3.sqlite_version)'
check "python ssl module with OpenSSL $OPENSSL_VERSION" python_ssl
check "python psutil $PSUTIL_VERSION" "$py" -c "import psutil, sys; print(psutil.__version__); sys.exit(psutil.__version__ != '$PSUTIL_VERSION')"
check "packer $PACKER_VERSION" packer_exact
check "aws CLI" aws --version
check "aws credentials (S3)" aws s3api list-objects-v2 --bucket "$S3BUCKET" --prefix "${S3PREFIX}downloads/" --max-items 1 --query 'KeyCount'
check "docker" docker info --format '{{.ServerVersion}}'
check "psql" psql --version
check "mysql $MYSQL_VERSION" mysql --version
check "sqlplus" sqlplus -V
check "isql" isql --version
check "tsql" tsql -C
check "lava-rc" /usr/local/bin/lava-rc --version

((${#failed[@]} == 0)) || die "health check failed: ${failed[*]}"
info "every component present"
