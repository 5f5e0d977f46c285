//! Registries: credentials (`auth`: user + token, SSM SecureString, ECR), pushing one platform's
//! image and the OCI index that ties the platforms together (`push`), and the index document
//! (`index`), and the digests files of pushes by digest (`digests`). A push first asks the registry what it already holds, so pushing an unchanged image
//! again sends no layer and no manifest.
pub mod auth;
pub mod digests;
mod export;
pub mod index;
mod push;
mod stage;
mod upload;

pub use self::auth::{AuthError, AuthMode, AuthRequest, Resolved, ecr_region, resolve};
use self::auth::{Credentials, fetch, needs_refresh};
pub use self::push::{Pushed, manifest_by_digest, push_index, push_platform};
pub use self::stage::StageError;
pub use self::upload::push_untagged;
use crate::engine::EngineError;
use oci_client::errors::{OciDistributionError, OciErrorCode};
use std::time::Instant;

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("registry credentials")]
    Credentials(#[source] AuthError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The engine's push failed on its way.
    #[error("pushing {reference}{}", hint.text())]
    Push {
        reference: String,
        hint: Hint,
        #[source]
        source: bollard::errors::Error,
    },
    /// The engine reported the push failed (its words: there is no error value to keep).
    #[error("pushing {reference}: {report}{}", hint.text())]
    PushRefused {
        reference: String,
        report: String,
        hint: Hint,
    },
    #[error("reading back {reference}")]
    ReadBack {
        reference: String,
        #[source]
        source: OciDistributionError,
    },
    #[error("looking up {reference}")]
    Lookup {
        reference: String,
        #[source]
        source: OciDistributionError,
    },
    #[error("authenticating to push {reference}")]
    Auth {
        reference: String,
        #[source]
        source: OciDistributionError,
    },
    #[error("pushing the {what} {reference}")]
    Manifest {
        what: &'static str,
        reference: String,
        #[source]
        source: OciDistributionError,
    },
    #[error("preparing {image} for a push by digest")]
    Staging {
        image: String,
        #[source]
        source: StageError,
    },
    #[error("sending blob {digest} to {repository}")]
    Blob {
        digest: String,
        repository: String,
        #[source]
        source: OciDistributionError,
    },
    #[error("pushing {reference}: media type {media_type:?} is not one a manifest can have")]
    MediaType {
        reference: String,
        media_type: String,
    },
}

/// What a failed push adds to its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hint {
    None,
    /// No credentials were given and the registry answers 401/DENIED without them.
    NoCredentials,
}

impl Hint {
    fn text(self) -> &'static str {
        match self {
            Hint::None => "",
            Hint::NoCredentials => {
                " (no credentials were given: set LAVA_REGISTRY_USER with LAVA_REGISTRY_TOKEN or \
                 --token-ssm)"
            }
        }
    }
}

/// Whether the registry's answer says the request needs (other) credentials: HTTP 401, or an OCI
/// error code UNAUTHORIZED or DENIED. By the answer's status and codes, never its text.
pub fn is_unauthorized(e: &OciDistributionError) -> bool {
    match e {
        OciDistributionError::UnauthorizedError { .. }
        | OciDistributionError::AuthenticationFailure(_) => true,
        OciDistributionError::ServerError { code, .. } => *code == 401 || *code == 403,
        OciDistributionError::RegistryError { envelope, .. } => envelope
            .errors
            .iter()
            .any(|e| matches!(e.code, OciErrorCode::Unauthorized | OciErrorCode::Denied)),
        _ => false,
    }
}

/// Whether the registry's answer says the manifest, blob or repository is not there.
pub fn is_unknown(e: &OciDistributionError) -> bool {
    match e {
        OciDistributionError::ImageManifestNotFoundError(_) => true,
        OciDistributionError::ServerError { code, .. } => *code == 404,
        OciDistributionError::RegistryError { envelope, .. } => envelope.errors.iter().any(|e| {
            matches!(
                e.code,
                OciErrorCode::ManifestUnknown
                    | OciErrorCode::BlobUnknown
                    | OciErrorCode::NameUnknown
            )
        }),
        _ => false,
    }
}

/// A registry with its credentials; an ECR token is renewed by age (see `auth::ECR_TOKEN_REUSE`).
pub struct Registry {
    pub host: String,
    resolved: Resolved,
    creds: Credentials,
    fetched: Instant,
    client: oci_client::Client,
}

impl Registry {
    /// Resolves and fetches the credentials (SSM, ECR) once, so a bad parameter name or missing
    /// permission stops the run before anything is built.
    pub async fn connect(host: &str, req: &AuthRequest) -> Result<Registry, RegistryError> {
        let resolved = resolve(req, host).map_err(RegistryError::Credentials)?;
        let creds = fetch(&resolved, req)
            .await
            .map_err(RegistryError::Credentials)?;
        Ok(Registry {
            host: host.to_string(),
            resolved,
            creds,
            fetched: Instant::now(),
            client: oci_client_for(host),
        })
    }

