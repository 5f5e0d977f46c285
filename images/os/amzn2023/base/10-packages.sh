#!/bin/sh
# Python 3.12, OpenSSL 3, make, unixODBC and the tools the later steps need.
# /usr/bin/python3 stays the system's 3.9, which dnf runs on: python3 and pip3 for 3.12 are links
# in /usr/local/bin, which comes first on PATH (the Dockerfile's ENV PATH and lib.sh).
# gcc and openssl-devel are for building FreeTDS (20-freetds.sh) and go again in 90-cleanup.sh.
set -eu
# shellcheck source=/dev/null # images/common/lib.sh, bind-mounted at build time
. "${BUILD_DIR:-/build}/common/lib.sh"

# The image follows Amazon Linux's latest release, as the AMI does: the FROM image's release is
# frozen, so without this an image built today would miss every update since that release.
echo latest >/etc/dnf/vars/releasever
dnf -y -q upgrade
dnf -y -q install python3.12 python3.12-pip make openssl unixODBC unixODBC-devel \
    tar gzip bzip2 unzip findutils shadow-utils which gcc openssl-devel gnupg2-minimal
ln -sf /usr/bin/python3.12 /usr/local/bin/python3
ln -sf /usr/bin/pip3.12 /usr/local/bin/pip3
[ "$(command -v python3)" = /usr/local/bin/python3 ] || { echo "python3 is $(command -v python3), not /usr/local/bin/python3: PATH=$PATH" >&2; exit 1; }
say "$(python3 --version) first on PATH; dnf on $(rpm -q python3); $(openssl version)"
