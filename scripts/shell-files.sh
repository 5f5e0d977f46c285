#!/usr/bin/env bash
# Lists every shell file of the project (tracked or new, not ignored) for shellcheck:
# files ending in .sh, and files under .ci/, rc.d/, ami/, images/ and scripts/ with a sh/bash shebang.
set -euo pipefail
cd "$(dirname "$0")/.."
git ls-files -co --exclude-standard -- '*.sh' .ci rc.d ami images scripts | sort -u | while read -r f; do
    [ -f "$f" ] || continue
    if [[ $f == *.sh ]] || [[ $(head -1 "$f") =~ ^#!.*[/\ ](ba)?sh$ ]]; then
        printf '%s\n' "$f"
    fi
done
