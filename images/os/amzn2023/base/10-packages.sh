#!/bin/sh
# Python 3.12, OpenSSL 3, make, unixODBC and the tools the later steps need.
set -eu
# shellcheck source=/dev/null # images/common/lib.sh, bind-mounted at build time
. "${BUILD_DIR:-/build}/common/lib.sh"

dnf -y -q install python3.12 python3.12-pip make openssl unixODBC unixODBC-devel gcc tar gzip unzip findutils shadow-utils which
alternatives --install /usr/bin/python3 python3 /usr/bin/python3.12 10
ln -sf /usr/bin/pip3.12 /usr/local/bin/pip3
say "$(python3 --version), $(openssl version)"
