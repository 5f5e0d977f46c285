//! Building a prepared payload for one platform through the Engine API with BuildKit (the images'
//! engine code), unless the engine already has an image of the same inputs (the images' inputs-key
//! label): then it only gets the tags.
use super::prepare::Prepared;
use super::project::Project;
use crate::engine::EngineError;
use crate::engine::{self, BuildRequest};
use crate::images::inputs::{self, Inputs};
use crate::output::progress;
use bollard::Docker;
use std::collections::BTreeMap;

/// What a build failure or an engine question names.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("[{payload} {platform}] build failed")]
    Build {
        payload: String,
        platform: String,
        #[source]
        source: EngineError,
    },
    #[error("[{payload} {platform}]")]
    Engine {
        payload: String,
        platform: String,
        #[source]
        source: EngineError,
    },
    #[error("[{payload} {platform}] the engine has no {image} after the build")]
    Missing {
        payload: String,
        platform: String,
        image: String,
    },
    #[error("Docker engine {engine}: asking its platform: {source}")]
    Platform {
        engine: String,
        #[source]
        source: bollard::errors::Error,
    },
}

/// Facts about the project's sources that go into labels; stable for the same sources, so an
/// unchanged payload has the same inputs key.
#[derive(Debug, Clone, Default)]
pub struct Meta {
    pub source: String,
    pub revision: String,
    /// The commit time (RFC 3339), or LAVA_BUILD_TIME; None when neither is known.
    pub created: Option<String>,
}

impl Meta {
    /// Read from the project's git repository, if it is in one.
    pub fn of(project: &Project) -> Meta {
        let head = crate::git::head(&project.dir);
        let dir = std::path::absolute(&project.dir).unwrap_or_else(|_| project.dir.clone());
        Meta {
            source: crate::git::origin(&project.dir).unwrap_or_else(|| dir.display().to_string()),
            revision: head.revision.unwrap_or_else(|| "unknown".into()),
            created: crate::git::build_time().or(head.time),
        }
    }
}

/// The labels of a payload image.
pub fn labels(project: &Project, payload: &str, meta: &Meta) -> BTreeMap<String, String> {
    let p = "org.opencontainers.image";
    let mut l = BTreeMap::from([
        (format!("{p}.title"), project.repository(payload)),
        (format!("{p}.source"), meta.source.clone()),
        (format!("{p}.revision"), meta.revision.clone()),
        ("lava.payload".to_string(), payload.to_string()),
        ("lava.realm".to_string(), project.realm.clone()),
        ("lava.env".to_string(), project.env.clone()),
    ]);
    if let Some(c) = &meta.created {
        l.insert(format!("{p}.created"), c.clone());
    }
    l
}

/// The build arguments: `BASE_IMG` (docker.base_img), and `PIP_INDEX_URL` from the caller's
/// environment when set there, as the framework passes it (the default Dockerfile makes it the
/// image's ENV; an own Dockerfile takes it with `ARG PIP_INDEX_URL`).
pub fn build_args(project: &Project) -> BTreeMap<String, String> {
    let mut args = BTreeMap::from([("BASE_IMG".to_string(), project.base_img.clone())]);
    if let Ok(url) = std::env::var("PIP_INDEX_URL") {
        args.insert("PIP_INDEX_URL".to_string(), url);
    }
    args
}

/// The platform as a tag suffix: `linux/amd64` → `amd64`, `linux/arm/v7` → `arm-v7`.
pub fn arch_of(platform: &str) -> String {
    let rest = platform.split_once('/').map_or(platform, |(_, r)| r);
    rest.replace('/', "-")
}

/// The engine's own platform (`docker.platform: host`), e.g. `linux/arm64`.
pub async fn host_platform(docker: &Docker, engine: &str) -> Result<String, BuildError> {
    let v = docker
        .version()
        .await
        .map_err(|source| BuildError::Platform {
            engine: engine.to_string(),
            source,
        })?;
    let os = v.os.unwrap_or_else(|| "linux".into());
    let arch = match v.arch.as_deref() {
        Some("x86_64") | None => "amd64".to_string(),
        Some("aarch64") => "arm64".to_string(),
        Some(a) => a.to_string(),
    };
    Ok(format!("{os}/{arch}"))
}

/// How a run builds.
pub struct Options<'a> {
    pub network: Option<&'a str>,
    pub rebuild: bool,
    pub no_cache: bool,
    /// Decide only: report what would be built, build nothing, tag nothing.
    pub dry_run: bool,
}

