//! The one S3 object fetch of the agent (crontab objects, s3run executables): HEAD for the ETag,
//! GET for the content, errors naming the object with the service's answer as the cause.
use crate::aws::cause::AwsCause;
use aws_sdk_s3::Client;

/// An object's content and ETag (without quotes).
pub struct Object {
    pub body: Vec<u8>,
    pub etag: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    #[error("{url}")]
    Aws {
        url: String,
        #[source]
        cause: Box<AwsCause>,
    },
    #[error("reading {url}")]
    Body {
        url: String,
        #[source]
        source: aws_sdk_s3::primitives::ByteStreamError,
    },
}

impl ObjectError {
    /// Whether S3 said there is no such object (not a denial or a transport failure).
    pub fn is_not_found(&self) -> bool {
        matches!(self, ObjectError::Aws { cause, .. } if cause.is_not_found())
    }
}

fn url(bucket: &str, key: &str) -> String {
    format!("s3://{bucket}/{key}")
}

fn etag(tag: Option<&str>) -> String {
    tag.unwrap_or_default().trim_matches('"').to_string()
}

/// The object's ETag (HeadObject).
pub async fn head(client: &Client, bucket: &str, key: &str) -> Result<String, ObjectError> {
    let out = client
        .head_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| ObjectError::Aws {
            url: url(bucket, key),
            cause: Box::new(AwsCause::from_sdk(&e)),
        })?;
    Ok(etag(out.e_tag()))
}

/// The object's content and ETag (GetObject).
pub async fn get(client: &Client, bucket: &str, key: &str) -> Result<Object, ObjectError> {
    let out = client
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| ObjectError::Aws {
            url: url(bucket, key),
            cause: Box::new(AwsCause::from_sdk(&e)),
        })?;
    let etag = etag(out.e_tag());
    let body = out
        .body
        .collect()
        .await
        .map_err(|source| ObjectError::Body {
            url: url(bucket, key),
            source,
        })?
        .into_bytes()
        .to_vec();
    Ok(Object { body, etag })
}
