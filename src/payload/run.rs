//! The verbs: build (every payload on every platform, unless unchanged), install (ECR repository,
//! build, push) and uninstall (delete the repositories). Resolve first: every payload is prepared
//! (copied, rendered, converted) before an engine or AWS is asked anything.
use super::PayloadError;
use super::build::{self, Built, Meta, Options};
use super::prepare::{self, Prepared};
use super::project::{Payload, Platforms, Project};
use super::push::{self, ByDigest, Pushed};
use super::render;
use crate::aws::ecr;
use crate::config::ConfigError;
use crate::engine;
use crate::output::progress;
use crate::registry::{AuthRequest, Registry};
use bollard::Docker;
use futures::StreamExt;

/// A validated request, shared by build and install.
pub struct Request {
    pub project: Project,
    pub payloads: Vec<Payload>,
    pub realm_info: Option<serde_json::Value>,
    /// `latest`, then `--tag` when given.
    pub tags: Vec<String>,
    pub engine: Option<String>,
    pub network: Option<String>,
    pub rebuild: bool,
    pub no_cache: bool,
    pub fail_fast: bool,
    pub dry_run: bool,
    /// `--follow-external-links`: copy what symlinks leaving the project point at.
    pub follow_external_links: bool,
}

/// Where install pushes.
pub struct Target {
    /// `--registry HOST`; None: the ECR registry of each repository.
    pub registry: Option<String>,
    pub auth: AuthRequest,
    /// `--lifecycle FILE`'s policy: set on the repositories pushed to (new and existing). None:
    /// no policy is set, as the framework sets none.
    pub lifecycle: Option<String>,
    pub ecr: aws_sdk_ecr::Client,
    /// `--push-by-digest`: each platform's image by digest, no index (`payload index` writes it).
    pub by_digest: bool,
}

/// One payload's outcome.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Row {
    pub payload: String,
    /// `<docker_repo>/<name>`.
    pub repository: String,
    pub images: Vec<Built>,
    /// ECR: `created`, `exists`, `would create` (install only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ecr: Option<&'static str>,
    /// Install: where it went, or would go.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pushed: Option<Pushed>,
    /// Install `--push-by-digest`: each platform's digest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by_digest: Option<ByDigest>,
    /// Install: `pushed`, `unchanged`, `would push`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub push: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Every selected payload prepared; the first bad one stops the run (nothing built).
pub fn prepare_all(req: &Request) -> Result<Vec<Prepared>, prepare::PrepareError> {
    let ctx = render::context(
        &req.project.config,
        &req.project.env,
        req.realm_info.as_ref(),
    );
    req.payloads
        .iter()
        .map(|p| prepare::prepare(&req.project, p, &ctx, req.follow_external_links))
        .collect()
}

/// The engine, and the platforms the images are built for.
async fn engine_and_platforms(req: &Request) -> Result<(Docker, Vec<String>), PayloadError> {
    let docker = engine::connect(req.engine.as_deref()).await?;
    let shown = engine::shown_endpoint(req.engine.as_deref());
    let platforms = match &req.project.platforms {
        Platforms::Host => vec![build::host_platform(&docker, &shown).await?],
        Platforms::List(l) => l.clone(),
    };
    if req.network.is_none() && !req.dry_run {
        let names = engine::network_names(&docker, &shown).await?;
        if !engine::has_default_bridge(names.iter().map(String::as_str)) {
            return Err(ConfigError::invalid(
                "--network",
                "default",
                &format!(
                    "host or none: Docker engine {shown} has no bridge network (dockerd \
                     --bridge=none), so RUN steps cannot use the default network"
                ),
            )
            .into());
        }
    }
    Ok((docker, platforms))
}

/// Builds one prepared payload on every platform; the first failing platform ends it.
async fn build_payload(
    docker: &Docker,
    req: &Request,
    prep: &Prepared,
    meta: &Meta,
    platforms: &[String],
) -> Result<Vec<Built>, build::BuildError> {
    let opts = Options {
        network: req.network.as_deref(),
        rebuild: req.rebuild,
        no_cache: req.no_cache,
        dry_run: req.dry_run,
    };
    let mut out = Vec::new();
    for p in platforms {
        out.push(
            build::build_one(
                docker,
                &req.project,
                prep,
                meta,
                p,
                &req.tags,
                platforms.len() == 1,
                &opts,
            )
            .await?,
        );
    }
    Ok(out)
}

