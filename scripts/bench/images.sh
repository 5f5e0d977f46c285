#!/usr/bin/env bash
# Benchmark (not a test): rebuilding an unchanged image (cache hit) and pushing it again, lava-build
# images against `docker build` + `docker push` on the same context, the same engine and registry.
#   scripts/test-services.sh run -- scripts/bench/images.sh
# The context is a small FROM scratch image with busybox (Debian's docker CLI has no buildx, so its
# Dockerfile avoids BuildKit-only syntax). Reports the median of 5 runs of each, our time as a
# multiple of the docker CLI's, and the blob uploads of the re-pushes (from the registry's log).
# Two rows for lava-build: as users run it (an image of unchanged inputs is not sent to the engine)
# and with --rebuild (sent to BuildKit, whose layer cache hits). Prints a Markdown table.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
lava=${LAVA_BUILD:-$top/target/release/lava-build}
reg=${LAVA_TEST_REGISTRY:?run through scripts/test-services.sh run -- $0}
: "${DOCKER_HOST:?}"
log=$top/build/services/registry.log
[ -x "$lava" ] || { echo "build the release binary first: cargo build --release" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/ctx/bin" "$work/ctx/os/tiny/base"
cp /bin/busybox "$work/ctx/bin/"
echo scratch >"$work/ctx/os/tiny/from.txt"
cat >"$work/ctx/Dockerfile" <<'DF'
ARG base=scratch
FROM ${base}
COPY bin/busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
RUN echo built > /etc/bench
DF

lava_push() { # lava_push PREFIX [OPTION…]
    local prefix=$1
    shift
    "$lava" images --images-dir "$work/ctx" --os tiny --type base --platform linux/amd64 \
        --network host --tag b1 --push --registry "$reg" --prefix "$prefix" "$@" >/dev/null 2>&1
}
ours() { lava_push bench-ours; }
ours_rebuild() { lava_push bench-rebuild --rebuild; }
theirs() {
    docker build -q --network host --build-arg base=scratch -t "$reg/bench-docker/lava/tiny/base:b1" "$work/ctx" >/dev/null 2>&1
    docker push -q "$reg/bench-docker/lava/tiny/base:b1" >/dev/null 2>&1
}
uploads() { grep -c "\"POST /v2/$1/.*/blobs/uploads/" "$log" || true; }
median() { # median CMD… over 5 runs, in ms
    local i t0 t1
    for ((i = 0; i < 5; i++)); do
        t0=$(date +%s%N); "$@"; t1=$(date +%s%N)
        echo $(( (t1 - t0) / 1000000 ))
    done | sort -n | sed -n 3p
}
ours; ours_rebuild; theirs # first builds and pushes (not measured)
u_ours=$(uploads bench-ours) u_rebuild=$(uploads bench-rebuild) u_theirs=$(uploads bench-docker)
m_ours=$(median ours)
m_rebuild=$(median ours_rebuild)
m_theirs=$(median theirs)
echo "docker CLI: $(docker --version); engine: $(docker version --format '{{.Server.Version}}' 2>/dev/null)"
echo
echo "| unchanged rebuild + push (median of 5) | time | vs docker CLI | blob uploads in the re-pushes |"
echo "|---|---|---|---|"
ratio() { awk -v a="$1" -v b="$m_theirs" 'BEGIN { printf "%.2f×", a / b }'; }
echo "| lava-build images --push | ${m_ours} ms | $(ratio "$m_ours") | $(( $(uploads bench-ours) - u_ours )) |"
echo "| lava-build images --push --rebuild (BuildKit cache hit) | ${m_rebuild} ms | $(ratio "$m_rebuild") | $(( $(uploads bench-rebuild) - u_rebuild )) |"
echo "| docker build + docker push | ${m_theirs} ms | 1.00× | $(( $(uploads bench-docker) - u_theirs )) |"
