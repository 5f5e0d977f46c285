#!/usr/bin/env bash
# Benchmark (not a test): an unchanged rebuild + install of three payloads of a job framework
# project made by lava-new (default Dockerfile, FROM a busybox base), lava-build payload install against the
# framework's way, `docker build` + `docker push` per payload, on the same contexts, engine and
# registry. The ECR repository calls go to the AWS emulator.
#   scripts/test-services.sh run -- scripts/bench/payload.sh
# Reports the median of 5 runs of each, our time as a multiple of the docker CLI's, and the blob
# uploads of the re-pushes (from the registry's log). Prints a Markdown table.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
lava=${LAVA_BUILD:-$top/target/release/lava-build}
reg=${LAVA_TEST_REGISTRY:?run through scripts/test-services.sh run -- $0}
: "${DOCKER_HOST:?}" "${AWS_ENDPOINT_URL:?}"
log=$top/build/services/registry.log
[ -x "$lava" ] || { echo "build the release binary first: cargo build --release (or set LAVA_BUILD)" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
base="lava-bench/payload-base:1"

# The base image: busybox-static FROM scratch, /bin/sh included.
mkdir -p "$work/rootfs/bin"
cp /bin/busybox "$work/rootfs/bin/"
ln -s busybox "$work/rootfs/bin/sh"
tar -C "$work/rootfs" -c . | docker import - "$base" >/dev/null

# The project: made by the job framework's own `lava-new` (lava 8.3.0 from the pinned venv), its
# base image swapped for the busybox one, and three payloads with the default Dockerfile added.
lava_new=${LAVA_TEST_LAVA:?run through scripts/test-services.sh run -- $0}/bin/lava-new
[ -x "$lava_new" ] || { echo "no lava-new in $LAVA_TEST_LAVA: run scripts/test-services.sh install" >&2; exit 2; }
"$lava_new" --no-input -p realm=bench -p project_name=bench -p description=bench -p owner=bench \
    -p docker_platform=linux/amd64 "$work/proj" >"$work/lava-new.log" 2>&1 ||
    { cat "$work/lava-new.log" >&2; exit 1; }
cfg=$work/proj/config/dev.yaml
grep -q '^  docker_repo: "lava/bench/bench"$' "$cfg" || { echo "lava-new's config changed: $cfg" >&2; exit 1; }
sed -i "s|^  base_img: .*|  base_img: $base|" "$cfg"
for p in p1 p2 p3; do
    d=$work/proj/lava-payloads/$p.docker
    mkdir -p "$d/env"
    printf '#!/bin/sh\necho %s\n' "$p" >"$d/run.sh"
    chmod 755 "$d/run.sh"
    dd if=/dev/urandom of="$d/data.bin" bs=200000 count=1 status=none
    echo "name=$p" >"$d/env/settings.cfg"
    # The same context for the docker CLI: the default Dockerfile beside the payload.
    mkdir -p "$work/docker/$p"
    cp "$top/images/payload/Dockerfile" "$work/docker/$p/Dockerfile"
    cp -a "$d" "$work/docker/$p/payload"
done

ours() {
    "$lava" payload install --project "$work/proj" --env dev --network host --registry "$reg" >/dev/null 2>&1
}
theirs() {
    local p
    for p in p1 p2 p3; do
        docker build -q --network host --build-arg "BASE_IMG=$base" -t "$reg/bench-docker/$p:latest" "$work/docker/$p" >/dev/null 2>&1
        docker push -q "$reg/bench-docker/$p:latest" >/dev/null 2>&1
    done
}
uploads() { grep -c "\"POST /v2/$1/.*/blobs/uploads/" "$log" || true; }
median() { # median CMD… over 5 runs, in ms
    local i t0 t1
    for ((i = 0; i < 5; i++)); do
        t0=$(date +%s%N); "$@"; t1=$(date +%s%N)
        echo $(( (t1 - t0) / 1000000 ))
    done | sort -n | sed -n 3p
}
ours; theirs # first builds and pushes (not measured)
u_ours=$(uploads lava/bench/bench) u_theirs=$(uploads bench-docker)
m_ours=$(median ours)
m_theirs=$(median theirs)
echo "lava-build: $lava; docker CLI: $(docker --version); engine: $(docker version --format '{{.Server.Version}}' 2>/dev/null)"
echo
echo "| unchanged rebuild + install of 3 payloads (median of 5) | time | vs docker CLI | blob uploads in the re-pushes |"
echo "|---|---|---|---|"
ratio() { awk -v a="$1" -v b="$m_theirs" 'BEGIN { printf "%.2f×", a / b }'; }
echo "| lava-build payload install | ${m_ours} ms | $(ratio "$m_ours") | $(( $(uploads lava/bench/bench) - u_ours )) |"
echo "| docker build + docker push per payload | ${m_theirs} ms | 1.00× | $(( $(uploads bench-docker) - u_theirs )) |"
