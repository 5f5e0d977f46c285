//! The docker connector (seed 003): which connection, the engine it names (with TLS and an API
//! timeout), the registry credentials (ECR, an SSM SecureString, or none), and the pull. The
//! credentials go with the one pull: no login state is written to any docker config file.
use super::JobError;
use super::connection::{Connection, RegistryKind};
use super::spec::{Job, Payload, Realm};
use crate::config::ConfigError;
use crate::engine;
use crate::registry::auth::{self, Credentials};
use bollard::Docker;
use bollard::query_parameters::CreateImageOptionsBuilder;
use futures::StreamExt;
use std::time::Duration;

/// The conn_id of the job's docker connection: its `parameters.docker`, else the realm's `docker`.
pub fn conn_id(job: &Job, realm: &Realm, origin: &str) -> Result<String, ConfigError> {
    job.docker.clone().or_else(|| realm.docker.clone()).ok_or_else(|| ConfigError::Missing {
        param: format!("{origin}: parameters.docker"),
        hint: format!(
            "the job names no docker connection and realm {} has no `docker` either; set one of them",
            realm.realm
        ),
    })
}

/// The engine endpoint a connection's `server` and `tls` mean (None: DOCKER_HOST / the default).
pub fn endpoint(conn: &Connection) -> Option<String> {
    let s = conn.server.as_deref()?;
    Some(match s.strip_prefix("tcp://") {
        Some(rest) if conn.tls => format!("https://{rest}"),
        Some(rest) => format!("http://{rest}"),
        None => s.to_string(),
    })
}

/// Connects to the connection's engine; each API call is bounded by its `timeout` when it has one.
pub async fn connect(conn: &Connection) -> Result<(Docker, String), JobError> {
    let endpoint = endpoint(conn);
    let shown = engine::shown_endpoint(endpoint.as_deref());
    let connecting = engine::connect(endpoint.as_deref());
    let docker = match conn.timeout {
        // The first call (the version negotiation) is bounded too.
        Some(t) => {
            tokio::time::timeout(t, connecting)
                .await
                .map_err(|_| JobError::EngineTimeout {
                    conn_id: conn.conn_id.clone(),
                    endpoint: shown.clone(),
                    secs: t.as_secs_f64(),
                })?
        }
        None => connecting.await,
    }
    .map_err(|source| JobError::Engine {
        conn_id: conn.conn_id.clone(),
        source,
    })?;
    Ok(match conn.timeout {
        Some(t) => (docker.with_timeout(t), shown),
        None => (docker, shown),
    })
}

/// The image to pull and the credentials to pull it with.
pub struct Source {
    /// The payload exactly as written: a worker pulls nothing else.
    pub image: String,
    /// The registry the image is pulled from (`docker.io` for a host-less payload).
    pub registry: String,
    /// The connection's credentials, only when they belong to `registry`.
    pub credentials: Option<Credentials>,
    /// The connection's registry when its credentials were kept back from a pull elsewhere.
    pub withheld: Option<String>,
}

/// The registry a name is pulled from, as docker resolves it; Docker Hub's names are one.
pub fn registry_host(name: &str) -> String {
    let host = name
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap_or_default();
    match host {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => {
            "docker.io".to_string()
        }
        h => h.to_string(),
    }
}

/// Whether credentials for `cred_registry` go with a pull from `pull_registry`: only to that
/// registry (a pull elsewhere, Docker Hub or `evil.example.com`, gets none).
pub fn credentials_belong(cred_registry: &str, pull_registry: &str) -> bool {
    registry_host(cred_registry) == registry_host(pull_registry)
}

/// Resolves the registry and fetches the connection's credentials: an ECR token (for the ECR
/// registry of the account), the SSM SecureString password of a private registry, or none. The
/// payload is pulled as written; the credentials go with it only to their own registry.
pub async fn source(
    sdk: &aws_config::SdkConfig,
    conn: &Connection,
    payload: &Payload,
) -> Result<Source, JobError> {
    let image = payload.reference();
    let pull_registry = payload.registry().unwrap_or("docker.io").to_string();
    let (cred_registry, creds) = match &conn.registry {
        RegistryKind::Public => (None, None),
        RegistryKind::Ecr { account } => {
            let (host, creds) =
                auth::ecr_login(sdk, account.as_deref())
                    .await
                    .map_err(|source| JobError::Credentials {
                        conn_id: conn.conn_id.clone(),
                        source,
                    })?;
            (Some(host), Some(creds))
        }
        RegistryKind::Private {
            host,
            user,
            password_ssm,
        } => {
            let secret = auth::ssm_secure_string(sdk, password_ssm)
                .await
                .map_err(|e| JobError::Credentials {
                    conn_id: conn.conn_id.clone(),
                    source: e.into(),
                })?;
            (
                Some(host.clone()),
                Some(Credentials {
                    user: Some(user.clone()),
                    secret: Some(secret),
                }),
            )
        }
    };
    let (credentials, withheld) = match cred_registry {
        Some(r) if credentials_belong(&r, &pull_registry) => (creds, None),
        Some(r) => (None, Some(r)),
        None => (None, None),
    };
    Ok(Source {
        image,
        registry: pull_registry,
        credentials,
        withheld,
    })
}

