#!/usr/bin/env bash
# Redshift CA bundle in /usr/local/lib/redshift (from the build bucket, pinned).
# shellcheck source=/dev/null # lib/common.sh of this tree, found at run time
. "$(dirname "$0")/../lib/common.sh"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fetch_download redshift-amazon-trust-ca-bundle.crt "$work"
install -D -m 0644 "$work/redshift-amazon-trust-ca-bundle.crt" /usr/local/lib/redshift/amazon-trust-ca-bundle.crt
info "Redshift CA bundle installed"
