//! SSM: resolving the base AMI id of a build from an AWS public parameter.
use thiserror::Error;

#[derive(Debug, Error)]
pub enum SsmError {
    #[error(
        "SSM parameter {name} not found (os {os}, arch {arch}): check ami_ref, or pass ami_id=ami-… explicitly"
    )]
    NotFound {
        name: String,
        os: String,
        arch: String,
    },
    #[error("SSM parameter {name}")]
    Call {
        name: String,
        #[source]
        source: super::AwsError,
    },
    #[error("SSM parameter {name} holds {value:?}, which is not an AMI id")]
    NotAnAmi { name: String, value: String },
}

/// Reads the AMI id stored in the public parameter `name`.
pub async fn ami_id_from_parameter(
    client: &aws_sdk_ssm::Client,
    name: &str,
    os: &str,
    arch: &str,
) -> Result<String, SsmError> {
    let out = client
        .get_parameter()
        .name(name)
        .send()
        .await
        .map_err(|e| {
            let source = super::AwsError::from_sdk("SSM", &e);
            if source.is("ParameterNotFound") {
                SsmError::NotFound {
                    name: name.to_string(),
                    os: os.to_string(),
                    arch: arch.to_string(),
                }
            } else {
                SsmError::Call {
                    name: name.to_string(),
                    source,
                }
            }
        })?;
    let value = out
        .parameter()
        .and_then(|p| p.value())
        .unwrap_or_default()
        .to_string();
    if crate::config::validate::ami_id(&value).is_err() {
        return Err(SsmError::NotAnAmi {
            name: name.to_string(),
            value,
        });
    }
    Ok(value)
}

/// The decrypted value of the SSM parameter `name` (a SecureString, or any other type as
/// stored), asked with `sdk` (the caller's profile and region). The one definition of this read
/// (lava's `get_lava_param`): docker job connections and private registry passwords use it.
pub async fn secure_string(
    sdk: &aws_config::SdkConfig,
    name: &str,
) -> Result<String, super::AwsError> {
    let out = aws_sdk_ssm::Client::new(sdk)
        .get_parameter()
        .name(name)
        .with_decryption(true)
        .send()
        .await
        .map_err(|e| super::AwsError::from_sdk("SSM", &e))?;
    Ok(out
        .parameter()
        .and_then(|p| p.value())
        .unwrap_or_default()
        .to_string())
}
