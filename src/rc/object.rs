//! The one S3 object fetch of the agent (crontab objects, s3run executables): HEAD for the ETag,
//! GET for the content, errors naming the object with the service's answer as the cause.
use crate::aws::AwsError;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::SdkError;

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
        cause: Box<AwsError>,
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

/// The error of a call on the object, with the service's answer as its cause.
fn failed<E>(bucket: &str, key: &str) -> impl FnOnce(SdkError<E, HttpResponse>) -> ObjectError
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    let url = url(bucket, key);
    move |e| ObjectError::Aws {
        url,
        cause: Box::new(AwsError::from_sdk("S3", &e)),
    }
}

fn etag(tag: Option<&str>) -> String {
    tag.unwrap_or_default().trim_matches('"').to_string()
}

/// The object's ETag (HeadObject).
pub async fn head(client: &Client, bucket: &str, key: &str) -> Result<String, ObjectError> {
    let req = client.head_object().bucket(bucket).key(key);
    let out = req.send().await.map_err(failed(bucket, key))?;
    Ok(etag(out.e_tag()))
}

/// The object's content and ETag (GetObject).
pub async fn get(client: &Client, bucket: &str, key: &str) -> Result<Object, ObjectError> {
    let req = client.get_object().bucket(bucket).key(key);
    let out = req.send().await.map_err(failed(bucket, key))?;
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
