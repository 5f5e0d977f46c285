//! ECR: the image repositories (created once, with their lifecycle policy) and registry tokens.
use secrecy::{ExposeSecret, SecretString};

/// What an AWS service (or the way to it) answered: its error code, for telling cases apart, and
/// one line describing it.
#[derive(Debug, thiserror::Error)]
#[error("{text}")]
pub struct AwsCause {
    pub code: Option<String>,
    text: String,
}

impl AwsCause {
    pub fn from_sdk<E, R>(err: &aws_sdk_ecr::error::SdkError<E, R>) -> Self
    where
        E: aws_sdk_ecr::error::ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        AwsCause {
            code: super::error_code(err),
            text: super::describe(err),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EcrError {
    #[error("creating ECR repository {repository}")]
    Create {
        repository: String,
        #[source]
        source: AwsCause,
    },
    #[error("lifecycle policy of ECR repository {repository}")]
    Lifecycle {
        repository: String,
        #[source]
        source: AwsCause,
    },
    #[error("ECR GetAuthorizationToken ({region})")]
    Token {
        region: String,
        #[source]
        source: AwsCause,
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
        Err(e) if super::error_code(&e).as_deref() == Some("RepositoryAlreadyExistsException") => {
            Created::Existed
        }
        Err(e) => {
            return Err(EcrError::Create {
                repository: name.to_string(),
                source: AwsCause::from_sdk(&e),
            });
        }
    };
    ecr.put_lifecycle_policy()
        .repository_name(name)
        .lifecycle_policy_text(lifecycle_policy)
        .send()
        .await
        .map_err(|e| EcrError::Lifecycle {
            repository: name.to_string(),
            source: AwsCause::from_sdk(&e),
        })?;
    Ok(created)
}

/// A registry user and password from GetAuthorizationToken (base64 of `AWS:<password>`).
pub async fn registry_login(
    sdk: &aws_config::SdkConfig,
) -> Result<(String, SecretString), EcrError> {
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
            source: AwsCause::from_sdk(&e),
        })?;
    let token = out
        .authorization_data()
        .first()
        .and_then(|d| d.authorization_token())
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
    Ok((user.to_string(), SecretString::from(secret)))
}
