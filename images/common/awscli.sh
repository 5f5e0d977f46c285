#!/bin/sh
# AWS CLI v2 for the image's arch (shared by every OS): the pinned version (AWSCLI_VERSION in
# lib.sh), installed only when AWS's OpenPGP signature of the zip verifies with the AWS CLI team's
# key committed beside this script (keys/aws-cli.asc, fingerprint AWSCLI_KEY_FINGERPRINT).
set -eu
# shellcheck source=/dev/null # images/common/lib.sh, bind-mounted at build time
. "${BUILD_DIR:-/build}/common/lib.sh"
cd /tmp
url="https://awscli.amazonaws.com/awscli-exe-linux-${ARCH_KERNEL}-${AWSCLI_VERSION}.zip"
retry 3 curl -fsSL -o awscliv2.zip "$url"
retry 3 curl -fsSL -o awscliv2.zip.sig "$url.sig"
sh "${BUILD_DIR:-/build}/common/verify-signature.sh" "${BUILD_DIR:-/build}/common/keys/aws-cli.asc" \
    "$AWSCLI_KEY_FINGERPRINT" awscliv2.zip awscliv2.zip.sig
unzip -q awscliv2.zip
./aws/install >/dev/null
rm -rf /tmp/aws /tmp/awscliv2.zip /tmp/awscliv2.zip.sig
say "$(aws --version)"
