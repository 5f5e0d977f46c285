#!/usr/bin/env bash
# Message of the day: which lava AMI this instance runs (from /usr/local/etc/ami-info).
info=/usr/local/etc/ami-info
[ -r "$info" ] || exit 0
# shellcheck source=/dev/null # written at AMI build time
. "$info"
printf '\n  lava AMI %s on %s (base %s)\n\n' "${AMI_VERSION:-?}" "${AMI_OS:-?}" "${AMI_BASE:-?}"
