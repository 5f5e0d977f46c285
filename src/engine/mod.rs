//! The Docker Engine API (bollard): connecting, BuildKit builds, tags, containers run to their exit.
//! Shared by images, bundles, payloads and jobs.
pub mod context;

use bollard::Docker;
use bollard::models::BuildInfoAux;
use bollard::query_parameters::{
    BuildImageOptionsBuilder, BuilderVersion, CreateContainerOptionsBuilder,
    ListImagesOptionsBuilder, LogsOptionsBuilder, RemoveContainerOptionsBuilder,
    TagImageOptionsBuilder,
};
use futures::StreamExt;
use std::collections::{BTreeMap, HashMap, VecDeque};

/// Connects to `endpoint` (unix://, tcp://, ssh://) or to DOCKER_HOST / the default socket, and
/// negotiates the API version.
pub async fn connect(endpoint: Option<&str>) -> Result<Docker, String> {
    // TLS engines (https://, or tcp:// with DOCKER_TLS_VERIFY) need the process's provider.
    crate::tls::install_crypto_provider();
    let shown = shown_endpoint(endpoint);
    let d = match endpoint {
        Some(e) => Docker::connect_with_host(e),
        None => Docker::connect_with_defaults(),
    }
    .map_err(|e| format!("Docker engine {shown}: {e}"))?;
    d.negotiate_version()
        .await
        .map_err(|e| format!("Docker engine {shown} does not answer: {e}"))
}

/// What an engine could not tell us.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("Docker engine {engine}: listing its networks: {source}")]
    Networks {
        engine: String,
        #[source]
        source: bollard::errors::Error,
    },
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
            source,
        })?;
    Ok(networks.into_iter().filter_map(|n| n.name).collect())
}

/// One build of one image for one platform.
pub struct BuildRequest<'a> {
    pub context: Vec<u8>,
    pub tag: &'a str,
    pub platform: &'a str,
    pub build_args: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    /// `host`/`none` where the engine has no bridge network.
    pub network: Option<&'a str>,
    /// Prefix of every output line, e.g. `[amzn2023/base linux/amd64]`.
    pub prefix: &'a str,
    /// Do not use the engine's layer cache.
    pub no_cache: bool,
    /// Fetch the FROM image from its registry even when the engine has a copy.
    pub pull: bool,
}

/// Builds with BuildKit, streaming the steps' output. On failure: the step and its last lines.
pub async fn build(docker: &Docker, req: BuildRequest<'_>) -> Result<(), String> {
    let args: HashMap<String, String> = req.build_args.into_iter().collect();
    let labels: HashMap<String, String> = req.labels.into_iter().collect();
    let session = format!("lava-build-{}", uuid::Uuid::new_v4().simple());
    let mut opts = BuildImageOptionsBuilder::default()
        .dockerfile("Dockerfile")
        .t(req.tag)
        .platform(req.platform)
        .buildargs(&args)
        .labels(&labels)
        .rm(true)
        .nocache(req.no_cache)
        .version(BuilderVersion::BuilderBuildKit)
        .session(&session);
    if let Some(n) = req.network {
        opts = opts.networkmode(n);
    }
    if req.pull {
        opts = opts.pull("1");
    }
    let mut stream = docker.build_image(
        opts.build(),
        None,
        Some(bollard::body_full(req.context.into())),
    );
    let mut names: HashMap<String, String> = HashMap::new();
    let mut tails: HashMap<String, VecDeque<String>> = HashMap::new();
    let mut failure: Option<String> = None;
    while let Some(item) = stream.next().await {
        let info = match item {
            Ok(i) => i,
            Err(e) => {
                failure.get_or_insert_with(|| e.to_string());
                break;
            }
        };
        if let Some(err) = info.error_detail.and_then(|d| d.message) {
            failure.get_or_insert(err);
        }
        if let Some(s) = info.stream {
            for l in s.lines().filter(|l| !l.trim().is_empty()) {
                eprintln!("{} {l}", req.prefix);
            }
        }
        if let Some(BuildInfoAux::BuildKit(status)) = info.aux {
            for v in &status.vertexes {
                if !v.name.is_empty() {
                    if !names.contains_key(&v.digest) && !v.name.starts_with("[internal]") {
                        eprintln!("{} {}", req.prefix, v.name);
                    }
                    names.insert(v.digest.clone(), v.name.clone());
                }
                if !v.error.is_empty() && failure.is_none() {
                    let tail = tails
                        .get(&v.digest)
                        .map(|t| t.iter().cloned().collect::<Vec<_>>().join(" | "))
                        .unwrap_or_default();
                    failure = Some(format!(
                        "step {:?} failed: {}{}",
                        v.name,
                        v.error,
                        if tail.is_empty() {
                            String::new()
                        } else {
                            format!("; last output: {tail}")
                        }
                    ));
                }
            }
            for log in &status.logs {
                let text = String::from_utf8_lossy(&log.msg);
                let tail = tails.entry(log.vertex.clone()).or_default();
                for l in text.lines().filter(|l| !l.trim().is_empty()) {
                    eprintln!("{}   {l}", req.prefix);
                    tail.push_back(l.to_string());
                    if tail.len() > 8 {
                        tail.pop_front();
                    }
                }
            }
        }
    }
    match failure {
        Some(f) => Err(f),
        None => Ok(()),
    }
}

