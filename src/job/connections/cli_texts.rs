//! The script texts of [`super::cli`] that lava 8.3.0 writes verbatim (placeholders in braces).

/// The `ses` script as lava 8.3.0 writes it (placeholders in braces).
pub(super) const SES: &str = r#"#!/bin/bash
stdin=yes
for i
do
    case "$i"
    in
        --subject | --to | --cc | --bcc) ;;
        --html | --text) stdin=no;;
        --*) echo "Bad option: $i" >&2; exit 1;;
        *) ;;
    esac
done
z=2
trap '/bin/rm -f msg.$$; exit $z' 0
if [ "$stdin" == yes ]
then
    cat > msg.$$
    source="--text file://msg.$$"
    head -1 msg.$$ | grep -qi '^<html>' && source="--html file://msg.$$"
fi
[ "{return_path}" != "" ] && return_path='--return-path "{return_path}"'
[ "{reply_to}" != "" ] && reply_to='--reply-to-addresses {reply_to}'
aws --profile "{profile}" --region "{region}" \
    ses send-email --from "{sender}" $return_path $reply_to "$@" $source
z=0
    "#;

/// The `sqlite3` script as lava 8.3.0 writes it (`{db_file}` replaced).
pub(super) const SQLITE3: &str = r#"#!/bin/bash

db_file='{db_file}'

TMP=$(mktemp -d)
z=3
trap '/bin/rm -rf $TMP; exit $z' 0

if [[ "$db_file" =~ ^s3:// ]]
then
    s3_file="$db_file"
    db_file=$TMP/$(basename "$s3_file")
    aws s3 cp "$s3_file" "$db_file" || exit
    old_size=$(stat -f "%z" "$db_file")
    old_mtime=$(stat -f "%m" "$db_file")
    sleep 1
fi

sqlite3 -init /dev/null -bail -batch "$@" "$db_file" || exit

if [ "$s3_file" != "" ]
then
    new_size=$(stat -f "%z" "$db_file")
    new_mtime=$(stat -f "%m" "$db_file")
    if [ "$old_size" -ne "$new_size" -o "$old_mtime" -ne "$new_mtime" ]
    then
        aws s3 cp "$db_file" "$s3_file"
    fi
fi

z=0
"#;
