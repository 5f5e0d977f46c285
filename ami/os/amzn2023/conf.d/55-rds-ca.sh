#!/usr/bin/env bash
# RDS CA bundles, global and for the region, in /usr/local/lib/rds (from the build bucket, pinned).
# shellcheck source=/dev/null # lib/common.sh of this tree, found at run time
. "$(dirname "$0")/../lib/common.sh"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
install -d -m 0755 /usr/local/lib/rds
fetch_download rds-global-bundle.pem "$work"
install -m 0644 "$work/rds-global-bundle.pem" /usr/local/lib/rds/global-bundle.pem
fetch_download "rds-$AWS_DEFAULT_REGION-bundle.pem" "$work"
install -m 0644 "$work/rds-$AWS_DEFAULT_REGION-bundle.pem" "/usr/local/lib/rds/$AWS_DEFAULT_REGION-bundle.pem"
info "RDS CA bundles installed"
