//! User data: a JSON object (optionally gzip-compressed) whose keys select the boot steps.
use serde_json::{Map, Value};
use std::io::Read;

/// Keys the agent acts on; anything else is listed and ignored (e.g. `import-users`).
pub const KNOWN_KEYS: [&str; 4] = ["shell0", "swap", "crontab", "shell"];

#[derive(Debug, thiserror::Error)]
pub enum UserDataError {
    #[error("user data is gzip-compressed but does not decompress")]
    Gzip(#[source] std::io::Error),
    #[error("user data decompresses to more than {} MiB", MAX_DECOMPRESSED >> 20)]
    TooLarge,
    #[error("user data is not JSON")]
    NotJson(#[source] serde_json::Error),
    #[error("user data must be a JSON object, got {0}")]
    NotObject(&'static str),
}

/// What is wrong with one key's value: the key (`swap.size`, `shell[2]`, `crontab.<user>`), the
/// value or its kind, and what is expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error("{key}: expected {expected}, got {got}")]
    Kind {
        key: String,
        expected: &'static str,
        got: &'static str,
    },
    #[error("{key}: invalid value {value}: {why}")]
    Invalid {
        key: String,
        /// The value as JSON shows it (strings quoted).
        value: String,
        why: &'static str,
    },
    #[error("{key}: unknown key (expected {expected})")]
    UnknownKey { key: String, expected: &'static str },
}

fn wrong_kind(key: impl Into<String>, expected: &'static str, v: &Value) -> SpecError {
    SpecError::Kind {
        key: key.into(),
        expected,
        got: kind(v),
    }
}

fn invalid(key: &str, value: &str, why: &'static str) -> SpecError {
    SpecError::Invalid {
        key: key.to_string(),
        value: format!("{:?}", redact(value)),
        why,
    }
}

/// A user-data key as logs and errors show it: control characters escaped (`\n`, `\u{1b}`), so a
/// key cannot start a line of its own or move the terminal's cursor.
pub fn printable(key: &str) -> String {
    key.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_debug().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// A value as errors show it: the password of every `scheme://user:password@host` replaced by
/// `***` (the rest is needed to see what is wrong).
pub fn redact(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        let end = tail.find(['/', '?', '#', ' ']).unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority.rfind('@') {
            Some(a) => {
                let userinfo = &authority[..a];
                match userinfo.split_once(':') {
                    Some((user, _)) => {
                        out.push_str(user);
                        out.push_str(":***");
                    }
                    None => out.push_str(userinfo),
                }
                out.push_str(&authority[a..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The most gzip-compressed user data may expand to. EC2 takes at most 16 KiB of user data, so a
/// real one is far below this; the cap keeps a compression bomb from taking the instance's memory.
pub const MAX_DECOMPRESSED: u64 = 16 << 20;

/// Parses raw user data. `Ok(None)` when it is empty (nothing to do).
pub fn parse(raw: &[u8]) -> Result<Option<Map<String, Value>>, UserDataError> {
    let bytes = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(raw)
            .take(MAX_DECOMPRESSED + 1)
            .read_to_end(&mut out)
            .map_err(UserDataError::Gzip)?;
        if out.len() as u64 > MAX_DECOMPRESSED {
            return Err(UserDataError::TooLarge);
        }
        out
    } else {
        raw.to_vec()
    };
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(None);
    }
    let v: Value = serde_json::from_slice(&bytes).map_err(UserDataError::NotJson)?;
    match v {
        Value::Object(m) => Ok(Some(m)),
        other => Err(UserDataError::NotObject(kind(&other))),
    }
}

/// Unknown top-level keys, sorted.
pub fn unknown_keys(data: &Map<String, Value>) -> Vec<String> {
    data.keys()
        .filter(|k| !KNOWN_KEYS.contains(&k.as_str()))
        .map(|k| printable(k))
        .collect()
}

/// What the log says of the user data: each top-level key with the size of its value (as JSON), and
/// for `shell0`/`shell` the size and SHA-256 of the script text. No value is ever shown: scripts and
/// unknown keys may hold secrets.
pub fn log_summary(data: &Map<String, Value>) -> String {
    use sha2::Digest;
    data.iter()
        .map(|(k, v)| match (k.as_str(), commands(k, v)) {
            ("shell0" | "shell", Ok(script)) => format!(
                "{k} (script of {} bytes, sha256 {})",
                script.len(),
                hex::encode(sha2::Sha256::digest(script.as_bytes()))
            ),
            _ => format!("{} ({} bytes)", printable(k), v.to_string().len()),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `shell`/`shell0`: a string or a list of strings, run as one script.
pub fn commands(key: &str, v: &Value) -> Result<String, SpecError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                item.as_str()
                    .map(String::from)
                    .ok_or_else(|| wrong_kind(format!("{key}[{i}]"), "a string", item))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(|lines| lines.join("\n")),
        other => Err(wrong_kind(key, "a string or a list of strings", other)),
    }
}

/// The swap request: size in GiB and file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwapSpec {
    pub size_gib: u64,
    pub file: String,
}

const WHOLE_GIB: &str = "expected a whole number of GiB, 0 or more";

/// Validates `swap` per the rules: size an integer ≥ 0 (or a string of digits), file absolute with one
/// component of `[.a-zA-Z0-9_-]` (default /swapfile). `Ok(None)` when there is nothing to do.
pub fn swap(v: &Value) -> Result<Option<SwapSpec>, SpecError> {
    let Value::Object(m) = v else {
        return Err(wrong_kind("swap", "an object with size and file", v));
    };
    if let Some(k) = m.keys().find(|k| *k != "size" && *k != "file") {
        return Err(SpecError::UnknownKey {
            key: format!("swap.{}", printable(k)),
            expected: "size and file",
        });
    }
    let size = match m.get("size") {
        None | Some(Value::Null) => 0,
        Some(Value::Number(n)) => n.as_u64().ok_or_else(|| SpecError::Invalid {
            key: "swap.size".into(),
            value: n.to_string(),
            why: WHOLE_GIB,
        })?,
        Some(Value::String(s)) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => s
            .parse()
            .map_err(|_| invalid("swap.size", s, "too large"))?,
        Some(Value::String(s)) => return Err(invalid("swap.size", s, WHOLE_GIB)),
        Some(other) => return Err(wrong_kind("swap.size", "a number of GiB", other)),
    };
    let file = match m.get("file") {
        None | Some(Value::Null) => "/swapfile".to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => return Err(wrong_kind("swap.file", "a path", other)),
    };
    let name = file.strip_prefix('/').unwrap_or("");
    if name.is_empty()
        || name == "."
        || name == ".."
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    {
        return Err(invalid(
            "swap.file",
            &file,
            "expected an absolute path in / such as /swapfile (letters, digits, . _ -)",
        ));
    }
    if size == 0 {
        return Ok(None);
    }
    Ok(Some(SwapSpec {
        size_gib: size,
        file,
    }))
}

/// One `crontab` entry: the user and the object's bucket and key, or what is wrong with it.
pub type CrontabEntry = (String, Result<(String, String), SpecError>);

/// `crontab`: user → `s3://bucket/key`. Per-user problems are returned per user.
pub fn crontab(v: &Value) -> Result<Vec<CrontabEntry>, SpecError> {
    let Value::Object(m) = v else {
        return Err(wrong_kind("crontab", "an object of user: s3://…", v));
    };
    Ok(m.iter()
        .map(|(user, loc)| {
            let key = format!("crontab.{}", printable(user));
            let parsed = match loc {
                Value::String(s) => {
                    s3_location(s).ok_or_else(|| invalid(&key, s, "expected s3://bucket/key"))
                }
                other => Err(wrong_kind(key, "s3://bucket/key", other)),
            };
            (user.clone(), parsed)
        })
        .collect())
}

/// Splits `s3://bucket/key` naming an object ([`crate::config::s3url::S3Url::object`]).
pub fn s3_location(s: &str) -> Option<(String, String)> {
    crate::config::s3url::S3Url::object(s).map(|u| (u.bucket, u.key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gzip_bomb_is_refused_not_expanded() {
        use std::io::Write as _;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![b' '; 1 << 20];
        for _ in 0..=(MAX_DECOMPRESSED >> 20) {
            gz.write_all(&zeros).unwrap();
        }
        let bomb = gz.finish().unwrap();
        assert!(bomb.len() < 64 << 10, "{} bytes compressed", bomb.len());
        assert!(matches!(parse(&bomb), Err(UserDataError::TooLarge)));
    }
    use serde_json::json;

    #[test]
    fn parses_objects_gzip_and_rejects_the_rest() {
        assert_eq!(parse(b"").unwrap(), None);
        assert_eq!(parse(b"  \n").unwrap(), None);
        assert!(parse(br#"{"shell": "true"}"#).unwrap().is_some());
        assert!(matches!(
            parse(b"[1]").unwrap_err(),
            UserDataError::NotObject("an array")
        ));
        assert!(matches!(
            parse(b"{nope").unwrap_err(),
            UserDataError::NotJson(_)
        ));
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut gz, br#"{"swap": {"size": 1}}"#).unwrap();
        let m = parse(&gz.finish().unwrap()).unwrap().unwrap();
        assert!(m.contains_key("swap"));
    }

    #[test]
    fn the_log_summary_shows_sizes_and_digests_never_values() {
        let v = json!({"shell": ["echo s3cr3t", "true"], "db": {"password": "hunter2"}});
        let Value::Object(m) = v else { unreachable!() };
        let line = log_summary(&m);
        assert_eq!(
            line,
            format!(
                "db ({} bytes), shell (script of 16 bytes, sha256 {})",
                r#"{"password":"hunter2"}"#.len(),
                hex::encode(sha2::Digest::finalize(sha2::Digest::chain_update(
                    <sha2::Sha256 as sha2::Digest>::new(),
                    b"echo s3cr3t\ntrue"
                )))
            )
        );
    }

    #[test]
    fn passwords_in_urls_are_redacted_and_keys_escaped() {
        assert_eq!(
            redact("https://lava:hunter2@example.com/x?y=1"),
            "https://lava:***@example.com/x?y=1"
        );
        assert_eq!(
            redact("ftp://u@h/p and s3://b/k"),
            "ftp://u@h/p and s3://b/k"
        );
        assert_eq!(redact("a://:p@h b://x:y@z"), "a://:***@h b://x:***@z");
        let c = crontab(&json!({"root": "https://u:s3cr3t@h/c"})).unwrap();
        let e = c[0].1.as_ref().unwrap_err().to_string();
        assert!(
            !e.contains("s3cr3t") && e.contains("https://u:***@h/c"),
            "{e}"
        );
        assert_eq!(printable("a\nb\u{1b}[2J"), "a\\nb\\u{1b}[2J");
    }

    #[test]
    fn swap_rules() {
        let ok = |v: Value| swap(&v).unwrap();
        let err = |v: Value| swap(&v).unwrap_err().to_string();
        assert_eq!(ok(json!({})), None);
        assert_eq!(ok(json!({"size": 0})), None);
        assert_eq!(ok(json!({"size": "2"})).unwrap().size_gib, 2);
        assert_eq!(ok(json!({"size": 2})).unwrap().file, "/swapfile");
        assert_eq!(
            ok(json!({"size": 1, "file": "/swap_till_you_drop"}))
                .unwrap()
                .file,
            "/swap_till_you_drop"
        );
        assert!(err(json!({"size": -1})).contains("swap.size"));
        assert!(err(json!({"size": "abc"})).contains("\"abc\""));
        assert!(err(json!({"size": 1.5})).contains("1.5"));
        for bad in ["swapfile", "/etc/../x", "/dir/file", "/..", "/", "/a b"] {
            assert!(
                err(json!({"size": 1, "file": bad})).contains("swap.file"),
                "{bad}"
            );
        }
    }

    #[test]
    fn commands_and_crontab_shapes() {
        assert_eq!(commands("shell", &json!("a")).unwrap(), "a");
        assert_eq!(commands("shell", &json!(["a", "b"])).unwrap(), "a\nb");
        assert!(
            commands("shell", &json!(["a", 1]))
                .unwrap_err()
                .to_string()
                .contains("shell[1]")
        );
        let c = crontab(&json!({"root": "s3://bkt/k", "x": "http://y"})).unwrap();
        assert_eq!(
            c[0].1.as_ref().unwrap(),
            &("bkt".to_string(), "k".to_string())
        );
        assert_eq!(
            c[1].1.as_ref().unwrap_err().to_string(),
            "crontab.x: invalid value \"http://y\": expected s3://bucket/key"
        );
    }
}
