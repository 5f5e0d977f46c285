//! Registry credentials: what the command line asks for (`--registry-auth`, a user with a token
//! from the environment or SSM, ECR), how it resolves, and fetching it. Every secret is a
//! [`SecretString`]: no `Debug` shows it, and it is exposed only when handed to the engine or the
//! registry client.
use crate::aws::AwsError;
use crate::aws::ecr::EcrError;
use bollard::auth::DockerCredentials;
use secrecy::{ExposeSecret, SecretString};
use std::time::Duration;

/// An ECR token is fetched again when it is older than this, whatever expiry ECR stated (tokens
/// last 12 hours, but a stated expiry is only as good as the clocks that compare it).
pub(super) const ECR_TOKEN_REUSE: Duration = Duration::from_secs(15 * 60);

/// How to authenticate to the registry (`--registry-auth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthMode {
    /// ECR for `<account>.dkr.ecr.<region>.amazonaws.com`, else user + token when a user is set,
    /// else none.
    #[default]
    Auto,
    /// A fresh ECR token from GetAuthorizationToken (region from the host name, else the AWS config).
    Ecr,
    /// User (`--user`/LAVA_REGISTRY_USER) and token (LAVA_REGISTRY_TOKEN or `--token-ssm`).
    Token,
    /// Anonymous.
    None,
}

/// Registry credentials. The secret is a [`SecretString`]: `Debug` shows `[REDACTED]`, and it
/// is exposed only where it is handed to the engine or the registry client.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    pub user: Option<String>,
    pub secret: Option<SecretString>,
}

impl Credentials {
    pub(super) fn docker(&self, registry: &str) -> Option<DockerCredentials> {
        self.user.as_ref().map(|u| DockerCredentials {
            username: Some(u.clone()),
            password: self.secret.as_ref().map(|s| s.expose_secret().to_string()),
            serveraddress: Some(registry.to_string()),
            ..Default::default()
        })
    }

    pub(super) fn oci(&self) -> oci_client::secrets::RegistryAuth {
        match (&self.user, &self.secret) {
            (Some(u), Some(s)) => {
                oci_client::secrets::RegistryAuth::Basic(u.clone(), s.expose_secret().to_string())
            }
            _ => oci_client::secrets::RegistryAuth::Anonymous,
        }
    }
}

/// Where the token comes from, as asked on the command line. `Debug` shows no token.
#[derive(Debug, Clone, Default)]
pub struct AuthRequest {
    pub mode: AuthMode,
    pub user: Option<String>,
    /// LAVA_REGISTRY_TOKEN.
    pub token: Option<SecretString>,
    /// `--token-ssm`: an SSM SecureString parameter holding the token.
    pub token_ssm: Option<String>,
    /// The command's AWS configuration, for ECR tokens and `--token-ssm`.
    pub aws: crate::aws::AwsConfig,
}

/// The region of an ECR registry host (`<account>.dkr.ecr.<region>.amazonaws.com[.cn]`).
pub fn ecr_region(registry: &str) -> Option<String> {
    let host = registry.split(':').next()?;
    let parts: Vec<&str> = host.split('.').collect();
    match parts.as_slice() {
        [_, "dkr", "ecr", region, "amazonaws", "com", ..] => Some(region.to_string()),
        _ => None,
    }
}

/// Why credentials could not be had.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("user {user:?} has no token: set LAVA_REGISTRY_TOKEN or --token-ssm NAME")]
    NoToken { user: String },
    #[error("a token needs a user: set --user or LAVA_REGISTRY_USER (GHCR: your GitHub user)")]
    NoUser,
    #[error("--token-ssm {name}")]
    Ssm {
        name: String,
        #[source]
        source: AwsError,
    },
    #[error("--token-ssm {name}: the parameter is empty")]
    EmptySsm { name: String },
    #[error(transparent)]
    Ecr(#[from] EcrError),
}

impl AuthError {
    /// Whether the request itself is wrong (a usage error), rather than a credential source.
    pub fn is_usage(&self) -> bool {
        matches!(self, AuthError::NoToken { .. } | AuthError::NoUser)
    }
}

/// Which kind of authentication a request resolves to, or why it cannot. Pure.
#[derive(Debug, PartialEq, Eq)]
pub enum Resolved {
    Anonymous,
    Ecr { region: Option<String> },
    Token { user: String, from_ssm: bool },
}

