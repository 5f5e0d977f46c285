//! Image checks (`images/checks.yaml`): shell commands run in a container of the image per platform.
//! Self-contained (the fuzz crate compiles this file on its own): image types and platforms are
//! their names here, `ImageType::as_str` and `Platform::as_str`.
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Deserialize)]
pub struct Check {
    pub name: String,
    /// Run with `/bin/sh -c` in the image.
    pub run: String,
    /// Text the output must contain; `{arch}` is the platform's `uname -m` (x86_64, aarch64).
    #[serde(default)]
    pub expect: Option<String>,
}

/// `base:` checks apply to every image; `full:` adds to them for full images.
pub type CheckFile = BTreeMap<String, Vec<Check>>;

#[derive(Debug, thiserror::Error)]
pub enum CheckFileError {
    #[error("cannot read {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}")]
    Yaml {
        path: String,
        #[source]
        source: serde_yaml::Error,
    },
}

pub fn load(path: &std::path::Path) -> Result<CheckFile, CheckFileError> {
    let shown = || path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| CheckFileError::Read {
        path: shown(),
        source,
    })?;
    serde_yaml::from_str(&text).map_err(|source| CheckFileError::Yaml {
        path: shown(),
        source,
    })
}

/// The checks of an image type, in order.
pub fn for_type<'a>(file: &'a CheckFile, kind: &str) -> Vec<&'a Check> {
    let mut out: Vec<&Check> = file
        .get("base")
        .map(|v| v.iter().collect())
        .unwrap_or_default();
    if kind != "base" {
        out.extend(file.get(kind).into_iter().flatten());
    }
    out
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    pub image: String,
    pub platform: String,
    pub check: String,
    pub passed: bool,
    pub output: String,
}

/// Whether a check passed, from its exit status and output.
/// What `uname -m` says in a container of `platform` (`linux/arm64` → `aarch64`).
pub fn uname_arch(platform: &str) -> &'static str {
    if platform.ends_with("arm64") || platform.contains("arm64/") {
        "aarch64"
    } else {
        "x86_64"
    }
}

pub fn judge(check: &Check, platform: &str, status: i64, output: &str) -> bool {
    status == 0
        && check
            .expect
            .as_ref()
            .is_none_or(|e| output.contains(&e.replace("{arch}", uname_arch(platform))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn judging_uses_status_and_expected_text() {
        let c = Check {
            name: "arch".into(),
            run: "uname -m".into(),
            expect: Some("{arch}".into()),
        };
        assert!(judge(&c, "linux/amd64", 0, "x86_64\n"));
        assert!(!judge(&c, "linux/arm64", 0, "x86_64\n"));
        assert!(judge(&c, "linux/arm64", 0, "aarch64\n"));
        assert!(!judge(&c, "linux/amd64", 1, "x86_64\n"));
        let file: CheckFile = serde_yaml::from_str(
            "base:\n  - {name: a, run: 'true'}\nfull:\n  - {name: b, run: 'true'}\n",
        )
        .unwrap();
        assert_eq!(for_type(&file, "full").len(), 2);
        assert_eq!(for_type(&file, "base").len(), 1);
    }
}
