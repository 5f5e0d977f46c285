//! Pinned third-party downloads: the build instance fetches them from the resource bucket
//! (`s3://<bucket>/<prefix>downloads/`), never from the internet, so a build runs in a subnet that
//! reaches only S3. `ami/os/<os>/downloads.lock` pins each file's SHA-256; `lava-build ami` checks
//! the local copies in `ami/resources.s3/downloads/` against it before any AWS call or upload.
//! Pure: reads local files only.
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The lock file of an os tree, relative to the AMI folder.
pub fn lock_path(ami_dir: &Path, os: &str) -> PathBuf {
    ami_dir.join("os").join(os).join("downloads.lock")
}

/// Where the local copies live (synced to `<prefix>downloads/`).
pub fn downloads_dir(ami_dir: &Path) -> PathBuf {
    ami_dir.join("resources.s3").join("downloads")
}

/// To whom an entry applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every build.
    All,
    /// Builds whose parameter `name` (arch, python_version, region) has this value.
    Param { name: String, value: String },
}

/// One line of the lock file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    pub file: String,
    pub scope: Scope,
    /// None: listed but not pinned yet (`-`), or a rotating CA bundle.
    pub sha256: Option<String>,
    /// `ca-bundle` in the sum column: a public CA bundle its publisher changes when it adds or
    /// retires a CA (AWS's RDS and Redshift bundles). No sum is pinned: `make downloads` fetches
    /// the current one over HTTPS each time, and it must be a bundle of certificates.
    pub ca_bundle: bool,
    pub url: String,
    pub line: usize,
}

/// The sum column of a rotating CA bundle.
pub const CA_BUNDLE: &str = "ca-bundle";

/// Why `text` is not a bundle of PEM certificates, if it is not: at least one
/// `BEGIN CERTIFICATE` block, each one base64 of a DER SEQUENCE.
pub fn not_a_ca_bundle(text: &[u8]) -> Option<String> {
    use base64::Engine as _;
    let text = String::from_utf8_lossy(text);
    let mut count = 0;
    let mut rest = text.as_ref();
    while let Some(at) = rest.find("-----BEGIN CERTIFICATE-----") {
        let body = &rest[at + 27..];
        let Some(end) = body.find("-----END CERTIFICATE-----") else {
            return Some(format!("certificate {} has no END line", count + 1));
        };
        let b64: String = body[..end].split_whitespace().collect();
        match base64::engine::general_purpose::STANDARD.decode(b64) {
            Ok(der) if der.first() == Some(&0x30) && der.len() > 100 => count += 1,
            _ => {
                return Some(format!(
                    "certificate {} is not base64 of a DER certificate",
                    count + 1
                ));
            }
        }
        rest = &body[end + 25..];
    }
    (count == 0).then(|| "no PEM certificate in it".to_string())
}

/// The parameters that select entries.
pub const SCOPE_PARAMS: [&str; 3] = ["arch", "python_version", "region"];

#[derive(Debug, thiserror::Error)]
pub enum DownloadsError {
    #[error("cannot read {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message}")]
    Syntax {
        path: String,
        line: usize,
        message: String,
    },
    #[error(
        "pinned downloads not ready in {dir} ({}); run `make downloads` (scripts/downloads.sh fetch), then build again; nothing was uploaded",
        .problems.join("; ")
    )]
    NotReady { dir: String, problems: Vec<String> },
}

/// Parses the lock text: `FILE SCOPE SHA256 URL` per line, `#` comments.
pub fn parse(path: &str, text: &str) -> Result<Vec<Pin>, DownloadsError> {
    let mut pins: Vec<Pin> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let body = raw.split('#').next().unwrap_or("").trim();
        if body.is_empty() {
            continue;
        }
        let syntax = |message: String| DownloadsError::Syntax {
            path: path.to_string(),
            line,
            message,
        };
        let cols: Vec<&str> = body.split_whitespace().collect();
        let [file, scope, sha, url] = cols[..] else {
            return Err(syntax(format!(
                "expected 4 columns (file, scope, sha256, url), found {}",
                cols.len()
            )));
        };
        if file.contains('/') || file.starts_with('.') {
            return Err(syntax(format!("file {file:?}: expected a plain file name")));
        }
        let scope = if scope == "all" {
            Scope::All
        } else {
            match scope.split_once('=') {
                Some((name, value)) if SCOPE_PARAMS.contains(&name) && !value.is_empty() => {
                    Scope::Param {
                        name: name.to_string(),
                        value: value.to_string(),
                    }
                }
                _ => {
                    return Err(syntax(format!(
                        "scope {scope:?}: expected all, arch=…, python_version=… or region=…"
                    )));
                }
            }
        };
        let ca_bundle = sha == CA_BUNDLE;
        let sha256 = match sha {
            "-" | CA_BUNDLE => None,
            s if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) => {
                Some(s.to_ascii_lowercase())
            }
            s => {
                return Err(syntax(format!(
                    "sha256 {s:?}: expected 64 hex digits, - when not pinned yet, or ca-bundle for a CA bundle its publisher rotates"
                )));
            }
        };
        if !url.starts_with("https://") {
            return Err(syntax(format!("url {url:?}: expected an https:// URL")));
        }
        if let Some(dup) = pins.iter().find(|p| p.file == file) {
            return Err(syntax(format!(
                "file {file} is already listed on line {}",
                dup.line
            )));
        }
        pins.push(Pin {
            file: file.to_string(),
            scope,
            sha256,
            ca_bundle,
            url: url.to_string(),
            line,
        });
    }
    Ok(pins)
}

