//! The one S3 object fetch of the agent (crontab objects, s3run executables): HEAD for the ETag,
//! GET for the content streamed to a file (never held whole in memory), errors naming the object
//! with the service's answer as the cause.
use crate::aws::AwsError;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::SdkError;

/// What a download wrote: the object's ETag (without quotes), the SHA-256 of its content, its size.
pub struct Downloaded {
    pub etag: String,
    pub digest: String,
    pub size: u64,
}

/// The most a download may be, and what kind of object it is (for the error).
#[derive(Debug, Clone, Copy)]
pub struct Cap {
    pub max: u64,
    pub what: &'static str,
}

#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    #[error("{url}")]
    Aws {
        url: String,
        #[source]
        cause: Box<AwsError>,
    },
    #[error("{url} is {size} bytes or more: {what} may be at most {max} bytes")]
    TooLarge {
        url: String,
        size: u64,
        max: u64,
        what: &'static str,
    },
    #[error("writing {url} to a local file")]
    Write {
        url: String,
        #[source]
        source: std::io::Error,
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

/// Streams the object (GetObject) into `out`, hashing it on the way; refuses more than `cap`
/// (by its announced length first, then by what arrives).
pub async fn download(
    client: &Client,
    bucket: &str,
    key: &str,
    out: &mut impl std::io::Write,
    cap: Option<Cap>,
) -> Result<Downloaded, ObjectError> {
    use sha2::Digest;
    let too_large = |size: u64| {
        cap.filter(|c| size > c.max).map(|c| ObjectError::TooLarge {
            url: url(bucket, key),
            size,
            max: c.max,
            what: c.what,
        })
    };
    let req = client.get_object().bucket(bucket).key(key);
    let mut resp = req.send().await.map_err(failed(bucket, key))?;
    let announced = resp.content_length().and_then(|n| u64::try_from(n).ok());
    if let Some(e) = announced.and_then(too_large) {
        return Err(e);
    }
    let etag = etag(resp.e_tag());
    let mut hasher = sha2::Sha256::new();
    let mut size = 0u64;
    while let Some(chunk) = resp.body.next().await {
        let chunk = chunk.map_err(|source| ObjectError::Body {
            url: url(bucket, key),
            source,
        })?;
        size += chunk.len() as u64;
        if let Some(e) = too_large(size) {
            return Err(e);
        }
        hasher.update(&chunk);
        out.write_all(&chunk).map_err(|source| ObjectError::Write {
            url: url(bucket, key),
            source,
        })?;
    }
    Ok(Downloaded {
        etag,
        digest: hex::encode(hasher.finalize()),
        size,
    })
}