pub fn resolve(req: &AuthRequest, registry: &str) -> Result<Resolved, AuthError> {
    let has_token = req.token.is_some() || req.token_ssm.is_some();
    let token = |user: &Option<String>| match user {
        Some(u) if has_token => Ok(Resolved::Token {
            user: u.clone(),
            from_ssm: req.token_ssm.is_some(),
        }),
        Some(u) => Err(AuthError::NoToken { user: u.clone() }),
        None => Err(AuthError::NoUser),
    };
    match req.mode {
        AuthMode::None => Ok(Resolved::Anonymous),
        AuthMode::Ecr => Ok(Resolved::Ecr {
            region: ecr_region(registry),
        }),
        AuthMode::Token => token(&req.user),
        AuthMode::Auto => {
            if req.user.is_some() || req.token_ssm.is_some() {
                token(&req.user)
            } else if let Some(region) = ecr_region(registry) {
                Ok(Resolved::Ecr {
                    region: Some(region),
                })
            } else {
                Ok(Resolved::Anonymous)
            }
        }
    }
}

/// Whether credentials of this kind and age are fetched again before a push. Only an ECR token
/// ages; the expiry it states is not consulted (the emulator states one in 2015).
pub(super) fn needs_refresh(resolved: &Resolved, age: Duration) -> bool {
    matches!(resolved, Resolved::Ecr { .. }) && age > ECR_TOKEN_REUSE
}

pub(super) async fn fetch(
    resolved: &Resolved,
    req: &AuthRequest,
) -> Result<Credentials, AuthError> {
    match resolved {
        Resolved::Anonymous => Ok(Credentials::default()),
        Resolved::Token { user, from_ssm } => {
            let secret = match (&req.token_ssm, from_ssm) {
                (Some(name), true) => ssm_token(&req.aws, name).await?,
                _ => req
                    .token
                    .clone()
                    .unwrap_or_else(|| SecretString::from(String::new())),
            };
            Ok(Credentials {
                user: Some(user.clone()),
                secret: Some(secret),
            })
        }
        Resolved::Ecr { region } => {
            let sdk = match region {
                Some(r) => req.aws.in_region(r).await,
                None => req.aws.get().await.clone(),
            };
            let login = crate::aws::ecr::registry_login(&sdk).await?;
            Ok(Credentials {
                user: Some(login.user),
                secret: Some(login.secret),
            })
        }
    }
}

async fn ssm_token(aws: &crate::aws::AwsConfig, name: &str) -> Result<SecretString, AuthError> {
    ssm_secure_string(aws.get().await, name)
        .await
        .map_err(|e| match e {
            SecretError::Empty { name } => AuthError::EmptySsm { name },
            SecretError::Read { name, source } => AuthError::Ssm { name, source },
        })
}

// Credentials fetched by name for one pull each (seed 003's docker connector): the connector says
// which field of the connection they come from.

/// Why an SSM SecureString could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("SSM parameter {name}")]
    Read {
        name: String,
        #[source]
        source: AwsError,
    },
    #[error("SSM parameter {name} is empty")]
    Empty { name: String },
}

/// Why a secret or a registry login could not be had.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error("ECR login for {registry}")]
    Ecr {
        registry: String,
        #[source]
        source: EcrError,
    },
    #[error("ECR login for {registry}: no registry endpoint in the answer")]
    NoEndpoint { registry: String },
}

impl Credentials {
    /// The credentials as the engine takes them with one pull from `registry` (no login state is
    /// written anywhere: each pull carries its own).
    pub fn for_engine(&self, registry: &str) -> Option<DockerCredentials> {
        self.docker(registry)
    }
}

/// The decrypted value of the SSM SecureString parameter `name`, asked with `sdk` (the caller's
/// profile and region).
pub async fn ssm_secure_string(
    sdk: &aws_config::SdkConfig,
    name: &str,
) -> Result<SecretString, SecretError> {
    let value = crate::aws::ssm::secure_string(sdk, name)
        .await
        .map_err(|source| SecretError::Read {
            name: name.to_string(),
            source,
        })?;
    if value.is_empty() {
        return Err(SecretError::Empty {
            name: name.to_string(),
        });
    }
    Ok(SecretString::from(value))
}

