//! ECR: the image repositories (found, created with their lifecycle policy, listed, deleted) and
//! registry tokens. Images and payloads both keep their repositories here.
use secrecy::{ExposeSecret, SecretString};
use std::collections::BTreeMap;

use super::AwsError;

#[derive(Debug, thiserror::Error)]
pub enum EcrError {
    #[error("creating ECR repository {repository}")]
    Create {
        repository: String,
        #[source]
        source: AwsError,
    },
    #[error("describing ECR repository {repository}")]
    Describe {
        repository: String,
        #[source]
        source: AwsError,
    },
    #[error("creating ECR repository {repository}: the answer has no repository URI")]
    NoUri { repository: String },
    #[error("listing the images of ECR repository {repository}")]
    ListImages {
        repository: String,
        #[source]
        source: AwsError,
    },
    #[error("deleting ECR repository {repository}")]
    Delete {
        repository: String,
        #[source]
        source: AwsError,
    },
    #[error("lifecycle policy of ECR repository {repository}")]
    Lifecycle {
        repository: String,
        #[source]
        source: AwsError,
    },
    #[error("ECR GetAuthorizationToken ({region})")]
    Token {
        region: String,
        #[source]
        source: AwsError,
    },
    #[error("ECR GetAuthorizationToken ({region}): {problem}")]
    BadToken {
        region: String,
        problem: &'static str,
    },
}

/// Whether this run created the repository or found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    New,
    Existed,
}

/// Creates `name` unless it exists ([`create_or_find_repository`]), then sets its lifecycle
/// policy (every time: the policy file may have changed).
pub async fn ensure_repository(
    ecr: &aws_sdk_ecr::Client,
    name: &str,
    lifecycle_policy: &str,
) -> Result<Created, EcrError> {
    let (_, created) = create_or_find_repository(ecr, name, Some(lifecycle_policy)).await?;
    if created == Created::Existed {
        put_lifecycle(ecr, name, lifecycle_policy).await?;
    }
    Ok(created)
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
        .map_err(|e| EcrError::Lifecycle {
            repository: name.to_string(),
            source: AwsError::from_sdk("ECR", &e),
        })?;
    Ok(())
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
        Err(e) => match AwsError::from_sdk("ECR", &e) {
            cause if cause.is("RepositoryNotFoundException") => Ok(None),
            source => Err(EcrError::Describe {
                repository: name.to_string(),
                source,
            }),
        },
    }
}

/// Repository name → URI.
pub type RepositoryUris = BTreeMap<String, String>;

/// The URIs of the repositories `names` that exist, by name: one question for all of them when
/// they all exist (the usual re-install), else one per name, side by side.
pub async fn find_repositories(
    ecr: &aws_sdk_ecr::Client,
    names: &[String],
) -> Result<RepositoryUris, EcrError> {
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
        Err(e) => match AwsError::from_sdk("ECR", &e) {
            cause if cause.is("RepositoryNotFoundException") => {
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
            source => Err(EcrError::Describe {
                repository: names.join(", "),
                source,
            }),
        },
    }
}

/// Creates the repository with scan on push and `policy` when one is given; returns its URI.
pub async fn create_repository(
    ecr: &aws_sdk_ecr::Client,
    name: &str,
    policy: Option<&str>,
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
        .map_err(|e| EcrError::Create {
            repository: name.to_string(),
            source: AwsError::from_sdk("ECR", &e),
        })?;
    if let Some(policy) = policy {
        put_lifecycle(ecr, name, policy).await?;
    }
    out.repository()
        .and_then(|r| r.repository_uri())
        .map(String::from)
        .ok_or_else(|| EcrError::NoUri {
            repository: name.to_string(),
        })
}

/// Creates the repository as `create_repository` does, or finds it when it exists by the time the
/// request arrives (another run made it meanwhile: the other platform's runner of a release), told
/// by the error code `RepositoryAlreadyExistsException`. Returns its URI and which it was.
pub async fn create_or_find_repository(
    ecr: &aws_sdk_ecr::Client,
    name: &str,
    policy: Option<&str>,
) -> Result<(String, Created), EcrError> {
    match create_repository(ecr, name, policy).await {
        Ok(uri) => Ok((uri, Created::New)),
        Err(EcrError::Create { source, .. }) if source.is("RepositoryAlreadyExistsException") => {
            let uri = find_repository(ecr, name)
                .await?
                .ok_or_else(|| EcrError::NoUri {
                    repository: name.to_string(),
                })?;
            Ok((uri, Created::Existed))
        }
        Err(e) => Err(e),
    }
}

/// The repository's images, as `digest (tags)` lines, sorted.
pub async fn list_images(ecr: &aws_sdk_ecr::Client, name: &str) -> Result<Vec<String>, EcrError> {
    let mut out = Vec::new();
    let mut pages = ecr
        .describe_images()
        .repository_name(name)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| EcrError::ListImages {
            repository: name.to_string(),
            source: AwsError::from_sdk("ECR", &e),
        })?;
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
        .map_err(|e| EcrError::Delete {
            repository: name.to_string(),
            source: AwsError::from_sdk("ECR", &e),
        })?;
    Ok(())
}

/// What GetAuthorizationToken gives: a registry user and password (the token is base64 of
/// `AWS:<password>`) and the caller's own registry endpoint (`https://<account>.dkr.ecr.…`).
pub struct RegistryLogin {
    pub user: String,
    pub secret: SecretString,
    pub endpoint: Option<String>,
}

/// A registry login from GetAuthorizationToken.
pub async fn registry_login(sdk: &aws_config::SdkConfig) -> Result<RegistryLogin, EcrError> {
    use base64::Engine as _;
    let region = sdk
        .region()
        .map(|r| r.to_string())
        .unwrap_or_else(|| "no region".into());
    let bad = |problem| EcrError::BadToken {
        region: region.clone(),
        problem,
    };
    let out = aws_sdk_ecr::Client::new(sdk)
        .get_authorization_token()
        .send()
        .await
        .map_err(|e| EcrError::Token {
            region: region.clone(),
            source: AwsError::from_sdk("ECR", &e),
        })?;
    let data = out
        .authorization_data()
        .first()
        .ok_or_else(|| bad("no authorization data in the answer"))?;
    let token = data
        .authorization_token()
        .ok_or_else(|| bad("no token in the answer"))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(token)
        .map_err(|_| bad("the token is not base64"))?;
    let text =
        SecretString::from(String::from_utf8(decoded).map_err(|_| bad("the token is not text"))?);
    let (user, secret) = text
        .expose_secret()
        .split_once(':')
        .ok_or_else(|| bad("the token is not user:password"))?;
    Ok(RegistryLogin {
        user: user.to_string(),
        secret: SecretString::from(secret),
        endpoint: data.proxy_endpoint().map(String::from),
    })
}
