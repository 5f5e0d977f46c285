#!/usr/bin/env bash
# Move the pins of the test toolchain (scripts/deps/) to what the registries offer now:
#
#   scripts/deps/update.sh [pip] [npm] [apt] [lab] [vm]     (no argument: all five)
#
#   pip  test.txt, lava.txt and tools.txt compiled again from their .in files with pip-compile
#        (--upgrade, every file's SHA-256): a == in an .in file holds its package where it is
#   npm  package.json's tools at their newest version, exactly, and package-lock.json
#   apt  apt.lock: each package's candidate version in this machine's apt sources
#   lab  lab.lock: the lab OS made anew with debootstrap, its package set recorded
#   vm   vm.lock: the VM OS of the VM test made anew with debootstrap, its package set recorded
#
# It changes only files under scripts/deps/; then `make test` decides whether the new pins stay
# (git diff scripts/deps shows what moved; git checkout scripts/deps takes it back).
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
deps="$top/scripts/deps"
log() { printf 'test-deps-update: %s\n' "$*" >&2; }

update_pip() {
    local tools="$top/build/deps-tools" f
    if ! { [ -x "$tools/bin/python" ] && "$tools/bin/python" "$deps/check-venv.py" "$deps/tools.txt" >/dev/null; }; then
        rm -rf "$tools"
        python3 -m venv "$tools"
        "$tools/bin/pip" install -q --disable-pip-version-check --no-deps --require-hashes -r "$deps/tools.txt"
    fi
    for f in test lava tools; do
        log "pip-compile --upgrade $f.in"
        (cd "$deps" && "$tools/bin/pip-compile" -q --upgrade --generate-hashes --allow-unsafe --strip-extras \
            --no-emit-index-url -o "$f.txt" "$f.in")
    done
}

update_npm() {
    local name
    log "npm: newest versions of package.json's tools"
    while read -r name; do
        (cd "$deps/npm" && npm install --package-lock-only --save-exact --no-audit --no-fund --silent "$name@latest")
    done < <(python3 -c 'import json,sys; print("\n".join(json.load(open(sys.argv[1]))["dependencies"]))' "$deps/npm/package.json")
}

# apt_candidates: apt.lock with each package at its candidate version (on standard output).
apt_candidates() {
    local line name old new
    while IFS= read -r line; do
        case $line in
            '#'* | '') echo "$line" ;;
            *)
                read -r name old <<<"$line"
                new=$(apt-cache policy "$name" | awk '$1 == "Candidate:" { print $2 }')
                if [ -z "$new" ] || [ "$new" = "(none)" ]; then
                    log "apt: no candidate for $name in this machine's apt sources"
                    return 1
                fi
                [ "$new" = "$old" ] || log "apt: $name $old -> $new"
                echo "$name $new"
                ;;
        esac
    done <"$deps/apt.lock"
}

update_apt() {
    local sudo=() new
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    new=$(apt_candidates)
    printf '%s\n' "$new" >"$deps/apt.lock"
}

update_vm() {
    log "vm: debootstrap the VM OS anew and record its package set"
    "$top/scripts/vm/image.sh" rootfs-record
}

update_lab() {
    log "lab: debootstrap anew and record its package set"
    "$top/scripts/test-services.sh" lab-record
}

what=("$@")
((${#what[@]})) || what=(pip npm apt lab vm)
for w in "${what[@]}"; do
    case $w in
        pip | npm | apt | lab | vm) "update_$w" ;;
        *) log "unknown part '$w': expected pip, npm, apt, lab or vm"; exit 2 ;;
    esac
done
git -C "$top" diff --stat -- scripts/deps >&2 || true
log "now run 'make test': the tests decide whether the new pins stay"
