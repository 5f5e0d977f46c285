#!/usr/bin/env bash
# The pinned third-party downloads of the AMI build (ami/os/<os>/downloads.lock), on a machine with
# internet access, into ami/resources.s3/downloads/ (which the sync puts in the build bucket):
#   scripts/downloads.sh fetch [python_version=X.Y.Z] [region=NAME] [arch=A]
#       fetch every pinned file (or only the given parameter values' ones) that is missing or
#       differs, verify its SHA-256, keep it only when it matches. CA bundles (sum ca-bundle) are
#       fetched every time and kept when they are bundles of certificates. Exit 1 when a file
#       failed or is not pinned yet.
#   scripts/downloads.sh check
#       no network: exit 1 naming every entry nobody has pinned yet, and what to do about it.
#   scripts/downloads.sh pin [FILE…]
#       the operator step for entries without a sum (`-`): download each, record its SHA-256 in the
#       lock. Check every recorded file against its publisher's signature before committing.
#   scripts/downloads.sh add python_version=X.Y.Z | region=NAME
#       list a new Python version or region (not pinned: run `pin` next).
# Environment: OS (default amzn2023), DOWNLOADS_LOCK and DOWNLOADS_DIR override the two paths.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
lock=${DOWNLOADS_LOCK:-$top/ami/os/${OS:-amzn2023}/downloads.lock}
dir=${DOWNLOADS_DIR:-$top/ami/resources.s3/downloads}

say() { printf 'downloads: %s\n' "$*" >&2; }
usage() {
    sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
}
[ -r "$lock" ] || { say "cannot read $lock"; exit 2; }

# entries: file scope sha256 url, one per line, comments and blank lines left out.
entries() { sed -e 's/#.*//' "$lock" | awk 'NF == 4 { print $1, $2, $3, $4 }'; }

sha_of() { sha256sum "$1" | cut -d' ' -f1; }

# wanted SCOPE FILTER… : whether an entry of SCOPE is asked for by the filters (param=value).
wanted() {
    local scope=$1 f
    shift
    [ "$scope" = all ] && return 0
    local any_for_param=false
    for f in "$@"; do
        if [ "${f%%=*}" = "${scope%%=*}" ]; then
            any_for_param=true
            [ "$f" = "$scope" ] && return 0
        fi
    done
    ! $any_for_param
}

# ca_bundle_problem FILE : why FILE is not a bundle of PEM certificates (nothing when it is): every
# BEGIN CERTIFICATE block must be one openssl reads.
ca_bundle_problem() {
    local blocks parsed
    blocks=$(grep -c -- '-----BEGIN CERTIFICATE-----' "$1" || true)
    [ "$blocks" -gt 0 ] || { echo "no PEM certificate in it"; return; }
    parsed=$(openssl storeutl -noout -certs "$1" 2>/dev/null | awk '/^Total found:/ { print $3 }')
    [ "${parsed:-0}" = "$blocks" ] || echo "openssl reads ${parsed:-0} of its $blocks certificates"
}

# download URL DEST : to DEST.part, then DEST.
download() {
    curl -fsSL --retry 3 --proto '=https,file' -o "$2.part" "$1" && mv -f "$2.part" "$2"
}

