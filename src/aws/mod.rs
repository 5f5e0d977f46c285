//! The one place that builds the AWS SDK configuration, plus thin service helpers.
//!
//! Honours `--profile`, `--region`, `AWS_PROFILE`, `AWS_REGION` and `AWS_ENDPOINT_URL` (the last is
//! how tests and `make demo` reach the local AWS emulator).
pub mod cause;
pub mod ssm;

use crate::config::{Source, Sourced};
use aws_config::meta::region::ProvideRegion;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use std::time::Duration;

/// Builds the shared SDK configuration. `region` wins over the environment and the profile.
pub async fn sdk_config(profile: Option<&str>, region: Option<&str>) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).timeout_config(
        TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(5))
            .operation_attempt_timeout(Duration::from_secs(60))
            .build(),
    );
    if let Some(p) = profile {
        loader = loader.profile_name(p);
    }
    if let Some(r) = region {
        loader = loader.region(Region::new(r.to_string()));
    }
    loader.load().await
}

/// The region a user has set outside the tool's own parameters: `AWS_REGION`,
/// `AWS_DEFAULT_REGION`, then the region of the profile (`--profile`, `AWS_PROFILE` or default).
/// Never asks the instance metadata service.
pub async fn ambient_region(profile: Option<&str>) -> Option<Sourced<String>> {
    for var in ["AWS_REGION", "AWS_DEFAULT_REGION"] {
        if let Ok(v) = std::env::var(var)
            && !v.is_empty()
        {
            return Some(Sourced::new(v, Source::Env(var.to_string())));
        }
    }
    let name = profile
        .map(String::from)
        .or_else(|| std::env::var("AWS_PROFILE").ok())
        .unwrap_or_else(|| "default".to_string());
    let provider = aws_config::profile::ProfileFileRegionProvider::builder()
        .profile_name(&name)
        .build();
    provider
        .region()
        .await
        .map(|r| Sourced::new(r.to_string(), Source::Profile(name)))
}

/// The AWS error code of an SDK error, if the service sent one.
pub fn error_code<E, R>(err: &aws_sdk_ssm::error::SdkError<E, R>) -> Option<String>
where
    E: aws_sdk_ssm::error::ProvideErrorMetadata,
{
    use aws_sdk_ssm::error::ProvideErrorMetadata;
    err.code().map(String::from)
}

/// One line describing an SDK error: the service's code and message, or the transport problem.
pub fn describe<E, R>(err: &aws_sdk_ssm::error::SdkError<E, R>) -> String
where
    E: aws_sdk_ssm::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    use aws_sdk_ssm::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
    match err {
        SdkError::ServiceError(_) => match (err.code(), err.message()) {
            (Some(c), Some(m)) => format!("{c}: {m}"),
            (Some(c), None) => c.to_string(),
            _ => "the service failed without an error code (an internal error on its side)".into(),
        },
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => {
            format!(
                "cannot reach the AWS endpoint: {}",
                DisplayErrorContext(err)
            )
        }
        _ => DisplayErrorContext(err).to_string(),
    }
}
