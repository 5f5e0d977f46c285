//! The one place that builds the AWS SDK configuration, plus thin service helpers.
//!
//! Honours `--profile`, `--region`, `AWS_PROFILE`, `AWS_REGION` and `AWS_ENDPOINT_URL` (the last is
//! how tests and `make demo` reach the local AWS emulator).
pub mod dynamodb;
pub mod ecr;
pub mod error;
pub mod ssm;

pub use error::{AwsError, describe, describe_service, error_code};

use crate::config::{Source, Sourced};
use aws_config::meta::region::ProvideRegion;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use std::time::Duration;

/// `--profile` and `--region`, flattened into every command that calls AWS with the SDK defaults.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct AwsArgs {
    /// AWS profile (else AWS_PROFILE or the default chain).
    #[arg(long, env = "AWS_PROFILE", value_name = "NAME")]
    pub profile: Option<String>,
    /// AWS region (else AWS_REGION or the profile's).
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
}

impl AwsArgs {
    /// The SDK configuration these arguments select ([`sdk_config`]).
    pub async fn sdk_config(&self) -> SdkConfig {
        sdk_config(self.profile.as_deref(), self.region.as_deref()).await
    }
}

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
