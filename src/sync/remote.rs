//! The S3 side of a sync: listing, HEAD, uploads (single and multipart, with checksums S3 verifies),
//! deletion. Every failure names the object.
use super::hash::{Hashes, SINGLE_PART_MAX, part_size};
use super::plan::{RemoteHead, RemoteObject};
use aws_sdk_s3::Client;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart};
use base64::Engine as _;
use futures::{StreamExt, TryStreamExt};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::sync::Semaphore;

/// Tries per request on top of the SDK's own retries (a part that keeps failing fails its file).
const TRIES: u32 = 3;

/// One line for an SDK error: what S3 said, or that it could not be reached.
pub fn describe<E, R>(err: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match err {
        SdkError::ServiceError(_) => {
            let code = err.code().unwrap_or("error");
            let hint = match code {
                "NoSuchBucket" => " (the bucket does not exist)",
                "AccessDenied" | "Forbidden" => {
                    " (access denied: check the credentials' permissions)"
                }
                "InvalidAccessKeyId"
                | "SignatureDoesNotMatch"
                | "ExpiredToken"
                | "InvalidToken" => " (the AWS credentials were rejected)",
                _ => "",
            };
            match err.message() {
                Some(m) => format!("{code}: {m}{hint}"),
                None => format!("{code}{hint}"),
            }
        }
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => {
            format!("cannot reach the S3 endpoint: {}", DisplayErrorContext(err))
        }
        _ => DisplayErrorContext(err).to_string(),
    }
}

fn unquote(etag: &str) -> String {
    etag.trim_matches('"').to_string()
}

/// Every object under `prefix`.
pub async fn list(
    client: &Client,
    bucket: &str,
    prefix: &str,
) -> Result<Vec<RemoteObject>, String> {
    let mut out = Vec::new();
    let mut pages = client
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| describe(&e))?;
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

/// HEAD of one object: its ETag and our checksum metadata. `None` when it is gone.
pub async fn head(client: &Client, bucket: &str, key: &str) -> Result<Option<RemoteHead>, String> {
    match client.head_object().bucket(bucket).key(key).send().await {
        Ok(h) => Ok(Some(RemoteHead {
            etag: unquote(h.e_tag().unwrap_or_default()),
            sha256: h.metadata().and_then(|m| m.get("sha256")).cloned(),
        })),
        Err(SdkError::ServiceError(e)) if e.err().is_not_found() => Ok(None),
        Err(e) => Err(describe(&e)),
    }
}

async fn backoff(try_no: u32) {
    tokio::time::sleep(Duration::from_millis(200 * 2u64.pow(try_no))).await;
}

/// Runs `attempt` up to [`TRIES`] times with backoff, holding one request permit per try.
async fn with_retries<T, F, Fut>(permits: &Semaphore, mut attempt: F) -> Result<T, String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let mut last = String::new();
    for t in 0..TRIES {
        let permit = permits.acquire().await.map_err(|e| e.to_string())?;
        match attempt().await {
            Ok(v) => return Ok(v),
            Err(e) => last = e,
        }
        drop(permit);
        if t + 1 < TRIES {
            backoff(t).await;
        }
    }
    Err(last)
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Reads `len` bytes at `offset`.
async fn read_at(path: &Path, offset: u64, len: u64) -> Result<Vec<u8>, String> {
    let mut f = tokio::fs::File::open(path)
        .await
        .map_err(|e| format!("{}: {e}", path.display()))?;
    f.seek(std::io::SeekFrom::Start(offset))
        .await
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut buf = vec![0u8; len as usize];
    f.read_exact(&mut buf).await.map_err(|e| {
        format!(
            "{}: {e} (did the file change during the sync?)",
            path.display()
        )
    })?;
    Ok(buf)
}

/// Where an upload goes.
pub struct Dest<'a> {
    pub client: &'a Client,
    pub bucket: &'a str,
    pub key: &'a str,
}

/// What an upload produced.
pub struct Uploaded {
    pub etag: String,
}

