#!/usr/bin/env bash
# The version a release workflow builds, and the tag it builds it from, from the event that started it:
#
#   scripts/release/version.sh EVENT REF_TYPE REF_NAME [INPUT_VERSION]
#
#   a tag push (EVENT=push, REF_TYPE=tag, REF_NAME=v8.3.0): the version is the tag without its v;
#   a manual run (EVENT=workflow_dispatch): INPUT_VERSION is required and its tag v<version> must
#   exist in the checkout, which is what is built (never the branch the run was started on).
#
# Prints, for $GITHUB_OUTPUT: version=…, ref=refs/tags/v…, latest=true|false (only a release such as
# 8.3.0 moves latest; 8.4.0rc1 or 8.4.0-beta.1 do not). Exit 2, naming the value, when any is wrong.
set -euo pipefail

die() { printf 'release version: %s\n' "$*" >&2; exit 2; }

[ $# -ge 3 ] || die "usage: version.sh EVENT REF_TYPE REF_NAME [INPUT_VERSION]"
event=$1 ref_type=$2 ref_name=$3 input=${4:-}

case $event in
    push)
        [ "$ref_type" = tag ] || die "a push of $ref_type '$ref_name' is not a release: push a tag v<version>"
        [[ $ref_name == v* ]] || die "tag '$ref_name': expected v<version>, e.g. v8.3.0"
        version=${ref_name#v}
        [ -z "$input" ] || [ "$input" = "$version" ] || die "version input '$input' differs from the tag '$ref_name'"
        ;;
    workflow_dispatch)
        [ -n "$input" ] || die "a manual run needs the version input (the tag v<version> is built)"
        version=$input
        ;;
    *) die "event '$event': a release runs on a tag push or a manual run" ;;
esac

release='^[0-9]+\.[0-9]+\.[0-9]+$'
pre='^[0-9]+\.[0-9]+\.[0-9]+([.-]?(a|b|rc|alpha|beta|dev)[.]?[0-9]*)$'
if [[ $version =~ $release ]]; then
    latest=true
elif [[ $version =~ $pre ]]; then
    latest=false
else
    die "version '$version': expected X.Y.Z or a pre-release such as X.Y.ZrcN or X.Y.Z-beta.N"
fi
git rev-parse -q --verify "refs/tags/v$version^{commit}" >/dev/null ||
    die "version '$version': there is no tag v$version in this repository"

echo "version=$version"
echo "ref=refs/tags/v$version"
echo "latest=$latest"
