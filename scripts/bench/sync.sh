#!/usr/bin/env bash
# Benchmark (not a test): lava-build sync beside `aws s3 sync`, `rclone sync --checksum` and
# `rclone copy`, against a native S3 server on loopback (s3s-fs, a filesystem-backed S3 server in
# Rust), in one run:
#   scripts/bench/sync.sh
#   LAVA_BUILD=target/measure/lava-build scripts/bench/sync.sh
# Needs: the binary to measure (LAVA_BUILD, default target/release/lava-build; `cargo build
# --profile measure` makes a release-optimised one in minutes), the AWS CLI in build/venv
# (scripts/test-services.sh install), Debian's rclone and GNU time (apt-get install rclone time).
# s3s-fs is the sync tests' own server at the version scripts/deps/s3s-fs.lock pins, here an optimised
# build made once into build/bench/s3s-fs by `scripts/test-services.sh s3s-fs` (the tests use a debug build).
#
# Rows (sizes scale with the variables below; the defaults are the issue's):
#   large     one BENCH_LARGE_MIB file (2048): first upload to an empty bucket
#   small     BENCH_SMALL files of 0.1-4 KB (10,000) in 100 folders: first sync, then a no-op
#   huge      BENCH_HUGE files (100,000): no-op (the objects put in place by each tool's first sync),
#             BENCH_HUGE_RUNS (1) runs: each listing of 100,000 keys costs s3s-fs minutes (it walks the
#             whole bucket folder for every 1,000-key page), so medians of 3 would add most of an hour
#   changed   one BENCH_CHANGED_MIB file (1024), 1 MiB in its middle rewritten: the re-sync
#   recreated 3 files of BENCH_TREE_MIB (64) and 300 of 1-64 KiB deleted and written again with the same content
#             (new inodes and mtimes, our hash cache removed): the re-sync
# They run in that order: large small changed recreated huge (the slowest last); BENCH_ONLY="large
# recreated" runs only those. The data (several GiB at full size) goes to build/bench/run.*, removed
# at the end; the load average before and after each row is printed under the table.
# Every timed row is the median of BENCH_RUNS (3) runs, the tools in turn. All requests go through
# scripts/bench/count_proxy.py (bytes and requests by method). Time, client CPU (user + system) and
# peak RSS come from /usr/bin/time. The server's floor: its own time to list the keys (a bare client,
# SigV4 signing only), and to take the bytes (`curl -T` of the same file in one signed PUT).
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
lava=${LAVA_BUILD:-$top/target/release/lava-build}
aws=$top/build/venv/bin/aws
runs=${BENCH_RUNS:-3}
large_mib=${BENCH_LARGE_MIB:-2048}
small_n=${BENCH_SMALL:-10000}
huge_n=${BENCH_HUGE:-100000}
changed_mib=${BENCH_CHANGED_MIB:-1024}
tree_mib=${BENCH_TREE_MIB:-64}
huge_runs=${BENCH_HUGE_RUNS:-1}
rows=${BENCH_ONLY:-large small changed recreated huge}
[ -x "$lava" ] || { echo "no binary at $lava: cargo build --release, or --profile measure with LAVA_BUILD=target/measure/lava-build" >&2; exit 2; }
[ -x "$aws" ] || { echo "no AWS CLI at $aws: scripts/test-services.sh install" >&2; exit 2; }
command -v rclone >/dev/null || { echo "rclone is needed: apt-get install rclone" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "GNU time is needed for peak RSS: apt-get install time" >&2; exit 2; }
# The pinned s3s-fs, optimised (built once; checked against the pin at every run).
s3s=$("$top/scripts/test-services.sh" s3s-fs)

# The data (several GiB at full size) under build/bench, removed at the end.
mkdir -p "$top/build/bench"
work=$(mktemp -d "$top/build/bench/run.XXXXXX")
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# The server, on a folder of its own.
data=$work/s3
mkdir -p "$data"
sport=$(free_port)
"$s3s" --host 127.0.0.1 --port "$sport" --access-key testing --secret-key testing "$data" >"$work/s3s.log" 2>&1 &
pids+=($!)
server=http://127.0.0.1:$sport
until curl -s -o /dev/null "$server"; do sleep 0.1; done

