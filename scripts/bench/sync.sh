#!/usr/bin/env bash
# Benchmark (not a test): lava-build sync against `aws s3 sync` on the same AWS emulator, in one run.
#   scripts/test-services.sh moto -- scripts/bench/sync.sh
# Workloads, each run by both tools one after the other (defaults of both: ours 8 requests in flight,
# the CLI 10):
#   mixed   3 files of 64 MiB and 300 files of 1-64 KiB: initial sync, no-op re-sync, and a re-sync
#           after re-creating the tree with new modification times (a fresh clone) and no hash cache.
#   large   one 2 GiB file: first upload (wall time and peak RSS), then a --dry-run of ours with the
#           hash cache removed (the file is hashed cold: GB/s), beside one core's SHA-256 and MD5
#           rate from `openssl speed`.
#   small   10,000 files of 0.1-4 KB in 100 folders: first sync, no-op re-sync.
# Bytes sent are counted by a small proxy in front of the emulator. Prints Markdown tables; ratios
# are ours / aws for times (below 1 is faster) and memory. BENCH_ONLY=mixed|large|small runs one.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
lava=${LAVA_BUILD:-$top/target/release/lava-build}
aws=$top/build/venv/bin/aws
endpoint=${AWS_ENDPOINT_URL:?run through scripts/test-services.sh moto -- $0}
only=${BENCH_ONLY:-}
[ -x "$lava" ] || { echo "build the release binary first: cargo build --release" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "GNU time is needed for peak RSS: apt-get install time" >&2; exit 2; }
work=$(mktemp -d)
proxy_pid=
trap '[ -z "$proxy_pid" ] || kill "$proxy_pid" 2>/dev/null || true; rm -rf "$work"' EXIT

# A byte-counting TCP proxy: $work/sent holds "<bytes the clients sent> <open connections>",
# written when a connection opens or closes.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 - "$port" "${endpoint#http://}" "$work/sent" <<'PY' &
import os, socket, sys, threading
port, upstream, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
host, uport = upstream.split(":")
state = {"total": 0, "open": 0}
lock = threading.Lock()
def publish():
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        f.write(f"{state['total']} {state['open']}")
    os.replace(tmp, out)
def pipe(src, dst, count):
    n = 0
    try:
        while True:
            b = src.recv(1 << 20)
            if not b:
                break
            n += len(b)
            dst.sendall(b)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try: s.shutdown(socket.SHUT_RDWR)
            except OSError: pass
        if count:
            with lock:
                state["total"] += n
                state["open"] -= 1
                publish()
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port)); srv.listen(512)
with lock:
    publish()
while True:
    c, _ = srv.accept()
    u = socket.create_connection((host, int(uport)))
    with lock:
        state["open"] += 1
        publish()
    threading.Thread(target=pipe, args=(c, u, True), daemon=True).start()
    threading.Thread(target=pipe, args=(u, c, False), daemon=True).start()
PY
proxy_pid=$!
proxy=http://127.0.0.1:$port
until [ -s "$work/sent" ]; do sleep 0.1; done

sent() { # bytes sent so far, once the last run's connections are closed
    local total open tries=0
    while read -r total open <"$work/sent"; [ "$open" != 0 ] && [ $tries -lt 100 ]; do
        sleep 0.05
        tries=$((tries + 1))
    done
    echo "$total"
}
measure() { # measure NAME CMD…: T[NAME]=seconds, M[NAME]=peak RSS in KiB, B[NAME]=bytes sent
    local s0
    s0=$(sent)
    /usr/bin/time -f '%e %M' -o "$work/time" "${@:2}" >/dev/null 2>"$work/err" || {
        echo "$1 failed:" >&2
        cat "$work/err" >&2
        exit 1
    }
    read -r "T[$1]" "M[$1]" <"$work/time"
    B[$1]=$(( $(sent) - s0 ))
}
declare -A T M B

ours() { # ours NAME TREE BUCKET [ARGS…]: measures lava-build sync
    measure "$1" env AWS_ENDPOINT_URL="$proxy" "$lava" sync --source "$2" \
        --cache-file "$work/cache-$3.json" s3bucket="$3" s3prefix=res/ region=us-east-1 "${@:4}"
}
theirs() { # theirs NAME TREE BUCKET: measures aws s3 sync
    measure "$1" "$aws" --endpoint-url "$proxy" s3 sync --only-show-errors "$2" "s3://$3/res/"
}
bucket() { "$aws" --endpoint-url "$endpoint" s3api create-bucket --bucket "$1" >/dev/null; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f×", a / b; else print "-" }'; }
row() { # row LABEL NAME: ours and theirs side by side
    echo "| $1 | ${T[$2-ours]} s | ${T[$2-theirs]} s | $(ratio "${T[$2-ours]}" "${T[$2-theirs]}") |" \
        "$(mib "${B[$2-ours]}") / $(mib "${B[$2-theirs]}") |" \
        "$((M[$2-ours] / 1024)) / $((M[$2-theirs] / 1024)) MiB |"
}
header() {
    echo
    echo "$1"
    echo
    echo "| work | lava-build sync | aws s3 sync | time ours/aws | bytes sent (ours / aws) | peak RSS (ours / aws) |"
    echo "|---|---|---|---|---|---|"
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
    header "3 × 64 MiB + 300 × 1–64 KiB"
    row "initial sync" mixed-initial
    row "no-op re-sync" mixed-noop
    row "tree re-created (new mtimes, no cache)" mixed-recreated
    rm -rf "$work/mixed"
}

large() {
    bucket large-lava
    bucket large-aws
    mkdir -p "$work/large"
    head -c $((2 << 30)) /dev/urandom >"$work/large/bundle.zip"
    ours large-first-ours "$work/large" large-lava
    theirs large-first-theirs "$work/large" large-aws
    rm -f "$work/cache-large-lava.json"
    ours large-hash-ours "$work/large" large-lava --dry-run
    header "one 2 GiB file"
    row "first upload" large-first
    local gbs sha md5
    gbs=$(awk -v t="${T[large-hash-ours]}" 'BEGIN { printf "%.2f", 2 * 1.073741824 / t }')
    # openssl speed: the last line holds the rates per block size in kB/s; take 16 KiB blocks.
    sha=$(openssl speed -seconds 1 -bytes 16384 -evp sha256 2>/dev/null | awk 'END { printf "%.2f", $NF / 1e6 }')
    md5=$(openssl speed -seconds 1 -bytes 16384 -evp md5 2>/dev/null | awk 'END { printf "%.2f", $NF / 1e6 }')
    echo
    echo "| work | lava-build sync | limit here (one core, openssl speed) |"
    echo "|---|---|---|"
    echo "| 2 GiB, \`--dry-run\` with the hash cache removed (hashing) | ${T[large-hash-ours]} s = $gbs GB/s, peak RSS $((M[large-hash-ours] / 1024)) MiB | SHA-256 $sha GB/s, MD5 $md5 GB/s |"
    "$aws" --endpoint-url "$endpoint" s3 rm --recursive --only-show-errors s3://large-lava/
    "$aws" --endpoint-url "$endpoint" s3 rm --recursive --only-show-errors s3://large-aws/
    rm -rf "$work/large"
}

small() {
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
    ours small-noop-ours "$work/small" small-lava
    theirs small-noop-theirs "$work/small" small-aws
    header "10,000 files of 0.1–4 KB"
    row "first sync" small-first
    row "no-op re-sync" small-noop
    rm -rf "$work/small"
}

for w in mixed large small; do
    if [ -z "$only" ] || [ "$only" = "$w" ]; then
        "$w"
    fi
done
