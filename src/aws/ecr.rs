//! ECR: the image repositories (created once, with their lifecycle policy) and registry tokens.
use secrecy::{ExposeSecret, SecretString};

use super::AwsError;

#[derive(Debug, thiserror::Error)]
pub enum EcrError {
    #[error("creating ECR repository {repository}")]
    Create {
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

/// Creates `name` unless it exists (told by the error code `RepositoryAlreadyExistsException`),
/// then sets its lifecycle policy (every time: the policy file may have changed).
pub async fn ensure_repository(
    ecr: &aws_sdk_ecr::Client,
    name: &str,
    lifecycle_policy: &str,
) -> Result<Created, EcrError> {
    let created = match ecr.create_repository().repository_name(name).send().await {
        Ok(_) => Created::New,
        Err(e) => match AwsError::from_sdk("ECR", &e) {
            cause if cause.is("RepositoryAlreadyExistsException") => Created::Existed,
            source => {
                return Err(EcrError::Create {
                    repository: name.to_string(),
                    source,
                });
            }
        },
    };
    ecr.put_lifecycle_policy()
        .repository_name(name)
        .lifecycle_policy_text(lifecycle_policy)
        .send()
        .await
        .map_err(|e| EcrError::Lifecycle {
            repository: name.to_string(),
            source: AwsError::from_sdk("ECR", &e),
        })?;
    Ok(created)
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
