#!/usr/bin/env bash
# Benchmark (not a test): lava-build sync against `aws s3 sync` on the same AWS emulator, in one run.
#   scripts/test-services.sh moto -- scripts/bench/sync.sh
#   LAVA_BUILD=target/measure/lava-build scripts/test-services.sh moto -- scripts/bench/sync.sh
# LAVA_BUILD: the binary to measure (default target/release/lava-build; `cargo build --profile
# measure` makes a release-optimised one without LTO in minutes instead of an hour).
# Workloads, each run by both tools one after the other (defaults of both: ours 8 requests in flight,
# the CLI 10):
#   mixed   3 files of 64 MiB and 300 files of 1-64 KiB: initial sync, no-op re-sync, and a re-sync
#           after re-creating the tree with new modification times (a fresh clone) and no hash cache.
#   large   one 2 GiB file: first upload (wall time and peak RSS), then a --dry-run of ours with the
#           hash cache removed (the file is hashed cold: GB/s of wall time and per CPU-second),
#           beside one core's SHA-256 and MD5 rates from `openssl speed` (CPU time).
#   small   10,000 files of 0.1-4 KB in 100 folders: first sync, no-op re-sync, and the emulator's
#           floor for the no-op (listing the 10,000 keys with a bare client).
# Bytes sent and requests by method are counted by a proxy in front of the emulator
# (scripts/bench/count_proxy.py). Prints Markdown tables; ratios are ours / aws (below 1: ours is
# faster or smaller). The load average is printed with each table: the machine may be shared.
# BENCH_ONLY=mixed|large|small runs one workload; BENCH_RUNS (default 3): runs, in turn, of the 2 GiB
# upload, the hashing and the no-op of 10,000 files (the median is shown). LAVA_SYNC_ARGS adds arguments to every run of ours
# (e.g. "--concurrency 16").
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
lava=${LAVA_BUILD:-$top/target/release/lava-build}
aws=$top/build/venv/bin/aws
endpoint=${AWS_ENDPOINT_URL:?run through scripts/test-services.sh moto -- $0}
only=${BENCH_ONLY:-}
[ -x "$lava" ] || { echo "no binary at $lava: cargo build --release, or --profile measure with LAVA_BUILD=target/measure/lava-build" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "GNU time is needed for peak RSS: apt-get install time" >&2; exit 2; }
work=$(mktemp -d)
proxy_pid=
trap '[ -z "$proxy_pid" ] || kill "$proxy_pid" 2>/dev/null || true; rm -rf "$work"' EXIT

# A counting proxy in front of the emulator: $work/sent holds "<bytes the clients sent> <open
# connections> <GET> <HEAD> <PUT> <POST> <DELETE> <other requests>" (scripts/bench/count_proxy.py).
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 "$top/scripts/bench/count_proxy.py" "$port" "${endpoint#http://}" "$work/sent" &
proxy_pid=$!
proxy=http://127.0.0.1:$port
until [ -s "$work/sent" ]; do sleep 0.1; done

counters() { # the proxy's counters once the last run's connections are closed:
    #              "<bytes> <GET> <HEAD> <PUT> <POST> <DELETE> <other>"
    local c tries=0
    while read -r -a c <"$work/sent"; [ "${c[1]}" != 0 ] && [ $tries -lt 100 ]; do
        sleep 0.05
        tries=$((tries + 1))
    done
    echo "${c[0]} ${c[*]:2}"
}
# measure NAME CMD…: T[NAME]=seconds, M[NAME]=peak RSS in KiB, C[NAME]=CPU seconds (user + system),
# B[NAME]=bytes sent, R[NAME]=requests, Q[NAME]=requests by method ("PUT 10000, GET 1").
measure() {
    local before after i methods=(GET HEAD PUT POST DELETE other) user sys
    read -r -a before <<<"$(counters)"
    /usr/bin/time -f '%e %M %U %S' -o "$work/time" "${@:2}" >/dev/null 2>"$work/err" || {
        echo "$1 failed:" >&2
        cat "$work/err" >&2
        exit 1
    }
    read -r "T[$1]" "M[$1]" user sys <"$work/time"
    C[$1]=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
    read -r -a after <<<"$(counters)"
    B[$1]=$((after[0] - before[0]))
    R[$1]=0
    Q[$1]=
    for i in "${!methods[@]}"; do
        local n=$((after[i + 1] - before[i + 1]))
        if [ "$n" -gt 0 ]; then
            R[$1]=$((R[$1] + n))
            Q[$1]+="${Q[$1]:+, }${methods[i]} $n"
        fi
    done
}
declare -A T M C B R Q
read -r -a ours_args <<<"${LAVA_SYNC_ARGS:-}"
prefix=res/ # where ours and theirs sync to, in their buckets