/// ECR login for the registry of account `registry_id` (the caller's account when None), asked
/// with `sdk` (the caller's profile and region): the
/// registry host and its credentials. The token opens every registry the caller may use (ECR
/// deprecated asking per registry id); another account's host is the caller's with that id.
pub async fn ecr_login(
    sdk: &aws_config::SdkConfig,
    registry_id: Option<&str>,
) -> Result<(String, Credentials), LoginError> {
    let registry = registry_id.unwrap_or("the caller's account").to_string();
    let login = crate::aws::ecr::registry_login(sdk)
        .await
        .map_err(|source| LoginError::Ecr {
            registry: registry.clone(),
            source,
        })?;
    let endpoint = login.endpoint.ok_or(LoginError::NoEndpoint { registry })?;
    let own = endpoint
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/');
    let host = match (registry_id, own.split_once('.')) {
        (Some(id), Some((_, rest))) => format!("{id}.{rest}"),
        _ => own.to_string(),
    };
    Ok((
        host,
        Credentials {
            user: Some(login.user),
            secret: Some(login.secret),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(mode: AuthMode, user: Option<&str>, token: bool, ssm: bool) -> AuthRequest {
        AuthRequest {
            mode,
            user: user.map(String::from),
            token: token.then(|| SecretString::from("t0ken")),
            token_ssm: ssm.then(|| "/ci/ghcr-token".to_string()),
            aws: Default::default(),
        }
    }

    const ECR: &str = "123456789012.dkr.ecr.ap-southeast-2.amazonaws.com";

    #[test]
    fn ecr_registries_are_recognised() {
        assert_eq!(ecr_region(ECR).as_deref(), Some("ap-southeast-2"));
        assert_eq!(
            ecr_region("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn").as_deref(),
            Some("cn-north-1")
        );
        assert_eq!(ecr_region("ghcr.io"), None);
        assert_eq!(ecr_region("127.0.0.1:5000"), None);
    }

    #[test]
    fn auto_picks_ecr_then_token_then_anonymous() {
        assert_eq!(
            resolve(&req(AuthMode::Auto, None, false, false), ECR).ok(),
            Some(Resolved::Ecr {
                region: Some("ap-southeast-2".into())
            })
        );
        assert_eq!(
            resolve(&req(AuthMode::Auto, Some("u"), true, false), "ghcr.io").ok(),
            Some(Resolved::Token {
                user: "u".into(),
                from_ssm: false
            })
        );
        assert_eq!(
            resolve(&req(AuthMode::Auto, Some("u"), true, true), ECR).ok(),
            Some(Resolved::Token {
                user: "u".into(),
                from_ssm: true
            }),
            "an explicit user wins over the ECR host"
        );
        assert_eq!(
            resolve(&req(AuthMode::Auto, None, true, false), "ghcr.io").ok(),
            Some(Resolved::Anonymous),
            "a token in the environment alone does not force authentication"
        );
        assert_eq!(
            resolve(&req(AuthMode::Ecr, None, false, false), "127.0.0.1:5000").ok(),
            Some(Resolved::Ecr { region: None })
        );
        assert_eq!(
            resolve(&req(AuthMode::None, Some("u"), true, false), "ghcr.io").ok(),
            Some(Resolved::Anonymous)
        );
    }

    #[test]
    fn a_user_without_token_or_a_token_without_user_is_refused() {
        let e = resolve(&req(AuthMode::Auto, Some("bob"), false, false), "ghcr.io").unwrap_err();
        assert!(e.is_usage());
        assert_eq!(
            e.to_string(),
            "user \"bob\" has no token: set LAVA_REGISTRY_TOKEN or --token-ssm NAME"
        );
        let e = resolve(&req(AuthMode::Token, None, true, false), "ghcr.io")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("a token needs a user"), "{e}");
        assert!(resolve(&req(AuthMode::Auto, None, false, true), "ghcr.io").is_err());
    }

    #[test]
    fn only_an_ecr_token_is_renewed_and_only_by_age() {
        let ecr = Resolved::Ecr { region: None };
        assert!(!needs_refresh(&ecr, Duration::from_secs(60)));
        assert!(needs_refresh(&ecr, Duration::from_secs(16 * 60)));
        let token = Resolved::Token {
            user: "u".into(),
            from_ssm: true,
        };
        assert!(!needs_refresh(&token, Duration::from_secs(24 * 3600)));
        assert!(!needs_refresh(
            &Resolved::Anonymous,
            Duration::from_secs(24 * 3600)
        ));
    }

    #[tokio::test]
    async fn no_credential_type_shows_the_token() {
        const TOKEN: &str = "ghp_s3cr3t-T0KEN";
        let req = AuthRequest {
            mode: AuthMode::Token,
            user: Some("bob".into()),
            token: Some(SecretString::from(TOKEN)),
            token_ssm: None,
            aws: Default::default(),
        };
        let resolved = resolve(&req, "ghcr.io").unwrap();
        let creds = fetch(&resolved, &req).await.unwrap();
        assert_eq!(
            creds.secret.as_ref().map(|s| s.expose_secret()),
            Some(TOKEN),
            "the token is carried"
        );
        let shown = [
            format!("{req:?}"),
            format!("{req:#?}"),
            format!("{resolved:?}"),
            format!("{creds:?}"),
            format!("{creds:#?}"),
            format!("{:?}", creds.clone()),
            resolve(
                &AuthRequest {
                    user: None,
                    ..req.clone()
                },
                "ghcr.io",
            )
            .unwrap_err()
            .to_string(),
        ];
        for s in &shown {
            assert!(!s.contains(TOKEN) && !s.contains("s3cr3t"), "{s}");
        }
        assert!(
            shown[0].contains("bob") && shown[3].contains("bob"),
            "{shown:?}"
        );
    }
}
