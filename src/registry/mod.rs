//! Registries: credentials (user + token, SSM SecureString, ECR), pushing one platform's image,
//! and the OCI index that ties the platforms together. A push first asks the registry what it
//! already holds, so pushing an unchanged image again sends no layer and no manifest.
pub mod auth;
pub mod index;

pub use self::auth::{AuthMode, AuthRequest, Resolved, ecr_region, resolve};
use self::auth::{Credentials, fetch, needs_refresh};
use self::index::PlatformImage;
use bollard::Docker;
use bollard::query_parameters::PushImageOptionsBuilder;
use futures::StreamExt;
use std::collections::BTreeMap;
use std::time::Instant;

const DOCKER_SCHEMA2: &str = "application/vnd.docker.distribution.manifest.v2+json";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("registry credentials: {0}")]
    Credentials(String),
    #[error("{0}")]
    Tag(String),
    #[error("pushing {reference}: {message}")]
    Push { reference: String, message: String },
    #[error("reading back {reference}: {source}")]
    ReadBack {
        reference: String,
        source: oci_client::errors::OciDistributionError,
    },
    #[error("pushing the index {reference}: {source}")]
    Index {
        reference: String,
        source: oci_client::errors::OciDistributionError,
    },
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
        let creds = fetch(&resolved, req).await?;
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
            self.creds = fetch(&self.resolved, req).await?;
            self.fetched = Instant::now();
            self.client = oci_client_for(&self.host);
        }
        Ok(())
    }

    /// An engine's push error, with a pointer to the credentials when none were given and the
    /// registry asked for them.
    fn hint(&self, message: String) -> String {
        let m = message.to_lowercase();
        if self.resolved == Resolved::Anonymous
            && (m.contains("auth") || m.contains("denied") || m.contains("401"))
        {
            format!(
                "{message} (no credentials were given: set LAVA_REGISTRY_USER with \
                 LAVA_REGISTRY_TOKEN or --token-ssm)"
            )
        } else {
            message
        }
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

/// One platform's image in the registry, and whether this run uploaded it.
pub struct Pushed {
    pub image: PlatformImage,
    /// false: the registry already held this image (the engine had pushed it before).
    pub uploaded: bool,
}

fn platform_image(platform: &str, bytes: &[u8], digest: String) -> PlatformImage {
    let media_type = serde_json::from_slice::<serde_json::Value>(bytes)
        .ok()
        .and_then(|v| v["mediaType"].as_str().map(String::from))
        .unwrap_or_else(|| DOCKER_SCHEMA2.into());
    PlatformImage {
        platform: platform.to_string(),
        digest,
        size: bytes.len() as i64,
        media_type,
    }
}

/// Pushes the local image `local` as `repo:tag` unless the registry already holds it.
///
/// The engine records the digest of every manifest it pushed (RepoDigests). When one of them is
/// for `repo` and the registry still serves it, nothing is pushed: the tag is moved to it if it
/// points elsewhere. Otherwise the engine pushes (it sends only the layers the registry lacks) and
/// the manifest is read back for its digest, which the engine's push stream does not give.
pub async fn push_platform(
    reg: &Registry,
    docker: &Docker,
    local: &str,
    repo: &str,
    tag: &str,
    platform: &str,
) -> Result<Pushed, RegistryError> {
    let auth = reg.creds.oci();
    let tagged = at(repo, Some(tag), None);
    let known: Vec<String> = docker
        .inspect_image(local)
        .await
        .ok()
        .and_then(|i| i.repo_digests)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|d| d.strip_prefix(&format!("{repo}@")).map(String::from))
        .collect();
    for digest in known {
        let by_digest = at(repo, None, Some(&digest));
        let Ok((bytes, got)) = reg
            .client
            .pull_manifest_raw(&by_digest, &auth, &[DOCKER_SCHEMA2, OCI_MANIFEST])
            .await
        else {
            continue;
        };
        if got != digest {
            continue;
        }
        let current = reg.client.fetch_manifest_digest(&tagged, &auth).await.ok();
        if current.as_deref() != Some(digest.as_str()) {
            let media = platform_image(platform, &bytes, got.clone()).media_type;
            let _ = reg
                .client
                .auth(&tagged, &auth, oci_client::RegistryOperation::Push)
                .await;
            reg.client
                .push_manifest_raw(
                    &tagged,
                    bytes.clone(),
                    media.parse().map_err(|_| RegistryError::Push {
                        reference: tagged.to_string(),
                        message: format!("media type {media:?}"),
                    })?,
                )
                .await
                .map_err(|e| RegistryError::Push {
                    reference: tagged.to_string(),
                    message: e.to_string(),
                })?;
        }
        return Ok(Pushed {
            image: platform_image(platform, &bytes, got),
            uploaded: false,
        });
    }

    crate::engine::tag(docker, local, &format!("{repo}:{tag}"))
        .await
        .map_err(RegistryError::Tag)?;
    let mut s = docker.push_image(
        repo,
        Some(PushImageOptionsBuilder::default().tag(tag).build()),
        reg.creds.docker(&reg.host),
    );
    while let Some(item) = s.next().await {
        let push_err = |message: String| RegistryError::Push {
            reference: format!("{repo}:{tag}"),
            message,
        };
        let info = item.map_err(|e| push_err(reg.hint(e.to_string())))?;
        if let Some(err) = info.error_detail.and_then(|d| d.message) {
            return Err(push_err(reg.hint(err)));
        }
    }
    let (bytes, digest) = reg
        .client
        .pull_manifest_raw(&tagged, &auth, &[DOCKER_SCHEMA2, OCI_MANIFEST])
        .await
        .map_err(|source| RegistryError::ReadBack {
            reference: tagged.to_string(),
            source,
        })?;
    Ok(Pushed {
        image: platform_image(platform, &bytes, digest),
        uploaded: true,
    })
}

/// Pushes the index of `images` under each of `tags`, skipping a tag that already points at the
/// same index. Returns the index digest and the tags that were (re)written.
pub async fn push_index(
    reg: &Registry,
    repo: &str,
    tags: &[String],
    images: &[PlatformImage],
    annotations: &BTreeMap<String, String>,
) -> Result<(String, Vec<String>), RegistryError> {
    let doc = index::document(images, annotations);
    let digest = index::digest(&doc);
    let auth = reg.creds.oci();
    let mut written = Vec::new();
    for tag in tags {
        let r = at(repo, Some(tag), None);
        if reg.client.fetch_manifest_digest(&r, &auth).await.ok() == Some(digest.clone()) {
            continue;
        }
        // Authenticates for push (a no-op for an anonymous registry).
        let _ = reg
            .client
            .auth(&r, &auth, oci_client::RegistryOperation::Push)
            .await;
        reg.client
            .push_manifest_raw(&r, doc.clone(), index_media_type()?)
            .await
            .map_err(|source| RegistryError::Index {
                reference: r.to_string(),
                source,
            })?;
        written.push(tag.clone());
    }
    Ok((digest, written))
}

fn index_media_type<T: std::str::FromStr>() -> Result<T, RegistryError> {
    index::OCI_INDEX.parse().map_err(|_| RegistryError::Push {
        reference: index::OCI_INDEX.to_string(),
        message: "not a valid media type".into(),
    })
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
}
