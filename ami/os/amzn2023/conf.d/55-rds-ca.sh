#!/usr/bin/env bash
# RDS CA bundles, global and for the region, in /usr/local/lib/rds.
# shellcheck source=/dev/null # lib/common.sh of this tree, found at run time
. "$(dirname "$0")/../lib/common.sh"


install -d -m 0755 /usr/local/lib/rds
retry 3 curl -fsSL -o /usr/local/lib/rds/global-bundle.pem https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem
retry 3 curl -fsSL -o "/usr/local/lib/rds/$AWS_DEFAULT_REGION-bundle.pem" \
    "https://truststore.pki.rds.amazonaws.com/$AWS_DEFAULT_REGION/$AWS_DEFAULT_REGION-bundle.pem"
chmod 0644 /usr/local/lib/rds/*.pem
info "RDS CA bundles installed"
