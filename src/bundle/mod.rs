//! lava code bundles (seed 000: "built for various target Linux versions inside docker
//! containers"): an offline wheelhouse of jinlava and every dependency for one runtime
//! (`<os>-py<X.Y>`) and architecture, with an `install.sh` that installs it with the network off.
//! This module is the pure part: runtime names, the builder table, file names and contents.
pub mod build;

use serde::Deserialize;
use std::collections::BTreeMap;

/// The installer shipped in every bundle (reads `bundle.env` beside it).
pub const INSTALL_SH: &str = include_str!("../../images/builders/install.sh");

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Table {
        path: String,
        #[source]
        source: serde_yaml::Error,
    },
    #[error("{path}: runtime {runtime}: {problem}")]
    BadEntry {
        path: String,
        runtime: String,
        problem: String,
    },
}

/// A lava runtime: `<os>-py<X.Y>`, e.g. `amzn2023-py3.11`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runtime {
    pub os: String,
    /// `X.Y`.
    pub python: String,
}

impl Runtime {
    /// Parses `<os>-py<X.Y>`: os is lowercase letters and digits starting with a letter; Python 3.
    pub fn parse(s: &str) -> Option<Runtime> {
        let (os, py) = s.rsplit_once("-py")?;
        let os_ok = os.chars().next().is_some_and(|c| c.is_ascii_lowercase())
            && os
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        let (major, minor) = py.split_once('.')?;
        let minor_ok = !minor.is_empty()
            && minor.len() <= 2
            && minor.chars().all(|c| c.is_ascii_digit())
            && !(minor.len() > 1 && minor.starts_with('0'));
        (os_ok && major == "3" && minor_ok).then(|| Runtime {
            os: os.to_string(),
            python: py.to_string(),
        })
    }

    pub fn name(&self) -> String {
        format!("{}-py{}", self.os, self.python)
    }
}

/// One builder of `images/builders/builders.yaml`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Builder {
    /// Folder beside builders.yaml with the builder's Dockerfile.
    pub context: String,
    /// Full Python version built into the builder; its X.Y must be the runtime's.
    pub python_version: String,
}

/// Reads the builder table and checks each entry against its runtime name.
pub fn load_builders(path: &std::path::Path) -> Result<BTreeMap<String, Builder>, BundleError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| BundleError::Read {
        path: shown.clone(),
        source,
    })?;
    let table: BTreeMap<String, Builder> =
        serde_yaml::from_str(&text).map_err(|source| BundleError::Table {
            path: shown.clone(),
            source,
        })?;
    for (name, b) in &table {
        let bad = |problem: String| BundleError::BadEntry {
            path: shown.clone(),
            runtime: name.clone(),
            problem,
        };
        let rt = Runtime::parse(name).ok_or_else(|| bad("not of the form <os>-py<X.Y>".into()))?;
        if !python_matches(&b.python_version, &rt.python) {
            return Err(bad(format!(
                "python_version {} is not Python {}",
                b.python_version, rt.python
            )));
        }
        if b.context.is_empty() || b.context.contains('/') || b.context.starts_with('.') {
            return Err(bad(format!(
                "context {:?} must be a folder name beside builders.yaml",
                b.context
            )));
        }
    }
    Ok(table)
}

/// Whether the full version `full` (X.Y.Z) is of the `X.Y` line.
fn python_matches(full: &str, xy: &str) -> bool {
    full.strip_prefix(xy)
        .and_then(|rest| rest.strip_prefix('.'))
        .is_some_and(|z| !z.is_empty() && z.chars().all(|c| c.is_ascii_digit()))
}

/// A lava version as PyPI's jinlava spells its releases: digits and dots, then an optional
/// pre/post/dev suffix of letters and digits (e.g. `8.3.0`, `8.4.0rc1`).
pub fn valid_version(v: &str) -> bool {
    let core_end = v
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(v.len());
    let (core, suffix) = v.split_at(core_end);
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() >= 2
        && parts.iter().all(|p| !p.is_empty())
        && suffix
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.')
}

