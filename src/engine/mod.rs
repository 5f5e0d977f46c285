//! The Docker Engine API (bollard): connecting, BuildKit builds (`build`), tags, containers run to
//! their exit (`container`), the build context (`context`). Shared by images, bundles, payloads and
//! jobs.
mod build;
pub mod container;
pub mod context;
mod platform;

pub use self::build::{BuildRequest, build};
pub use self::container::{ContainerSpec, run_in, run_to_exit, wait_exit};
pub use self::platform::Platform;

use bollard::Docker;
use bollard::query_parameters::{ListImagesOptionsBuilder, TagImageOptionsBuilder};
use futures::StreamExt;
use std::collections::HashMap;

/// What an engine refused or could not do, with the resource and the engine's error.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("Docker engine {engine}")]
    Connect {
        engine: String,
        #[source]
        source: Box<bollard::errors::Error>,
    },
    #[error("Docker engine {engine} does not answer")]
    Unreachable {
        engine: String,
        #[source]
        source: Box<bollard::errors::Error>,
    },
    #[error("Docker engine {engine}: listing its networks")]
    Networks {
        engine: String,
        #[source]
        source: Box<bollard::errors::Error>,
    },
    #[error("inspecting {image}")]
    Inspect {
        image: String,
        #[source]
        source: Box<bollard::errors::Error>,
    },
    #[error("listing images labelled {label}")]
    List {
        label: String,
        #[source]
        source: Box<bollard::errors::Error>,
    },
    #[error("tagging {id} as {name}")]
    Tag {
        id: String,
        name: String,
        #[source]
        source: Box<bollard::errors::Error>,
    },
    #[error("building {tag}")]
    BuildStream {
        tag: String,
        #[source]
        source: Box<bollard::errors::Error>,
    },
    /// The engine's own account of a failed build (its words: there is no error value to keep).
    #[error("building {tag}: {report}")]
    BuildFailed { tag: String, report: String },
    /// A build step that failed, with the last lines it printed.
    #[error("building {tag}: step {step:?} failed: {error}{}", last_output(.tail))]
    StepFailed {
        tag: String,
        step: String,
        error: String,
        tail: Vec<String>,
    },
    #[error("{action} container {container} of {image}")]
    Container {
        image: String,
        container: String,
        action: &'static str,
        #[source]
        source: Box<bollard::errors::Error>,
    },
    #[error("exporting {image}")]
    Export {
        image: String,
        #[source]
        source: Box<bollard::errors::Error>,
    },
    #[error("saving the export of {image} to {path}")]
    Save {
        image: String,
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("reading the layers of {image}")]
    Layers {
        image: String,
        #[source]
        source: std::io::Error,
    },
}

fn last_output(tail: &[String]) -> String {
    if tail.is_empty() {
        String::new()
    } else {
        format!("; last output: {}", tail.join(" | "))
    }
}

/// Connects to `endpoint` (unix://, tcp://, ssh://) or to DOCKER_HOST / the default socket, and
/// negotiates the API version.
pub async fn connect(endpoint: Option<&str>) -> Result<Docker, EngineError> {
    // TLS engines (https://, or tcp:// with DOCKER_TLS_VERIFY) need the process's provider.
    crate::tls::install_crypto_provider();
    let engine = shown_endpoint(endpoint);
    let d = match endpoint {
        Some(e) => Docker::connect_with_host(e),
        None => Docker::connect_with_defaults(),
    }
    .map_err(|source| EngineError::Connect {
        engine: engine.clone(),
        source: Box::new(source),
    })?;
    d.negotiate_version()
        .await
        .map_err(|source| EngineError::Unreachable {
            engine,
            source: Box::new(source),
        })
}

/// The endpoint as shown in messages: the one given, else DOCKER_HOST, else the default socket.
pub fn shown_endpoint(endpoint: Option<&str>) -> String {
    endpoint
        .map(String::from)
        .or_else(|| std::env::var("DOCKER_HOST").ok().filter(|h| !h.is_empty()))
        .unwrap_or_else(|| "unix:///var/run/docker.sock (the default)".into())
}

/// Whether RUN steps can use the engine's default network: BuildKit on dockerd runs them on the
/// network named `bridge`, which an engine started with `--bridge=none` does not have (the build
/// would fail at the first RUN with "network bridge not found"). Pure: over the network names.
pub fn has_default_bridge<'a>(networks: impl IntoIterator<Item = &'a str>) -> bool {
    networks.into_iter().any(|n| n == "bridge")
}

/// The names of the engine's networks.
pub async fn network_names(docker: &Docker, engine: &str) -> Result<Vec<String>, EngineError> {
    let networks = docker
        .list_networks(None::<bollard::query_parameters::ListNetworksOptions>)
        .await
        .map_err(|source| EngineError::Networks {
            engine: engine.to_string(),
            source: Box::new(source),
        })?;
    Ok(networks.into_iter().filter_map(|n| n.name).collect())
}