# A counting proxy in front of it: $work/sent holds "<bytes the clients sent> <open connections>
# <GET> <HEAD> <PUT> <POST> <DELETE> <other requests>".
pport=$(free_port)
python3 "$top/scripts/bench/count_proxy.py" "$pport" "127.0.0.1:$sport" "$work/sent" &
pids+=($!)
proxy=http://127.0.0.1:$pport
until [ -s "$work/sent" ]; do sleep 0.1; done

export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
# Plain HTTP on loopback: a CA bundle from the environment only makes rclone fail to start.
unset AWS_CA_BUNDLE
export RCLONE_CONFIG=/dev/null RCLONE_CONFIG_BENCH_TYPE=s3 RCLONE_CONFIG_BENCH_PROVIDER=Other
export RCLONE_CONFIG_BENCH_ENDPOINT=$proxy RCLONE_CONFIG_BENCH_ACCESS_KEY_ID=testing
export RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY=testing RCLONE_CONFIG_BENCH_REGION=us-east-1
export RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE=true

counters() { # the proxy's counters once the last run's connections are closed
    local c tries=0
    while read -r -a c <"$work/sent"; [ "${c[1]}" != 0 ] && [ $tries -lt 100 ]; do
        sleep 0.05
        tries=$((tries + 1))
    done
    echo "${c[0]} ${c[*]:2}"
}
# measure NAME CMD…: T (seconds), M (peak RSS KiB), C (CPU seconds), B (bytes sent), R (requests),
# Q (requests by method) of NAME.
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
    # Each run's figures as it ends, so that a run stopped part-way keeps what it measured.
    echo "run $1: ${T[$1]} s, CPU ${C[$1]} s, RSS ${M[$1]} KiB, sent ${B[$1]} B, ${R[$1]} requests, load $(load)" >&2
}
declare -A T M C B R Q
# median NAME [N]: NAME gets the figures of the run NAME-1…NAME-N (default $runs) with the median time.
median() {
    local i pick n=${2:-$runs}
    pick=$(for ((i = 1; i <= n; i++)); do echo "${T[$1-$i]} $i"; done | sort -n | awk -v n="$n" 'NR == int((n + 1) / 2) { print $2 }')
    T[$1]=${T[$1-$pick]} M[$1]=${M[$1-$pick]} C[$1]=${C[$1-$pick]}
    B[$1]=${B[$1-$pick]} R[$1]=${R[$1-$pick]} Q[$1]=${Q[$1-$pick]}
}

tools=(ours aws rclone-checksum rclone-copy)
# run_sync TOOL NAME TREE BUCKET: one measured sync of TREE to s3://BUCKET/res/ by TOOL.
run_sync() {
    case $1 in
    ours) measure "$2" env AWS_ENDPOINT_URL="$proxy" "$lava" sync --source "$3" \
        --cache-file "$work/cache-$4.json" s3bucket="$4" s3prefix=res/ region=us-east-1 ;;
    aws) measure "$2" "$aws" --endpoint-url "$proxy" s3 sync --only-show-errors "$3" "s3://$4/res/" ;;
    rclone-checksum) measure "$2" rclone sync --checksum "$3" "bench:$4/res/" ;;
    rclone-copy) measure "$2" rclone copy "$3" "bench:$4/res/" ;;
    esac
}
# empty BUCKET: the bucket made anew, empty (the server keeps a bucket as a folder), no hash cache.
empty() {
    rm -rf "${data:?}/$1" "$work/cache-$1.json"
    mkdir "$data/$1"
}
bucket() { echo "b-$1-$2"; } # bucket ROW TOOL
mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
wants() { [[ " $rows " == *" $1 "* ]]; } # wants ROW: ROW is in BENCH_ONLY (default: all)
# mark: the load average before a row's runs; row records it with the load after.
mark() { row_load=$(load); }
loads=()
# row LABEL NAME: one line per tool, the time ratio to the fastest tool of the row.
row() {
    local t best=
    loads+=("$1: $row_load → $(load)")
    for t in "${tools[@]}"; do
        best=$(awk -v a="${T[$2-$t]}" -v b="$best" 'BEGIN { if (b == "" || a + 0 < b + 0) print a; else print b }')
    done
    for t in "${tools[@]}"; do
        echo "| $1 | $t | ${T[$2-$t]} s | $(awk -v a="${T[$2-$t]}" -v b="$best" 'BEGIN { printf "%.2f×", (b > 0 ? a / b : 1) }') |" \
            "$(mib "${B[$2-$t]}") MiB | ${R[$2-$t]} (${Q[$2-$t]:-none}) | ${C[$2-$t]} s | $((M[$2-$t] / 1024)) MiB |"
    done
}
# floor NAME BUCKET: the server's time to list every key under res/ (1,000 a page), a bare client
# (http.client, each page signed by botocore's SigV4 from the CLI's venv: s3s-fs refuses an unsigned
# request with 403, and a floor that timed the refusal would say nothing).
floor() {
    measure "$1" "$top/build/venv/bin/python3" - "$proxy" "$2" <<'PY'
import http.client, re, sys, urllib.parse
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
proxy, bucket = sys.argv[1:3]
sign = S3SigV4Auth(Credentials("testing", "testing"), "s3", "us-east-1")
conn, token = http.client.HTTPConnection(urllib.parse.urlsplit(proxy).netloc), None
while True:
    q = {"list-type": "2", "prefix": "res/"} | ({"continuation-token": token} if token else {})
    url = f"{proxy}/{bucket}?{urllib.parse.urlencode(q)}"
    req = AWSRequest(method="GET", url=url)
    sign.add_auth(req)
    conn.request("GET", url[len(proxy):], headers=dict(req.headers.items()))
    r = conn.getresponse()
    body = r.read()
    if r.status != 200:
        sys.exit(f"listing {bucket}: HTTP {r.status}: {body[:200]!r}")
    m = re.search(rb"<NextContinuationToken>([^<]+)</NextContinuationToken>", body)
    if not m:
        break
    token = m.group(1).decode()
PY
}
floors=()
say_floor() { floors+=("$1: ${T[$2]} s (${R[$2]} requests)"); }

