#!/bin/sh
# AWS CLI v2 for the image's arch.
set -eu
sh "${BUILD_DIR:-/build}/common/awscli.sh"
