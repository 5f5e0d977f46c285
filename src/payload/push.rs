//! Where payload images go: their ECR repositories (created with scan on push and the lifecycle
//! policy, deleted with their images) and the push of one payload's platform images through the
//! shared registry code (by digest; one OCI index when there are several platforms).
use super::build::{Built, arch_of};
use crate::registry::{self, Registry, RegistryError};
use bollard::Docker;
use std::collections::BTreeMap;

/// The lifecycle policy of our images (`images/lifecycle.json`), the default for payloads too.
pub const DEFAULT_LIFECYCLE: &str = include_str!("../../images/lifecycle.json");

/// An ECR call that failed, naming the repository; `code` is the AWS error code when there is one.
#[derive(Debug, thiserror::Error)]
#[error("ECR repository {repository}: {action}: {message}")]
pub struct EcrError {
    pub repository: String,
    pub action: &'static str,
    pub code: Option<String>,
    pub message: String,
}

fn ecr_err<E, R>(
    repository: &str,
    action: &'static str,
) -> impl FnOnce(aws_sdk_ecr::error::SdkError<E, R>) -> EcrError
where
    E: aws_sdk_ecr::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let repository = repository.to_string();
    move |e| EcrError {
        repository,
        action,
        code: crate::aws::error_code(&e),
        message: crate::aws::describe(&e),
    }
}

/// The repository's URI (`<account>.dkr.ecr.<region>.amazonaws.com/<name>`), None when missing.
pub async fn find_repository(
    ecr: &aws_sdk_ecr::Client,
    name: &str,
) -> Result<Option<String>, EcrError> {
    match ecr
        .describe_repositories()
        .repository_names(name)
        .send()
        .await
    {
        Ok(out) => Ok(out
            .repositories()
            .first()
            .and_then(|r| r.repository_uri())
            .map(String::from)),
        Err(e) if crate::aws::error_code(&e).as_deref() == Some("RepositoryNotFoundException") => {
            Ok(None)
        }
        Err(e) => Err(ecr_err(name, "describing it")(e)),
    }
}

/// The URIs of the repositories `names` that exist (by name): one question for all of them when
/// they all exist (the usual re-install), else one per name, side by side.
pub async fn find_repositories(
    ecr: &aws_sdk_ecr::Client,
    names: &[String],
) -> Result<BTreeMap<String, String>, EcrError> {
    let all = ecr
        .describe_repositories()
        .set_repository_names(Some(names.to_vec()))
        .send()
        .await;
    match all {
        Ok(out) => Ok(out
            .repositories()
            .iter()
            .filter_map(|r| Some((r.repository_name()?.into(), r.repository_uri()?.into())))
            .collect()),
        Err(e) if crate::aws::error_code(&e).as_deref() == Some("RepositoryNotFoundException") => {
            let each = names.iter().map(|n| async move {
                find_repository(ecr, n)
                    .await
                    .map(|uri| uri.map(|u| (n.clone(), u)))
            });
            Ok(futures::future::try_join_all(each)
                .await?
                .into_iter()
                .flatten()
                .collect())
        }
        Err(e) => Err(ecr_err(&names.join(", "), "describing it")(e)),
    }
}

/// Creates the repository (scan on push) with `policy`; returns its URI.
pub async fn create_repository(
    ecr: &aws_sdk_ecr::Client,
    name: &str,
    policy: &str,
) -> Result<String, EcrError> {
    let out = ecr
        .create_repository()
        .repository_name(name)
        .image_scanning_configuration(
            aws_sdk_ecr::types::ImageScanningConfiguration::builder()
                .scan_on_push(true)
                .build(),
        )
        .send()
        .await
        .map_err(ecr_err(name, "creating it"))?;
    put_lifecycle(ecr, name, policy).await?;
    out.repository()
        .and_then(|r| r.repository_uri())
        .map(String::from)
        .ok_or_else(|| EcrError {
            repository: name.to_string(),
            action: "creating it",
            code: None,
            message: "the answer has no repository URI".into(),
        })
}

/// Sets the repository's lifecycle policy.
pub async fn put_lifecycle(
    ecr: &aws_sdk_ecr::Client,
    name: &str,
    policy: &str,
) -> Result<(), EcrError> {
    ecr.put_lifecycle_policy()
        .repository_name(name)
        .lifecycle_policy_text(policy)
        .send()
        .await
        .map_err(ecr_err(name, "setting its lifecycle policy"))?;
    Ok(())
}

/// The repository's images, as `digest (tags)` lines.
pub async fn list_images(ecr: &aws_sdk_ecr::Client, name: &str) -> Result<Vec<String>, EcrError> {
    let mut out = Vec::new();
    let mut pages = ecr
        .describe_images()
        .repository_name(name)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(ecr_err(name, "listing its images"))?;
        for d in page.image_details() {
            let tags = d.image_tags().join(", ");
            out.push(format!(
                "{} ({})",
                d.image_digest().unwrap_or("?"),
                if tags.is_empty() { "untagged" } else { &tags }
            ));
        }
    }
    out.sort();
    Ok(out)
}

/// Deletes the repository with its images.
pub async fn delete_repository(ecr: &aws_sdk_ecr::Client, name: &str) -> Result<(), EcrError> {
    ecr.delete_repository()
        .repository_name(name)
        .force(true)
        .send()
        .await
        .map_err(ecr_err(name, "deleting it"))?;
    Ok(())
}

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
        let tag = format!("{}-{}", tags[0], arch_of(&b.platform));
        let p = registry::push_platform(reg, docker, &b.local, repo, &tag, &b.platform).await?;
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