/// `lava-<version>-<runtime>-<arch>`: the bundle's file stem and top folder.
pub fn bundle_stem(version: &str, runtime: &Runtime, arch: &str) -> String {
    format!("lava-{version}-{}-{arch}", runtime.name())
}

/// `bundle.env`, which install.sh reads. Values are ours and validated: no quoting is needed.
pub fn bundle_env(version: &str, runtime: &Runtime, arch: &str) -> String {
    format!(
        "LAVA_VERSION={version}\nPYTHON_VERSION={}\nRUNTIME={}\nARCH={arch}\n",
        runtime.python,
        runtime.name()
    )
}

/// The version of a jinlava wheel from its file name (`jinlava-8.3.0-py3-none-any.whl`).
pub fn jinlava_wheel_version(file_name: &str) -> Option<String> {
    let rest = file_name.strip_prefix("jinlava-")?;
    let version = rest.split('-').next()?;
    (file_name.ends_with(".whl") && valid_version(version)).then(|| version.to_string())
}

/// `sha256sum`'s format, so `sha256sum -c` checks the bundle.
pub fn sha256_line(hex: &str, file_name: &str) -> String {
    format!("{hex}  {file_name}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtimes_are_os_dash_py_major_minor() {
        assert_eq!(
            Runtime::parse("amzn2023-py3.11"),
            Some(Runtime {
                os: "amzn2023".into(),
                python: "3.11".into()
            })
        );
        assert_eq!(Runtime::parse("debian12-py3.9").unwrap().python, "3.9");
        for bad in [
            "amzn2023",
            "amzn2023-py3",
            "amzn2023-py2.7",
            "amzn2023-py3.",
            "amzn2023-py3.011",
            "Amzn2023-py3.11",
            "amzn-2023-py3.11",
            "-py3.11",
            "2023-py3.11",
            "amzn2023-py3.11.4",
        ] {
            assert_eq!(Runtime::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn versions_and_wheel_names() {
        for good in ["8.3.0", "8.4.0rc1", "10.0"] {
            assert!(valid_version(good), "{good}");
        }
        for bad in ["", "8", "8..1", "v8.3.0", "8.3.0;rm", "8.3.0 x", "latest"] {
            assert!(!valid_version(bad), "{bad}");
        }
        assert_eq!(
            jinlava_wheel_version("jinlava-8.3.0-py3-none-any.whl").as_deref(),
            Some("8.3.0")
        );
        assert_eq!(jinlava_wheel_version("jinlava-8.3.0.tar.gz"), None);
        assert_eq!(jinlava_wheel_version("boto3-1.0-py3-none-any.whl"), None);
    }

    #[test]
    fn names_env_and_sums() {
        let rt = Runtime::parse("amzn2023-py3.12").unwrap();
        assert_eq!(
            bundle_stem("8.3.0", &rt, "arm64"),
            "lava-8.3.0-amzn2023-py3.12-arm64"
        );
        assert_eq!(
            bundle_env("8.3.0", &rt, "arm64"),
            "LAVA_VERSION=8.3.0\nPYTHON_VERSION=3.12\nRUNTIME=amzn2023-py3.12\nARCH=arm64\n"
        );
        assert_eq!(sha256_line("ab", "f.tar.bz2"), "ab  f.tar.bz2\n");
    }

    #[test]
    fn the_shipped_builder_table_is_valid() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("images/builders/builders.yaml");
        let table = load_builders(&path).unwrap();
        for rt in ["amzn2023-py3.11", "amzn2023-py3.12", "amzn2023-py3.13"] {
            let b = &table[rt];
            let dockerfile = path.parent().unwrap().join(&b.context).join("Dockerfile");
            assert!(dockerfile.is_file(), "{}", dockerfile.display());
        }
        assert!(python_matches("3.11.12", "3.11"));
        assert!(!python_matches("3.1.12", "3.11"));
        assert!(!python_matches("3.11", "3.11"));
    }
}
