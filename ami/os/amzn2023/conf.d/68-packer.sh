#!/usr/bin/env bash
# packer $PACKER_VERSION in /usr/local/bin (an instance of the AMI can rebuild the AMI), HashiCorp's pinned zip.
# shellcheck source=/dev/null # lib/common.sh of this tree, found at run time
. "$(dirname "$0")/../lib/common.sh"

# HashiCorp's release zip from the build bucket (pinned in downloads.lock) rather than HashiCorp's dnf
# repository: the build works in a private subnet, and no third-party repository stays on the
# instances for dnf to fail on at boot.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
zip=packer_${PACKER_VERSION}_linux_$(arch_deb).zip
fetch_download "$zip" "$work"
unzip -q -o "$work/$zip" packer -d "$work"
install -o root -g root -m 0755 "$work/packer" /usr/local/bin/packer
[ "$(/usr/local/bin/packer version | sed -n 1p)" = "Packer v$PACKER_VERSION" ] ||
    die "/usr/local/bin/packer is not $PACKER_VERSION: $(/usr/local/bin/packer version | sed -n 1p)"
info "$(/usr/local/bin/packer version | sed -n 1p)"
