#!/usr/bin/env bash
# Docker payloads end to end against the local services, no AWS account needed:
#   scripts/test-services.sh run -- scripts/payload-demo.sh      (make payload-demo)
# Builds the payloads of the fixture job framework project (tests/fixtures/payload-project) on the
# test engine, installs one for linux/amd64 and linux/arm64 to the local registry (its ECR
# repository made in the AWS emulator), installs it again (nothing rebuilt, nothing sent), and
# uninstalls it. The payloads' base image is busybox FROM scratch, imported here.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
lava_build=${LAVA_BUILD:-target/debug/lava-build}
reg=${LAVA_TEST_REGISTRY:?run me through scripts/test-services.sh run -- $0}
: "${DOCKER_HOST:?}" "${AWS_ENDPOINT_URL:?}"

say() { printf '\npayload-demo: %s\n' "$*" >&2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
say "importing the base image lava-test/payload-base:busybox (busybox FROM scratch)"
mkdir -p "$work/rootfs/bin"
cp /bin/busybox "$work/rootfs/bin/"
ln -s busybox "$work/rootfs/bin/sh"
tar -C "$work/rootfs" -c . | docker import - lava-test/payload-base:busybox >/dev/null
cp -r tests/fixtures/payload-project "$work/project"
project=(--project "$work/project")

say "lava-build payload build hello custom copyonly --env dev (default Dockerfile, own Dockerfile, notebook, env/ rendered)"
"$lava_build" payload build hello custom copyonly "${project[@]}" --env dev --network none

say "what hello's env/settings.cfg became in the image"
docker run --rm --network none --user 4242:4242 lava/dev/fixture/hello:latest /bin/busybox cat /lava/env/settings.cfg

say "lava-build payload install copyonly --env multi (linux/amd64 and linux/arm64, one index) to $reg"
"$lava_build" payload install copyonly "${project[@]}" --env multi --network none --registry "$reg"

say "the same again: nothing rebuilt, nothing sent"
"$lava_build" payload install copyonly "${project[@]}" --env multi --network none --registry "$reg"

say "lava-build payload uninstall copyonly --env multi --yes"
"$lava_build" payload uninstall copyonly "${project[@]}" --env multi --yes
