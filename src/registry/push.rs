//! Pushing: one platform's image through the engine (unless the registry already holds it), and the
//! OCI index over the platforms' images (unless the tag already points at the same index).
use super::index::{self, PlatformImage};
use super::{Hint, Registry, RegistryError, at, is_unauthorized, is_unknown};
use crate::engine;
use bollard::Docker;
use bollard::query_parameters::PushImageOptionsBuilder;
use futures::StreamExt;
use oci_client::RegistryOperation;
use oci_client::secrets::RegistryAuth;
use std::collections::BTreeMap;

const DOCKER_SCHEMA2: &str = "application/vnd.docker.distribution.manifest.v2+json";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const MANIFESTS: [&str; 2] = [DOCKER_SCHEMA2, OCI_MANIFEST];

/// One platform's image in the registry, and whether this run uploaded it.
pub struct Pushed {
    pub image: PlatformImage,
    /// false: the registry already held this image (the engine had pushed it before).
    pub uploaded: bool,
}

pub(super) fn platform_image(platform: &str, bytes: &[u8], digest: String) -> PlatformImage {
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

impl Registry {
    /// Authenticates the client for pushing to `r` (a no-op for an anonymous registry).
    async fn auth_push(&self, r: &oci_client::Reference) -> Result<(), RegistryError> {
        self.client
            .auth(r, &self.creds.oci(), RegistryOperation::Push)
            .await
            .map(drop)
            .map_err(|source| RegistryError::Auth {
                reference: r.to_string(),
                source,
            })
    }

    /// Puts `body` (a `what`: manifest or index, of `media_type`) at `r`.
    pub(super) async fn put_manifest(
        &self,
        r: &oci_client::Reference,
        body: Vec<u8>,
        media_type: &str,
        what: &'static str,
    ) -> Result<(), RegistryError> {
        self.auth_push(r).await?;
        let content_type = media_type.parse().map_err(|_| RegistryError::MediaType {
            reference: r.to_string(),
            media_type: media_type.to_string(),
        })?;
        self.client
            .push_manifest_raw(r, body, content_type)
            .await
            .map(drop)
            .map_err(|source| RegistryError::Manifest {
                what,
                reference: r.to_string(),
                source,
            })
    }

    /// What to add to a refused push: when we pushed anonymously and the registry answers an
    /// anonymous request with 401/DENIED, that credentials are missing.
    async fn hint(&self, r: &oci_client::Reference) -> Hint {
        if self.resolved != super::Resolved::Anonymous {
            return Hint::None;
        }
        let anon = RegistryAuth::Anonymous;
        let wants = match self.client.fetch_manifest_digest(r, &anon).await {
            Err(e) if is_unauthorized(&e) => true,
            _ => matches!(
                self.client.auth(r, &anon, RegistryOperation::Push).await,
                Err(e) if is_unauthorized(&e)
            ),
        };
        if wants {
            Hint::NoCredentials
        } else {
            Hint::None
        }
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
    let known: Vec<String> = engine::repo_digests(docker, local)
        .await?
        .into_iter()
        .filter_map(|d| d.strip_prefix(&format!("{repo}@")).map(String::from))
        .collect();
    for digest in known {
        let by_digest = at(repo, None, Some(&digest));
        let (bytes, got) = match reg
            .client
            .pull_manifest_raw(&by_digest, &auth, &MANIFESTS)
            .await
        {
            Ok(found) => found,
            Err(e) => {
                // Gone from the registry (or not readable): pushed again below.
                tracing::debug!(reference = %by_digest, error = %e, "not reused");
                continue;
            }
        };
        if got != digest {
            continue;
        }
        let current = reg.client.fetch_manifest_digest(&tagged, &auth).await.ok();
        if current.as_deref() != Some(digest.as_str()) {
            let media = platform_image(platform, &bytes, got.clone()).media_type;
            reg.put_manifest(&tagged, bytes.to_vec(), &media, "manifest")
                .await?;
        }
        return Ok(Pushed {
            image: platform_image(platform, &bytes, got),
            uploaded: false,
        });
    }

    let reference = format!("{repo}:{tag}");
    engine::tag(docker, local, &reference).await?;
    let mut s = docker.push_image(
        repo,
        Some(PushImageOptionsBuilder::default().tag(tag).build()),
        reg.creds.docker(&reg.host),
    );
    while let Some(item) = s.next().await {
        match item {
            Err(source) => {
                return Err(RegistryError::Push {
                    hint: reg.hint(&tagged).await,
                    reference,
                    source,
                });
            }
            Ok(info) => {
                if let Some(report) = info.error_detail.and_then(|d| d.message) {
                    return Err(RegistryError::PushRefused {
                        hint: reg.hint(&tagged).await,
                        reference,
                        report,
                    });
                }
            }
        }
    }
    let (bytes, digest) = reg
        .client
        .pull_manifest_raw(&tagged, &auth, &MANIFESTS)
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

/// The image `repo@digest` of `platform` as an index lists it, or None when the registry does not
/// have it.
pub async fn manifest_by_digest(
    reg: &Registry,
    repo: &str,
    platform: &str,
    digest: &str,
) -> Result<Option<PlatformImage>, RegistryError> {
    let r = at(repo, None, Some(digest));
    match reg
        .client
        .pull_manifest_raw(&r, &reg.creds.oci(), &MANIFESTS)
        .await
    {
        Ok((bytes, got)) => Ok(Some(platform_image(platform, &bytes, got))),
        Err(e) if is_unknown(&e) => Ok(None),
        Err(source) => Err(RegistryError::Lookup {
            reference: r.to_string(),
            source,
        }),
    }
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
        reg.put_manifest(&r, doc.clone(), index::OCI_INDEX, "index")
            .await?;
        written.push(tag.clone());
    }
    Ok((digest, written))
}
