//! Sending one file: in one request, or in parts (`multipart`), with SHA-256 checksums S3 verifies.
use super::hash::{Hashes, multipart, read_range};
use super::multipart::multipart_upload;
use super::remote::{
    Dest, Local, Pool, RemoteError, Uploaded, blocking, changed, encrypted, s3, still, unquote,
};
use super::walk::Stamp;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ChecksumAlgorithm;
use std::path::Path;

/// Uploads `path` to `key`, in one request or in parts, with SHA-256 checksums S3 verifies, hashing
/// the file as it is read. `expected`: the hashes the decision was made on (an upload of other bytes
/// fails). `sent` is called with the bytes of every request that succeeded.
pub async fn upload(
    dest: &Dest<'_>,
    local: &Local<'_>,
    pool: &Pool,
    sent: &(dyn Fn(u64) + Sync),
) -> Result<Uploaded, RemoteError> {
    let Local {
        path,
        stamp,
        expected,
    } = *local;
    let size = stamp.size;
    if let Some(signal) = dest.stop.requested() {
        return Err(RemoteError::Stopped(signal));
    }
    if multipart(size) {
        return multipart_upload(dest, local, pool, sent).await;
    }
    // One request: dropped on a stop, it leaves nothing behind.
    tokio::select! {
        r = single_upload(dest, path, stamp, expected, pool, sent) => r,
        signal = dest.stop.stopped() => Err(RemoteError::Stopped(signal)),
    }
}

async fn single_upload(
    dest: &Dest<'_>,
    path: &Path,
    stamp: Stamp,
    expected: Option<&Hashes>,
    pool: &Pool,
    sent: &(dyn Fn(u64) + Sync),
) -> Result<Uploaded, RemoteError> {
    let (client, bucket, key, size) = (dest.client, dest.bucket, dest.key, stamp.size);
    let _permit = pool.permits.acquire().await?;
    let p = path.to_path_buf();
    let (body, hashes, stable) = blocking(path, move || {
        let file = std::fs::File::open(&p)?;
        let before = still(&file, stamp)?;
        let body = read_range(&file, 0, size)?;
        let after = still(&file, stamp)?;
        let hashes = Hashes::of_bytes(&body);
        Ok((body, hashes, before && after))
    })
    .await?;
    if !stable || expected.is_some_and(|e| *e != hashes) {
        return Err(changed(path));
    }
    let md5 = hashes.md5.clone().unwrap_or_default();
    let out = client
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body))
        .content_length(size as i64)
        .checksum_algorithm(ChecksumAlgorithm::Sha256)
        .checksum_sha256(hashes.s3_checksum())
        .metadata("sha256", &hashes.sha256)
        // The body's integrity is the signed SHA-256 checksum S3 verifies: no second digest.
        .customize()
        .disable_payload_signing()
        .send()
        .await
        .map_err(|e| RemoteError::Aws(s3(&e)))?;
    let etag = unquote(out.e_tag().unwrap_or_default());
    let kms = encrypted(out.server_side_encryption(), out.sse_customer_algorithm());
    if !kms && etag.len() == 32 && etag != md5 {
        return Err(RemoteError::EtagMismatch { etag, md5 });
    }
    sent(size);
    Ok(Uploaded { etag, hashes })
}
