#!/usr/bin/env bash
# Benchmark (not a test): the boot agent against the old way (one bash script per step, each fetching
# the user data from IMDS again and parsing it with Python), on a fake IMDSv2 server, in one run.
#   scripts/bench/boot.sh          (needs target/release/lava-rc: cargo build --release --no-default-features --bin lava-rc)
# User data: the FACTS example without crontab (no S3 here), swap size 0, trivial commands.
# Reports the median wall time of 30 runs and the peak RSS of each, and the agent's overhead beyond
# the commands' own time (measured with an empty user data run). Prints a Markdown table.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
agent=${LAVA_RC:-$top/target/release/lava-rc}
[ -x "$agent" ] || { echo "build the release agent first: cargo build --release --no-default-features --bin lava-rc" >&2; exit 2; }
work=$(mktemp -d)
trap 'kill "$imds_pid" 2>/dev/null || true; rm -rf "$work"' EXIT
runs=${RUNS:-30}

cat >"$work/userdata.json" <<'JSON'
{"shell0": "true", "swap": {"size": 0, "file": "/swap_till_you_drop"},
 "shell": ["echo Hello world >/dev/null", "echo Resistance is futile > borg"]}
JSON
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 - "$port" "$work/userdata.json" <<'PY' &
import http.server, sys
port, ud = int(sys.argv[1]), open(sys.argv[2], "rb").read()
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def reply(self, code, body=b"", headers=()):
        self.send_response(code)
        for k, v in headers: self.send_header(k, v)
        self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
    def do_PUT(self):
        ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")
        self.reply(200, b"tok", [("X-aws-ec2-metadata-token-ttl-seconds", ttl or "0")])
    def do_GET(self):
        if self.headers.get("X-aws-ec2-metadata-token") != "tok": return self.reply(401)
        body = {"/latest/user-data": ud, "/latest/meta-data/placement/region": b"ap-southeast-2"}.get(self.path)
        self.reply(200, body) if body is not None else self.reply(404)
http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
PY
imds_pid=$!
sleep 0.5
imds=http://127.0.0.1:$port

# The old way: every step its own script, fetching and parsing the user data again.
cat >"$work/old-step.sh" <<'SH'
#!/bin/bash
# One old-style rc.d step: token, user data, Python to pick the key, then act.
step=$1 imds=$2
token=$(curl -sf -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 60" "$imds/latest/api/token")
ud=$(curl -sf -H "X-aws-ec2-metadata-token: $token" "$imds/latest/user-data")
script=$(printf '%s' "$ud" | python3 -c '
import json, sys
d = json.load(sys.stdin).get(sys.argv[1])
if isinstance(d, list): d = "\n".join(d)
if isinstance(d, dict): d = "true"
print(d or "true")' "$step")
bash -c "$script" </dev/null >/dev/null
SH
cat >"$work/old-boot.sh" <<'SH'
#!/bin/bash
imds=$1 dir=$(dirname "$0")
token=$(curl -sf -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 60" "$imds/latest/api/token")
region=$(curl -sf -H "X-aws-ec2-metadata-token: $token" "$imds/latest/meta-data/placement/region")
mkdir -p "$dir/root/usr/local/etc/aws"
printf '[default]\nregion = %s\n' "$region" >"$dir/root/usr/local/etc/aws/config"
for step in shell0 log swap crontab shell; do bash "$dir/old-step.sh" "$step" "$imds"; done
SH
chmod +x "$work"/*.sh
mkdir -p "$work/root"

measure() { # measure CMD… : median seconds and max RSS (KiB) over $runs runs
    local i t0 t1 rss max=0
    : >"$work/times"
    for ((i = 0; i < runs; i++)); do
        t0=$(date +%s%N)
        /usr/bin/time -f %M -o "$work/rss" "$@" >/dev/null 2>&1
        rss=$(tail -1 "$work/rss")
        t1=$(date +%s%N)
        echo $(( (t1 - t0) / 1000 )) >>"$work/times"
        ((rss > max)) && max=$rss
    done
    sort -n "$work/times" | awk -v m="$max" '{ a[NR] = $1 } END { printf "%.1f %d\n", a[int((NR + 1) / 2)] / 1000, m }'
}

(cd "$work" && read -r ours ours_rss < <(measure "$agent" boot --imds-endpoint "$imds" --root "$work/root")
 read -r old old_rss < <(measure "$work/old-boot.sh" "$imds")
 # The commands' own time: bash running the same three scripts.
 read -r cmds _ < <(measure bash -c 'bash -c true; bash -c "echo Hello world >/dev/null; echo Resistance is futile > borg"')
 echo "| boot run (median of $runs) | wall time | peak RSS |"
 echo "|---|---|---|"
 echo "| lava-rc boot | ${ours} ms | $(awk -v k="$ours_rss" 'BEGIN { printf "%.1f", k / 1024 }') MiB |"
 echo "| old rc.d scripts (curl + python per step) | ${old} ms | $(awk -v k="$old_rss" 'BEGIN { printf "%.1f", k / 1024 }') MiB (largest process) |"
 echo "| the commands alone | ${cmds} ms | |"
 awk -v o="$ours" -v l="$old" -v c="$cmds" 'BEGIN { printf "\nlava-rc: %.1f ms beyond the commands, %.1f× faster than the old scripts\n", o - c, l / o }')
