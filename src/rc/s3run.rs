//! `s3run`: fetch an executable from S3 (or along `S3PATH`) and run it with arguments.
use super::steps::PrivateFile;
use aws_sdk_s3::Client;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct S3RunOptions {
    pub location: String,
    pub args: Vec<String>,
    pub cache_dir: Option<PathBuf>,
    pub chdir: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum S3RunError {
    #[error("{0}: expected s3://bucket/key, or a relative key found along S3PATH")]
    BadLocation(String),
    #[error(
        "{location} is relative but S3PATH is not set (e.g. S3PATH=s3://bucket/scripts:s3://other/bin)"
    )]
    NoS3Path { location: String },
    #[error("{location} not found along S3PATH ({path})")]
    NotFound { location: String, path: String },
    #[error("s3://{bucket}/{key}: {message}")]
    S3 {
        bucket: String,
        key: String,
        message: String,
    },
    #[error("{path}: {message}")]
    Local { path: String, message: String },
}

/// Finds the object: `s3://…` as it is, else the first `S3PATH` entry holding it.
pub async fn locate(client: &Client, location: &str) -> Result<(String, String), S3RunError> {
    if location.starts_with("s3://") {
        return super::userdata::s3_location(location)
            .ok_or_else(|| S3RunError::BadLocation(location.to_string()));
    }
    if location.is_empty() || location.starts_with('/') {
        return Err(S3RunError::BadLocation(location.to_string()));
    }
    let path = std::env::var("S3PATH").unwrap_or_default();
    if path.is_empty() {
        return Err(S3RunError::NoS3Path {
            location: location.to_string(),
        });
    }
    for entry in s3path_entries(&path) {
        let full = format!("{}/{location}", entry.trim_end_matches('/'));
        let Some((bucket, key)) = super::userdata::s3_location(&full) else {
            tracing::warn!(entry, "S3PATH entry is not s3://bucket[/prefix]: skipped");
            continue;
        };
        match client.head_object().bucket(&bucket).key(&key).send().await {
            Ok(_) => return Ok((bucket, key)),
            Err(e) => {
                tracing::debug!(url = %full, error = %crate::sync::remote::describe(&e), "not here")
            }
        }
    }
    Err(S3RunError::NotFound {
        location: location.to_string(),
        path,
    })
}

/// `S3PATH` entries: colon-separated `s3://bucket[/prefix]` (the scheme's own colon does not split;
/// `bucket/prefix` without the scheme is accepted too).
pub fn s3path_entries(path: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut pieces = path.split(':').peekable();
    while let Some(p) = pieces.next() {
        if p == "s3" && pieces.peek().is_some_and(|n| n.starts_with("//")) {
            let rest = pieces.next().unwrap_or_default();
            out.push(format!("s3:{rest}"));
        } else if !p.is_empty() {
            out.push(format!("s3://{}", p.trim_start_matches('/')));
        }
    }
    out
}

async fn download(
    client: &Client,
    bucket: &str,
    key: &str,
) -> Result<(Vec<u8>, String), S3RunError> {
    let s3err = |m: String| S3RunError::S3 {
        bucket: bucket.to_string(),
        key: key.to_string(),
        message: m,
    };
    let obj = client
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| s3err(crate::sync::remote::describe(&e)))?;
    let etag = obj
        .e_tag()
        .unwrap_or_default()
        .trim_matches('"')
        .to_string();
    let body = obj
        .body
        .collect()
        .await
        .map_err(|e| s3err(e.to_string()))?
        .into_bytes()
        .to_vec();
    Ok((body, etag))
}

fn local(path: &Path, e: impl std::fmt::Display) -> S3RunError {
    S3RunError::Local {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// The executable in the cache (`<dir>/<bucket>/<key>`), fetched again when its ETag changed.
async fn cached(
    client: &Client,
    dir: &Path,
    bucket: &str,
    key: &str,
) -> Result<PathBuf, S3RunError> {
    let file = dir.join(bucket).join(key);
    let tag_file = dir.join(bucket).join(format!("{key}.etag"));
    let head = client
        .head_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| S3RunError::S3 {
            bucket: bucket.into(),
            key: key.into(),
            message: crate::sync::remote::describe(&e),
        })?;
    let etag = head
        .e_tag()
        .unwrap_or_default()
        .trim_matches('"')
        .to_string();
    if file.is_file() && std::fs::read_to_string(&tag_file).is_ok_and(|t| t == etag) {
        tracing::debug!(path = %file.display(), "cached copy is current");
        return Ok(file);
    }
    let (body, etag) = download(client, bucket, key).await?;
    let parent = file.parent().unwrap_or(dir);
    std::fs::create_dir_all(parent).map_err(|e| local(parent, e))?;
    let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    super::steps::write_atomic(&file, &body, 0o700).map_err(|e| local(&file, e))?;
    std::fs::write(&tag_file, etag).map_err(|e| local(&tag_file, e))?;
    Ok(file)
}

/// Fetches and runs the object; returns its exit status (128+signal when killed).
pub async fn run(client: &Client, opts: &S3RunOptions) -> Result<i32, S3RunError> {
    let (bucket, key) = locate(client, &opts.location).await?;
    let mut _private = None;
    let exe = match &opts.cache_dir {
        Some(dir) => cached(client, dir, &bucket, &key).await?,
        None => {
            let (body, _) = download(client, &bucket, &key).await?;
            let f = PrivateFile::create("s3run", &body).map_err(|e| local(Path::new(&key), e))?;
            std::fs::set_permissions(&f.path, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| local(&f.path, e))?;
            let p = f.path.clone();
            _private = Some(f);
            p
        }
    };
    let mut cmd = tokio::process::Command::new(&exe);
    cmd.args(&opts.args);
    if let Some(d) = &opts.chdir {
        cmd.current_dir(d);
    }
    tracing::info!(url = %format!("s3://{bucket}/{key}"), args = ?opts.args, "running");
    let status = cmd.status().await.map_err(|e| local(&exe, e))?;
    use std::os::unix::process::ExitStatusExt;
    Ok(status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn s3path_splits_on_colons_between_entries() {
        assert_eq!(
            super::s3path_entries("s3://a/x:s3://b:c/y::"),
            ["s3://a/x", "s3://b", "s3://c/y"]
        );
    }
}