/// What a build selects entries by.
#[derive(Debug, Clone)]
pub struct Selection<'a> {
    pub arches: Vec<&'a str>,
    pub python_version: &'a str,
    pub region: &'a str,
}

impl Selection<'_> {
    fn values(&self, param: &str) -> Vec<&str> {
        match param {
            "arch" => self.arches.clone(),
            "python_version" => vec![self.python_version],
            "region" => vec![self.region],
            _ => Vec::new(),
        }
    }
}

/// A parameter value the lock has no entry for, while it has entries for other values
/// (e.g. python_version=3.11.9 when only 3.11.12 and 3.13.5 are pinned).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unpinned {
    pub param: String,
    pub value: String,
    pub pinned: Vec<String>,
}

/// The entries a build needs, or the parameter values nothing is pinned for.
pub fn select<'p>(pins: &'p [Pin], sel: &Selection) -> Result<Vec<&'p Pin>, Vec<Unpinned>> {
    let mut unpinned = Vec::new();
    for param in SCOPE_PARAMS {
        let listed: BTreeSet<&str> = pins
            .iter()
            .filter_map(|p| match &p.scope {
                Scope::Param { name, value } if name == param => Some(value.as_str()),
                _ => None,
            })
            .collect();
        if listed.is_empty() {
            continue;
        }
        for v in sel.values(param) {
            if !listed.contains(v) {
                unpinned.push(Unpinned {
                    param: param.to_string(),
                    value: v.to_string(),
                    pinned: listed.iter().map(|s| s.to_string()).collect(),
                });
            }
        }
    }
    if !unpinned.is_empty() {
        return Err(unpinned);
    }
    Ok(pins
        .iter()
        .filter(|p| match &p.scope {
            Scope::All => true,
            Scope::Param { name, value } => sel.values(name).contains(&value.as_str()),
        })
        .collect())
}

/// The state of one needed file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    Ok,
    NotPinned,
    Missing,
    NotCertificates { why: String },
    Differs { actual: String },
    Unreadable { message: String },
}

/// SHA-256 of a file, streamed.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// Checks each needed entry against the local copy in `dir`.
pub fn check<'p>(pins: &[&'p Pin], dir: &Path) -> Vec<(&'p Pin, State)> {
    pins.iter()
        .map(|p| {
            let state = match &p.sha256 {
                None if p.ca_bundle => match std::fs::read(dir.join(&p.file)) {
                    Ok(bytes) => match not_a_ca_bundle(&bytes) {
                        None => State::Ok,
                        Some(why) => State::NotCertificates { why },
                    },
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => State::Missing,
                    Err(e) => State::Unreadable {
                        message: e.to_string(),
                    },
                },
                None => State::NotPinned,
                Some(want) => match sha256_file(&dir.join(&p.file)) {
                    Ok(actual) if &actual == want => State::Ok,
                    Ok(actual) => State::Differs { actual },
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => State::Missing,
                    Err(e) => State::Unreadable {
                        message: e.to_string(),
                    },
                },
            };
            (*p, state)
        })
        .collect()
}

/// One line per file that is not ready; empty when every file is in place.
pub fn problems(states: &[(&Pin, State)]) -> Vec<String> {
    states
        .iter()
        .filter_map(|(p, s)| match s {
            State::Ok => None,
            State::NotPinned => Some(format!(
                "{} is not pinned (line {}: sha256 -): record it with `make downloads-pin file={}` and check it against the publisher's signature",
                p.file, p.line, p.file
            )),
            State::Missing => Some(format!("{} is missing", p.file)),
            State::NotCertificates { why } => Some(format!(
                "{} is not a CA bundle ({why}): fetch it again with `make downloads`",
                p.file
            )),
            State::Differs { actual } => Some(format!(
                "{} has SHA-256 {actual}, pinned {}",
                p.file,
                p.sha256.as_deref().unwrap_or("-")
            )),
            State::Unreadable { message } => Some(format!("{} cannot be read: {message}", p.file)),
        })
        .collect()
}

/// Reads and parses the lock file of `os` under `ami_dir`.
pub fn load(ami_dir: &Path, os: &str) -> Result<Vec<Pin>, DownloadsError> {
    let path = lock_path(ami_dir, os);
    let text = std::fs::read_to_string(&path).map_err(|source| DownloadsError::Read {
        path: path.display().to_string(),
        source,
    })?;
    parse(&path.display().to_string(), &text)
}

/// What a build of `params` finds: the parameter values nothing is pinned for (a configuration
/// error: the value must be pinned first), else one line per needed file that is not ready.
pub fn for_build(
    ami_dir: &Path,
    params: &crate::config::AmiParams,
) -> anyhow::Result<Result<Vec<String>, crate::config::ConfigError>> {
    let pins = load(ami_dir, &params.os.value)?;
    let sel = Selection {
        arches: params.targets.iter().map(|t| t.arch.as_str()).collect(),
        python_version: &params.python_version.value,
        region: &params.region.value,
    };
    let lock = lock_path(ami_dir, &params.os.value);
    let needed = match select(&pins, &sel) {
        Ok(n) => n,
        Err(unpinned) => {
            let u = &unpinned[0];
            return Ok(Err(crate::config::ConfigError::invalid(
                &u.param,
                &u.value,
                &format!(
                    "a value with pinned downloads in {} ({}); add one with `scripts/downloads.sh add {}={}`, then `make downloads-pin`",
                    lock.display(),
                    u.pinned.join(", "),
                    u.param,
                    u.value
                ),
            )));
        }
    };
    Ok(Ok(problems(&check(&needed, &downloads_dir(ami_dir)))))
}

#[cfg(test)]
#[path = "downloads_tests.rs"]
mod tests;
