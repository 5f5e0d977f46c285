//! Digests files: what a `--push-by-digest` run pushed, `{repository: {platform: digest}}` as JSON,
//! for images and payloads alike. Read, merged into (never losing another run's entries), joined
//! over several files (a platform listed with two digests is refused, naming both files), and
//! verified against the registry before an index is pushed over them.
use super::index::PlatformImage;
use super::{Registry, RegistryError, manifest_by_digest};
use crate::engine::Platform;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// `{repository: {platform: digest}}`, as a digests file holds it.
pub type Digests = BTreeMap<String, BTreeMap<String, String>>;

/// Repository → platform → digest, joined from digests files.
pub type Joined = BTreeMap<String, BTreeMap<Platform, String>>;

#[derive(Debug, thiserror::Error)]
pub enum DigestsError {
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a digests file ({{repository: {{platform: digest}}}})")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("cannot write {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {repository}: platform {platform:?} is not linux/amd64 or linux/arm64")]
    Platform {
        path: PathBuf,
        repository: String,
        platform: String,
    },
    #[error(
        "{repository} {platform}: conflicting digests {first} ({}) and {second} ({})",
        .files.0, .files.1
    )]
    Conflict {
        repository: String,
        platform: Platform,
        first: String,
        second: String,
        /// The files that list `first` and `second` (boxed: a rare error stays small).
        files: Box<(String, String)>,
    },
    #[error("the digests files list no repository")]
    Empty,
    #[error(
        "{repository}: no digest for {missing} in the digests files (every {what} needs each of {needed})"
    )]
    Missing {
        repository: String,
        what: &'static str,
        missing: String,
        needed: String,
    },
    #[error("{repository}@{digest} ({platform}) is not in the registry: nothing was pushed")]
    Absent {
        repository: String,
        platform: Platform,
        digest: String,
    },
    #[error(transparent)]
    Registry(#[from] RegistryError),
}

impl DigestsError {
    /// Whether fixing the input fixes it (exit status 2, see [`DigestsError::classified`]): a file that
    /// cannot be read or is not a digests file, a conflict, a missing platform. A digest the
    /// registry lacks, a registry that cannot be asked or a file that cannot be written are
    /// run-time failures.
    pub fn is_usage(&self) -> bool {
        self.usage()
    }

    /// As an error of its kind: the input's (exit status 2, `crate::error::usage`) or a run-time
    /// failure.
    pub fn classified(self) -> anyhow::Error {
        if self.is_usage() {
            crate::error::usage(self)
        } else {
            self.into()
        }
    }

    fn usage(&self) -> bool {
        matches!(
            self,
            DigestsError::Read { .. }
                | DigestsError::Json { .. }
                | DigestsError::Platform { .. }
                | DigestsError::Conflict { .. }
                | DigestsError::Empty
                | DigestsError::Missing { .. }
        )
    }
}

/// Reads a digests file.
pub fn read(path: &Path) -> Result<Digests, DigestsError> {
    let text = std::fs::read_to_string(path).map_err(|source| DigestsError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|source| DigestsError::Json {
        path: path.to_path_buf(),
        source,
    })
}

/// Adds `pushed` to the digests file `path` (created when missing): entries of other repositories
/// and platforms are kept; these replace the same repository and platform. Written whole to a
/// temporary file, then renamed over `path`, so a reader never sees half a file.
pub fn merge_into(path: &Path, pushed: &Digests) -> Result<(), DigestsError> {
    let mut all = match path.exists() {
        true => read(path)?,
        false => Digests::new(),
    };
    for (repo, platforms) in pushed {
        all.entry(repo.clone())
            .or_default()
            .extend(platforms.iter().map(|(p, d)| (p.clone(), d.clone())));
    }
    let write = |source| DigestsError::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let text = serde_json::to_string_pretty(&all).map_err(|e| write(e.into()))?;
    std::fs::write(&tmp, text + "\n").map_err(write)?;
    std::fs::rename(&tmp, path).map_err(write)
}

/// The digests of every file, joined: one digest per repository and platform. The same platform
/// listed with two different digests is refused, naming both files and both digests.
pub fn join(files: &[PathBuf]) -> Result<Joined, DigestsError> {
    let mut joined: BTreeMap<String, BTreeMap<Platform, (String, &Path)>> = BTreeMap::new();
    for f in files {
        for (repository, platforms) in read(f)? {
            for (platform, digest) in platforms {
                let p = Platform::parse(&platform).ok_or_else(|| DigestsError::Platform {
                    path: f.clone(),
                    repository: repository.clone(),
                    platform: platform.clone(),
                })?;
                let slot = joined.entry(repository.clone()).or_default();
                match slot.get(&p) {
                    Some((d, other)) if *d != digest => {
                        return Err(DigestsError::Conflict {
                            repository,
                            platform: p,
                            first: d.clone(),
                            second: digest,
                            files: Box::new((other.display().to_string(), f.display().to_string())),
                        });
                    }
                    _ => {
                        slot.insert(p, (digest, f));
                    }
                }
            }
        }
    }
    if joined.is_empty() {
        return Err(DigestsError::Empty);
    }
    Ok(joined
        .into_iter()
        .map(|(repo, ps)| (repo, ps.into_iter().map(|(p, (d, _))| (p, d)).collect()))
        .collect())
}

