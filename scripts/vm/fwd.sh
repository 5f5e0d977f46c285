#!/bin/bash
# fwd.sh HOST PORT: joins stdin/stdout to a TCP connection. qemu's user network runs it for each
# connection the guest opens to a guestfwd address (the VM test's 169.254.169.254:80 → fake IMDS).
# When the server closes, so does this side (the client sees the end of the answer).
set -euo pipefail
exec 3<>"/dev/tcp/$1/$2"
# A background command's stdin is /dev/null unless given: hand it the guest's side as fd 4.
exec 4<&0
cat <&4 >&3 &
writer=$!
cat <&3
kill "$writer" 2>/dev/null || true
