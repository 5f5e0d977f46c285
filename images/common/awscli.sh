#!/bin/sh
# AWS CLI v2 for the image's arch (shared by every OS).
set -eu
# shellcheck source=/dev/null # images/common/lib.sh, bind-mounted at build time
. "${BUILD_DIR:-/build}/common/lib.sh"
cd /tmp
curl -fsSL -o awscliv2.zip "https://awscli.amazonaws.com/awscli-exe-linux-${ARCH_KERNEL}.zip"
unzip -q awscliv2.zip
./aws/install >/dev/null
rm -rf /tmp/aws /tmp/awscliv2.zip
say "$(aws --version)"
