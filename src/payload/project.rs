//! A lava job framework project: its environment config (`config/<env>.yaml`), the keys payloads
//! use, the payload folders under `lava-payloads/`, and the realm's info. Everything here is read
//! and checked before an engine or AWS is asked anything; every error is a [`ConfigError`].
use crate::config::ConfigError;
use serde_yaml::Value;
use std::path::{Path, PathBuf};

/// The base image of the default Dockerfile when `docker.base_img` is not set.
pub const DEFAULT_BASE_IMG: &str = "ghcr.io/jin-gizmo/lava/amzn2023/base";

const PLATFORMS_ALLOWED: &str = "host, or linux/ARCH[/VARIANT] (e.g. linux/amd64, linux/arm64, \
     linux/arm/v7), or a comma-separated list of those";

/// Which platforms payload images are built for (`docker.platform`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Platforms {
    /// The engine's own platform.
    Host,
    /// Each of these (`linux/amd64`, `linux/arm64`, `linux/arm`, …), in this order.
    List(Vec<String>),
}

/// One payload: `lava-payloads/<name>.docker`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    pub name: String,
    pub dir: PathBuf,
}

/// A project read for one environment.
#[derive(Debug, Clone)]
pub struct Project {
    pub dir: PathBuf,
    pub env: String,
    /// `config/<env>.yaml` as the user names it in messages.
    pub config_file: String,
    /// The whole environment config (the render context's keys).
    pub config: Value,
    pub realm: String,
    /// `prefix.docker_repo`: the payload images are `<docker_repo>/<name>`.
    pub docker_repo: String,
    pub base_img: String,
    pub platforms: Platforms,
    /// Every payload of the project, sorted by name.
    pub payloads: Vec<Payload>,
}

/// One `linux/ARCH[/VARIANT]` platform, as the framework's build passes any `linux/*` on: lowercase
/// letters, digits and `_` in each part. Pure.
fn valid_platform(p: &str) -> bool {
    let mut parts = p.split('/');
    let word = |w: &str| {
        !w.is_empty()
            && w.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    };
    parts.next() == Some("linux")
        && parts.next().is_some_and(word)
        && parts.next().is_none_or(word)
        && parts.next().is_none()
}

/// Parses `docker.platform` (None: unset). `host`, or any `linux/*` platform (each as written:
/// `linux/arm` is 32-bit ARM, not arm64), or a list of them. Pure.
pub fn parse_platforms(key: &str, value: Option<&str>) -> Result<Platforms, ConfigError> {
    let Some(v) = value else {
        return Ok(Platforms::List(vec!["linux/amd64".into()]));
    };
    let bad = || ConfigError::invalid(key, v, PLATFORMS_ALLOWED);
    if v.trim() == "host" {
        return Ok(Platforms::Host);
    }
    let mut list: Vec<String> = Vec::new();
    for p in v.split(',').map(str::trim) {
        if !valid_platform(p) || list.iter().any(|q| q == p) {
            return Err(bad());
        }
        list.push(p.to_string());
    }
    Ok(Platforms::List(list))
}

/// A repository path: lowercase components of `[a-z0-9]` joined by `.`, `_`, `-`, `/`. Pure.
pub fn valid_repo(r: &str) -> bool {
    !r.is_empty()
        && r.split('/').all(|c| {
            !c.is_empty()
                && c.starts_with(|x: char| x.is_ascii_lowercase() || x.is_ascii_digit())
                && c.ends_with(|x: char| x.is_ascii_lowercase() || x.is_ascii_digit())
                && c.chars().all(|x| {
                    x.is_ascii_lowercase() || x.is_ascii_digit() || matches!(x, '.' | '_' | '-')
                })
        })
}

/// The value at a dotted path of a YAML mapping.
fn lookup<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(v, |cur, k| cur.get(k))
}

/// A string key: None when absent (or null), an error when it is not a string.
fn string_at(config: &Value, file: &str, key: &str) -> Result<Option<String>, ConfigError> {
    match lookup(config, key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(ConfigError::WrongType {
            location: file.to_string(),
            key: key.to_string(),
            expected: "a string".into(),
            found: match other {
                Value::Bool(_) => "a boolean",
                Value::Number(_) => "a number",
                Value::Sequence(_) => "a list",
                Value::Mapping(_) => "a mapping",
                _ => "another kind of value",
            }
            .into(),
        }),
    }
}

