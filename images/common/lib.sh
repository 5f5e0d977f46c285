#!/bin/sh
# Helpers for the image steps: arch names in the spellings the downloads use, logging.
# shellcheck disable=SC2034 # sourced by the steps, which use these
set -eu
case $(uname -m) in
    x86_64) ARCH_KERNEL=x86_64 ARCH_ORACLE=x64 ARCH_DEB=amd64 ;;
    aarch64) ARCH_KERNEL=aarch64 ARCH_ORACLE=arm64 ARCH_DEB=arm64 ;;
    *) echo "unsupported architecture $(uname -m)" >&2; exit 1 ;;
esac
FREETDS_VERSION=1.5.4
say() { echo "[$(basename "$0")] $*"; }
