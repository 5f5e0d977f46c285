//! Errors of lava-ami's AWS calls: the operation, the resource, and the service's answer.

/// What the service (or the transport) said, with the AWS error code when there is one.
#[derive(Debug, thiserror::Error)]
#[error("{text}")]
pub struct AwsCause {
    pub code: Option<String>,
    text: String,
}

impl AwsCause {
    pub fn from_sdk<E, R>(err: &aws_sdk_ssm::error::SdkError<E, R>) -> Self
    where
        E: aws_sdk_ssm::error::ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        AwsCause {
            code: crate::aws::error_code(err),
            text: crate::aws::describe(err),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error("{operation} {resource}")]
    Aws {
        operation: &'static str,
        resource: String,
        #[source]
        cause: AwsCause,
    },
    #[error("stack {0} is gone")]
    Gone(String),
}

impl StackError {
    pub fn aws<E, R>(
        operation: &'static str,
        resource: impl Into<String>,
        err: &aws_sdk_ssm::error::SdkError<E, R>,
    ) -> Self
    where
        E: aws_sdk_ssm::error::ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        StackError::Aws {
            operation,
            resource: resource.into(),
            cause: AwsCause::from_sdk(err),
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
            cause: AwsCause {
                code: Some("AccessDenied".into()),
                text: "AccessDenied: not allowed".into(),
            },
        };
        let line = crate::error::one_line(&anyhow::Error::new(e));
        assert_eq!(
            line,
            "DescribeAutoScalingGroups lava-prod-core-WorkerGroup-1: AccessDenied: not allowed"
        );
    }
}
