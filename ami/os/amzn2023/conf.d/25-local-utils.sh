#!/usr/bin/env bash
# Local utilities from resources/bin into /usr/local/bin.
# shellcheck source=/dev/null # lib/common.sh of this tree, found at run time
. "$(dirname "$0")/../lib/common.sh"


shopt -s nullglob
for f in "$LAVA_AMI_DIR"/resources/bin/*; do
    install_file "$f" "/usr/local/bin/$(basename "$f")" 0755
    info "installed /usr/local/bin/$(basename "$f")"
done
