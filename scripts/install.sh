#!/usr/bin/env bash
# Installs or uninstalls the three binaries, the s3run link, shell completions and man pages.
#   scripts/install.sh install   BIN_DIR DEST   copy from BIN_DIR (the built binaries) under DEST
#   scripts/install.sh uninstall DEST           remove exactly what install wrote under DEST
# DEST is $(DESTDIR)$(PREFIX). install records every file it wrote (and every folder it created)
# in DEST/share/lava-build/installed, which uninstall reads; nothing else is removed.
set -euo pipefail

programs=(lava-build lava-ami lava-rc)

die() { echo "install: $*" >&2; exit 2; }

# Creates folder $1 (and its parents) and records the ones that did not exist.
make_dir() {
    local d=$1 missing=()
    while [ ! -d "$d" ]; do missing=("$d" "${missing[@]}"); d=$(dirname "$d"); done
    for d in "${missing[@]}"; do mkdir "$d" && echo "dir ${d#"$dest"/}" >>"$record"; done
}

# Records file $1 (a path under DEST) as written.
wrote() { echo "file ${1#"$dest"/}" >>"$record"; }

install_all() {
    local bin_dir=$1 p shell target
    for p in "${programs[@]}"; do
        [ -x "$bin_dir/$p" ] || die "$bin_dir/$p: not built (run make build or cargo build first)"
    done
    [ ! -e "$dest/share/lava-build/installed" ] || die "$dest: already installed (make uninstall first)"
    mkdir -p "$dest"
    local tmp_record
    tmp_record=$(mktemp)
    record=$tmp_record
    make_dir "$dest/bin"
    for p in "${programs[@]}"; do
        install -m 0755 "$bin_dir/$p" "$dest/bin/$p" && wrote "$dest/bin/$p"
    done
    ln -sfn lava-rc "$dest/bin/s3run" && wrote "$dest/bin/s3run"
    for shell in bash zsh fish; do
        for p in "${programs[@]}"; do
            case $shell in
                bash) target=$dest/share/bash-completion/completions/$p ;;
                zsh) target=$dest/share/zsh/site-functions/_$p ;;
                fish) target=$dest/share/fish/vendor_completions.d/$p.fish ;;
            esac
            make_dir "$(dirname "$target")"
            "$bin_dir/lava-build" completions "$shell" --command "$p" >"$target"
            chmod 0644 "$target" && wrote "$target"
        done
    done
    make_dir "$dest/share/man/man1"
    make_dir "$dest/share/man/man8"
    local page
    while IFS= read -r page; do
        chmod 0644 "$page" && wrote "$page"
    done < <("$bin_dir/lava-build" man "$dest/share/man")
    make_dir "$dest/share/lava-build"
    echo "file share/lava-build/installed" >>"$record"
    mv "$tmp_record" "$dest/share/lava-build/installed"
    chmod 0644 "$dest/share/lava-build/installed"
    echo "installed lava-build, lava-ami, lava-rc (and s3run) under $dest"
}

uninstall_all() {
    local list=$dest/share/lava-build/installed kind path dirs=()
    [ -f "$list" ] || die "$list: not found (nothing was installed under $dest by make install)"
    while read -r kind path; do
        case $kind in
            file) rm -f "${dest:?}/$path" ;;
            dir) dirs=("$path" "${dirs[@]}") ;;
            *) die "$list: unknown line '$kind $path'" ;;
        esac
    done <"$list"
    # Folders install created, deepest first, only while empty (someone else may use them now).
    for path in "${dirs[@]}"; do rmdir "${dest:?}/$path" 2>/dev/null || true; done
    echo "uninstalled from $dest"
}

case ${1:-} in
    install) [ $# -eq 3 ] || die "usage: $0 install BIN_DIR DEST"; dest=$3; install_all "$2" ;;
    uninstall) [ $# -eq 2 ] || die "usage: $0 uninstall DEST"; dest=$2; uninstall_all ;;
    *) die "usage: $0 install BIN_DIR DEST | uninstall DEST" ;;
esac
