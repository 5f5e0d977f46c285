//! Where payload images go: the push of one payload's platform images through the shared registry
//! code (by digest; one OCI index when there are several platforms). Their ECR repositories are
//! kept by `crate::aws::ecr`.
use super::build::{Built, arch_of};
use crate::registry::{self, Registry, RegistryError};
use bollard::Docker;
use std::collections::BTreeMap;

/// One payload in the registry.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Pushed {
    /// `host/repo`.
    pub repository: String,
    /// The digest `latest` points at: the image's, or the index's when several platforms.
    pub digest: String,
    /// Whether anything (a layer, a manifest, an index, a tag) was written.
    pub uploaded: bool,
}

/// Pushes a payload's platform images to `repo` (`host/path`) as each of `tags`: one platform is
/// pushed as the tags themselves; several as `<tag>-<arch>` each plus one OCI index per tag.
pub async fn push_payload(
    reg: &Registry,
    docker: &Docker,
    repo: &str,
    built: &[Built],
    tags: &[String],
    annotations: &BTreeMap<String, String>,
) -> Result<Pushed, RegistryError> {
    if let [one] = built {
        let mut uploaded = false;
        let mut digest = String::new();
        for t in tags {
            let p =
                registry::push_platform(reg, docker, &one.local, repo, t, &one.platform).await?;
            uploaded |= p.uploaded;
            digest = p.image.digest;
        }
        return Ok(Pushed {
            repository: repo.to_string(),
            digest,
            uploaded,
        });
    }
    let mut images = Vec::new();
    let mut uploaded = false;
    for b in built {
        let p = push_one_platform(reg, docker, b, repo, &tags[0]).await?;
        uploaded |= p.uploaded;
        images.push(p.image);
    }
    let (digest, written) = registry::push_index(reg, repo, tags, &images, annotations).await?;
    Ok(Pushed {
        repository: repo.to_string(),
        digest,
        uploaded: uploaded || !written.is_empty(),
    })
}

/// Pushes one platform's image of a payload to `repo` through the engine as `<tag>-<arch>` (the
/// engine's push always writes a tag), for the index of a one-shot install.
pub async fn push_one_platform(
    reg: &Registry,
    docker: &Docker,
    built: &Built,
    repo: &str,
    tag: &str,
) -> Result<registry::Pushed, RegistryError> {
    let tag = format!("{tag}-{}", arch_of(&built.platform));
    registry::push_platform(reg, docker, &built.local, repo, &tag, &built.platform).await
}

/// What `--push-by-digest` pushed of one payload: no index, no tag of its own.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ByDigest {
    /// `host/repo`.
    pub repository: String,
    /// Platform → the digest of its image.
    pub digests: BTreeMap<String, String>,
    /// Whether anything (a layer, a manifest) was written.
    pub uploaded: bool,
}

/// Pushes each of a payload's platform images by digest alone, with no tag (the first half of a
/// release on native runners; `payload index` writes the index).
pub async fn push_by_digest(
    reg: &Registry,
    docker: &Docker,
    repo: &str,
    built: &[Built],
) -> Result<ByDigest, RegistryError> {
    let mut out = ByDigest {
        repository: repo.to_string(),
        digests: BTreeMap::new(),
        uploaded: false,
    };
    for b in built {
        let p = registry::push_untagged(reg, docker, &b.local, repo, &b.platform).await?;
        out.uploaded |= p.uploaded;
        out.digests.insert(b.platform.clone(), p.image.digest);
    }
    Ok(out)
}
