//! Multipart uploads: the parts read and sent concurrently with SHA-256 checksums S3 verifies, the
//! file checked unchanged after its last part, the upload aborted on any failure or stop; and the
//! listing and abort of uploads an earlier sync left behind.
use super::hash::{Hashes, b64, part_size, read_range};
use super::remote::{
    Dest, Local, Pool, RemoteError, Uploaded, blocking, changed, s3, still, unquote,
};
use super::uploads::Entry;
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart};
use futures::{StreamExt, TryStreamExt};
use std::sync::Arc;

pub(super) async fn multipart_upload(
    dest: &Dest<'_>,
    local: &Local<'_>,
    pool: &Pool,
    sent: &(dyn Fn(u64) + Sync),
) -> Result<Uploaded, RemoteError> {
    let (path, stamp, expected) = (local.path, local.stamp, local.expected);
    let size = stamp.size;
    let (client, bucket, key) = (dest.client, dest.bucket, dest.key);
    let p = path.to_path_buf();
    let (file, opened_unchanged) = blocking(path, move || {
        let file = std::fs::File::open(p)?;
        let same = still(&file, stamp)?;
        Ok((Arc::new(file), same))
    })
    .await?;
    if !opened_unchanged {
        return Err(changed(path));
    }
    let created = {
        let _permit = pool.permits.acquire().await?;
        client
            .create_multipart_upload()
            .bucket(bucket)
            .key(key)
            .checksum_algorithm(ChecksumAlgorithm::Sha256)
            .send()
            .await
            .map_err(|e| RemoteError::step("starting the multipart upload", s3(&e)))?
    };
    let upload_id = created
        .upload_id()
        .ok_or(RemoteError::NoUploadId)?
        .to_string();
    dest.journal.started(&Entry {
        bucket: bucket.to_string(),
        key: key.to_string(),
        upload_id: upload_id.clone(),
    });
    let psize = part_size(size);
    let count = size.div_ceil(psize);
    let parts = futures::stream::iter(1..=count)
        .map(|n| {
            let upload_id = upload_id.clone();
            let file = file.clone();
            async move {
                let offset = (n - 1) * psize;
                let len = psize.min(size - offset);
                let _permit = pool.permits.acquire().await?;
                let (body, digest) = blocking(path, move || {
                    let body = read_range(&file, offset, len)?;
                    let digest: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest(&body).into();
                    Ok((body, digest))
                })
                .await?;
                let checksum = b64(&digest);
                let out = client
                    .upload_part()
                    .bucket(bucket)
                    .key(key)
                    .upload_id(&upload_id)
                    .part_number(n as i32)
                    .body(ByteStream::from(body))
                    .content_length(len as i64)
                    .checksum_sha256(&checksum)
                    .customize()
                    .disable_payload_signing()
                    .send()
                    .await
                    .map_err(|e| RemoteError::step(format!("part {n} of {count}"), s3(&e)))?;
                sent(len);
                let part = CompletedPart::builder()
                    .part_number(n as i32)
                    .set_e_tag(out.e_tag().map(String::from))
                    .checksum_sha256(checksum)
                    .build();
                Ok::<_, RemoteError>((n, part, digest))
            }
        })
        // Unordered: a slow part does not hold back the next ones (an ordered buffer would start
        // no new part until the oldest one is done); the parts are put in order afterwards.
        .buffer_unordered(pool.size)
        .try_collect::<Vec<_>>();
    // A stop drops the parts under way; the upload is aborted below.
    let parts = tokio::select! {
        r = parts => r,
        signal = dest.stop.stopped() => Err(RemoteError::Stopped(signal)),
    };
    // Every part is read: a file written to meanwhile has another stamp now.
    let parts = match parts {
        Ok(parts) => {
            let f = file.clone();
            match blocking(path, move || still(&f, stamp)).await {
                Ok(true) => Ok(parts),
                Ok(false) => Err(changed(path)),
                Err(e) => Err(e),
            }
        }
        Err(e) => Err(e),
    };
    let result = match parts {
        Ok(mut parts) => {
            parts.sort_unstable_by_key(|(n, _, _)| *n);
            let (parts, digests): (Vec<CompletedPart>, Vec<[u8; 32]>) =
                parts.into_iter().map(|(_, p, d)| (p, d)).unzip();
            let hashes = Hashes::of_parts(&digests);
            if expected.is_some_and(|e| *e != hashes) {
                Err(changed(path))
            } else {
                complete(dest, &upload_id, parts, hashes).await
            }
        }
        Err(e) => Err(e),
    };
    match &result {
        Ok(_) => dest.journal.finished(&upload_id, None),
        Err(_) => abort(dest, &upload_id).await,
    }
    result
}

async fn complete(
    dest: &Dest<'_>,
    upload_id: &str,
    parts: Vec<CompletedPart>,
    hashes: Hashes,
) -> Result<Uploaded, RemoteError> {
    dest.client
        .complete_multipart_upload()
        .bucket(dest.bucket)
        .key(dest.key)
        .upload_id(upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .map(|out| Uploaded {
            etag: unquote(out.e_tag().unwrap_or_default()),
            hashes,
        })
        .map_err(|e| RemoteError::step("completing the multipart upload", s3(&e)))
}

/// Aborts a multipart upload so no parts are left behind (the SDK retries what is transient).
async fn abort(dest: &Dest<'_>, upload_id: &str) {
    match abort_upload(dest.client, dest.bucket, dest.key, upload_id).await {
        Ok(()) => dest.journal.finished(upload_id, Some(dest.key)),
        Err(e) => {
            tracing::warn!(key = dest.key, error = %crate::error::chain(&e), "aborting the multipart upload failed: its parts are left behind until the next sync to this prefix aborts them");
        }
    }
}

/// Aborts one multipart upload.
pub async fn abort_upload(
    client: &Client,
    bucket: &str,
    key: &str,
    upload_id: &str,
) -> Result<(), RemoteError> {
    client
        .abort_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(upload_id)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| RemoteError::Aws(s3(&e)))
}

/// The multipart uploads under way under `prefix`: (key, upload id).
pub async fn multipart_uploads(
    client: &Client,
    bucket: &str,
    prefix: &str,
) -> Result<Vec<(String, String)>, RemoteError> {
    let mut out = Vec::new();
    let (mut key_marker, mut id_marker) = (None::<String>, None::<String>);
    loop {
        let page = client
            .list_multipart_uploads()
            .bucket(bucket)
            .prefix(prefix)
            .set_key_marker(key_marker.take())
            .set_upload_id_marker(id_marker.take())
            .send()
            .await
            .map_err(|e| RemoteError::Aws(s3(&e)))?;
        for u in page.uploads() {
            if let (Some(k), Some(id)) = (u.key(), u.upload_id()) {
                out.push((k.to_string(), id.to_string()));
            }
        }
        if page.is_truncated() != Some(true) {
            return Ok(out);
        }
        key_marker = page.next_key_marker().map(String::from);
        id_marker = page.next_upload_id_marker().map(String::from);
        if key_marker.is_none() && id_marker.is_none() {
            return Ok(out);
        }
    }
}