# small_tree DIR N: N files of 0.1-4 KB in 100 folders, the same content every time.
small_tree() {
    python3 - "$1" "$2" <<'PY'
import os, random, sys
d, n = sys.argv[1], int(sys.argv[2])
r = random.Random(7)
for i in range(n):
    sub = f"{d}/d{i % 100:02}"
    os.makedirs(sub, exist_ok=True)
    with open(f"{sub}/f{i:06}.txt", "wb") as f:
        f.write(r.randbytes(r.randint(100, 4000)))
PY
}

echo "# sync benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load average at start $(load)"
echo "# server: s3s-fs 0.14.1 on loopback; peers: $("$aws" --version 2>&1 | cut -d' ' -f1), $(rclone version | sed -n 1p)"
echo
echo "| row | tool | time (median of $runs) | vs fastest | sent | requests (by method) | client CPU | peak RSS |"
echo "|---|---|---|---|---|---|---|---|"

if wants large; then
    mark
    mkdir -p "$work/large"
    head -c $((large_mib << 20)) /dev/urandom >"$work/large/bundle.zip"
    for ((i = 1; i <= runs; i++)); do
        for t in "${tools[@]}"; do
            empty "$(bucket large "$t")"
            run_sync "$t" "large-$t-$i" "$work/large" "$(bucket large "$t")"
            rm -rf "${data:?}/$(bucket large "$t")" # disk: one copy at a time
        done
    done
    for t in "${tools[@]}"; do median "large-$t"; done
    empty floor-large
    # Signed (SigV4, the payload unsigned), failing on an HTTP error: s3s-fs refuses unsigned requests.
    measure large-floor curl -sS -f -o /dev/null --aws-sigv4 aws:amz:us-east-1:s3 --user testing:testing \
        -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' -T "$work/large/bundle.zip" "$proxy/floor-large/res/bundle.zip"
    say_floor "$large_mib MiB in one PUT (curl, payload not hashed)" large-floor
    row "$large_mib MiB file, first upload" large
    rm -rf "$work/large" "${data:?}"/b-large-* "$data/floor-large"
fi