/// Whether the engine answered 404 (no such image, container, …): an answer, not a failure.
pub fn is_not_found(e: &bollard::errors::Error) -> bool {
    matches!(
        e,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

/// The id of the local image `name`, or None when the engine has no such image.
pub async fn image_id(docker: &Docker, name: &str) -> Result<Option<String>, EngineError> {
    match docker.inspect_image(name).await {
        Ok(i) => Ok(i.id),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(source) => Err(EngineError::Inspect {
            image: name.to_string(),
            source: Box::new(source),
        }),
    }
}

/// The registry digests the engine recorded for the local image `name` (`repo@sha256:…`, one per
/// repository it was pushed to); empty when it has none or no such image.
pub async fn repo_digests(docker: &Docker, name: &str) -> Result<Vec<String>, EngineError> {
    match docker.inspect_image(name).await {
        Ok(i) => Ok(i.repo_digests.unwrap_or_default()),
        Err(e) if is_not_found(&e) => Ok(Vec::new()),
        Err(source) => Err(EngineError::Inspect {
            image: name.to_string(),
            source: Box::new(source),
        }),
    }
}

/// The id of a local image labelled `label=value` (the newest when there are several).
pub async fn find_labelled(
    docker: &Docker,
    label: &str,
    value: &str,
) -> Result<Option<String>, EngineError> {
    let filters = HashMap::from([("label", vec![format!("{label}={value}")])]);
    let mut images = docker
        .list_images(Some(
            ListImagesOptionsBuilder::default()
                .filters(&filters)
                .build(),
        ))
        .await
        .map_err(|source| EngineError::List {
            label: label.to_string(),
            source: Box::new(source),
        })?;
    images.sort_by_key(|i| std::cmp::Reverse(i.created));
    Ok(images.into_iter().next().map(|i| i.id))
}

/// Gives the local image `id` the name `repo:tag`.
pub async fn tag(docker: &Docker, id: &str, name: &str) -> Result<(), EngineError> {
    let (repo, tag) = name.rsplit_once(':').unwrap_or((name, "latest"));
    docker
        .tag_image(
            id,
            Some(
                TagImageOptionsBuilder::default()
                    .repo(repo)
                    .tag(tag)
                    .build(),
            ),
        )
        .await
        .map_err(|source| EngineError::Tag {
            id: id.to_string(),
            name: name.to_string(),
            source: Box::new(source),
        })
}

/// Writes the engine's export of the local image `image` (`docker save`) to `path`, streamed: an
/// image of any size costs one buffer of memory.
pub async fn export_to(
    docker: &Docker,
    image: &str,
    path: &std::path::Path,
) -> Result<(), EngineError> {
    use tokio::io::AsyncWriteExt;
    let failed = |source: bollard::errors::Error| EngineError::Export {
        image: image.to_string(),
        source: Box::new(source),
    };
    let saving = |source: std::io::Error| EngineError::Save {
        image: image.to_string(),
        path: path.to_path_buf(),
        source,
    };
    let file = tokio::fs::File::create(path).await.map_err(saving)?;
    let mut out = tokio::io::BufWriter::with_capacity(1 << 20, file);
    let mut s = docker.export_image(image);
    while let Some(chunk) = s.next().await {
        out.write_all(&chunk.map_err(failed)?)
            .await
            .map_err(saving)?;
    }
    out.flush().await.map_err(saving)
}

/// The files of every layer of a local image (for the "no build files left" check).
pub async fn layer_files(docker: &Docker, image: &str) -> Result<Vec<String>, EngineError> {
    let mut bytes = Vec::new();
    let mut s = docker.export_image(image);
    while let Some(chunk) = s.next().await {
        bytes.extend_from_slice(&chunk.map_err(|source| EngineError::Export {
            image: image.to_string(),
            source: Box::new(source),
        })?);
    }
    let image = image.to_string();
    tokio::task::spawn_blocking(move || {
        layer_paths(&bytes).map_err(|source| EngineError::Layers { image, source })
    })
    .await
    .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
}

/// The paths inside every layer of an exported image (legacy `*/layer.tar` or OCI `blobs/`).
fn layer_paths(export: &[u8]) -> std::io::Result<Vec<String>> {
    let mut out = Vec::new();
    let mut outer = tar::Archive::new(export);
    for e in outer.entries()? {
        let mut e = e?;
        let path = e.path()?.to_string_lossy().into_owned();
        if path.ends_with("layer.tar") || path.starts_with("blobs/") {
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut data)?;
            // A blob that is not a tar (a manifest, a config) has no files.
            let mut inner = tar::Archive::new(data.as_slice());
            let Ok(entries) = inner.entries() else {
                continue;
            };
            for f in entries.flatten() {
                if let Ok(p) = f.path() {
                    out.push(p.to_string_lossy().into_owned());
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_default_network_is_the_one_named_bridge() {
        // dockerd's own list, and the same engine started with --bridge=none.
        assert!(super::has_default_bridge(["bridge", "host", "none"]));
        assert!(!super::has_default_bridge(["host", "none"]));
        // A user-defined bridge network is not the default one RUN steps use.
        assert!(!super::has_default_bridge([
            "host",
            "none",
            "bridge-lava",
            "my_bridge"
        ]));
    }

    #[test]
    fn a_failed_step_names_itself_and_its_last_lines() {
        let e = super::EngineError::StepFailed {
            tag: "lava/x/base:1-amd64".into(),
            step: "[2/2] RUN run-steps.sh".into(),
            error: "exit code: 3".into(),
            tail: vec!["a".into(), "b".into()],
        };
        assert_eq!(
            e.to_string(),
            "building lava/x/base:1-amd64: step \"[2/2] RUN run-steps.sh\" failed: exit code: 3; \
             last output: a | b"
        );
    }
}
