#!/usr/bin/env bash
# Fails when an ELF binary needs a glibc symbol version newer than MAX (default 2.34, Amazon Linux
# 2023's glibc): scripts/check-glibc.sh BINARY [MAX]. Reads the version needs with readelf, which
# reads binaries of any architecture (the release workflow checks the arm64 agent on x86_64 too).
set -euo pipefail

bin=${1:?usage: check-glibc.sh BINARY [MAX]}
max=${2:-2.34}
[ -f "$bin" ] || { echo "check-glibc: no file $bin" >&2; exit 2; }
needs=$(readelf --version-info --wide "$bin" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/^GLIBC_//' | sort -Vu) ||
    { echo "check-glibc: $bin needs no glibc symbol version (static or not an ELF binary?)" >&2; exit 1; }
newest=$(tail -1 <<<"$needs")
if [ "$(printf '%s\n%s\n' "$newest" "$max" | sort -V | tail -1)" != "$max" ]; then
    too_new=$(while read -r v; do
        [ "$(printf '%s\n%s\n' "$v" "$max" | sort -V | tail -1)" = "$max" ] || printf 'GLIBC_%s ' "$v"
    done <<<"$needs")
    echo "check-glibc: $bin needs glibc $newest, newer than $max: ${too_new% }" >&2
    exit 1
fi
echo "check-glibc: $bin needs glibc $newest at most (limit $max)"
