//! The S3 side of a sync: listing, HEAD, uploads (single and multipart, with checksums S3 verifies),
//! deletion. Every failure names the object.
use super::hash::Hashes;
use super::plan::{RemoteHead, RemoteObject};
use super::uploads::{Journal, Signal, Stop};
use super::walk::Stamp;
use crate::aws::AwsError;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::types::{ChecksumMode, ServerSideEncryption};
use std::path::{Path, PathBuf};
use tokio::sync::Semaphore;

/// Attempts per request. The SDK's standard retry strategy retries only what is transient
/// (throttling, 5xx, timeouts, broken connections), with exponential backoff and jitter; a
/// permanent error (AccessDenied, NoSuchBucket, InvalidAccessKeyId, …) is one request.
const ATTEMPTS: u32 = 5;

/// The S3 client of a sync: the shared SDK configuration with its own retry configuration.
pub fn client(sdk: &aws_config::SdkConfig) -> Client {
    let conf = aws_sdk_s3::config::Builder::from(sdk)
        .retry_config(RetryConfig::standard().with_max_attempts(ATTEMPTS))
        .build();
    Client::from_conf(conf)
}

/// Whether an object's ETag is not the MD5 of its content because of its encryption (SSE-KMS,
/// DSSE-KMS, SSE-C; only SSE-S3 or none keep the MD5).
pub(super) fn encrypted(
    sse: Option<&ServerSideEncryption>,
    customer_algorithm: Option<&str>,
) -> bool {
    !matches!(sse, None | Some(ServerSideEncryption::Aes256)) || customer_algorithm.is_some()
}

/// One line for an S3 SDK error (the one describer, [`crate::aws::describe_service`]).
pub fn describe<E, R>(err: &SdkError<E, R>) -> String
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    crate::aws::describe_service("S3", err)
}

pub(super) fn s3(
    err: &SdkError<
        impl aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
        aws_sdk_s3::config::http::HttpResponse,
    >,
) -> AwsError {
    AwsError::from_sdk("S3", err)
}

/// Why a request or an upload of one object failed (the object's key is with the caller).
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error(transparent)]
    Aws(AwsError),
    #[error("{step}")]
    Step {
        step: String,
        #[source]
        source: AwsError,
    },
    #[error("{}", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: shorter than when the sync started (did the file change during the sync?)", .path.display())]
    Shorter { path: PathBuf },
    #[error("{} changed during the sync (written to since the sync listed it); not uploaded", .path.display())]
    Changed { path: PathBuf },
    #[error("stored object's ETag {etag} is not the MD5 of what was sent ({md5})")]
    EtagMismatch { etag: String, md5: String },
    #[error("stopped by {0} before it was uploaded")]
    Stopped(Signal),
    #[error("S3 returned no upload id")]
    NoUploadId,
    #[error("reading {}", .path.display())]
    Task {
        path: PathBuf,
        #[source]
        source: tokio::task::JoinError,
    },
    #[error("the request pool is closed")]
    Pool(#[from] tokio::sync::AcquireError),
    #[error("building the delete request")]
    Build(#[from] aws_sdk_s3::error::BuildError),
}

impl RemoteError {
    pub(super) fn step(step: impl Into<String>, source: AwsError) -> Self {
        RemoteError::Step {
            step: step.into(),
            source,
        }
    }
}

pub(super) fn unquote(etag: &str) -> String {
    etag.trim_matches('"').to_string()
}

/// Every object under `prefix`.
pub async fn list(
    client: &Client,
    bucket: &str,
    prefix: &str,
) -> Result<Vec<RemoteObject>, RemoteError> {
    let mut out = Vec::new();
    let mut pages = client
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| RemoteError::Aws(s3(&e)))?;
        for o in page.contents() {
            if let Some(key) = o.key() {
                out.push(RemoteObject {
                    key: key.to_string(),
                    size: o.size().unwrap_or(0).max(0) as u64,
                    etag: unquote(o.e_tag().unwrap_or_default()),
                });
            }
        }
    }
    Ok(out)
}

