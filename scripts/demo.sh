#!/usr/bin/env bash
# The whole AMI build against the local AWS emulator, no AWS account needed:
#   scripts/test-services.sh moto -- scripts/demo.sh
# Creates what a real account already has (a VPC, subnet, security group and the resource bucket),
# shows the plan, then runs the emulated build for x86_64 and arm64 and prints the AMIs.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
lava_build=${LAVA_BUILD:-target/debug/lava-build}
aws=(build/venv/bin/aws --endpoint-url "${AWS_ENDPOINT_URL:?run me through scripts/test-services.sh moto -- $0}" --output text)

say() { printf '\ndemo: %s\n' "$*" >&2; }

say "creating a VPC, a subnet, a security group and the bucket lava-demo in the emulator"
vpc=$("${aws[@]}" ec2 create-vpc --cidr-block 10.20.0.0/16 --query Vpc.VpcId)
subnet=$("${aws[@]}" ec2 create-subnet --vpc-id "$vpc" --cidr-block 10.20.1.0/24 --query Subnet.SubnetId)
sg=$("${aws[@]}" ec2 create-security-group --vpc-id "$vpc" --group-name lava-build-demo \
    --description "lava AMI builds" --query GroupId)
"${aws[@]}" s3api create-bucket --bucket lava-demo >/dev/null

say "lava-build ami --config deploy/sample.yaml --env demo --plan"
"$lava_build" ami --config deploy/sample.yaml --env demo --plan "subnet=$subnet" "sg=$sg"

say "lava-build ami --config deploy/sample.yaml --env demo --emulate (both arches)"
"$lava_build" ami --config deploy/sample.yaml --env demo --emulate "subnet=$subnet" "sg=$sg"

lava_ami=$(dirname "$lava_build")/lava-ami
say "a second build, published in SSM and copied to us-west-2 (ami.regions): lava-build ami … --publish"
"$lava_build" ami --config deploy/sample.yaml --env demo --emulate --no-sync --publish "subnet=$subnet" "sg=$sg"

say "lava-ami: the AMIs by kind, and the one published for each kind"
AWS_REGION=us-east-1 "$lava_ami"

# The emulator has no DescribeImageReferences and keeps no deprecation time: the demo skips the
# one and deregisters without waiting for the other (a real account keeps both defaults).
prune=(prune --keep 1 --deregister --no-image-references --min-deprecated-days 0)
say "lava-ami ${prune[*]} --dry-run: the first build's AMIs would go (with their snapshots)"
AWS_REGION=us-east-1 "$lava_ami" "${prune[@]}" --dry-run
say "lava-ami ${prune[*]} --yes"
AWS_REGION=us-east-1 "$lava_ami" "${prune[@]}" --yes