/// The labels' facts, read (git) while other things go on.
fn meta_of(project: &Project) -> tokio::task::JoinHandle<Meta> {
    let project = project.clone();
    tokio::task::spawn_blocking(move || Meta::of(&project))
}

/// Payloads built side by side at most.
const PARALLEL_BUILDS: usize = 3;

/// Builds every prepared payload (a few side by side), recording each outcome in its row. With
/// fail-fast they build one at a time and the first failure ends the run: only the rows up to it
/// are kept.
async fn build_all(
    docker: &Docker,
    req: &Request,
    prepared: &[Prepared],
    meta: &Meta,
    platforms: &[String],
    rows: &mut Vec<Row>,
) {
    let mut results = futures::stream::iter(prepared)
        .map(|prep| build_payload(docker, req, prep, meta, platforms))
        .buffered(if req.fail_fast { 1 } else { PARALLEL_BUILDS });
    let mut i = 0;
    while let Some(result) = results.next().await {
        match result {
            Ok(b) => rows[i].images = b,
            Err(e) => {
                let text = crate::error::chain(&e);
                progress::error(&text);
                rows[i].error = Some(text);
                if req.fail_fast {
                    rows.truncate(i + 1);
                    return;
                }
            }
        }
        i += 1;
    }
}

fn row(req: &Request, payload: &str) -> Row {
    Row {
        payload: payload.to_string(),
        repository: req.project.repository(payload),
        images: Vec::new(),
        ecr: None,
        pushed: None,
        by_digest: None,
        push: None,
        error: None,
    }
}

/// The rows, and an error naming the failed payloads when any failed.
fn finish(rows: Vec<Row>) -> (Vec<Row>, Option<PayloadError>) {
    let failed: Vec<&str> = rows
        .iter()
        .filter(|r| r.error.is_some())
        .map(|r| r.payload.as_str())
        .collect();
    let err = (!failed.is_empty()).then(|| {
        let first = rows
            .iter()
            .find_map(|r| r.error.clone())
            .unwrap_or_default();
        PayloadError::Failed {
            failed: failed.len(),
            total: rows.len(),
            names: failed.join(", "),
            first,
        }
    });
    (rows, err)
}

/// `payload build`.
pub async fn build(req: &Request) -> Result<(Vec<Row>, Option<PayloadError>), PayloadError> {
    let prepared = prepare_all(req)?;
    let meta = meta_of(&req.project);
    let (docker, platforms) = engine_and_platforms(req).await?;
    let meta = meta.await.unwrap_or_default();
    let mut rows: Vec<Row> = prepared.iter().map(|p| row(req, &p.payload.name)).collect();
    build_all(&docker, req, &prepared, &meta, &platforms, &mut rows).await;
    Ok(finish(rows))
}

/// The payload's repository in ECR once its build succeeded (as the framework makes it at push
/// time, so a failed build leaves nothing in ECR): its URI, and what was done (`exists`,
/// `created`). The lifecycle policy, when one is given, is set on it either way.
async fn ensure_repository(
    t: &Target,
    name: &str,
    existing: Option<String>,
) -> Result<(String, &'static str), PayloadError> {
    let policy = t.lifecycle.as_deref();
    if let Some(uri) = existing {
        if let Some(policy) = policy {
            ecr::put_lifecycle(&t.ecr, name, policy).await?;
        }
        return Ok((uri, "exists"));
    }
    // Another run may have made it meanwhile (the other platform's runner of a release).
    match ecr::create_or_find_repository(&t.ecr, name, policy).await? {
        (uri, ecr::Created::Existed) => {
            if let Some(policy) = policy {
                ecr::put_lifecycle(&t.ecr, name, policy).await?;
            }
            Ok((uri, "exists"))
        }
        (uri, ecr::Created::New) => {
            progress::line(&format!("[{name}]"), "created the ECR repository");
            Ok((uri, "created"))
        }
    }
}

