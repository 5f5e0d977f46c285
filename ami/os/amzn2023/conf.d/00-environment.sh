#!/usr/bin/env bash
# Environment check: every build variable is set, and the instance reads the build bucket.
# shellcheck source=/dev/null # lib/common.sh of this tree, found at run time
. "$(dirname "$0")/../lib/common.sh"


require OS REPO_UPGRADE TIMEZONE S3BUCKET S3PREFIX PYTHON_VERSION AWS_DEFAULT_REGION
case $S3PREFIX in "" | */) ;; *) die "S3PREFIX must be empty or end with /: $S3PREFIX" ;; esac
[[ $PYTHON_VERSION =~ ^3\.[0-9]+\.[0-9]+$ ]] || die "PYTHON_VERSION must be 3.X.Y: $PYTHON_VERSION"
info "OS=$OS PYTHON_VERSION=$PYTHON_VERSION S3=s3://$S3BUCKET/$S3PREFIX region $AWS_DEFAULT_REGION"
# The temporary instance profile can take a while to reach the instance. Ask S3, not STS: a build in a
# private subnet may reach only S3 (gateway endpoint), and the profile may list this prefix.
retry 8 aws s3api list-objects-v2 --bucket "$S3BUCKET" --prefix "${S3PREFIX}downloads/" --max-items 1 >/dev/null ||
    die "cannot list s3://$S3BUCKET/${S3PREFIX}downloads/ (instance profile missing, or no route to S3?)"
info "instance credentials ok: s3://$S3BUCKET/${S3PREFIX}downloads/ readable"