/// When to pull the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PullPolicy {
    /// Every run, as a lava worker does.
    #[default]
    Always,
    /// Only when the engine has no image of that name.
    Missing,
    /// Never: the engine must have the image.
    Never,
}

/// Why a pull failed.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error(transparent)]
    Inspect(crate::engine::EngineError),
    #[error("the engine has no such image and --pull is never")]
    NotPresent,
    #[error("the engine's pull")]
    Engine(#[source] Box<bollard::errors::Error>),
    /// The registry's (or engine's) own words, as the pull stream reported them.
    #[error("{0}")]
    Refused(String),
}

/// Pulls `src.image` (unless the policy says otherwise) with its credentials.
pub async fn pull(docker: &Docker, src: &Source, policy: PullPolicy) -> Result<(), JobError> {
    let fail = |source: PullError| JobError::Pull {
        image: src.image.clone(),
        registry: src.registry.clone(),
        source,
    };
    if policy != PullPolicy::Always {
        let have = engine::image_id(docker, &src.image)
            .await
            .map_err(|e| fail(PullError::Inspect(e)))?;
        match (have, policy) {
            (Some(_), _) => return Ok(()),
            (None, PullPolicy::Never) => return Err(fail(PullError::NotPresent)),
            _ => {}
        }
    }
    let (repo, tag) = match src.image.split_once('@') {
        Some(split) => split,
        None => src
            .image
            .rsplit_once(':')
            .filter(|(_, t)| !t.contains('/'))
            .unwrap_or((src.image.as_str(), "latest")),
    };
    let creds = src
        .credentials
        .as_ref()
        .and_then(|c| c.for_engine(&src.registry));
    let mut stream = docker.create_image(
        Some(
            CreateImageOptionsBuilder::default()
                .from_image(repo)
                .tag(tag)
                .build(),
        ),
        None,
        creds,
    );
    while let Some(item) = stream.next().await {
        let info = item.map_err(|e| fail(PullError::Engine(Box::new(e))))?;
        if let Some(m) = info.error_detail.and_then(|d| d.message) {
            return Err(fail(PullError::Refused(m)));
        }
    }
    Ok(())
}

/// The engine clone used for waiting and following logs: no API timeout shorter than the run.
pub fn long_lived(docker: &Docker, run_timeout: Duration) -> Docker {
    docker
        .clone()
        .with_timeout(run_timeout + Duration::from_secs(120))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_go_only_to_their_own_registry() {
        let p = |s: &str| Payload::parse(s).unwrap();
        let pulled = |s: &str| p(s).registry().unwrap_or("docker.io").to_string();
        assert!(credentials_belong(
            "127.0.0.1:5001",
            &pulled("127.0.0.1:5001/a/b:1")
        ));
        assert!(credentials_belong(
            "https://ghcr.io/",
            &pulled("ghcr.io/x/y")
        ));
        assert!(!credentials_belong(
            "127.0.0.1:5001",
            &pulled("127.0.0.1:5002/a/b")
        ));
        assert!(!credentials_belong(
            "ghcr.io",
            &pulled("evil.example.com/x")
        ));
        assert!(!credentials_belong("ghcr.io", &pulled("library/busybox")));
        assert!(!credentials_belong(
            "123456789012.dkr.ecr.us-east-1.amazonaws.com",
            &pulled("jin-gizmo/lava/amzn2023/base")
        ));
        assert!(credentials_belong("index.docker.io", &pulled("busybox")));
    }

    fn conn(server: Option<&str>, tls: bool) -> Connection {
        Connection {
            conn_id: "c".into(),
            registry: RegistryKind::Public,
            email: None,
            server: server.map(String::from),
            tls,
            timeout: None,
        }
    }

    #[test]
    fn server_and_tls_name_the_endpoint() {
        assert_eq!(endpoint(&conn(None, true)), None);
        assert_eq!(
            endpoint(&conn(Some("tcp://docker:2376"), true)).as_deref(),
            Some("https://docker:2376")
        );
        assert_eq!(
            endpoint(&conn(Some("tcp://docker:2375"), false)).as_deref(),
            Some("http://docker:2375")
        );
        assert_eq!(
            endpoint(&conn(Some("unix:///run/docker.sock"), true)).as_deref(),
            Some("unix:///run/docker.sock")
        );
        assert_eq!(
            endpoint(&conn(Some("https://docker:2376"), true)).as_deref(),
            Some("https://docker:2376")
        );
    }
}
