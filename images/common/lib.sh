#!/bin/sh
# Helpers for the image steps: PATH, arch names in the spellings the downloads use, versions,
# logging, retries.
# shellcheck disable=SC2034 # sourced by the steps, which use these
set -eu
# /usr/local/bin first: on amzn2023 python3/pip3 there are 3.12, while /usr/bin/python3 stays the
# system's (dnf runs on it).
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH
case $(uname -m) in
    x86_64) ARCH_KERNEL=x86_64 ARCH_ORACLE=x64 ARCH_DEB=amd64 ;;
    aarch64) ARCH_KERNEL=aarch64 ARCH_ORACLE=arm64 ARCH_DEB=arm64 ;;
    *) echo "unsupported architecture $(uname -m)" >&2; exit 1 ;;
esac
# As on the AMI (ami/os/amzn2023/versions.sh; a test keeps them equal).
FREETDS_VERSION=1.5.4
# The SHA-256 of freetds-$FREETDS_VERSION.tar.bz2, the AMI's pin (ami/os/amzn2023/downloads.lock;
# a test keeps them equal).
FREETDS_SHA256=1d024ef418d74a3a8f2cca82f10f1561f1dde28dc3d6f65c815f07764d4f7ea8
# The AWS CLI (awscli.sh): a versioned zip, checked against AWS's signature by this key (keys/aws-cli.asc).
AWSCLI_VERSION=2.36.40
AWSCLI_KEY_FINGERPRINT=FB5DB77FD5C118B80511ADA8A6310ACC4672475C
MYSQL_VERSION=8.4.7
MYSQL_KEY_ID=B7B3B788A8D3785C
POSTGRESQL_MAJOR=15
say() { echo "[$(basename "$0")] $*"; }
# retry N CMD…: runs CMD up to N times, waiting a little longer after each failure.
retry() {
    tries=$1 n=1
    shift
    until "$@"; do
        [ "$n" -lt "$tries" ] || return 1
        say "retrying ($n/$tries failed): $*"
        sleep $((n * 10))
        n=$((n + 1))
    done
}