if wants small; then
    mark
    small_tree "$work/small" "$small_n"
    for ((i = 1; i <= runs; i++)); do
        for t in "${tools[@]}"; do
            empty "$(bucket small "$t")"
            run_sync "$t" "small-first-$t-$i" "$work/small" "$(bucket small "$t")"
        done
    done
    for ((i = 1; i <= runs; i++)); do
        for t in "${tools[@]}"; do
            run_sync "$t" "small-noop-$t-$i" "$work/small" "$(bucket small "$t")"
        done
        floor "small-floor-$i" "$(bucket small ours)"
    done
    for t in "${tools[@]}"; do
        median "small-first-$t"
        median "small-noop-$t"
    done
    median small-floor
    say_floor "listing $small_n keys" small-floor
    row "$small_n small files, first sync" small-first
    row "$small_n small files, no-op" small-noop
    rm -rf "$work/small" "${data:?}"/b-small-*
fi

if wants changed; then
    mark
    mkdir -p "$work/changed"
    head -c $((changed_mib << 20)) /dev/urandom >"$work/changed/bundle.zip"
    for t in "${tools[@]}"; do # the file as it was (not shown)
        empty "$(bucket changed "$t")"
        run_sync "$t" "changed-first-$t" "$work/changed" "$(bucket changed "$t")"
    done
    for ((i = 1; i <= runs; i++)); do
        # 1 MiB in the middle rewritten in place: same size, new mtime, new content.
        head -c $((1 << 20)) /dev/urandom |
            dd of="$work/changed/bundle.zip" bs=1M seek=$((changed_mib / 2)) conv=notrunc status=none
        for t in "${tools[@]}"; do
            run_sync "$t" "changed-$t-$i" "$work/changed" "$(bucket changed "$t")"
        done
    done
    for t in "${tools[@]}"; do median "changed-$t"; done
    row "$changed_mib MiB file, 1 MiB in the middle changed" changed
    rm -rf "$work/changed" "${data:?}"/b-changed-*
fi

if wants recreated; then
    mark
    make_tree() { # same content every time, new files (new inodes and mtimes)
        rm -rf "$1"
        mkdir -p "$1/oracle" "$1/small"
        python3 - "$1" "$tree_mib" <<'PY'
import random, sys
d, big = sys.argv[1], int(sys.argv[2])
r = random.Random(42)
for i in range(3):
    with open(f"{d}/oracle/big{i}.zip", "wb") as f:
        f.write(r.randbytes(big << 20))
for i in range(300):
    with open(f"{d}/small/f{i:03}.dat", "wb") as f:
        f.write(r.randbytes(r.randint(1 << 10, 64 << 10)))
PY
    }
    make_tree "$work/tree"
    for t in "${tools[@]}"; do # the tree as it was (not shown)
        empty "$(bucket tree "$t")"
        run_sync "$t" "tree-first-$t" "$work/tree" "$(bucket tree "$t")"
    done
    for ((i = 1; i <= runs; i++)); do
        make_tree "$work/tree"
        rm -f "$work"/cache-*.json
        for t in "${tools[@]}"; do
            run_sync "$t" "tree-$t-$i" "$work/tree" "$(bucket tree "$t")"
        done
    done
    for t in "${tools[@]}"; do median "tree-$t"; done
    row "3 × $tree_mib MiB + 300 × 1–64 KiB re-created (new mtimes, no hash cache)" tree
    rm -rf "$work/tree"
fi

if wants huge; then
    mark
    small_tree "$work/huge" "$huge_n"
    for t in "${tools[@]}"; do # each tool's own first sync (one run each)
        empty "$(bucket huge "$t")"
        run_sync "$t" "huge-first-$t" "$work/huge" "$(bucket huge "$t")"
    done
    row "$huge_n small files, first sync (one run each)" huge-first
    mark
    for ((i = 1; i <= huge_runs; i++)); do
        for t in "${tools[@]}"; do
            run_sync "$t" "huge-noop-$t-$i" "$work/huge" "$(bucket huge "$t")"
        done
        floor "huge-floor-$i" "$(bucket huge ours)"
    done
    for t in "${tools[@]}"; do median "huge-noop-$t" "$huge_runs"; done
    median huge-floor "$huge_runs"
    say_floor "listing $huge_n keys (median of $huge_runs)" huge-floor
    row "$huge_n small files, no-op (median of $huge_runs)" huge-noop
    rm -rf "$work/huge" "${data:?}"/b-huge-*
fi

echo
echo "Server floor: ${floors[*]:-none measured}."
echo "Load average (1, 5, 15 min) before → after each row's runs:"
for l in "${loads[@]}"; do echo "- $l"; done
