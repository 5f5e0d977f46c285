//! The validated request of `lava-build images`: which images, for which platforms, on which
//! engines, with which network.
use super::{BuildArgs, NetworkChoice, TypeChoice};
use crate::config::ConfigError;
use crate::engine::Platform;
use crate::images::ImageType;
use std::collections::BTreeMap;

pub(super) fn usage(m: String) -> anyhow::Error {
    ConfigError::Usage { message: m }.into()
}

/// The validated request: which images, for which platforms, on which engines.
#[derive(Debug)]
pub(super) struct Plan {
    pub oses: Vec<String>,
    pub kinds: Vec<ImageType>,
    pub platforms: Vec<Platform>,
    pub engines: BTreeMap<Platform, String>,
    pub tag: String,
    /// Network mode of RUN steps: None for the engine's default (its `bridge` network).
    pub network: Option<String>,
}

/// A Docker tag: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub(super) fn valid_tag(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 128
        && !t.starts_with(['.', '-'])
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// A repository namespace: lowercase path components of `[a-z0-9]` joined by `.`, `_`, `-`.
pub(super) fn valid_prefix(p: &str) -> bool {
    !p.is_empty()
        && p.split('/').all(|c| {
            !c.is_empty()
                && c.starts_with(|x: char| x.is_ascii_lowercase() || x.is_ascii_digit())
                && c.ends_with(|x: char| x.is_ascii_lowercase() || x.is_ascii_digit())
                && c.chars().all(|x| {
                    x.is_ascii_lowercase() || x.is_ascii_digit() || matches!(x, '.' | '_' | '-')
                })
        })
}

pub(super) fn plan(a: &BuildArgs) -> anyhow::Result<Plan> {
    let os_dir = a.images_dir.join("os");
    let mut available: Vec<String> = std::fs::read_dir(&os_dir)
        .map_err(|e| {
            usage(format!(
                "--images-dir {}: {e} (expected a folder with os/<os>/)",
                a.images_dir.display()
            ))
        })?
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    available.sort();
    let oses = if a.os == "all" {
        available.clone()
    } else if available.contains(&a.os) {
        vec![a.os.clone()]
    } else {
        return Err(usage(format!(
            "--os {:?}: expected one of {} or all",
            a.os,
            available.join(", ")
        )));
    };
    let kinds = match a.kind {
        TypeChoice::All => ImageType::ALL.to_vec(),
        TypeChoice::Base => vec![ImageType::Base],
        TypeChoice::Full => vec![ImageType::Full],
    };
    let mut platforms: Vec<Platform> = Vec::new();
    for &p in &a.platforms.list {
        if !platforms.contains(&p) {
            platforms.push(p);
        }
    }
    let mut engines = BTreeMap::new();
    for e in &a.engine {
        let Some((p, ep)) = e.split_once('=') else {
            return Err(usage(format!("--engine {e:?}: expected PLATFORM=ENDPOINT")));
        };
        let Some(p) = Platform::parse(p) else {
            return Err(usage(format!(
                "--engine {e:?}: platform {p:?} is not linux/amd64 or linux/arm64"
            )));
        };
        if !["unix://", "tcp://", "ssh://", "http://", "https://"]
            .iter()
            .any(|s| ep.starts_with(s))
        {
            return Err(usage(format!(
                "--engine {e:?}: endpoint must start with unix://, tcp://, http(s):// or ssh://"
            )));
        }
        engines.insert(p, ep.to_string());
    }
    let tag = checked_tag(a.tag.as_deref(), &a.version)?;
    if !valid_prefix(&a.prefix) {
        return Err(usage(format!(
            "--prefix {:?}: expected lowercase path components of letters, digits, '.', '_' and '-'",
            a.prefix
        )));
    }
    let network = match a.network {
        NetworkChoice::Default => None,
        NetworkChoice::Host => Some("host".to_string()),
        NetworkChoice::None => Some("none".to_string()),
    };
    Ok(Plan {
        oses,
        kinds,
        platforms,
        engines,
        tag,
        network,
    })
}

/// The tag of a run: `--tag`, else the version; either must be a valid Docker tag.
pub(super) fn checked_tag(tag: Option<&str>, version: &str) -> anyhow::Result<String> {
    let (param, value) = match tag {
        Some(t) => ("--tag", t),
        None => ("--version", version),
    };
    if !valid_tag(value) {
        return Err(usage(format!(
            "{param} {value:?}: expected letters, digits, '_', '.' and '-' (at most 128, not starting with '.' or '-')"
        )));
    }
    Ok(value.to_string())
}

/// Whether `version` is a release (`8.3.0`: numbers and dots), not a pre-release (`8.4.0rc1`,
/// `8.4.0-beta.1`, `8.4.0.dev2`): only a release moves `latest`.
pub(super) fn is_release(version: &str) -> bool {
    !version.is_empty()
        && version
            .split('.')
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
}