/// The registry of `host`, connected once per run.
async fn registry_for<'a>(
    registries: &'a mut Vec<(String, Registry)>,
    host: &str,
    auth: &AuthRequest,
) -> Result<&'a Registry, PayloadError> {
    let i = match registries.iter().position(|(k, _)| k == host) {
        Some(i) => i,
        None => {
            let reg = Registry::connect(host, auth).await?;
            progress::line(
                &format!("registry {host}:"),
                format_args!("pushing {}", reg.identity()),
            );
            registries.push((host.to_string(), reg));
            registries.len() - 1
        }
    };
    Ok(&registries[i].1)
}

/// `payload install`: the builds, then for each payload that built its ECR repository (made
/// when missing) and the push.
pub async fn install(
    req: &Request,
    t: &Target,
) -> Result<(Vec<Row>, Option<PayloadError>), PayloadError> {
    let prepared = prepare_all(req)?;
    let meta = meta_of(&req.project);
    if let Some(host) = &t.registry {
        crate::registry::resolve(&t.auth, host).map_err(|e| ConfigError::Usage {
            message: format!("registry credentials: {e}"),
        })?;
    }
    // Which repositories exist (read only: nothing is made before a build succeeds) while the
    // engine is reached.
    let names: Vec<String> = prepared
        .iter()
        .map(|p| req.project.repository(&p.payload.name))
        .collect();
    let (existing, engine) = tokio::join!(
        ecr::find_repositories(&t.ecr, &names),
        engine_and_platforms(req)
    );
    let (existing, (docker, platforms)) = (existing?, engine?);
    let mut rows: Vec<Row> = prepared.iter().map(|p| row(req, &p.payload.name)).collect();
    // Credentials before building where the registry is known: a bad SSM name or missing
    // permission stops the run first.
    let mut registries: Vec<(String, Registry)> = Vec::new();
    if !req.dry_run {
        let known: Vec<String> = match &t.registry {
            Some(h) => vec![h.clone()],
            None => existing.values().filter_map(|u| host_of(u)).collect(),
        };
        for h in known {
            registry_for(&mut registries, &h, &t.auth).await?;
        }
    }
    let meta = meta.await.unwrap_or_default();
    build_all(&docker, req, &prepared, &meta, &platforms, &mut rows).await;
    if req.fail_fast && rows.iter().any(|r| r.error.is_some()) {
        progress::note("nothing was pushed (--fail-fast)");
        return Ok(finish(rows));
    }
    // The repositories of the payloads that built, one after the other (few, and quick).
    let mut hosts: Vec<Option<String>> = Vec::new();
    for r in rows.iter_mut() {
        let uri = existing.get(&r.repository).cloned();
        if r.error.is_some() || r.images.is_empty() {
            hosts.push(None);
            continue;
        }
        if req.dry_run {
            r.ecr = Some(if uri.is_some() {
                "exists"
            } else {
                "would create"
            });
            hosts.push(
                t.registry
                    .clone()
                    .or_else(|| uri.as_deref().and_then(host_of)),
            );
            continue;
        }
        match ensure_repository(t, &r.repository, uri).await {
            Ok((uri, done)) => {
                r.ecr = Some(done);
                let host = t.registry.clone().or_else(|| host_of(&uri));
                if let Some(h) = &host
                    && let Err(e) = registry_for(&mut registries, h, &t.auth).await
                {
                    r.error = Some(crate::error::chain(&e));
                }
                hosts.push(host);
            }
            Err(e) => {
                let text = crate::error::chain(&e);
                progress::error(format_args!("[{}] {text}", r.payload));
                r.error = Some(text);
                hosts.push(None);
            }
        }
    }
    // A long build may outlive an ECR token: renewed by age before the pushes.
    for (_, reg) in registries.iter_mut() {
        reg.refresh(&t.auth).await?;
    }
    let pushes = rows
        .iter_mut()
        .zip(&hosts)
        .filter(|(r, _)| r.error.is_none() && !r.images.is_empty())
        .map(|(r, host)| push_row(req, t, &registries, &docker, &meta, r, host.as_deref()));
    futures::future::join_all(pushes).await;
    Ok(finish(rows))
}

