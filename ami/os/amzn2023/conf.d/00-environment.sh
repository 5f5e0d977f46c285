#!/usr/bin/env bash
# Environment check: every build variable is set, and the instance has AWS credentials.
# shellcheck source=/dev/null # lib/common.sh of this tree, found at run time
. "$(dirname "$0")/../lib/common.sh"


require OS REPO_UPGRADE TIMEZONE S3BUCKET S3PREFIX PYTHON_VERSION AWS_DEFAULT_REGION
case $S3PREFIX in "" | */) ;; *) die "S3PREFIX must be empty or end with /: $S3PREFIX" ;; esac
[[ $PYTHON_VERSION =~ ^3\.[0-9]+\.[0-9]+$ ]] || die "PYTHON_VERSION must be 3.X.Y: $PYTHON_VERSION"
info "OS=$OS PYTHON_VERSION=$PYTHON_VERSION S3=s3://$S3BUCKET/$S3PREFIX region $AWS_DEFAULT_REGION"
# The temporary instance profile can take a while to reach the instance.
retry 8 aws sts get-caller-identity --output text --query Arn >/dev/null ||
    die "no AWS credentials on the instance (instance profile missing?)"
info "instance credentials ok"