/// The tags an index is pushed as: the run's tag, the lava version and, for a release version,
/// `latest`, each once.
pub(super) fn index_tags(tag: &str, version: &str) -> Vec<String> {
    let mut tags: Vec<String> = Vec::new();
    let latest = if is_release(version) { "latest" } else { "" };
    for t in [tag, version, latest] {
        if valid_tag(t) && !tags.iter().any(|x| x == t) {
            tags.push(t.to_string());
        }
    }
    tags
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        a: BuildArgs,
    }

    fn args(extra: &[&str]) -> BuildArgs {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/images");
        let mut v = vec!["t", "--images-dir", dir];
        v.extend_from_slice(extra);
        T::parse_from(v).a
    }

    fn err(extra: &[&str]) -> String {
        plan(&args(extra)).unwrap_err().to_string()
    }

    /// The message of a value clap refuses.
    fn refused(extra: &[&str]) -> String {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/images");
        let mut v = vec!["t", "--images-dir", dir];
        v.extend_from_slice(extra);
        T::try_parse_from(v)
            .err()
            .expect("clap refuses it")
            .to_string()
    }

    #[test]
    fn the_plan_expands_all_and_validates_every_value() {
        let p = plan(&args(&[])).unwrap();
        assert_eq!(p.oses, ["amzn2023", "ubuntu24"]);
        assert_eq!(p.kinds, ImageType::ALL);
        assert_eq!(p.platforms, Platform::ALL);
        assert_eq!(p.tag, env!("CARGO_PKG_VERSION"));
        let p = plan(&args(&[
            "--platform",
            "linux/arm64,linux/arm64",
            "--tag",
            "t1",
        ]))
        .unwrap();
        assert_eq!(p.platforms, [Platform::Arm64]);
        assert_eq!(p.tag, "t1");

        assert_eq!(
            err(&["--os", "debian"]),
            "--os \"debian\": expected one of amzn2023, ubuntu24 or all"
        );
        let e = refused(&["--type", "slim"]);
        assert!(
            e.contains("'slim'") && e.contains("--type") && e.contains("base, full, all"),
            "{e}"
        );
        let e = refused(&["--platform", "linux/amd64,linux/386"]);
        assert!(
            e.contains("'linux/386'") && e.contains("linux/amd64, linux/arm64"),
            "{e}"
        );
        assert!(err(&["--engine", "linux/arm64"]).contains("expected PLATFORM=ENDPOINT"));
        assert!(err(&["--engine", "linux/arm64=ftp://x"]).contains("endpoint must start with"));
        assert!(err(&["--engine", "arm64=ssh://x"]).contains("is not linux/amd64 or linux/arm64"));
        assert!(err(&["--tag", "v1/2"]).starts_with("--tag \"v1/2\": expected"));
        assert!(err(&["--tag=-x"]).starts_with("--tag \"-x\""));
        assert!(err(&["--prefix", "Jin-Gizmo"]).starts_with("--prefix \"Jin-Gizmo\""));
        assert!(err(&["--prefix", "a//b"]).starts_with("--prefix"));
        assert!(plan(&args(&["--prefix", "team/dist-1"])).is_ok());
        assert_eq!(plan(&args(&[])).unwrap().network, None);
        assert_eq!(
            plan(&args(&["--network", "default"])).unwrap().network,
            None
        );
        assert_eq!(
            plan(&args(&["--network", "host"]))
                .unwrap()
                .network
                .as_deref(),
            Some("host")
        );
        let e = refused(&["--network", "bridge0"]);
        assert!(
            e.contains("'bridge0'") && e.contains("default, host, none"),
            "{e}"
        );
        assert!(err(&["--version", "8.3.0 beta"]).starts_with("--version \"8.3.0 beta\""));
        assert!(
            refused(&["--digests-file", "d.json"]).contains("--push-by-digest"),
            "a digests file without --push-by-digest"
        );
        assert!(
            refused(&["--push", "--push-by-digest", "--digests-file", "d.json"])
                .contains("cannot be used with")
        );
    }

    #[test]
    fn an_index_is_tagged_with_the_tag_the_version_and_latest_once_each() {
        assert_eq!(index_tags("t1", "8.3.0"), ["t1", "8.3.0", "latest"]);
        assert_eq!(index_tags("8.3.0", "8.3.0"), ["8.3.0", "latest"]);
        assert_eq!(index_tags("latest", "8.3.0"), ["latest", "8.3.0"]);
    }

    #[test]
    fn a_pre_release_version_does_not_move_latest() {
        for v in ["8.4.0rc1", "8.4.0-beta.1", "8.4.0.dev2", "main"] {
            let tags = index_tags(v, v);
            assert_eq!(tags, [v], "{v}: {tags:?}");
        }
        assert!(is_release("8.3.0") && is_release("10.0.12"));
        assert!(!is_release("") && !is_release("8..0") && !is_release("v8.3.0"));
    }
}
