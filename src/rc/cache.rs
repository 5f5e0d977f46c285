//! The `s3run` cache: a folder owned by the user with mode 0700 (any other is refused), holding each
//! executable under the SHA-256 of its content (`sha256-<hex>`) and, per object, an index entry
//! (`obj-<sha256 of bucket/key>`) with the object's ETag and that digest. A cached executable is used
//! only when the object's ETag is the indexed one and the file's content still hashes to its name.
use super::files::write_atomic;
use sha2::{Digest, Sha256};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error(
        "s3run cache: HOME is not set and uid {uid} has no home directory (password database): pass --cache-dir DIR or --no-cache"
    )]
    NoHome { uid: u32 },
    #[error(
        "s3run cache {path}: owned by uid {owner}, not by uid {uid} who runs s3run: refusing to run executables from it (use a folder of your own with --cache-dir, or --no-cache)"
    )]
    Owner { path: String, owner: u32, uid: u32 },
    #[error(
        "s3run cache {path}: mode {mode:04o} lets other users in: expected 0700 (chmod 700 {path}, or --no-cache)"
    )]
    Mode { path: String, mode: u32 },
    #[error("s3run cache {path}: not a directory")]
    NotDir { path: String },
    #[error("s3run cache {path}: {action}")]
    Io {
        path: String,
        action: &'static str,
        #[source]
        source: std::io::Error,
    },
}

impl CacheError {
    /// Whether the error is the cache's set-up (a configuration error: exit status 2).
    pub fn is_config(&self) -> bool {
        !matches!(self, CacheError::Io { .. })
    }
}

fn io(path: &Path, action: &'static str) -> impl FnOnce(std::io::Error) -> CacheError {
    let path = path.display().to_string();
    move |source| CacheError::Io {
        path,
        action,
        source,
    }
}

/// `~/.s3run`: HOME when set (absolute), else the user's home from the password database.
pub fn default_dir() -> Result<PathBuf, CacheError> {
    if let Some(home) = std::env::var_os("HOME").map(PathBuf::from)
        && home.is_absolute()
    {
        return Ok(home.join(".s3run"));
    }
    let uid = nix::unistd::geteuid();
    match nix::unistd::User::from_uid(uid) {
        Ok(Some(u)) if u.dir.is_absolute() && u.dir != Path::new("/") && u.dir.is_dir() => {
            Ok(u.dir.join(".s3run"))
        }
        _ => Err(CacheError::NoHome { uid: uid.as_raw() }),
    }
}

/// An opened cache folder, checked to be ours and private.
#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
}

fn hex_sha256(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

impl Cache {
    /// Creates `dir` (mode 0700) when missing; refuses a folder not owned by this user or open to others.
    pub fn open(dir: &Path) -> Result<Self, CacheError> {
        if std::fs::symlink_metadata(dir).is_err() {
            if let Some(parent) = dir.parent() {
                std::fs::create_dir_all(parent).map_err(io(parent, "creating its parent"))?;
            }
            match std::fs::DirBuilder::new().mode(0o700).create(dir) {
                Ok(()) => {
                    // The umask may have taken bits away; say exactly what we want.
                    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                        .map_err(io(dir, "setting mode 0700"))?;
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(io(dir, "creating it")(e)),
            }
        }
        let path = dir.display().to_string();
        let meta = std::fs::metadata(dir).map_err(io(dir, "reading its metadata"))?;
        if !meta.is_dir() {
            return Err(CacheError::NotDir { path });
        }
        let uid = nix::unistd::geteuid().as_raw();
        if meta.uid() != uid {
            return Err(CacheError::Owner {
                path,
                owner: meta.uid(),
                uid,
            });
        }
        let mode = meta.mode() & 0o7777;
        if mode != 0o700 {
            return Err(CacheError::Mode { path, mode });
        }
        Ok(Cache {
            dir: dir.to_path_buf(),
        })
    }

    fn index_path(&self, bucket: &str, key: &str) -> PathBuf {
        self.dir.join(format!(
            "obj-{}",
            hex_sha256(format!("{bucket}/{key}").as_bytes())
        ))
    }

    fn object_path(&self, digest: &str) -> PathBuf {
        self.dir.join(format!("sha256-{digest}"))
    }

    /// The cached executable for the object when its ETag is `etag` and its content is intact.
    pub fn lookup(&self, bucket: &str, key: &str, etag: &str) -> Option<PathBuf> {
        let index = std::fs::read_to_string(self.index_path(bucket, key)).ok()?;
        let mut lines = index.lines();
        let (tag, digest) = (lines.next()?, lines.next()?);
        if tag != etag || digest.len() != 64 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let exe = self.object_path(digest);
        let content = std::fs::read(&exe).ok()?;
        if hex_sha256(&content) != digest {
            tracing::warn!(path = %exe.display(), "cached executable does not match its digest: fetched again");
            return None;
        }
        Some(exe)
    }

    /// Stores `body` (the object with `etag`) and returns the executable's path.
    pub fn store(
        &self,
        bucket: &str,
        key: &str,
        etag: &str,
        body: &[u8],
    ) -> Result<PathBuf, CacheError> {
        let digest = hex_sha256(body);
        let exe = self.object_path(&digest);
        write_atomic(&exe, body, 0o700).map_err(io(&exe, "writing it"))?;
        let index = self.index_path(bucket, key);
        write_atomic(&index, format!("{etag}\n{digest}\n").as_bytes(), 0o600)
            .map_err(io(&index, "writing it"))?;
        Ok(exe)
    }
}