# median NAME RUNS: NAME gets the figures of the run NAME-1…NAME-RUNS with the median time.
median() {
    local i pick
    pick=$(for ((i = 1; i <= $2; i++)); do echo "${T[$1-$i]} $i"; done | sort -n | awk -v n="$2" 'NR == int((n + 1) / 2) { print $2 }')
    T[$1]=${T[$1-$pick]} M[$1]=${M[$1-$pick]} C[$1]=${C[$1-$pick]}
    B[$1]=${B[$1-$pick]} R[$1]=${R[$1-$pick]} Q[$1]=${Q[$1-$pick]}
}

ours() { # ours NAME TREE BUCKET [ARGS…]: measures lava-build sync
    measure "$1" env AWS_ENDPOINT_URL="$proxy" "$lava" sync --source "$2" \
        --cache-file "$work/cache-$3.json" s3bucket="$3" s3prefix="$prefix" region=us-east-1 \
        ${ours_args[@]+"${ours_args[@]}"} "${@:4}"
}
theirs() { # theirs NAME TREE BUCKET: measures aws s3 sync
    measure "$1" "$aws" --endpoint-url "$proxy" s3 sync --only-show-errors "$2" "s3://$3/$prefix"
}
bucket() { "$aws" --endpoint-url "$endpoint" s3api create-bucket --bucket "$1" >/dev/null; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f×", a / b; else print "-" }'; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
row() { # row LABEL NAME: ours and theirs side by side
    echo "| $1 | ${T[$2-ours]} s | ${T[$2-theirs]} s | $(ratio "${T[$2-ours]}" "${T[$2-theirs]}") |" \
        "$(mib "${B[$2-ours]}") / $(mib "${B[$2-theirs]}") |" \
        "${R[$2-ours]} / ${R[$2-theirs]} |" \
        "$((M[$2-ours] / 1024)) / $((M[$2-theirs] / 1024)) MiB |" \
        "${C[$2-ours]} / ${C[$2-theirs]} s |"
}
header() { # header TITLE LOAD: a table's title with the load average before (LOAD) and after its runs, and head
    echo
    echo "$1 (load average before: $2, after: $(load))"
    echo
    echo "| work | lava-build sync | aws s3 sync | time ours/aws | bytes sent (ours / aws) | requests (ours / aws) | peak RSS (ours / aws) | client CPU (ours / aws) |"
    echo "|---|---|---|---|---|---|---|---|"
}
methods() { # methods NAME…: the requests by method of each run
    local n
    for n in "$@"; do
        echo "- $n: ${Q[$n]:-none}"
    done
}

mixed() {
    make_mixed() { # same content every time, new files (new inodes and mtimes)
        rm -rf "$1"
        mkdir -p "$1/oracle" "$1/small"
        python3 - "$1" <<'PY'
import random, sys
d = sys.argv[1]
r = random.Random(42)
for i in range(3):
    with open(f"{d}/oracle/big{i}.zip", "wb") as f:
        f.write(r.randbytes(64 << 20))
for i in range(300):
    with open(f"{d}/small/f{i:03}.dat", "wb") as f:
        f.write(r.randbytes(r.randint(1 << 10, 64 << 10)))
PY
    }
    local load0
    load0=$(load)
    bucket mixed-lava
    bucket mixed-aws
    make_mixed "$work/mixed"
    for phase in initial noop recreated; do
        if [ "$phase" = recreated ]; then
            make_mixed "$work/mixed"
            rm -f "$work/cache-mixed-lava.json"
        fi
        ours "mixed-$phase-ours" "$work/mixed" mixed-lava
        theirs "mixed-$phase-theirs" "$work/mixed" mixed-aws
    done
    header "3 × 64 MiB + 300 × 1–64 KiB" "$load0"
    row "initial sync" mixed-initial
    row "no-op re-sync" mixed-noop
    row "tree re-created (new mtimes, no cache)" mixed-recreated
    echo
    methods mixed-initial-ours mixed-initial-theirs mixed-recreated-ours mixed-recreated-theirs
    rm -rf "$work/mixed"
}

large() {
    local load0 gib=2 runs=${BENCH_RUNS:-3} i
    load0=$(load)
    bucket large-lava
    bucket large-aws
    mkdir -p "$work/large"
    head -c $((gib << 30)) /dev/urandom >"$work/large/bundle.zip"
    # The first upload, ours and theirs in turn, each time to an empty bucket; the median of the runs.
    for ((i = 1; i <= runs; i++)); do
        "$aws" --endpoint-url "$endpoint" s3 rm --recursive --only-show-errors s3://large-lava/
        "$aws" --endpoint-url "$endpoint" s3 rm --recursive --only-show-errors s3://large-aws/
        rm -f "$work/cache-large-lava.json"
        ours "large-first-ours-$i" "$work/large" large-lava
        theirs "large-first-theirs-$i" "$work/large" large-aws
    done
    median large-first-ours "$runs"
    median large-first-theirs "$runs"
    # Cold hashing: the hash cache removed, the file in the page cache (as after writing it).
    for ((i = 1; i <= runs; i++)); do
        rm -f "$work/cache-large-lava.json"
        ours "large-hash-ours-$i" "$work/large" large-lava --dry-run
    done
    median large-hash-ours "$runs"
    header "one $gib GiB file" "$load0"
    row "first upload (median of $runs, in turn)" large-first
    echo
    methods large-first-ours large-first-theirs large-hash-ours
    local bytes wall cpu cores sha md5 sha_wall
    bytes=$(awk -v g="$gib" 'BEGIN { printf "%.0f", g * 1073741824 }')
    wall=$(awk -v b="$bytes" -v t="${T[large-hash-ours]}" 'BEGIN { printf "%.2f", b / t / 1e9 }')
    cpu=$(awk -v b="$bytes" -v t="${C[large-hash-ours]}" 'BEGIN { printf "%.2f", b / t / 1e9 }')
    cores=$(awk -v c="${C[large-hash-ours]}" -v t="${T[large-hash-ours]}" 'BEGIN { printf "%.2f", c / t }')
    # openssl speed: the last line holds the rates per block size in kB/s; take 16 KiB blocks. Its
    # rate is per CPU-second (one core); with -elapsed, per second of wall time under this load.
    speed() { openssl speed -seconds 1 -bytes 16384 "$@" 2>/dev/null | awk 'END { printf "%.2f", $NF / 1e6 }'; }
    sha=$(speed -evp sha256)
    md5=$(speed -evp md5)
    sha_wall=$(speed -elapsed -evp sha256)
    echo
    echo "| work | lava-build sync | limit here (one core, openssl speed) |"
    echo "|---|---|---|"
    echo "| $gib GiB, \`--dry-run\` with the hash cache removed (hashing; median of $runs) |" \
        "${T[large-hash-ours]} s = **$wall GB/s**; CPU ${C[large-hash-ours]} s on $cores cores = $cpu GB/s per CPU-second; peak RSS $((M[large-hash-ours] / 1024)) MiB |" \
        "SHA-256 $sha GB/s per CPU-second ($sha_wall GB/s of wall time now), MD5 $md5 GB/s |"
    "$aws" --endpoint-url "$endpoint" s3 rm --recursive --only-show-errors s3://large-lava/
    "$aws" --endpoint-url "$endpoint" s3 rm --recursive --only-show-errors s3://large-aws/
    rm -rf "$work/large"
}

# floor NAME BUCKET: the emulator's own time to list the 10,000 keys under res/ page by page (a bare
# Python client through the proxy, no signing), the floor of a no-op sync.
floor() {
    measure "$1" python3 - "$proxy" "$2" <<'PY'
import http.client, re, sys, urllib.parse
proxy, bucket = sys.argv[1:3]
conn, token = http.client.HTTPConnection(urllib.parse.urlsplit(proxy).netloc), None
while True:
    q = {"list-type": "2", "prefix": "res/"} | ({"continuation-token": token} if token else {})
    conn.request("GET", f"/{bucket}?{urllib.parse.urlencode(q)}")
    body = conn.getresponse().read()
    m = re.search(rb"<NextContinuationToken>([^<]+)</NextContinuationToken>", body)
    if not m:
        break
    token = m.group(1).decode()
PY
}

small() {
    local load0 runs=${BENCH_RUNS:-3} i
    load0=$(load)
    bucket small-lava
    bucket small-aws
    python3 - "$work/small" <<'PY'
import os, random, sys
d = sys.argv[1]
r = random.Random(7)
for i in range(10_000):
    sub = f"{d}/d{i % 100:02}"
    os.makedirs(sub, exist_ok=True)
    with open(f"{sub}/f{i:05}.txt", "wb") as f:
        f.write(r.randbytes(r.randint(100, 4000)))
PY
    ours small-first-ours "$work/small" small-lava
    theirs small-first-theirs "$work/small" small-aws
    for ((i = 1; i <= runs; i++)); do
        ours "small-noop-ours-$i" "$work/small" small-lava
        theirs "small-noop-theirs-$i" "$work/small" small-aws
        floor "small-noop-floor-$i" small-lava
    done
    median small-noop-ours "$runs"
    median small-noop-theirs "$runs"
    median small-noop-floor "$runs"
    header "10,000 files of 0.1–4 KB" "$load0"
    row "first sync" small-first
    row "no-op re-sync (median of $runs, in turn)" small-noop
    echo
    echo "The emulator's floor for the no-op: listing the 10,000 keys (${R[small-noop-floor]} pages," \
        "a bare client) ${T[small-noop-floor]} s; the no-op of ours takes $(ratio "${T[small-noop-ours]}" "${T[small-noop-floor]}") of it."
    echo
    methods small-first-ours small-first-theirs small-noop-ours small-noop-theirs
    rm -rf "$work/small"
}

for w in mixed large small; do
    if [ -z "$only" ] || [ "$only" = "$w" ]; then
        "$w"
    fi
done
