//! `s3run`: fetch an executable from S3 (or along `S3PATH`) and run it with arguments.
use super::cache::{Cache, CacheError};
use super::files::PrivateFile;
use super::object::{self, ObjectError};
use crate::error::Kind;
use aws_sdk_s3::Client;
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
    /// An S3PATH entry could not be searched (denied, throttled, unreachable): the search stops
    /// there, since the object may be in it and a later entry must not stand in for it.
    #[error("{location}: S3PATH search stopped (cannot tell whether the object is there)")]
    Search {
        location: String,
        #[source]
        source: ObjectError,
    },
    #[error(transparent)]
    S3(#[from] ObjectError),
    #[error(
        "{location}: key {key:?} {why}: refused (such a key could name a path outside the cache)"
    )]
    UnsafeKey {
        location: String,
        key: String,
        why: &'static str,
    },
    #[error(transparent)]
    Cache(#[from] CacheError),
    #[error("{action} {}", path.display())]
    Local {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl S3RunError {
    /// Usage for what the caller asked wrongly (location, key, cache set-up), else run time.
    pub fn kind(&self) -> Kind {
        match self {
            S3RunError::BadLocation(_)
            | S3RunError::NoS3Path { .. }
            | S3RunError::UnsafeKey { .. } => Kind::Usage,
            S3RunError::Cache(c) if c.is_config() => Kind::Usage,
            _ => Kind::Runtime,
        }
    }
}

/// Refuses a key that starts with `/` or has a `..` segment.
pub fn check_key(location: &str, key: &str) -> Result<(), S3RunError> {
    let why = if key.starts_with('/') {
        "is absolute"
    } else if key.split('/').any(|seg| seg == "..") {
        "has a .. segment"
    } else {
        return Ok(());
    };
    Err(S3RunError::UnsafeKey {
        location: location.to_string(),
        key: key.to_string(),
        why,
    })
}

/// Checks the location's form (no AWS call): `s3://bucket/key`, or a relative key (with S3PATH set), never absolute
/// nor with a `..` segment.
pub fn check_location(location: &str) -> Result<(), S3RunError> {
    if location.starts_with("s3://") {
        let (_, key) = super::userdata::s3_location(location)
            .ok_or_else(|| S3RunError::BadLocation(location.to_string()))?;
        return check_key(location, &key);
    }
    if location.is_empty() {
        return Err(S3RunError::BadLocation(location.to_string()));
    }
    check_key(location, location)?;
    // A relative key needs S3PATH: said before the region is looked up (IMDS) or S3 is asked.
    if std::env::var("S3PATH").unwrap_or_default().is_empty() {
        return Err(S3RunError::NoS3Path {
            location: location.to_string(),
        });
    }
    Ok(())
}

/// Finds the object: `s3://…` as it is, else the first `S3PATH` entry holding it.
pub async fn locate(client: &Client, location: &str) -> Result<(String, String), S3RunError> {
    if location.starts_with("s3://") {
        let (bucket, key) = super::userdata::s3_location(location)
            .ok_or_else(|| S3RunError::BadLocation(location.to_string()))?;
        check_key(location, &key)?;
        return Ok((bucket, key));
    }
    if location.is_empty() {
        return Err(S3RunError::BadLocation(location.to_string()));
    }
    check_key(location, location)?;
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
        if let Err(e) = check_key(&full, &key) {
            tracing::warn!("{e}: S3PATH entry skipped");
            continue;
        }
        match object::head(client, &bucket, &key).await {
            Ok(_) => return Ok((bucket, key)),
            Err(e) if e.is_not_found() => tracing::debug!(url = %full, "not here"),
            Err(source) => {
                return Err(S3RunError::Search {
                    location: location.to_string(),
                    source,
                });
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

/// The executable from the cache, fetched (streamed to a new file, named by its digest) again when
/// the object's ETag changed or the cached copy is not intact.
async fn cached(
    client: &Client,
    dir: &Path,
    bucket: &str,
    key: &str,
) -> Result<std::fs::File, S3RunError> {
    let cache = Cache::open(dir)?;
    let etag = object::head(client, bucket, key).await?;
    if let Some(v) = cache.lookup(bucket, key, &etag) {
        tracing::debug!(path = %v.path.display(), "cached copy is current");
        return Ok(v.file);
    }
    let mut pending = cache.pending()?;
    let got = object::download(client, bucket, key, &mut pending.file, None).await;
    match got {
        Ok(d) => Ok(cache.commit(pending, bucket, key, &d.etag, &d.digest)?.file),
        Err(e) => {
            cache.discard(pending);
            Err(e.into())
        }
    }
}

/// The object in a private temporary file, closed, then opened for reading.
async fn private_copy(
    client: &Client,
    bucket: &str,
    key: &str,
) -> Result<(PrivateFile, std::fs::File), S3RunError> {
    let local = |source| S3RunError::Local {
        action: "writing a private copy of",
        path: PathBuf::from(key),
        source,
    };
    let (private, mut f) = PrivateFile::empty("s3run").map_err(local)?;
    object::download(client, bucket, key, &mut f, None).await?;
    use std::os::unix::fs::PermissionsExt;
    f.set_permissions(std::fs::Permissions::from_mode(0o700))
        .and_then(|()| f.sync_all())
        .map_err(local)?;
    // Closed before it runs: an executable open for writing cannot be run ("Text file busy").
    drop(f);
    let file = std::fs::File::open(&private.path).map_err(local)?;
    Ok((private, file))
}

/// Fetches and runs the object; returns its exit status (128+signal when killed). What runs is the
/// file that was checked, by its descriptor (`/proc/self/fd/N`), never its path looked up again.
pub async fn run(client: &Client, opts: &S3RunOptions) -> Result<i32, S3RunError> {
    let (bucket, key) = locate(client, &opts.location).await?;
    let mut _private = None;
    let exe = match &opts.cache_dir {
        Some(dir) => cached(client, dir, &bucket, &key).await?,
        None => {
            let (p, f) = private_copy(client, &bucket, &key).await?;
            _private = Some(p);
            f
        }
    };
    use std::os::fd::AsRawFd;
    let fd = exe.as_raw_fd();
    let program = PathBuf::from(format!("/proc/self/fd/{fd}"));
    let mut cmd = tokio::process::Command::new(&program);
    cmd.args(&opts.args);
    if let Some(d) = &opts.chdir {
        cmd.current_dir(d);
    }
    // SAFETY: fcntl is async-signal-safe; it only makes the verified file's descriptor survive the
    // exec in the child (the kernel runs it, and a script's interpreter opens it, by that number).
    unsafe {
        cmd.pre_exec(move || {
            if nix::libc::fcntl(fd, nix::libc::F_SETFD, 0) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    // Arguments may carry secrets: only at debug.
    tracing::info!(url = %format!("s3://{bucket}/{key}"), args = opts.args.len(), "running");
    tracing::debug!(args = ?opts.args, "arguments");
    let status = cmd.status().await.map_err(|source| S3RunError::Local {
        action: "running",
        path: PathBuf::from(format!("s3://{bucket}/{key}")),
        source,
    })?;
    drop(exe);
    use std::os::unix::process::ExitStatusExt;
    Ok(status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn absolute_keys_and_dot_dot_segments_are_refused() {
        for bad in ["/tmp/proof", "a/../../x", "..", "../x", "a/.."] {
            assert!(super::check_key("loc", bad).is_err(), "{bad}");
        }
        for good in ["a/b.sh", "a..b/c", "a/..b", "x/./y"] {
            assert!(super::check_key("loc", good).is_ok(), "{good}");
        }
    }

    #[test]
    fn s3path_splits_on_colons_between_entries() {
        assert_eq!(
            super::s3path_entries("s3://a/x:s3://b:c/y::"),
            ["s3://a/x", "s3://b", "s3://c/y"]
        );
    }
}
