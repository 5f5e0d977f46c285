//! User data: a JSON object (optionally gzip-compressed) whose keys select the boot steps.
use serde_json::{Map, Value};
use std::io::Read;

/// Keys the agent acts on; anything else is listed and ignored (e.g. `import-users`).
pub const KNOWN_KEYS: [&str; 4] = ["shell0", "swap", "crontab", "shell"];

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UserDataError {
    #[error("user data is gzip-compressed but does not decompress: {0}")]
    Gzip(String),
    #[error("user data decompresses to more than {} MiB", MAX_DECOMPRESSED >> 20)]
    TooLarge,
    #[error("user data is not JSON: {0}")]
    NotJson(String),
    #[error("user data must be a JSON object, got {0}")]
    NotObject(&'static str),
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
            .map_err(|e| UserDataError::Gzip(e.to_string()))?;
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
    let v: Value =
        serde_json::from_slice(&bytes).map_err(|e| UserDataError::NotJson(e.to_string()))?;
    match v {
        Value::Object(m) => Ok(Some(m)),
        other => Err(UserDataError::NotObject(kind(&other))),
    }
}

/// Unknown top-level keys, sorted.
pub fn unknown_keys(data: &Map<String, Value>) -> Vec<String> {
    data.keys()
        .filter(|k| !KNOWN_KEYS.contains(&k.as_str()))
        .cloned()
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
            _ => format!("{k} ({} bytes)", v.to_string().len()),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `shell`/`shell0`: a string or a list of strings, run as one script.
pub fn commands(key: &str, v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                item.as_str()
                    .map(String::from)
                    .ok_or_else(|| format!("{key}[{i}]: expected a string, got {}", kind(item)))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(|lines| lines.join("\n")),
        other => Err(format!(
            "{key}: expected a string or a list of strings, got {}",
            kind(other)
        )),
    }
}

/// The swap request: size in GiB and file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwapSpec {
    pub size_gib: u64,
    pub file: String,
}

/// Validates `swap` per the rules: size an integer ≥ 0 (or a string of digits), file absolute with one
/// component of `[.a-zA-Z0-9_-]` (default /swapfile). `Ok(None)` when there is nothing to do.
pub fn swap(v: &Value) -> Result<Option<SwapSpec>, String> {
    let Value::Object(m) = v else {
        return Err(format!(
            "swap: expected an object with size and file, got {}",
            kind(v)
        ));
    };
    for k in m.keys() {
        if k != "size" && k != "file" {
            return Err(format!("swap.{k}: unknown key (expected size and file)"));
        }
    }
    let size = match m.get("size") {
        None | Some(Value::Null) => 0,
        Some(Value::Number(n)) => n.as_u64().ok_or_else(|| {
            format!("swap.size: invalid value {n}: expected a whole number of GiB, 0 or more")
        })?,
        Some(Value::String(s)) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => s
            .parse()
            .map_err(|_| format!("swap.size: invalid value {s:?}: too large"))?,
        Some(Value::String(s)) => {
            return Err(format!(
                "swap.size: invalid value {s:?}: expected a whole number of GiB, 0 or more"
            ));
        }
        Some(other) => {
            return Err(format!(
                "swap.size: expected a number of GiB, got {}",
                kind(other)
            ));
        }
    };
    let file = match m.get("file") {
        None | Some(Value::Null) => "/swapfile".to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => return Err(format!("swap.file: expected a path, got {}", kind(other))),
    };
    let name = file.strip_prefix('/').unwrap_or("");
    if name.is_empty()
        || name == "."
        || name == ".."
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    {
        return Err(format!(
            "swap.file: invalid value {file:?}: expected an absolute path in / such as /swapfile (letters, digits, . _ -)"
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
pub type CrontabEntry = (String, Result<(String, String), String>);

/// `crontab`: user → `s3://bucket/key`. Per-user problems are returned per user.
pub fn crontab(v: &Value) -> Result<Vec<CrontabEntry>, String> {
    let Value::Object(m) = v else {
        return Err(format!(
            "crontab: expected an object of user: s3://…, got {}",
            kind(v)
        ));
    };
    Ok(m.iter()
        .map(|(user, loc)| {
            let parsed = match loc {
                Value::String(s) => s3_location(s).ok_or_else(|| {
                    format!("crontab.{user}: invalid value {s:?}: expected s3://bucket/key")
                }),
                other => Err(format!(
                    "crontab.{user}: expected s3://bucket/key, got {}",
                    kind(other)
                )),
            };
            (user.clone(), parsed)
        })
        .collect())
}

/// Splits `s3://bucket/key` (both non-empty).
pub fn s3_location(s: &str) -> Option<(String, String)> {
    let rest = s.strip_prefix("s3://")?;
    let (b, k) = rest.split_once('/')?;
    (!b.is_empty() && !k.is_empty()).then(|| (b.to_string(), k.to_string()))
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
        assert_eq!(parse(&bomb), Err(UserDataError::TooLarge));
    }
    use serde_json::json;

    #[test]
    fn parses_objects_gzip_and_rejects_the_rest() {
        assert_eq!(parse(b"").unwrap(), None);
        assert_eq!(parse(b"  \n").unwrap(), None);
        assert!(parse(br#"{"shell": "true"}"#).unwrap().is_some());
        assert_eq!(
            parse(b"[1]").unwrap_err(),
            UserDataError::NotObject("an array")
        );
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
    fn swap_rules() {
        let ok = |v: Value| swap(&v).unwrap();
        let err = |v: Value| swap(&v).unwrap_err();
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
                .contains("shell[1]")
        );
        let c = crontab(&json!({"root": "s3://b/k", "x": "http://y"})).unwrap();
        assert_eq!(
            c[0].1.as_ref().unwrap(),
            &("b".to_string(), "k".to_string())
        );
        assert!(c[1].1.as_ref().unwrap_err().contains("crontab.x"));
    }
}
