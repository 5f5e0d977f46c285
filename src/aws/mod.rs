//! The one place that builds the AWS SDK configuration, plus thin service helpers.
//!
//! Honours `--profile`, `--region`, `AWS_PROFILE`, `AWS_REGION` and `AWS_ENDPOINT_URL` (the last is
//! how tests and `make demo` reach the local AWS emulator).
#[cfg(feature = "build")]
pub mod dynamodb;
#[cfg(feature = "build")]
pub mod ecr;
pub mod error;
#[cfg(feature = "build")]
pub mod ssm;

pub use error::{AwsError, describe, describe_service, error_code};

use crate::config::{Source, Sourced};
use aws_config::meta::region::ProvideRegion;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use std::time::Duration;

/// The command's AWS configuration, built once, on first use, from the profile and region the
/// command line resolved (`cli::AwsArgs`), and shared by every call of the command: clones share
/// the one configuration and its credentials cache. A command that never calls AWS never loads it.
#[derive(Debug, Clone, Default)]
pub struct AwsConfig {
    profile: Option<String>,
    region: Option<String>,
    loaded: std::sync::Arc<tokio::sync::OnceCell<SdkConfig>>,
}

impl AwsConfig {
    /// `profile`/`region` None: the SDK's default chain (AWS_PROFILE, AWS_REGION, the profile's).
    pub fn new(profile: Option<&str>, region: Option<&str>) -> Self {
        AwsConfig {
            profile: profile.map(str::to_string),
            region: region.map(str::to_string),
            loaded: Default::default(),
        }
    }

    /// The profile asked for (None: the default chain).
    pub fn profile(&self) -> Option<&str> {
        self.profile.as_deref()
    }

    /// The configuration, loaded at the first call ([`sdk_config`]).
    pub async fn get(&self) -> &SdkConfig {
        self.loaded
            .get_or_init(|| sdk_config(self.profile.as_deref(), self.region.as_deref()))
            .await
    }

    /// The configuration with its region replaced by `region` (a registry's, a copy's target, the
    /// instance's): the one helper for region-scoped clients. The credentials are the command's.
    /// Loaded first with `region` when nothing else chose one, so no region lookup is made.
    pub async fn in_region(&self, region: &str) -> SdkConfig {
        let base = self
            .loaded
            .get_or_init(|| {
                sdk_config(
                    self.profile.as_deref(),
                    Some(self.region.as_deref().unwrap_or(region)),
                )
            })
            .await;
        base.to_builder()
            .region(Region::new(region.to_string()))
            .build()
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
