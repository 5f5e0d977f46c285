//! Containers run to their exit: created, started, their output followed line by line, waited for,
//! and removed whatever happened (a removal that fails is reported with its cause). Image checks,
//! bundle builders, payloads and jobs all run their containers through [`run_to_exit`].
use super::EngineError;
use crate::output::progress;
use bollard::Docker;
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, LogsOptionsBuilder, RemoveContainerOptionsBuilder,
};
use futures::StreamExt;

/// Log options that follow a container's stdout and stderr from its start to its exit.
pub fn follow_all() -> bollard::query_parameters::LogsOptions {
    LogsOptionsBuilder::default()
        .follow(true)
        .stdout(true)
        .stderr(true)
        .build()
}

/// What to run, where and as whom.
#[derive(Debug, Clone, Default)]
pub struct ContainerSpec {
    pub image: String,
    /// `linux/amd64`.
    pub platform: String,
    /// The command (no shell unless it names one).
    pub cmd: Vec<String>,
    /// `uid:gid`; the image's user when None.
    pub user: Option<String>,
    /// `NAME=value`.
    pub env: Vec<String>,
    pub working_dir: Option<String>,
    /// `host:container[:ro|rw]`.
    pub binds: Vec<String>,
    /// Network mode: `none`, `host`, `bridge`, …
    pub network: String,
    /// Prefix of the container's name (`lava-check`, `lava-bundle`): a unique suffix is added.
    pub name_prefix: String,
}

/// Runs `spec` to its exit, handing every line of its output (stdout and stderr, as the engine
/// interleaves them) to `on_line`. Returns the exit status: a non-zero status is an answer, not an
/// error. The container is removed in every case.
pub async fn run_to_exit(
    docker: &Docker,
    spec: &ContainerSpec,
    mut on_line: impl FnMut(&str),
) -> Result<i64, EngineError> {
    let name = format!("{}-{}", spec.name_prefix, uuid::Uuid::new_v4().simple());
    let fail = |action: &'static str| {
        let (image, container) = (spec.image.clone(), name.clone());
        move |source| EngineError::Container {
            image,
            container,
            action,
            source: Box::new(source),
        }
    };
    let body = bollard::models::ContainerCreateBody {
        image: Some(spec.image.clone()),
        cmd: Some(spec.cmd.clone()),
        user: spec.user.clone(),
        env: (!spec.env.is_empty()).then(|| spec.env.clone()),
        working_dir: spec.working_dir.clone(),
        host_config: Some(bollard::models::HostConfig {
            binds: (!spec.binds.is_empty()).then(|| spec.binds.clone()),
            network_mode: Some(spec.network.clone()),
            ..Default::default()
        }),
        ..Default::default()
    };
    docker
        .create_container(
            Some(
                CreateContainerOptionsBuilder::default()
                    .name(&name)
                    .platform(&spec.platform)
                    .build(),
            ),
            body,
        )
        .await
        .map_err(fail("creating"))?;
    let result = async {
        docker
            .start_container(
                &name,
                None::<bollard::query_parameters::StartContainerOptions>,
            )
            .await
            .map_err(fail("starting"))?;
        let mut logs = docker.logs(&name, Some(follow_all()));
        let mut pending = String::new();
        while let Some(chunk) = logs.next().await {
            pending.push_str(&chunk.map_err(fail("reading the output of"))?.to_string());
            while let Some(i) = pending.find('\n') {
                let line: String = pending.drain(..=i).collect();
                on_line(line.trim_end_matches(['\n', '\r']));
            }
        }
        if !pending.is_empty() {
            on_line(&pending);
        }
        wait_exit(docker, &name).await.map_err(fail("waiting for"))
    }
    .await;
    if let Err(e) = docker
        .remove_container(
            &name,
            Some(RemoveContainerOptionsBuilder::default().force(true).build()),
        )
        .await
    {
        progress::warn(format_args!(
            "could not remove container {name} (of {}): {e}; remove it with docker rm -f {name}",
            spec.image
        ));
    }
    result
}

/// Runs `/bin/sh -c command` in a new container of `image` for `platform`, without a network:
/// (exit status, output).
pub async fn run_in(
    docker: &Docker,
    image: &str,
    platform: &str,
    command: &str,
) -> Result<(i64, String), EngineError> {
    let spec = ContainerSpec {
        image: image.to_string(),
        platform: platform.to_string(),
        cmd: vec!["/bin/sh".into(), "-c".into(), command.into()],
        network: "none".into(),
        name_prefix: "lava-check".into(),
        ..Default::default()
    };
    let mut out = String::new();
    let status = run_to_exit(docker, &spec, |l| {
        out.push_str(l);
        out.push('\n');
    })
    .await?;
    Ok((status, out))
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
