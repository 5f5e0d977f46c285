#!/usr/bin/env bash
# Health check: fails the build when a component is missing, or what a running worker relies on does not hold.
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
# The distribution's OpenSSL, which sshd, dnf, curl, Python and FreeTDS all use.
system_openssl=$(rpm -q --qf '%{VERSION}' openssl-libs)
cw=/opt/aws/amazon-cloudwatch-agent

system_openssl_cli() { grep "^OpenSSL $system_openssl " <<<"$(/usr/bin/openssl version)"; }
ssh_openssl() { grep "OpenSSL $system_openssl " <<<"$(ssh -V 2>&1)"; }
no_private_openssl() { ! ls /usr/local/lib/libssl.so* /usr/local/lib64/libssl.so* 2>/dev/null; }
python_exact() { [ "$("$py" -c 'import platform; print(platform.python_version())')" = "$PYTHON_VERSION" ]; }
python3_link() { [ "$(readlink -f /usr/local/bin/python3)" = "$(readlink -f "$py")" ] && echo "python3 -> $py"; }
python_ssl() { grep "OpenSSL $system_openssl " <<<"$("$py" -c 'import ssl; print(ssl.OPENSSL_VERSION)')"; }
# What a running worker relies on.
rsyslog_config() { rsyslogd -N1; }
lava_log_rule() { grep -q '%rawmsg%' /etc/rsyslog.d/lava.conf && grep -q '/var/log/lava"' /etc/rsyslog.d/lava.conf; }
logrotate_config() { logrotate -d /etc/logrotate.d/lava; }
# The agent's own translator (run by fetch-config; without -s nothing is started) reads the config.
cloudwatch_config() { "$cw/bin/amazon-cloudwatch-agent-ctl" -a fetch-config -m ec2 -c "file:$cw/etc/config.json"; }
our_units() { systemd-analyze verify /etc/systemd/system/lava-rc.service; }
enabled() { # every service the AMI depends on starts at boot
    local unit state bad=()
    for unit in lava-rc docker rsyslog crond amazon-cloudwatch-agent amazon-ssm-agent atop; do
        state=$(systemctl is-enabled "$unit.service" 2>&1) || bad+=("$unit:$state")
    done
    ((${#bad[@]} == 0)) || { echo "not enabled: ${bad[*]}"; return 1; }
    echo "all enabled"
}
tmp_mount_masked() { [ "$(systemctl is-enabled tmp.mount 2>&1)" = masked ]; }
on_cron_path() { # cron runs jobs with PATH=/usr/bin:/bin
    local c missing=()
    for c in sqlplus psql mysql isql tsql aws; do
        PATH=/usr/bin:/bin command -v "$c" >/dev/null || missing+=("$c")
    done
    ((${#missing[@]} == 0)) || { echo "not on /usr/bin:/bin: ${missing[*]}"; return 1; }
    echo "sqlplus psql mysql isql tsql aws"
}

check "/usr/bin/openssl is the system's $system_openssl" system_openssl_cli
check "ssh -V reports the system's OpenSSL $system_openssl" ssh_openssl
check "no private libssl in /usr/local" no_private_openssl
check "python = $PYTHON_VERSION ($py)" python_exact
check "python3 on PATH is $py" python3_link
check "python sqlite3 module" "$py" -c 'import sqlite3; print(sqlite3.sqlite_version)'
check "python ssl module with the system's OpenSSL $system_openssl" python_ssl
check "python psutil $PSUTIL_VERSION" "$py" -c "import psutil, sys; print(psutil.__version__); sys.exit(psutil.__version__ != '$PSUTIL_VERSION')"
check "aws CLI" aws --version
check "aws credentials (S3)" aws s3api list-objects-v2 --bucket "$S3BUCKET" --prefix "${S3PREFIX}downloads/" --max-items 1 --query 'KeyCount'
check "docker" docker info --format '{{.ServerVersion}}'
check "psql" psql --version
check "mysql $MYSQL_VERSION" mysql --version
check "sqlplus" sqlplus -V
check "isql" isql --version
check "tsql" tsql -C
check "lava-rc" /usr/local/bin/lava-rc --version
check "rsyslogd -N1 accepts the configuration" rsyslog_config
check "rsyslog writes local0 to /var/log/lava as %rawmsg%" lava_log_rule
check "logrotate -d /etc/logrotate.d/lava" logrotate_config
check "CloudWatch agent translates $cw/etc/config.json" cloudwatch_config
check "systemd-analyze verify lava-rc.service" our_units
check "services enabled" enabled
check "tmp.mount masked (/tmp on the root volume)" tmp_mount_masked
check "DB clients on cron's PATH (/usr/bin:/bin)" on_cron_path

((${#failed[@]} == 0)) || die "health check failed: ${failed[*]}"
info "every component present"
