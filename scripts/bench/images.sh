#!/usr/bin/env bash
# Benchmark (not a test): rebuilding an unchanged image (cache hit) and pushing it again, lava-build
# images against `docker build` + `docker push` on the same context, the same engine and registry.
#   scripts/test-services.sh run -- scripts/bench/images.sh
# The context is a small FROM scratch image with busybox (Debian's docker CLI has no buildx, so its
# Dockerfile avoids BuildKit-only syntax). Reports the median of 5 runs and the blob uploads of the
# re-pushes (from the registry's log). Prints a Markdown table.
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

ours() { "$lava" images --images-dir "$work/ctx" --os tiny --type base --platform linux/amd64 \
    --network host --tag b1 --push --registry "$reg" --prefix bench-ours >/dev/null 2>&1; }
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
ours; theirs # first builds and pushes (not measured)
u_ours=$(uploads bench-ours) u_theirs=$(uploads bench-docker)
m_ours=$(median ours)
m_theirs=$(median theirs)
echo "| unchanged rebuild + push (median of 5) | time | blob uploads in the re-pushes |"
echo "|---|---|---|"
echo "| lava-build images --push | ${m_ours} ms | $(( $(uploads bench-ours) - u_ours )) |"
echo "| docker build + docker push | ${m_theirs} ms | $(( $(uploads bench-docker) - u_theirs )) |"
awk -v a="$m_ours" -v b="$m_theirs" 'BEGIN { printf "\nlava-build / docker CLI time: %.2f\n", a / b }'