/// One payload image on one platform.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Built {
    pub platform: String,
    /// The local name the platform's image carries: `<repo>:<tag>-<arch>`.
    pub local: String,
    /// None on a dry run of an image not built yet.
    pub image_id: Option<String>,
    /// `built`, `unchanged`, or on a dry run `would build`.
    pub status: &'static str,
}

/// Builds `prep` for `platform` (or finds it built), then tags it `<repo>:<tag>-<arch>` for each
/// of `tags`, and `<repo>:<tag>` too when it is the only platform.
#[allow(clippy::too_many_arguments)]
pub async fn build_one(
    docker: &Docker,
    project: &Project,
    prep: &Prepared,
    meta: &Meta,
    platform: &str,
    tags: &[String],
    only_platform: bool,
    opts: &Options<'_>,
) -> Result<Built, BuildError> {
    let name = &prep.payload.name;
    let prefix = format!("[{name} {platform}]");
    let engine_err = |source: EngineError| BuildError::Engine {
        payload: name.clone(),
        platform: platform.to_string(),
        source,
    };
    let repo = project.repository(name);
    let arch = arch_of(platform);
    let local = format!("{repo}:{}-{arch}", tags[0]);
    // What each FROM image is: its id where the engine has it, so a new base makes a new payload.
    let mut bases = Vec::new();
    for image in &prep.from {
        let id = engine::image_id(docker, image).await.map_err(engine_err)?;
        bases.push(id.unwrap_or_else(|| image.clone()));
    }
    let base = bases.join(",");
    let build_args = build_args(project);
    let mut labels = labels(project, name, meta);
    let key = inputs::key(&Inputs {
        context: &prep.context,
        platform,
        build_args: &build_args,
        labels: &labels,
        base: &base,
    });
    // The image the local name already points at, when it has these inputs (one inspect); else
    // any image of these inputs (a label search over every image, slower).
    let named = local_with_key(docker, &local, &key).await;
    let existing = if opts.rebuild || opts.no_cache {
        None
    } else if named.is_some() {
        named.clone()
    } else {
        engine::find_labelled(docker, inputs::LABEL, &key)
            .await
            .map_err(engine_err)?
    };
    let (id, status) = match existing {
        Some(id) => {
            progress::line(
                &prefix,
                format_args!("unchanged: {} (same inputs), not rebuilt", short(&id)),
            );
            (Some(id), "unchanged")
        }
        None if opts.dry_run => {
            progress::line(&prefix, "would build");
            (None, "would build")
        }
        None => {
            labels.insert(inputs::LABEL.into(), key);
            progress::line(
                &prefix,
                format_args!(
                    "building {local} ({} Dockerfile)",
                    if prep.default_dockerfile {
                        "the default"
                    } else {
                        "its own"
                    }
                ),
            );
            engine::build(
                docker,
                BuildRequest {
                    context: prep.context.clone(),
                    tag: &local,
                    platform,
                    build_args,
                    labels,
                    network: opts.network,
                    prefix: &prefix,
                    no_cache: opts.no_cache,
                    pull: false,
                },
            )
            .await
            .map_err(|source| BuildError::Build {
                payload: name.clone(),
                platform: platform.to_string(),
                source,
            })?;
            let id = engine::image_id(docker, &local)
                .await
                .map_err(engine_err)?
                .ok_or_else(|| BuildError::Missing {
                    payload: name.clone(),
                    platform: platform.to_string(),
                    image: local.clone(),
                })?;
            progress::line(&prefix, format_args!("built {local} ({})", short(&id)));
            (Some(id), "built")
        }
    };
    if let (Some(id), false) = (&id, opts.dry_run) {
        let mut names: Vec<String> = tags.iter().map(|t| format!("{repo}:{t}-{arch}")).collect();
        if only_platform {
            names.extend(tags.iter().map(|t| format!("{repo}:{t}")));
        }
        for n in names {
            // The name it was found by needs no tagging.
            if n == local && named.as_ref() == Some(id) {
                continue;
            }
            engine::tag(docker, id, &n).await.map_err(engine_err)?;
        }
    }
    Ok(Built {
        platform: platform.to_string(),
        local,
        image_id: id,
        status,
    })
}

/// The id of the local image `name` when it carries the inputs key `key`. Any failure to tell
/// (no such image, an engine error) is a no: the label search decides then.
async fn local_with_key(docker: &Docker, name: &str, key: &str) -> Option<String> {
    let image = docker.inspect_image(name).await.ok()?;
    let labels = image.config.as_ref()?.labels.as_ref()?;
    (labels.get(inputs::LABEL).map(String::as_str) == Some(key))
        .then_some(image.id)
        .flatten()
}

/// The first 12 hex digits of an image id.
pub fn short(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    &hex[..hex.len().min(12)]
}
