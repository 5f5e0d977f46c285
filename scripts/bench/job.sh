#!/usr/bin/env bash
# Benchmark (not a test): `lava-build job run` beside the real lava worker (`lava-worker --batch`
# of jinlava 8.3.0) and a bare `docker run` on the same job, then a flood of output through
# `job run` with its peak RSS. Run under the test services (moto, a registry, a test engine):
#   scripts/test-services.sh run -- scripts/bench/job.sh
#   LAVA_BUILD=/path/to/measure/lava-build scripts/test-services.sh run -- scripts/bench/job.sh
# Needs: the binary to measure (LAVA_BUILD, default target/release/lava-build; `cargo build
# --profile measure` makes a release-optimised one in minutes), real lava in build/lava-venv
# (scripts/test-services.sh install), GNU time (apt-get install time).
#
# The job: `true` in the lab image (LAVA_TEST_LAB_IMAGE, pushed once into the test registry),
# timeout 60s, specs in moto's lava tables. Each of BENCH_RUNS (5) rounds runs, in turn:
#   docker run      docker run --rm IMAGE true (the image already on the engine)
#   job run         lava-build job run JOB --realm R --pull missing (no pull, as docker run)
#   job run+pull    lava-build job run JOB --realm R (pulls from the registry, as the worker does)
#   worker          one raw SQS message, then lava-worker -r R -w W --batch --wait 1 (its Python
#                   start and its 1 s wait for an empty queue included: what a worker run costs)
# and prints the medians in ms, job run's overhead over docker run and the worker's time over
# job run+pull's. The flood: a job printing BENCH_FLOOD_MIB (2048) MiB of 100-byte lines, run by
# job run (output to the temp area's log file, then the upload to moto's S3), with wall time and
# peak RSS from /usr/bin/time.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
lava=${LAVA_BUILD:-$top/target/release/lava-build}
venv=${LAVA_TEST_LAVA:-$top/build/lava-venv}
runs=${BENCH_RUNS:-5}
flood_mib=${BENCH_FLOOD_MIB:-2048}
fixtures=$top/tests/fixtures/jobs
[ -x "$lava" ] || { echo "no binary at $lava: cargo build --release, or --profile measure with LAVA_BUILD=…" >&2; exit 2; }
[ -x "$venv/bin/lava-worker" ] || { echo "no lava-worker in $venv: scripts/test-services.sh install" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "GNU time is needed for peak RSS: apt-get install time" >&2; exit 2; }
for v in AWS_ENDPOINT_URL DOCKER_HOST LAVA_TEST_REGISTRY LAVA_TEST_LAB_IMAGE; do
    [ -n "${!v:-}" ] || { echo "$v is not set: run under scripts/test-services.sh run -- $0" >&2; exit 2; }
done

realm=bench
worker=core
bucket="lava-bench"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 NO_PROXY=127.0.0.1,localhost
export HOME=$work/home LAVA_TMPDIR=$work/lava
mkdir -p "$HOME" "$LAVA_TMPDIR"
py=$venv/bin/python
aws_() { "$py" "$fixtures/lava_aws.py" "$@"; }

image=$LAVA_TEST_REGISTRY/lava-bench/job:1
docker tag "$LAVA_TEST_LAB_IMAGE" "$image"
docker push -q "$image" >/dev/null
aws_ setup "$realm" "$worker" "$bucket"
aws_ put lava.realms "{\"realm\": \"$realm\", \"s3_temp\": \"s3://$bucket/tmp\", \"s3_payloads\": \"s3://$bucket/payloads\"}"
aws_ put "lava.$realm.connections" '{"conn_id": "docker/bench", "type": "docker", "enabled": true}'
job() {
    aws_ put "lava.$realm.jobs" "{\"job_id\": \"$1\", \"type\": \"docker\", \"worker\": \"$worker\", \"owner\": \"bench@example.com\", \"enabled\": true, \"payload\": \"$image\", \"parameters\": {\"docker\": \"docker/bench\", \"timeout\": \"$3\", \"command\": \"$2\"}}"
}
job bench/true true 60s
line=$(printf '%099d' 0)
job bench/flood "/bin/sh -c 'yes $line | dd bs=1M count=$flood_mib iflag=fullblock status=none'" 1h

# Milliseconds a command takes (its output discarded; a failure stops the bench).
ms() {
    local t0=$EPOCHREALTIME
    "$@" >/dev/null 2>"$work/last.err" || { echo "failed: $*" >&2; cat "$work/last.err" >&2; exit 1; }
    local t1=$EPOCHREALTIME
    echo $(( (${t1/./} - ${t0/./}) / 1000 ))
}
median() { printf '%s\n' "$@" | sort -n | sed -n "$(( ($# + 1) / 2 ))p"; }
worker_run() {
    aws_ send "lava-$realm-$worker" "{\"realm\": \"$realm\", \"worker\": \"$worker\", \"job_id\": \"bench/true\", \"run_id\": \"$(cat /proc/sys/kernel/random/uuid)\", \"ts_dispatch\": \"$(date -u +%FT%T+00:00)\"}"
    ms "$py" "$fixtures/launch.py" "$venv/bin/lava-worker" -r "$realm" -w "$worker" --batch --wait 1 --root
}

d=() j=() p=() w=()
for _ in $(seq "$runs"); do
    d+=("$(ms docker run --rm "$image" true)")
    j+=("$(ms "$lava" job run bench/true --realm "$realm" --pull missing)")
    p+=("$(ms "$lava" job run bench/true --realm "$realm")")
    w+=("$(worker_run)")
done
md=$(median "${d[@]}") mj=$(median "${j[@]}") mp=$(median "${p[@]}") mw=$(median "${w[@]}")
echo "job true, $runs rounds, medians (ms):"
printf '  %-14s %6s   runs: %s\n' "docker run" "$md" "${d[*]}" "job run" "$mj" "${j[*]}" \
    "job run+pull" "$mp" "${p[*]}" "lava-worker" "$mw" "${w[*]}"
echo "  job run over docker run: $((mj - md)) ms (target <= 150)"
awk -v w="$mw" -v p="$mp" 'BEGIN { printf "  lava-worker / job run+pull: %.1fx\n", w / p }'

echo "flood: $flood_mib MiB of 100-byte lines through job run (log file, then the S3 upload):"
/usr/bin/time -f '%e %M' -o "$work/time" "$lava" job run bench/flood --realm "$realm" --pull missing >/dev/null 2>"$work/flood.err" || {
    cat "$work/flood.err" >&2
    exit 1
}
read -r secs kib <"$work/time"
echo "  wall ${secs}s, peak RSS $((kib / 1024)) MiB (target <= 100)"
