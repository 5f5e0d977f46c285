//! The KMS key the build instance needs to read the resource bucket, and only that key.
//!
//! S3 decrypts an object encrypted with a customer-managed key by calling KMS with the reader's
//! credentials, so the temporary instance profile needs `kms:Decrypt` on that key. A bucket with
//! SSE-S3 (or no default encryption), or with the AWS-managed `aws/s3` key (whose key policy lets
//! every principal of the account use it through S3), needs no KMS permission at all.
use crate::aws::AwsError;

/// What the bucket's default encryption asks of the build instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BucketKey {
    /// A customer-managed key: the instance may decrypt with this key ARN.
    Customer(String),
    /// No KMS permission is needed; why (for the notes of the run).
    NotNeeded(String),
}

#[derive(Debug, thiserror::Error)]
pub enum BucketKeyError {
    #[error(
        "reading the default encryption of s3://{bucket} (needs s3:GetEncryptionConfiguration; or set s3_kms_key to the bucket key's ARN)"
    )]
    Encryption {
        bucket: String,
        #[source]
        source: AwsError,
    },
    #[error(
        "resolving the KMS key {key} of s3://{bucket} to its ARN (needs kms:DescribeKey; or set s3_kms_key to the key's ARN)"
    )]
    Describe {
        bucket: String,
        key: String,
        #[source]
        source: AwsError,
    },
}

/// Reads the default encryption of `bucket` and, for a customer-managed key given by id or alias,
/// the key's ARN.
pub async fn bucket_key(
    sdk: &aws_config::SdkConfig,
    bucket: &str,
) -> Result<BucketKey, BucketKeyError> {
    let s3 = aws_sdk_s3::Client::new(sdk);
    let answer = match s3.get_bucket_encryption().bucket(bucket).send().await {
        Ok(a) => a,
        Err(e) => {
            let err = AwsError::from_sdk("S3", &e);
            return match err.code.as_deref() {
                Some("ServerSideEncryptionConfigurationNotFoundError") => Ok(BucketKey::NotNeeded(
                    format!("s3://{bucket} has no default encryption"),
                )),
                Some("NoSuchBucket") => Ok(BucketKey::NotNeeded(format!(
                    "s3://{bucket} does not exist (yet)"
                ))),
                _ => Err(BucketKeyError::Encryption {
                    bucket: bucket.to_string(),
                    source: err,
                }),
            };
        }
    };
    let rule = answer
        .server_side_encryption_configuration()
        .and_then(|c| c.rules().first())
        .and_then(|r| r.apply_server_side_encryption_by_default());
    let Some(rule) = rule else {
        return Ok(BucketKey::NotNeeded(format!(
            "s3://{bucket} has no default encryption"
        )));
    };
    let algorithm = rule.sse_algorithm().as_str();
    let key = rule.kms_master_key_id().filter(|k| !k.is_empty());
    match (algorithm.starts_with("aws:kms"), key) {
        (false, _) => Ok(BucketKey::NotNeeded(format!(
            "s3://{bucket} is encrypted with {algorithm}"
        ))),
        (true, None) => Ok(BucketKey::NotNeeded(format!(
            "s3://{bucket} is encrypted with the AWS-managed key aws/s3"
        ))),
        (true, Some(k)) if is_key_arn(k) => Ok(BucketKey::Customer(k.to_string())),
        (true, Some(k)) => {
            let kms = aws_sdk_kms::Client::new(sdk);
            let described = kms.describe_key().key_id(k).send().await.map_err(|e| {
                BucketKeyError::Describe {
                    bucket: bucket.to_string(),
                    key: k.to_string(),
                    source: AwsError::from_sdk("KMS", &e),
                }
            })?;
            let meta = described.key_metadata();
            if meta.and_then(|m| m.key_manager()) == Some(&aws_sdk_kms::types::KeyManagerType::Aws)
            {
                return Ok(BucketKey::NotNeeded(format!(
                    "s3://{bucket} is encrypted with an AWS-managed key ({k})"
                )));
            }
            match meta.and_then(|m| m.arn()) {
                Some(arn) => Ok(BucketKey::Customer(arn.to_string())),
                None => Err(BucketKeyError::Describe {
                    bucket: bucket.to_string(),
                    key: k.to_string(),
                    source: AwsError::new(None, None, "KMS answered without the key's ARN"),
                }),
            }
        }
    }
}

/// `arn:…:kms:…:key/…`: already what a policy names (an alias ARN is not).
fn is_key_arn(k: &str) -> bool {
    k.starts_with("arn:") && k.split(':').nth(5).is_some_and(|r| r.starts_with("key/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_key_arn_is_taken_as_it_is() {
        assert!(is_key_arn(
            "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
        ));
        assert!(!is_key_arn("arn:aws:kms:us-east-1:123456789012:alias/lava"));
        assert!(!is_key_arn("alias/lava"));
        assert!(!is_key_arn("1234abcd-12ab-34cd-56ef-1234567890ab"));
    }
}