/// The registry host of a repository URI (`host/path`).
fn host_of(uri: &str) -> Option<String> {
    uri.split_once('/').map(|(h, _)| h.to_string())
}

/// What uninstall found for one payload.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Removal {
    pub payload: String,
    pub repository: String,
    /// The images the repository holds (`digest (tags)`); None: no such repository.
    pub images: Option<Vec<String>>,
    /// `deleted`, `absent`, `would delete`.
    pub status: &'static str,
}

/// `payload uninstall`, first half: what would be deleted.
pub async fn removals(
    project: &Project,
    payloads: &[Payload],
    ecr: &aws_sdk_ecr::Client,
) -> Result<Vec<Removal>, PayloadError> {
    let mut out = Vec::new();
    for p in payloads {
        let repository = project.repository(&p.name);
        let images = match ecr::find_repository(ecr, &repository).await? {
            Some(_) => Some(ecr::list_images(ecr, &repository).await?),
            None => None,
        };
        out.push(Removal {
            payload: p.name.clone(),
            status: if images.is_some() {
                "would delete"
            } else {
                "absent"
            },
            repository,
            images,
        });
    }
    Ok(out)
}

/// `payload uninstall`, second half: deletes what is there.
pub async fn remove(ecr: &aws_sdk_ecr::Client, list: &mut [Removal]) -> Result<(), PayloadError> {
    for r in list.iter_mut().filter(|r| r.images.is_some()) {
        ecr::delete_repository(ecr, &r.repository).await?;
        progress::line(
            &format!("[{}]", r.payload),
            format_args!("deleted {}", r.repository),
        );
        r.status = "deleted";
    }
    Ok(())
}

/// Pushes one built payload to `host` (None: its ECR repository does not exist yet, dry run).
async fn push_row(
    req: &Request,
    t: &Target,
    registries: &[(String, Registry)],
    docker: &Docker,
    meta: &Meta,
    r: &mut Row,
    host: Option<&str>,
) {
    let prefix = format!("[{}]", r.payload);
    let repo = format!("{}/{}", host.unwrap_or("<ECR>"), r.repository);
    let reg = registries.iter().find(|(k, _)| Some(k.as_str()) == host);
    let (Some((_, reg)), false) = (reg, req.dry_run) else {
        r.push = Some("would push");
        progress::line(&prefix, format_args!("would push to {repo}"));
        return;
    };
    // What was pushed: a line to say, whether anything was sent, and the row's record of it.
    let result = if t.by_digest {
        push::push_by_digest(reg, docker, &repo, &r.images)
            .await
            .map(|p| {
                let each: Vec<String> = p.digests.iter().map(|(k, d)| format!("{k} {d}")).collect();
                (
                    format!("{repo} by digest: {}", each.join(", ")),
                    p.uploaded,
                    None,
                    Some(p),
                )
            })
    } else {
        let annotations = build::labels(&req.project, &r.payload, meta);
        push::push_payload(reg, docker, &repo, &r.images, &req.tags, &annotations)
            .await
            .map(|p| {
                let said = format!("{repo}:{} is {}", req.tags.join(", :"), p.digest);
                (said, p.uploaded, Some(p), None)
            })
    };
    match result {
        Ok((said, uploaded, pushed, by_digest)) => {
            let what = match uploaded {
                true => "pushed",
                false => "unchanged, nothing sent",
            };
            progress::line(&prefix, format_args!("{said} ({what})"));
            r.push = Some(if uploaded { "pushed" } else { "unchanged" });
            r.pushed = pushed;
            r.by_digest = by_digest;
        }
        Err(e) => {
            let text = crate::error::chain(&e);
            progress::error(format_args!("{prefix} {text}"));
            r.error = Some(text);
        }
    }
}