/// Uploads `path` to `key`, in one request or in parts, with SHA-256 checksums S3 verifies and our
/// `sha256` metadata. `sent` is called with the bytes of every request that succeeded.
pub async fn upload(
    dest: &Dest<'_>,
    path: &Path,
    size: u64,
    hashes: &Hashes,
    permits: Arc<Semaphore>,
    sent: &(dyn Fn(u64) + Sync),
) -> Result<Uploaded, String> {
    let Dest {
        client,
        bucket,
        key,
    } = *dest;
    if size <= SINGLE_PART_MAX {
        let body = read_at(path, 0, size).await?;
        if hex::encode(Sha256::digest(&body)) != hashes.sha256 {
            return Err(format!("{} changed during the sync", path.display()));
        }
        let checksum = b64(&hex::decode(&hashes.sha256).unwrap_or_default());
        let out = with_retries(&permits, || async {
            client
                .put_object()
                .bucket(bucket)
                .key(key)
                .body(ByteStream::from(body.clone()))
                .content_length(size as i64)
                .checksum_sha256(&checksum)
                .metadata("sha256", &hashes.sha256)
                .send()
                .await
                .map_err(|e| describe(&e))
        })
        .await?;
        let etag = unquote(out.e_tag().unwrap_or_default());
        if etag.len() == 32 && etag != hashes.md5 {
            return Err(format!(
                "stored object's ETag {etag} is not the MD5 of what was sent ({})",
                hashes.md5
            ));
        }
        sent(size);
        return Ok(Uploaded { etag });
    }
    multipart(dest, path, size, hashes, permits, sent).await
}

async fn multipart(
    dest: &Dest<'_>,
    path: &Path,
    size: u64,
    hashes: &Hashes,
    permits: Arc<Semaphore>,
    sent: &(dyn Fn(u64) + Sync),
) -> Result<Uploaded, String> {
    let Dest {
        client,
        bucket,
        key,
    } = *dest;
    let created = client
        .create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .checksum_algorithm(ChecksumAlgorithm::Sha256)
        .metadata("sha256", &hashes.sha256)
        .send()
        .await
        .map_err(|e| format!("starting the multipart upload: {}", describe(&e)))?;
    let upload_id = created
        .upload_id()
        .ok_or("S3 returned no upload id")?
        .to_string();
    let psize = part_size(size);
    let count = size.div_ceil(psize);
    let parts = futures::stream::iter(1..=count)
        .map(|n| {
            let permits = permits.clone();
            let upload_id = upload_id.clone();
            async move {
                let offset = (n - 1) * psize;
                let len = psize.min(size - offset);
                let body = read_at(path, offset, len).await?;
                let checksum = b64(&Sha256::digest(&body));
                let out = with_retries(&permits, || async {
                    client
                        .upload_part()
                        .bucket(bucket)
                        .key(key)
                        .upload_id(&upload_id)
                        .part_number(n as i32)
                        .body(ByteStream::from(body.clone()))
                        .content_length(len as i64)
                        .checksum_sha256(&checksum)
                        .send()
                        .await
                        .map_err(|e| describe(&e))
                })
                .await
                .map_err(|e| format!("part {n} of {count}: {e}"))?;
                sent(len);
                Ok(CompletedPart::builder()
                    .part_number(n as i32)
                    .set_e_tag(out.e_tag().map(String::from))
                    .checksum_sha256(checksum)
                    .build())
            }
        })
        .buffered(permits.available_permits().max(1))
        .try_collect::<Vec<_>>()
        .await;
    let result = match parts {
        Ok(parts) => client
            .complete_multipart_upload()
            .bucket(bucket)
            .key(key)
            .upload_id(&upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map(|out| Uploaded {
                etag: unquote(out.e_tag().unwrap_or_default()),
            })
            .map_err(|e| format!("completing the multipart upload: {}", describe(&e))),
        Err(e) => Err(e),
    };
    if result.is_err() {
        abort(client, bucket, key, &upload_id).await;
    }
    result
}

/// Aborts a multipart upload so no parts are left behind (retried: it matters).
async fn abort(client: &Client, bucket: &str, key: &str, upload_id: &str) {
    for t in 0..5 {
        match client
            .abort_multipart_upload()
            .bucket(bucket)
            .key(key)
            .upload_id(upload_id)
            .send()
            .await
        {
            Ok(_) => return,
            Err(e) => {
                tracing::warn!(key, error = %describe(&e), "aborting the multipart upload failed");
                backoff(t).await;
            }
        }
    }
}

/// Deletes `keys`, 1,000 per request. Returns the keys S3 reported as not deleted.
pub async fn delete(
    client: &Client,
    bucket: &str,
    keys: &[String],
) -> Result<Vec<(String, String)>, String> {
    use aws_sdk_s3::types::{Delete, ObjectIdentifier};
    let mut failed = Vec::new();
    for chunk in keys.chunks(1000) {
        let objects = chunk
            .iter()
            .map(|k| ObjectIdentifier::builder().key(k).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        let out = client
            .delete_objects()
            .bucket(bucket)
            .delete(
                Delete::builder()
                    .set_objects(Some(objects))
                    .quiet(true)
                    .build()
                    .map_err(|e| e.to_string())?,
            )
            .send()
            .await
            .map_err(|e| describe(&e))?;
        for e in out.errors() {
            failed.push((
                e.key().unwrap_or_default().to_string(),
                e.message().unwrap_or_default().to_string(),
            ));
        }
    }
    Ok(failed)
}