/// Refuses `repository` unless `platforms` has a digest for each of `needed` (`what` names the
/// thing in the message: image, payload).
pub fn complete(
    repository: &str,
    platforms: &BTreeMap<Platform, String>,
    needed: &[Platform],
    what: &'static str,
) -> Result<(), DigestsError> {
    let missing: Vec<&str> = needed
        .iter()
        .filter(|p| !platforms.contains_key(p))
        .map(|p| p.as_str())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(DigestsError::Missing {
        repository: repository.to_string(),
        what,
        missing: missing.join(", "),
        needed: needed
            .iter()
            .map(|p| p.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    })
}

/// The images of `needed`, in that order, as an index lists them, each read from the registry by
/// its digest: refused when a platform has no digest ([`complete`]) or the registry does not hold
/// one. Reads only.
pub async fn verify(
    reg: &Registry,
    repository: &str,
    platforms: &BTreeMap<Platform, String>,
    needed: &[Platform],
    what: &'static str,
) -> Result<Vec<PlatformImage>, DigestsError> {
    complete(repository, platforms, needed, what)?;
    let mut images = Vec::new();
    for &p in needed {
        let digest = &platforms[&p];
        let image = manifest_by_digest(reg, repository, p.as_str(), digest)
            .await?
            .ok_or_else(|| DigestsError::Absent {
                repository: repository.to_string(),
                platform: p,
                digest: digest.clone(),
            })?;
        images.push(image);
    }
    Ok(images)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(repo: &str, platform: &str, digest: &str) -> Digests {
        Digests::from([(
            repo.to_string(),
            BTreeMap::from([(platform.to_string(), digest.to_string())]),
        )])
    }

    #[test]
    fn files_merge_without_losing_entries_and_conflicts_are_named() {
        let d = tempfile::tempdir().unwrap();
        let repo = "r.io/p/lava/tiny/base";
        let first = d.path().join("one.json");
        merge_into(&first, &one(repo, "linux/amd64", "sha256:a")).unwrap();
        merge_into(&first, &one(repo, "linux/arm64", "sha256:b")).unwrap();
        merge_into(&first, &one("r.io/p/other", "linux/arm64", "sha256:o")).unwrap();
        let joined = join(std::slice::from_ref(&first)).unwrap();
        assert_eq!(
            joined[repo],
            BTreeMap::from([
                (Platform::Amd64, "sha256:a".to_string()),
                (Platform::Arm64, "sha256:b".to_string())
            ]),
            "the later runs kept the first run's entry"
        );
        assert_eq!(joined.len(), 2);
        assert!(!d.path().join("one.json.tmp").exists());

        let other = d.path().join("other.json");
        merge_into(&other, &one(repo, "linux/arm64", "sha256:c")).unwrap();
        let e = join(&[first.clone(), other.clone()]).unwrap_err();
        assert!(e.is_usage());
        let text = e.to_string();
        assert!(
            text.starts_with("r.io/p/lava/tiny/base linux/arm64: conflicting digests sha256:b")
                && text.contains("one.json")
                && text.contains("sha256:c (")
                && text.contains("other.json"),
            "{text}"
        );
        // The same digest listed twice is no conflict.
        assert!(join(&[first.clone(), first]).is_ok());

        let bad = d.path().join("bad.json");
        std::fs::write(&bad, r#"{"r.io/p/lava/tiny/base": "sha256:a"}"#).unwrap();
        let e = join(std::slice::from_ref(&bad)).unwrap_err().classified();
        assert_eq!(crate::error::exit_code(&e), 2);
        let text = crate::error::one_line(&e);
        assert!(text.contains("bad.json: not a digests file"), "{text}");
        // Merging into a file that is not one leaves it as it was.
        assert!(merge_into(&bad, &one(repo, "linux/amd64", "sha256:a")).is_err());
        assert_eq!(
            std::fs::read_to_string(&bad).unwrap(),
            r#"{"r.io/p/lava/tiny/base": "sha256:a"}"#
        );

        let s390 = d.path().join("s390.json");
        merge_into(&s390, &one(repo, "linux/s390x", "sha256:a")).unwrap();
        let e = join(&[s390]).unwrap_err();
        assert!(e.to_string().contains("platform \"linux/s390x\""), "{e}");
        let empty = d.path().join("empty.json");
        std::fs::write(&empty, "{}").unwrap();
        assert!(matches!(join(&[empty]), Err(DigestsError::Empty)));
    }

    #[test]
    fn a_missing_platform_is_named() {
        let platforms = BTreeMap::from([(Platform::Amd64, "sha256:a".to_string())]);
        assert!(complete("r/x", &platforms, &[Platform::Amd64], "payload").is_ok());
        let e = complete("r/x", &platforms, &Platform::ALL, "payload").unwrap_err();
        assert!(e.is_usage());
        assert_eq!(
            e.to_string(),
            "r/x: no digest for linux/arm64 in the digests files (every payload needs each of \
             linux/amd64, linux/arm64)"
        );
        let absent = DigestsError::Absent {
            repository: "r/x".into(),
            platform: Platform::Arm64,
            digest: "sha256:0".into(),
        };
        assert!(!absent.is_usage());
        assert_eq!(crate::error::exit_code(&absent.classified()), 1);
    }
}
