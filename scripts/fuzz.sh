#!/usr/bin/env bash
# Fuzz the parsers of untrusted input (cargo-fuzz, libFuzzer, nightly):
#   scripts/fuzz.sh [SECONDS] [TARGET…]     default: 600 s each, every target
# Each target runs on its committed corpus (fuzz/corpus/<target>/), which it grows; the corpus is
# minimised afterwards. A crash is copied into fuzz/regressions/<target>/, which
# tests/it/fuzz_corpus.rs replays on stable: commit it with the fix.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds=${1:-600}
shift || true
targets=("$@")
((${#targets[@]})) || targets=(userdata deploy_config packer_manifest checks_yaml imds_response)

grep -q '^nightly' <<<"$(rustup toolchain list)" || { echo "fuzz: a nightly toolchain is needed (rustup toolchain install nightly)" >&2; exit 2; }
command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz

cargo +nightly fuzz build
# The targets run side by side (libFuzzer is single-threaded), each for SECONDS.
pids=()
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t" "regressions/$t"
    echo "fuzz: $t for ${seconds}s" >&2
    cargo +nightly fuzz run "$t" "corpus/$t" -- -max_total_time="$seconds" -rss_limit_mb=2048 \
        -timeout=10 -print_final_stats=1 >"artifacts-$t.log" 2>&1 &
    pids+=("$!")
done
status=0
for i in "${!targets[@]}"; do
    t=${targets[$i]}
    if ! wait "${pids[$i]}"; then
        status=1
        echo "fuzz: $t found a failure; see fuzz/artifacts-$t.log" >&2
    fi
    grep -E '^stat::(number_of_executed_units|peak_rss_mb)' "artifacts-$t.log" | sed "s/^/fuzz: $t /" >&2 || true
    for crash in artifacts/"$t"/*; do
        [ -f "$crash" ] || continue
        cp "$crash" "regressions/$t/"
        echo "fuzz: kept $crash as fuzz/regressions/$t/$(basename "$crash")" >&2
    done
    # Keep the committed corpus small: only inputs that add coverage.
    cargo +nightly fuzz cmin "$t" "corpus/$t" >/dev/null 2>&1 || echo "fuzz: minimising the $t corpus failed" >&2
done
exit "$status"
