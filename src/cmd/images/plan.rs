//! The validated request of `lava-build images`: which images, for which platforms, on which
//! engines, with which network.
use super::BuildArgs;
use crate::config::ConfigError;
use std::collections::BTreeMap;

pub(super) fn usage(m: String) -> anyhow::Error {
    ConfigError::Usage { message: m }.into()
}

/// The validated request: which images, for which platforms, on which engines.
#[derive(Debug)]
pub(super) struct Plan {
    pub oses: Vec<String>,
    pub kinds: Vec<String>,
    pub platforms: Vec<String>,
    pub engines: BTreeMap<String, String>,
    pub tag: String,
    /// Network mode of RUN steps: None for the engine's default (its `bridge` network).
    pub network: Option<String>,
}

/// A Docker tag: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
fn valid_tag(t: &str) -> bool {
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
    let kinds = match a.kind.as_str() {
        "all" => vec!["base".to_string(), "full".to_string()],
        "base" | "full" => vec![a.kind.clone()],
        other => {
            return Err(usage(format!(
                "--type {other:?}: expected base, full or all"
            )));
        }
    };
    let mut platforms: Vec<String> = Vec::new();
    for p in a.platform.split(',').map(str::trim) {
        match p {
            "linux/amd64" | "linux/arm64" if !platforms.iter().any(|x| x == p) => {
                platforms.push(p.to_string())
            }
            "linux/amd64" | "linux/arm64" => {}
            other => {
                return Err(usage(format!(
                    "--platform {other:?}: expected linux/amd64 and/or linux/arm64"
                )));
            }
        }
    }
    let mut engines = BTreeMap::new();
    for e in &a.engine {
        let Some((p, ep)) = e.split_once('=') else {
            return Err(usage(format!("--engine {e:?}: expected PLATFORM=ENDPOINT")));
        };
        if !["linux/amd64", "linux/arm64"].contains(&p) {
            return Err(usage(format!(
                "--engine {e:?}: platform {p:?} is not linux/amd64 or linux/arm64"
            )));
        }
        if !["unix://", "tcp://", "ssh://", "http://", "https://"]
            .iter()
            .any(|s| ep.starts_with(s))
        {
            return Err(usage(format!(
                "--engine {e:?}: endpoint must start with unix://, tcp://, http(s):// or ssh://"
            )));
        }
        engines.insert(p.to_string(), ep.to_string());
    }
    let tag = a.tag.clone().unwrap_or_else(|| a.version.clone());
    if !valid_tag(&tag) {
        return Err(usage(format!(
            "--tag {tag:?}: expected letters, digits, '_', '.' and '-' (at most 128, not starting with '.' or '-')"
        )));
    }
    if !valid_prefix(&a.prefix) {
        return Err(usage(format!(
            "--prefix {:?}: expected lowercase path components of letters, digits, '.', '_' and '-'",
            a.prefix
        )));
    }
    let network = match a.network.as_deref() {
        None | Some("default") => None,
        Some(n @ ("host" | "none")) => Some(n.to_string()),
        Some(other) => {
            return Err(usage(format!(
                "--network {other:?}: expected host, none or default"
            )));
        }
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

    #[test]
    fn the_plan_expands_all_and_validates_every_value() {
        let p = plan(&args(&[])).unwrap();
        assert_eq!(p.oses, ["amzn2023", "ubuntu24"]);
        assert_eq!(p.kinds, ["base", "full"]);
        assert_eq!(p.platforms, ["linux/amd64", "linux/arm64"]);
        assert_eq!(p.tag, env!("CARGO_PKG_VERSION"));
        let p = plan(&args(&[
            "--platform",
            "linux/arm64, linux/arm64",
            "--tag",
            "t1",
        ]))
        .unwrap();
        assert_eq!(p.platforms, ["linux/arm64"]);
        assert_eq!(p.tag, "t1");

        assert_eq!(
            err(&["--os", "debian"]),
            "--os \"debian\": expected one of amzn2023, ubuntu24 or all"
        );
        assert_eq!(
            err(&["--type", "slim"]),
            "--type \"slim\": expected base, full or all"
        );
        assert_eq!(
            err(&["--platform", "linux/386"]),
            "--platform \"linux/386\": expected linux/amd64 and/or linux/arm64"
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
        assert_eq!(
            err(&["--network", "bridge0"]),
            "--network \"bridge0\": expected host, none or default"
        );
    }
}
