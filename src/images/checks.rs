//! Image checks (`images/checks.yaml`): shell commands run in a container of the image per platform.
use super::ImageType;
use crate::engine::Platform;
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
pub fn for_type(file: &CheckFile, kind: ImageType) -> Vec<&Check> {
    let mut out: Vec<&Check> = file
        .get("base")
        .map(|v| v.iter().collect())
        .unwrap_or_default();
    if kind != ImageType::Base {
        out.extend(file.get(kind.as_str()).into_iter().flatten());
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
pub fn judge(check: &Check, platform: Platform, status: i64, output: &str) -> bool {
    status == 0
        && check
            .expect
            .as_ref()
            .is_none_or(|e| output.contains(&e.replace("{arch}", platform.uname())))
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
        assert!(judge(&c, Platform::Amd64, 0, "x86_64\n"));
        assert!(!judge(&c, Platform::Arm64, 0, "x86_64\n"));
        assert!(judge(&c, Platform::Arm64, 0, "aarch64\n"));
        assert!(!judge(&c, Platform::Amd64, 1, "x86_64\n"));
        let file: CheckFile = serde_yaml::from_str(
            "base:\n  - {name: a, run: 'true'}\nfull:\n  - {name: b, run: 'true'}\n",
        )
        .unwrap();
        assert_eq!(for_type(&file, ImageType::Full).len(), 2);
        assert_eq!(for_type(&file, ImageType::Base).len(), 1);
    }
}
