//! Errors of lava-ami's AWS calls: the operation, the resource, and the service's answer.
pub use crate::aws::AwsError;
use aws_sdk_ssm::config::http::HttpResponse;

#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error("{operation} {resource}")]
    Aws {
        operation: &'static str,
        resource: String,
        #[source]
        cause: AwsError,
    },
    #[error("stack {0} is gone")]
    Gone(String),
}

impl StackError {
    pub fn aws<E>(
        operation: &'static str,
        resource: impl Into<String>,
        err: &aws_sdk_ssm::error::SdkError<E, HttpResponse>,
    ) -> Self
    where
        E: aws_sdk_ssm::error::ProvideErrorMetadata + std::error::Error + 'static,
    {
        StackError::Aws {
            operation,
            resource: resource.into(),
            cause: AwsError::from_sdk("AWS", err),
        }
    }

    /// `aws` as a `map_err` argument.
    pub fn on<E>(
        operation: &'static str,
        resource: &str,
    ) -> impl FnOnce(aws_sdk_ssm::error::SdkError<E, HttpResponse>) -> Self + use<E>
    where
        E: aws_sdk_ssm::error::ProvideErrorMetadata + std::error::Error + 'static,
    {
        let resource = resource.to_string();
        move |e| StackError::aws(operation, resource, &e)
    }

    /// The service's error code, when the service answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            StackError::Aws { cause, .. } => cause.code.as_deref(),
            StackError::Gone(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_as_operation_resource_cause() {
        let e = StackError::Aws {
            operation: "DescribeAutoScalingGroups",
            resource: "lava-prod-core-WorkerGroup-1".into(),
            cause: AwsError::new(Some("AccessDenied"), Some(403), "AccessDenied: not allowed"),
        };
        assert_eq!(e.code(), Some("AccessDenied"));
        let line = crate::error::one_line(&anyhow::Error::new(e));
        assert_eq!(
            line,
            "DescribeAutoScalingGroups lava-prod-core-WorkerGroup-1: AccessDenied: not allowed"
        );
    }
}
