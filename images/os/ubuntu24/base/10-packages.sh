#!/bin/sh
# Python 3.12, OpenSSL 3, make, unixODBC, FreeTDS (tsql and the ODBC driver) from Ubuntu 24.04.
# FreeTDS is Ubuntu's (1.3.x, TLS through GnuTLS), not the 1.5.4 with OpenSSL that amzn2023 and the
# AMI build: Ubuntu's package gets Ubuntu's security updates with the rest of the image, and its
# driver connects with TLS all the same (the tsql TLS check). Lava connects through the ODBC driver
# named FreeTDS, so the package's driver is registered under that name (tdsodbc does not do it).
set -eu
# shellcheck source=/dev/null # images/common/lib.sh, bind-mounted at build time
. "${BUILD_DIR:-/build}/common/lib.sh"

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get upgrade -y -q
apt-get install -y -q --no-install-recommends python3 python3-pip python3-venv make openssl ca-certificates curl unzip gnupg unixodbc tdsodbc freetds-bin
odbcinst -i -d -f /usr/share/tdsodbc/odbcinst.ini
rm -rf /var/lib/apt/lists/*
say "$(python3 --version), $(openssl version), ODBC drivers: $(odbcinst -q -d | tr '\n' ' ')"