fetch() {
    local f
    for f in "$@"; do
        [[ $f =~ ^(arch|python_version|region)=.+$ ]] || { say "not a filter: $f (arch=…, python_version=…, region=…)"; exit 2; }
    done
    mkdir -p "$dir"
    local file scope sum url ok=0 failed=() unpinned=()
    while read -r file scope sum url; do
        wanted "$scope" "$@" || continue
        if [ "$sum" = ca-bundle ]; then
            # Rotated by its publisher: always the current one, kept only when it is certificates.
            say "fetching the current $file from $url"
            local why
            if ! download "$url" "$dir/$file.new"; then
                rm -f "$dir/$file.new" "$dir/$file.new.part"
                failed+=("$file (download failed)")
            elif why=$(ca_bundle_problem "$dir/$file.new") && [ -n "$why" ]; then
                rm -f "$dir/$file.new"
                failed+=("$file (not a CA bundle: $why)")
            else
                mv -f "$dir/$file.new" "$dir/$file"
                ok=$((ok + 1))
            fi
            continue
        fi
        if [ "$sum" = - ]; then
            unpinned+=("$file")
            continue
        fi
        if [ -f "$dir/$file" ] && [ "$(sha_of "$dir/$file")" = "$sum" ]; then
            ok=$((ok + 1))
            continue
        fi
        say "fetching $file from $url"
        if ! download "$url" "$dir/$file.new"; then
            rm -f "$dir/$file.new" "$dir/$file.new.part"
            failed+=("$file (download failed)")
            continue
        fi
        local got
        got=$(sha_of "$dir/$file.new")
        if [ "$got" != "$sum" ]; then
            rm -f "$dir/$file.new"
            failed+=("$file (SHA-256 $got, pinned $sum)")
            continue
        fi
        mv -f "$dir/$file.new" "$dir/$file"
        ok=$((ok + 1))
    done < <(entries)
    say "$ok file(s) in place in $dir"
    ((${#unpinned[@]} == 0)) || say "not pinned yet (run: make downloads-pin): ${unpinned[*]}"
    ((${#failed[@]} == 0)) || say "failed: ${failed[*]}"
    ((${#failed[@]} == 0 && ${#unpinned[@]} == 0))
}

# check: the entries nobody has pinned yet; exit 1 with what to do when there are any.
check() {
    local file scope sum url unpinned=()
    while read -r file scope sum url; do
        [ "$sum" = - ] && unpinned+=("$file")
    done < <(entries)
    if ((${#unpinned[@]})); then
        say "${#unpinned[@]} file(s) in $lock have no pinned SHA-256 yet: ${unpinned[*]}"
        say "pin them before a release: on a machine with internet access run \`make downloads-pin\`, check each file against its publisher's signature (MySQL: gpg --show-keys on the key, rpm -K on the packages), and commit the lock"
        return 1
    fi
    say "every entry of $lock is pinned (or a rotating ca-bundle)"
}

pin() {
    mkdir -p "$dir"
    local file scope sum url pinned=0
    while read -r file scope sum url; do
        if (($# > 0)); then
            grep -qxF "$file" <<<"$(printf '%s\n' "$@")" || continue
        fi
        [ "$sum" = - ] || { (($# == 0)) || say "$file is pinned already ($sum)"; continue; }
        say "fetching $file from $url"
        download "$url" "$dir/$file" || { say "download of $file failed"; exit 1; }
        sum=$(sha_of "$dir/$file")
        # Replace the sum column of exactly this entry's line.
        awk -v f="$file" -v s="$sum" '$1 == f && $3 == "-" { sub(/[ \t]-[ \t]/, " " s " ") } { print }' \
            "$lock" >"$lock.new" && mv -f "$lock.new" "$lock"
        say "recorded $file $sum"
        pinned=$((pinned + 1))
    done < <(entries)
    say "$pinned sum(s) recorded in $lock: check each file against its publisher's signature, then commit"
}

add() {
    (($# == 1)) || usage
    local line
    case $1 in
        python_version=3.[0-9]*.[0-9]*)
            local v=${1#python_version=}
            line="Python-$v.tar.xz python_version=$v - https://www.python.org/ftp/python/$v/Python-$v.tar.xz"
            ;;
        region=[a-z]*-[a-z]*-[0-9]*)
            local r=${1#region=}
            line="rds-$r-bundle.pem region=$r ca-bundle https://truststore.pki.rds.amazonaws.com/$r/$r-bundle.pem"
            ;;
        *) say "add takes python_version=X.Y.Z or region=NAME, not $1"; exit 2 ;;
    esac
    if entries | awk -v f="${line%% *}" '$1 == f { found = 1 } END { exit !found }'; then
        say "${line%% *} is listed already"
        exit 0
    fi
    printf '%s\n' "$line" >>"$lock"
    case $line in
        *" ca-bundle "*) say "added ${line%% *} (a rotating CA bundle: make downloads fetches the current one)" ;;
        *) say "added ${line%% *} (not pinned): run scripts/downloads.sh pin ${line%% *}" ;;
    esac
}

cmd=${1:-}
shift || true
case $cmd in
    fetch) fetch "$@" ;;
    check) check ;;
    pin) pin "$@" ;;
    add) add "$@" ;;
    *) usage ;;
esac
