//! `payload index`: the second half of a release on native runners. The digests files of the
//! `payload install --push-by-digest` runs (one per platform) are joined, every payload's digests
//! checked (each platform there, each image in the registry), and only then the OCI index of each
//! payload pushed as the tags install uses, with the annotations install gives it. A tag that
//! already points at the same index is not written again.
use super::PayloadError;
use super::build::{self, Meta};
use super::project::{Payload, Project};
use crate::aws::ecr;
use crate::engine::Platform;
use crate::output::progress;
use crate::registry::digests;
use crate::registry::index::{self, PlatformImage};
use crate::registry::{self, AuthRequest, Registry};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// A validated `payload index` request.
pub struct IndexRequest {
    pub project: Project,
    pub payloads: Vec<Payload>,
    /// `latest`, then `--tag` when given.
    pub tags: Vec<String>,
    /// The platforms every payload's index lists.
    pub platforms: Vec<Platform>,
    pub files: Vec<PathBuf>,
    /// `--registry HOST`; None: the ECR registry of each repository.
    pub registry: Option<String>,
    pub auth: AuthRequest,
    pub ecr: aws_sdk_ecr::Client,
    pub dry_run: bool,
}

/// One payload's index.
#[derive(Debug, Clone, serde::Serialize)]
pub struct IndexRow {
    pub payload: String,
    /// `host/<docker_repo>/<name>`.
    pub repository: String,
    pub digest: String,
    pub platforms: Vec<Platform>,
    pub tags: Vec<String>,
    /// The tags this run wrote (the others already pointed at this index).
    pub written: Vec<String>,
    /// `pushed`, `unchanged` (every tag already pointed at it), `would push` (dry run).
    pub status: &'static str,
}

/// The registry host of each payload's repository, in the order of `names`: `--registry`, or the
/// ECR registry of the repository (which the by-digest installs created).
async fn hosts(req: &IndexRequest, names: &[String]) -> Result<Vec<String>, PayloadError> {
    if let Some(h) = &req.registry {
        return Ok(vec![h.clone(); names.len()]);
    }
    let uris = ecr::find_repositories(&req.ecr, names).await?;
    let mut out = Vec::new();
    for n in names {
        match uris.get(n).and_then(|u| u.split_once('/')) {
            Some((host, _)) => out.push(host.to_string()),
            None => return Err(PayloadError::NoRepository(n.clone())),
        }
    }
    Ok(out)
}

/// Every payload's repository and its images, checked: nothing is pushed before all are.
async fn verified(
    req: &IndexRequest,
    joined: &digests::Joined,
    registries: &mut BTreeMap<String, Registry>,
) -> Result<Vec<(String, String, Vec<PlatformImage>)>, PayloadError> {
    let names: Vec<String> = req
        .payloads
        .iter()
        .map(|p| req.project.repository(&p.name))
        .collect();
    let hosts = hosts(req, &names).await?;
    let repos: Vec<String> = hosts
        .iter()
        .zip(&names)
        .map(|(h, n)| format!("{h}/{n}"))
        .collect();
    let none = BTreeMap::new();
    let listed = |repo: &str| joined.get(repo).unwrap_or(&none);
    for repo in &repos {
        digests::complete(repo, listed(repo), &req.platforms, "payload")?;
    }
    for other in joined.keys().filter(|k| !repos.contains(k)) {
        progress::note(format_args!(
            "{other} in the digests files is not a repository of the payloads asked for: left alone"
        ));
    }
    for h in &hosts {
        if !registries.contains_key(h) {
            registries.insert(h.clone(), Registry::connect(h, &req.auth).await?);
        }
    }
    let mut out = Vec::new();
    for ((p, host), repo) in req.payloads.iter().zip(&hosts).zip(repos) {
        let images = digests::verify(
            &registries[host],
            &repo,
            listed(&repo),
            &req.platforms,
            "payload",
        )
        .await?;
        out.push((p.name.clone(), repo, images));
    }
    Ok(out)
}

/// `payload index`: the rows of the indexes pushed (or already there, or on a dry run that would
/// be pushed).
pub async fn index(req: &IndexRequest) -> Result<Vec<IndexRow>, PayloadError> {
    let joined = digests::join(&req.files)?;
    if let Some(host) = &req.registry {
        registry::resolve(&req.auth, host).map_err(|e| crate::config::ConfigError::Usage {
            message: format!("registry credentials: {e}"),
        })?;
    }
    let project = req.project.clone();
    let meta = tokio::task::spawn_blocking(move || Meta::of(&project));
    let mut registries = BTreeMap::new();
    let checked = verified(req, &joined, &mut registries).await?;
    let meta = meta.await.unwrap_or_default();
    let mut rows = Vec::new();
    for (payload, repo, images) in checked {
        let annotations = build::labels(&req.project, &payload, &meta);
        let host = repo.split_once('/').map_or(repo.as_str(), |(h, _)| h);
        let (digest, written, status) = if req.dry_run {
            let doc = index::document(&images, &annotations);
            (index::digest(&doc), Vec::new(), "would push")
        } else {
            let (digest, written) =
                registry::push_index(&registries[host], &repo, &req.tags, &images, &annotations)
                    .await?;
            let status = if written.is_empty() {
                "unchanged"
            } else {
                "pushed"
            };
            (digest, written, status)
        };
        progress::line(
            &format!("[{payload}]"),
            format_args!(
                "{repo}:{} is the index {digest} ({} platforms): {}",
                req.tags.join(", :"),
                images.len(),
                match status {
                    "pushed" => format!("pushed :{}", written.join(", :")),
                    "unchanged" => "already there, nothing pushed".to_string(),
                    other => other.to_string(),
                }
            ),
        );
        rows.push(IndexRow {
            payload,
            repository: repo,
            digest,
            platforms: req.platforms.clone(),
            tags: req.tags.clone(),
            written,
            status,
        });
    }
    Ok(rows)
}
