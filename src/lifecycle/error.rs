//! Errors of the AMI lifecycle: the operation, the resource (AMI, snapshot, parameter, region), and
//! the service's answer with its code, so callers tell failures apart by code, never by text.
use crate::aws::AwsError;

#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error("{operation} {resource} in {region}")]
    Aws {
        operation: &'static str,
        resource: String,
        region: String,
        #[source]
        cause: AwsError,
    },
    #[error("{ami} in {region} is not an AMI of this account (or no longer exists)")]
    NoSuchAmi { ami: String, region: String },
    #[error(
        "{ami} ({name}) in {region} is not a lava AMI: its name is not lava-<version>-<os>-py<X.Y>-<arch>-<time>"
    )]
    NotLava {
        ami: String,
        name: String,
        region: String,
    },
    #[error("copy of {ami} to {region} ended in state {state}")]
    CopyFailed {
        ami: String,
        region: String,
        state: String,
    },
    #[error(
        "copy of {ami} to {region} was not available after {minutes} minutes (it goes on in the background; run again to wait for it)"
    )]
    CopyTimedOut {
        ami: String,
        region: String,
        minutes: u64,
    },
}

impl LifecycleError {
    pub fn aws<E>(
        operation: &'static str,
        resource: impl Into<String>,
        region: &str,
        err: &aws_sdk_ssm::error::SdkError<E, aws_sdk_ssm::config::http::HttpResponse>,
    ) -> Self
    where
        E: aws_sdk_ssm::error::ProvideErrorMetadata + std::error::Error + 'static,
    {
        LifecycleError::Aws {
            operation,
            resource: resource.into(),
            region: region.to_string(),
            cause: AwsError::from_sdk("AWS", err),
        }
    }

    /// The AWS error code, when the failure is the service's answer with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            LifecycleError::Aws { cause, .. } => cause.code.as_deref(),
            _ => None,
        }
    }
}
