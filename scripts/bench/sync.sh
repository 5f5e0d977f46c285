#!/usr/bin/env bash
# Benchmark (not a test): lava-build sync against `aws s3 sync` on the same AWS emulator, in one run.
#   scripts/test-services.sh moto -- scripts/bench/sync.sh
# Tree: 3 files of 64 MiB and 300 files of 1-64 KiB. Measures the initial sync, a no-op re-sync, and a
# re-sync after re-creating the tree with new modification times (a fresh clone), with the bytes each
# tool sent (counted by a small proxy in front of the emulator). Prints a Markdown table.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
lava=${LAVA_BUILD:-$top/target/release/lava-build}
aws=$top/build/venv/bin/aws
endpoint=${AWS_ENDPOINT_URL:?run through scripts/test-services.sh moto -- $0}
[ -x "$lava" ] || { echo "build the release binary first: cargo build --release" >&2; exit 2; }
work=$(mktemp -d)
trap 'kill "$proxy_pid" 2>/dev/null || true; rm -rf "$work"' EXIT

# A byte-counting TCP proxy: everything the client sends is added to $work/sent.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 - "$port" "${endpoint#http://}" "$work/sent" <<'PY' &
import socket, sys, threading
port, upstream, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
host, uport = upstream.split(":")
total = [0]
lock = threading.Lock()
def pipe(src, dst, count):
    try:
        while True:
            b = src.recv(1 << 16)
            if not b:
                break
            if count:
                with lock:
                    total[0] += len(b)
                    open(out, "w").write(str(total[0]))
            dst.sendall(b)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try: s.shutdown(socket.SHUT_RDWR)
            except OSError: pass
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port)); srv.listen(128)
while True:
    c, _ = srv.accept()
    u = socket.create_connection((host, int(uport)))
    threading.Thread(target=pipe, args=(c, u, True), daemon=True).start()
    threading.Thread(target=pipe, args=(u, c, False), daemon=True).start()
PY
proxy_pid=$!
sleep 0.5
proxy=http://127.0.0.1:$port
echo 0 >"$work/sent"

make_tree() { # make_tree DIR: same content every time, new files (new inodes and mtimes)
    rm -rf "$1"
    mkdir -p "$1/oracle" "$1/small"
    python3 - "$1" <<'PY'
import os, random, sys
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

sent() { cat "$work/sent"; }
timeit() { # timeit CMD… : prints seconds
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >/dev/null 2>&1
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }'
}

"$aws" --endpoint-url "$endpoint" s3api create-bucket --bucket bench-lava >/dev/null
"$aws" --endpoint-url "$endpoint" s3api create-bucket --bucket bench-aws >/dev/null
make_tree "$work/tree"
ours() { AWS_ENDPOINT_URL=$proxy "$lava" sync --source "$work/tree" --cache-file "$work/cache.json" s3bucket=bench-lava s3prefix=res/ region=us-east-1; }
theirs() { "$aws" --endpoint-url "$proxy" s3 sync --only-show-errors "$work/tree" s3://bench-aws/res/; }

declare -A T B
for phase in initial noop recreated; do
    if [ "$phase" = recreated ]; then
        sleep 1.1
        make_tree "$work/tree"
        rm -f "$work/cache.json"
    fi
    for tool in ours theirs; do
        s0=$(sent)
        T[$phase-$tool]=$(timeit "$tool")
        B[$phase-$tool]=$(( $(sent) - s0 ))
    done
done

mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0) printf "%.1f×", b / a; else print "-" }'; }
echo "| phase | lava-build sync | aws s3 sync | speed-up | bytes sent (ours / aws) |"
echo "|---|---|---|---|---|"
for phase in initial noop recreated; do
    echo "| $phase | ${T[$phase-ours]} s | ${T[$phase-theirs]} s | $(ratio "${T[$phase-ours]}" "${T[$phase-theirs]}") | $(mib "${B[$phase-ours]}") / $(mib "${B[$phase-theirs]}") |"
done