/// HEAD of one object: its ETag, S3's checksum, our checksum metadata and whether it is
/// encrypted so that the ETag is no MD5. `None` when it is gone.
pub async fn head(
    client: &Client,
    bucket: &str,
    key: &str,
) -> Result<Option<RemoteHead>, RemoteError> {
    match client
        .head_object()
        .bucket(bucket)
        .key(key)
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
    {
        Ok(h) => {
            let etag = unquote(h.e_tag().unwrap_or_default());
            Ok(Some(RemoteHead {
                checksum: h.checksum_sha256().map(|c| qualified(c, &etag)),
                sha256: h.metadata().and_then(|m| m.get("sha256")).cloned(),
                encrypted: encrypted(h.server_side_encryption(), h.sse_customer_algorithm()),
                etag,
            }))
        }
        Err(SdkError::ServiceError(e)) if e.err().is_not_found() => Ok(None),
        Err(e) => Err(RemoteError::Aws(s3(&e))),
    }
}

/// The SHA-256 checksum of a multipart object with its `-<parts>`. S3 sends it so; an emulator
/// may leave it out on HEAD (moto does), and then the ETag's part count is the checksum's: a
/// multipart SHA-256 checksum can only be a composite one.
fn qualified(checksum: &str, etag: &str) -> String {
    match etag.rsplit_once('-') {
        Some((_, parts)) if !checksum.contains('-') => format!("{checksum}-{parts}"),
        _ => checksum.to_string(),
    }
}

pub(super) fn changed(path: &Path) -> RemoteError {
    RemoteError::Changed {
        path: path.to_path_buf(),
    }
}

/// Runs a blocking read of `path` off the async threads; errors name the file.
pub(super) async fn blocking<T: Send + 'static>(
    path: &Path,
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T, RemoteError> {
    let path = path.to_path_buf();
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            Err(RemoteError::Shorter { path })
        }
        Ok(Err(source)) => Err(RemoteError::Read { path, source }),
        Err(source) => Err(RemoteError::Task { path, source }),
    }
}

/// Where an upload goes, with what every upload shares: the journal of multipart uploads and the
/// stop signal.
pub struct Dest<'a> {
    pub client: &'a Client,
    pub bucket: &'a str,
    pub key: &'a str,
    pub journal: &'a Journal,
    pub stop: &'a Stop,
}

/// The request permits shared by every upload: a file's bytes are read only while a permit is
/// held, so at most `size` parts (or small files) are in memory at once.
pub struct Pool {
    pub permits: Semaphore,
    pub size: usize,
}

impl Pool {
    pub fn new(size: usize) -> Pool {
        let size = size.max(1);
        Pool {
            permits: Semaphore::new(size),
            size,
        }
    }
}

/// What an upload produced: the object's ETag and the hashes of what was sent.
pub struct Uploaded {
    pub etag: String,
    pub hashes: Hashes,
}

/// The file of an upload: its path, what the walk saw of it, and the hashes the decision was made
/// on (an upload of other bytes fails). A file whose stamp is not the walk's, when it is opened or
/// after its last byte is read, fails: what was read may mix two versions.
#[derive(Clone, Copy)]
pub struct Local<'a> {
    pub path: &'a Path,
    pub stamp: Stamp,
    pub expected: Option<&'a Hashes>,
}

/// Whether the open `file` still has the walk's `stamp`.
pub(super) fn still(file: &std::fs::File, stamp: Stamp) -> std::io::Result<bool> {
    Ok(Stamp::of(&file.metadata()?) == stamp)
}

/// Deletes `keys`, 1,000 per request. Returns the keys S3 reported as not deleted.
pub async fn delete(
    client: &Client,
    bucket: &str,
    keys: &[String],
) -> Result<Vec<(String, String)>, RemoteError> {
    use aws_sdk_s3::types::{Delete, ObjectIdentifier};
    let mut failed = Vec::new();
    for chunk in keys.chunks(1000) {
        let objects = chunk
            .iter()
            .map(|k| ObjectIdentifier::builder().key(k).build())
            .collect::<Result<Vec<_>, _>>()?;
        let out = client
            .delete_objects()
            .bucket(bucket)
            .delete(
                Delete::builder()
                    .set_objects(Some(objects))
                    .quiet(true)
                    .build()?,
            )
            .send()
            .await
            .map_err(|e| RemoteError::Aws(s3(&e)))?;
        for e in out.errors() {
            failed.push((
                e.key().unwrap_or_default().to_string(),
                e.message().unwrap_or_default().to_string(),
            ));
        }
    }
    Ok(failed)
}