fn required(config: &Value, file: &str, key: &str, hint: &str) -> Result<String, ConfigError> {
    string_at(config, file, key)?
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| ConfigError::Missing {
            param: format!("{file}: {key}"),
            hint: hint.into(),
        })
}

/// The environments that have a config file.
fn environments(dir: &Path) -> Vec<String> {
    let mut envs: Vec<String> = std::fs::read_dir(dir.join("config"))
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .strip_suffix(".yaml")
                        .map(String::from)
                })
                .collect()
        })
        .unwrap_or_default();
    envs.sort();
    envs
}

/// Every `*.docker` entry under `lava-payloads/`; an entry that is not a folder is an error.
fn payloads(dir: &Path) -> Result<Vec<Payload>, ConfigError> {
    let root = dir.join("lava-payloads");
    let rd = std::fs::read_dir(&root).map_err(|source| ConfigError::Read {
        path: format!(
            "{} (a job framework project has its payloads in lava-payloads/)",
            root.display()
        ),
        source,
    })?;
    let mut out = Vec::new();
    for e in rd.flatten() {
        let file_name = e.file_name().to_string_lossy().into_owned();
        let Some(name) = file_name.strip_suffix(".docker") else {
            continue;
        };
        if name.is_empty() || name.starts_with('.') {
            continue;
        }
        // Symlinks are followed, as in the copy.
        if !e.path().is_dir() {
            return Err(ConfigError::invalid(
                &format!("lava-payloads/{file_name}"),
                "a file",
                "a folder (every lava-payloads/*.docker entry is a payload folder)",
            ));
        }
        if !valid_repo(name) {
            return Err(ConfigError::invalid(
                &format!("lava-payloads/{file_name}"),
                name,
                "a payload name of lowercase letters, digits, '.', '_' and '-' (it names an image)",
            ));
        }
        out.push(Payload {
            name: name.to_string(),
            dir: e.path(),
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

impl Project {
    /// Reads `DIR/config/<env>.yaml` and the payload folders.
    pub fn load(dir: &Path, env: &str) -> Result<Project, ConfigError> {
        if !dir.join("lava-payloads").is_dir() {
            return Err(ConfigError::invalid(
                "--project",
                &dir.display().to_string(),
                "a lava job framework project (a folder with config/<env>.yaml and lava-payloads/)",
            ));
        }
        let config_file = format!("config/{env}.yaml");
        let path = dir.join(&config_file);
        if env.is_empty() || env.contains('/') || !path.is_file() {
            let envs = environments(dir);
            return Err(ConfigError::invalid(
                "--env",
                env,
                &format!(
                    "an environment with a file in {}/config/ ({})",
                    dir.display(),
                    if envs.is_empty() {
                        "there is none".to_string()
                    } else {
                        envs.join(", ")
                    }
                ),
            ));
        }
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let config: Value = serde_yaml::from_str(&text).map_err(|e| ConfigError::Yaml {
            location: match e.location() {
                Some(l) => format!("{config_file}:{}", l.line()),
                None => config_file.clone(),
            },
            message: e.to_string(),
        })?;
        if !config.is_mapping() {
            return Err(ConfigError::invalid(
                &config_file,
                "not a mapping",
                "a YAML mapping of config keys (realm, prefix, docker, …)",
            ));
        }
        let realm = required(&config, &config_file, "realm", "the lava realm of this env")?;
        let docker_repo = required(
            &config,
            &config_file,
            "prefix.docker_repo",
            "the ECR repository prefix of the payload images, conventionally lava/<realm>/<project>",
        )?;
        let docker_repo = docker_repo.trim_end_matches('/').to_string();
        if !valid_repo(&docker_repo) {
            return Err(ConfigError::invalid(
                &format!("{config_file}: prefix.docker_repo"),
                &docker_repo,
                "a repository path of lowercase letters, digits, '.', '_', '-' and '/'",
            ));
        }
        let base_img = string_at(&config, &config_file, "docker.base_img")?
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_BASE_IMG.into());
        let platform = string_at(&config, &config_file, "docker.platform")?;
        let platforms = parse_platforms(
            &format!("{config_file}: docker.platform"),
            platform.as_deref(),
        )?;
        Ok(Project {
            dir: dir.to_path_buf(),
            env: env.to_string(),
            config_file,
            config,
            realm,
            docker_repo,
            base_img,
            platforms,
            payloads: payloads(dir)?,
        })
    }

    /// The payloads named (all when none is), each known; in the order given.
    pub fn select(&self, names: &[String]) -> Result<Vec<Payload>, ConfigError> {
        if names.is_empty() {
            if self.payloads.is_empty() {
                return Err(ConfigError::invalid(
                    "--project",
                    &self.dir.display().to_string(),
                    "a project with at least one lava-payloads/<name>.docker folder",
                ));
            }
            return Ok(self.payloads.clone());
        }
        let known = || {
            self.payloads
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>()
        };
        let mut out: Vec<Payload> = Vec::new();
        for n in names {
            let p = self.payloads.iter().find(|p| &p.name == n).ok_or_else(|| {
                ConfigError::invalid(
                    "payload",
                    n,
                    &format!(
                        "a payload of the project ({})",
                        if known().is_empty() {
                            "it has none".to_string()
                        } else {
                            known().join(", ")
                        }
                    ),
                )
            })?;
            if !out.contains(p) {
                out.push(p.clone());
            }
        }
        Ok(out)
    }

    /// The image repository of a payload: `<docker_repo>/<name>`.
    pub fn repository(&self, payload: &str) -> String {
        format!("{}/{payload}", self.docker_repo)
    }
}

/// The realm's info from `--realm-file`: a JSON object (as the `lava.realms` item holds it).
pub fn realm_file(path: &Path) -> Result<serde_json::Value, ConfigError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: shown.clone(),
        source,
    })?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| ConfigError::Yaml {
        location: format!("{shown}:{}", e.line()),
        message: format!("not JSON: {e}"),
    })?;
    if !v.is_object() {
        return Err(ConfigError::invalid(
            "--realm-file",
            &shown,
            "a JSON object (the realm's item of lava.realms)",
        ));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms_as_the_framework_names_them() {
        let k = "config/dev.yaml: docker.platform";
        assert_eq!(
            parse_platforms(k, None).unwrap(),
            Platforms::List(vec!["linux/amd64".into()])
        );
        assert_eq!(parse_platforms(k, Some("host")).unwrap(), Platforms::Host);
        // linux/arm is 32-bit ARM, as docker names it: never read as arm64.
        assert_eq!(
            parse_platforms(k, Some("linux/arm")).unwrap(),
            Platforms::List(vec!["linux/arm".into()])
        );
        assert_eq!(
            parse_platforms(k, Some("linux/arm/v7,linux/riscv64,linux/ppc64le")).unwrap(),
            Platforms::List(vec![
                "linux/arm/v7".into(),
                "linux/riscv64".into(),
                "linux/ppc64le".into()
            ])
        );
        assert_eq!(
            parse_platforms(k, Some("linux/amd64, linux/arm64")).unwrap(),
            Platforms::List(vec!["linux/amd64".into(), "linux/arm64".into()])
        );
        let e = parse_platforms(k, Some("darwin/arm64")).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("{k}: invalid value \"darwin/arm64\": expected {PLATFORMS_ALLOWED}")
        );
        assert!(parse_platforms(k, Some("linux/arm64,linux/arm64")).is_err());
        assert!(parse_platforms(k, Some("linux/")).is_err());
        assert!(parse_platforms(k, Some("linux/arm/v7/x")).is_err());
        assert!(parse_platforms(k, Some("windows/amd64")).is_err());
        assert!(parse_platforms(k, Some("linux/AMD64")).is_err());
        assert!(parse_platforms(k, Some("host,linux/amd64")).is_err());
    }

    #[test]
    fn repository_paths() {
        assert!(valid_repo("lava/dev/my-project"));
        assert!(!valid_repo("lava/Dev/x"));
        assert!(!valid_repo("lava//x"));
        assert!(!valid_repo("-x"));
    }
}