fn is_not_found(e: &bollard::errors::Error) -> bool {
    matches!(
        e,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

/// The id of the local image `name`, or None when the engine has no such image.
pub async fn image_id(docker: &Docker, name: &str) -> Result<Option<String>, String> {
    match docker.inspect_image(name).await {
        Ok(i) => Ok(i.id),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(format!("inspecting {name}: {e}")),
    }
}

/// The id of a local image labelled `label=value` (the newest when there are several).
pub async fn find_labelled(
    docker: &Docker,
    label: &str,
    value: &str,
) -> Result<Option<String>, String> {
    let filters = HashMap::from([("label", vec![format!("{label}={value}")])]);
    let mut images = docker
        .list_images(Some(
            ListImagesOptionsBuilder::default()
                .filters(&filters)
                .build(),
        ))
        .await
        .map_err(|e| format!("listing images labelled {label}: {e}"))?;
    images.sort_by_key(|i| std::cmp::Reverse(i.created));
    Ok(images.into_iter().next().map(|i| i.id))
}

/// Gives the local image `id` the name `repo:tag`.
pub async fn tag(docker: &Docker, id: &str, name: &str) -> Result<(), String> {
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
        .map_err(|e| format!("tagging {id} as {name}: {e}"))
}

/// Runs `/bin/sh -c command` in a new container of `image` for `platform`: (exit status, output).
pub async fn run_in(
    docker: &Docker,
    image: &str,
    platform: &str,
    command: &str,
) -> Result<(i64, String), String> {
    let name = format!("lava-check-{}", uuid::Uuid::new_v4().simple());
    let body = bollard::models::ContainerCreateBody {
        image: Some(image.to_string()),
        cmd: Some(vec!["/bin/sh".into(), "-c".into(), command.into()]),
        host_config: Some(bollard::models::HostConfig {
            network_mode: Some("none".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    docker
        .create_container(
            Some(
                CreateContainerOptionsBuilder::default()
                    .name(&name)
                    .platform(platform)
                    .build(),
            ),
            body,
        )
        .await
        .map_err(|e| format!("creating a container of {image}: {e}"))?;
    let result = async {
        docker
            .start_container(
                &name,
                None::<bollard::query_parameters::StartContainerOptions>,
            )
            .await
            .map_err(|e| format!("starting a container of {image}: {e}"))?;
        let code = wait_exit(docker, &name)
            .await
            .map_err(|e| format!("waiting for {name}: {e}"))?;
        let mut out = String::new();
        let mut logs = docker.logs(
            &name,
            Some(
                LogsOptionsBuilder::default()
                    .stdout(true)
                    .stderr(true)
                    .build(),
            ),
        );
        while let Some(Ok(chunk)) = logs.next().await {
            out.push_str(&chunk.to_string());
        }
        Ok((code, out))
    }
    .await;
    if let Err(e) = docker
        .remove_container(
            &name,
            Some(RemoveContainerOptionsBuilder::default().force(true).build()),
        )
        .await
    {
        tracing::warn!(container = %name, error = %e, "could not remove the check container");
    }
    result
}

/// Waits for the container `name` to stop and returns its exit status (a non-zero status is an
/// answer, not an error).
pub async fn wait_exit(docker: &Docker, name: &str) -> Result<i64, bollard::errors::Error> {
    let mut code = 0;
    let mut w = docker.wait_container(
        name,
        None::<bollard::query_parameters::WaitContainerOptions>,
    );
    while let Some(r) = w.next().await {
        match r {
            Ok(x) => code = x.status_code,
            Err(bollard::errors::Error::DockerContainerWaitError { code: c, .. }) => code = c,
            Err(e) => return Err(e),
        }
    }
    Ok(code)
}

/// The files of every layer of a local image (for the "no build files left" check).
pub async fn layer_files(docker: &Docker, image: &str) -> Result<Vec<String>, String> {
    let mut bytes = Vec::new();
    let mut s = docker.export_image(image);
    while let Some(chunk) = s.next().await {
        bytes.extend_from_slice(&chunk.map_err(|e| format!("exporting {image}: {e}"))?);
    }
    let mut out = Vec::new();
    let mut outer = tar::Archive::new(bytes.as_slice());
    for e in outer.entries().map_err(|e| e.to_string())? {
        let mut e = e.map_err(|e| e.to_string())?;
        let path = e
            .path()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        if path.ends_with("layer.tar") || path.starts_with("blobs/") {
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut data).map_err(|e| e.to_string())?;
            let mut inner = tar::Archive::new(data.as_slice());
            if let Ok(entries) = inner.entries() {
                for f in entries.flatten() {
                    if let Ok(p) = f.path() {
                        out.push(p.to_string_lossy().into_owned());
                    }
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
}
