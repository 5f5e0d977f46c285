#!/usr/bin/env bash
# Installs the lava boot agent: install.sh PATH/TO/lava-rc [DESTDIR]
#   /usr/local/bin/lava-rc, the /usr/local/bin/s3run link, /usr/local/etc/rc.d/ for site scripts,
#   the systemd unit (enabled) and the rc.local shim. DESTDIR (default /) is for image builds and tests;
#   with a DESTDIR the unit is installed but not enabled through systemctl.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
binary=${1:?usage: install.sh PATH/TO/lava-rc [DESTDIR]}
dest=${2:-/}
dest=${dest%/}

[ -x "$binary" ] || { echo "install.sh: $binary is not an executable" >&2; exit 2; }
"$binary" --version >/dev/null || { echo "install.sh: $binary does not run on this machine" >&2; exit 1; }

install -D -m 0755 "$binary" "$dest/usr/local/bin/lava-rc"
ln -sfn lava-rc "$dest/usr/local/bin/s3run"
install -d -m 0755 "$dest/usr/local/etc/rc.d"
install -D -m 0644 "$here/lava-rc.service" "$dest/etc/systemd/system/lava-rc.service"
install -D -m 0755 "$here/rc.local" "$dest/usr/local/libexec/lava-rc/rc.local"
if [ -z "$dest" ]; then
    systemctl daemon-reload
    systemctl enable lava-rc.service
    echo "install.sh: lava-rc installed and enabled"
else
    mkdir -p "$dest/etc/systemd/system/multi-user.target.wants"
    ln -sfn ../lava-rc.service "$dest/etc/systemd/system/multi-user.target.wants/lava-rc.service"
    echo "install.sh: lava-rc installed under $dest"
fi