    /// Renews an ECR token older than `auth::ECR_TOKEN_REUSE` (a long build may outlive a token
    /// fetched at the start). Other credentials do not change.
    pub async fn refresh(&mut self, req: &AuthRequest) -> Result<(), RegistryError> {
        if needs_refresh(&self.resolved, self.fetched.elapsed()) {
            self.creds = fetch(&self.resolved, req)
                .await
                .map_err(RegistryError::Credentials)?;
            self.fetched = Instant::now();
            self.client = oci_client_for(&self.host);
        }
        Ok(())
    }

    /// Who we push as (for messages; never the secret).
    pub fn identity(&self) -> String {
        match &self.resolved {
            Resolved::Anonymous => "anonymously".into(),
            Resolved::Ecr { .. } => "with an ECR token".into(),
            Resolved::Token { user, from_ssm } => format!(
                "as {user} (token from {})",
                if *from_ssm {
                    "SSM"
                } else {
                    "LAVA_REGISTRY_TOKEN"
                }
            ),
        }
    }
}

fn oci_client_for(registry: &str) -> oci_client::Client {
    let host = registry.split(':').next().unwrap_or(registry);
    // Plain HTTP only to a registry on this machine, as the Docker engine does.
    let protocol = if host == "localhost" || host.starts_with("127.") || host == "[::1]" {
        oci_client::client::ClientProtocol::Http
    } else {
        oci_client::client::ClientProtocol::Https
    };
    oci_client::Client::new(oci_client::client::ClientConfig {
        protocol,
        // A blob goes up in one streamed PUT: ECR keeps only the first of several PATCHes.
        use_monolithic_push: true,
        ..Default::default()
    })
}

/// `repo` (`host/path`) at `tag` or `@digest`. Built from its parts: parsing a reference string
/// compiles oci-spec's reference grammar, which costs about 50 ms, more than a whole re-push.
fn at(repo: &str, tag: Option<&str>, digest: Option<&str>) -> oci_client::Reference {
    let (host, path) = repo.split_once('/').unwrap_or((repo, ""));
    match (tag, digest) {
        (_, Some(d)) => oci_client::Reference::with_digest(host.into(), path.into(), d.into()),
        (t, None) => {
            oci_client::Reference::with_tag(host.into(), path.into(), t.unwrap_or("latest").into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_built_from_their_parts() {
        let r = at(
            "127.0.0.1:5000/team/lava/amzn2023/base",
            Some("8.3.0-arm64"),
            None,
        );
        assert_eq!(r.registry(), "127.0.0.1:5000");
        assert_eq!(r.repository(), "team/lava/amzn2023/base");
        assert_eq!(
            r.to_string(),
            "127.0.0.1:5000/team/lava/amzn2023/base:8.3.0-arm64"
        );
        let digest = format!("sha256:{}", "ab".repeat(32));
        let d = at("ghcr.io/jin-gizmo/lava/ubuntu24/full", None, Some(&digest));
        let text = format!("ghcr.io/jin-gizmo/lava/ubuntu24/full@{digest}");
        assert_eq!(d.to_string(), text);
        assert_eq!(
            d,
            text.parse::<oci_client::Reference>().unwrap(),
            "the same as a parsed one"
        );
    }

    #[test]
    fn answers_are_told_apart_by_status_and_code() {
        let envelope = |code: &str| OciDistributionError::RegistryError {
            envelope: serde_json::from_str(&format!(
                r#"{{"errors":[{{"code":"{code}","message":"whatever the text"}}]}}"#
            ))
            .unwrap(),
            url: "u".into(),
        };
        assert!(is_unauthorized(&envelope("UNAUTHORIZED")));
        assert!(is_unauthorized(&envelope("DENIED")));
        assert!(!is_unauthorized(&envelope("MANIFEST_UNKNOWN")));
        assert!(is_unknown(&envelope("MANIFEST_UNKNOWN")));
        assert!(!is_unknown(&envelope("DENIED")));
        let server = |code: u16| OciDistributionError::ServerError {
            code,
            url: "u".into(),
            // A message that says "unauthorized" on a 500 is not an auth answer.
            message: "unauthorized".into(),
        };
        assert!(is_unauthorized(&server(401)));
        assert!(!is_unauthorized(&server(500)));
        assert!(is_unknown(&server(404)));
        assert!(is_unauthorized(&OciDistributionError::UnauthorizedError {
            url: "u".into()
        }));
    }
}
