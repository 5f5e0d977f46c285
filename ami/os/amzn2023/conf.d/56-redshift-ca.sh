#!/usr/bin/env bash
# Redshift CA bundle in /usr/local/lib/redshift.
# shellcheck source=/dev/null # lib/common.sh of this tree, found at run time
. "$(dirname "$0")/../lib/common.sh"


install -d -m 0755 /usr/local/lib/redshift
retry 3 curl -fsSL -o /usr/local/lib/redshift/amazon-trust-ca-bundle.crt \
    https://s3.amazonaws.com/redshift-downloads/amazon-trust-ca-bundle.crt
chmod 0644 /usr/local/lib/redshift/*.crt
info "Redshift CA bundle installed"
