#!/bin/sh
# verify-signature.sh KEY FINGERPRINT FILE SIG
# Exit 0 when SIG is a good detached OpenPGP signature of FILE by the key whose (primary or signing)
# fingerprint is FINGERPRINT, taken from the armored public key file KEY and nothing else: a
# temporary GNUPGHOME holds only that key, so no key of the caller's keyring is trusted. Otherwise
# exit 1 naming FILE and the reason (exit 2 for a wrong call). Used by the image steps (the AWS CLI)
# and the release workflow (the Session Manager plugin); needs gpg.
set -eu
[ $# -eq 4 ] || { echo "usage: verify-signature.sh KEY FINGERPRINT FILE SIG" >&2; exit 2; }
key=$1 fpr=$2 file=$3 sig=$4
fail() { echo "verify-signature: $file: $*" >&2; exit 1; }
command -v gpg >/dev/null 2>&1 || fail "gpg is needed to check its signature (Debian/Ubuntu: gnupg, Amazon Linux: gnupg2-minimal)"
for f in "$key" "$file" "$sig"; do
    [ -f "$f" ] || fail "$f is missing"
done
home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT
gpg --batch --quiet --homedir "$home" --import "$key" 2>"$home/err" ||
    fail "cannot import the key $key: $(tr '\n' ' ' <"$home/err")"
gpg --batch --homedir "$home" --status-file "$home/status" --verify "$sig" "$file" 2>"$home/err" ||
    fail "the signature $sig is not a good signature by $key: $(tr '\n' ' ' <"$home/err")"
# [GNUPG:] VALIDSIG <signing key fpr> <date> <time> <expiry> <version> <reserved> <algo> <hash> <class> <primary key fpr>
awk -v f="$fpr" '$1 == "[GNUPG:]" && $2 == "VALIDSIG" && ($3 == f || $NF == f) { ok = 1 } END { exit !ok }' "$home/status" ||
    fail "signed, but not by the key $fpr"
echo "verify-signature: $file: good signature by $fpr"
