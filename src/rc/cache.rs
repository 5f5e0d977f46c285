//! The `s3run` cache: a folder owned by the user with mode 0700 (any other is refused), holding each
//! executable under the SHA-256 of its content (`sha256-<hex>`) and, per object, an index entry
//! (`obj-<sha256 of bucket/key>`) with the object's ETag and that digest. A cached executable is used
//! only when the object's ETag is the indexed one and the file's content still hashes to its name.
//!
//! The folder is opened once, without following a symbolic link, and checked on that handle; every
//! later step works relative to the handle (`openat`, `renameat`), and what runs is the file whose
//! content was hashed, by its descriptor: whoever can rename entries around the folder's path cannot
//! swap in a folder or a file of theirs between the check and the run.
use nix::fcntl::{OFlag, openat, renameat};
use nix::sys::stat::{Mode, SFlag, fchmod, fstat};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::DirBuilderExt;
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
    #[error(
        "s3run cache {path}: not a directory (a symbolic link is not followed: name the folder itself with --cache-dir, or use --no-cache)"
    )]
    NotDir { path: String },
    #[error("s3run cache {path}: {action}")]
    Io {
        path: String,
        action: String,
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

fn io(path: &Path, action: impl Into<String>) -> impl FnOnce(std::io::Error) -> CacheError {
    let path = path.display().to_string();
    let action = action.into();
    move |source| CacheError::Io {
        path,
        action,
        source,
    }
}

fn sys(path: &Path, action: impl Into<String>) -> impl FnOnce(nix::Error) -> CacheError {
    let f = io(path, action);
    move |e| f(std::io::Error::from(e))
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

/// An opened cache folder, checked (on its descriptor) to be ours and private.
#[derive(Debug)]
pub struct Cache {
    dir: OwnedFd,
    path: PathBuf,
}

/// A cached executable, opened and hashed: run it by its descriptor.
#[derive(Debug)]
pub struct Verified {
    pub file: std::fs::File,
    /// `<cache>/sha256-<hex>`, for messages.
    pub path: PathBuf,
}

/// A new file in the cache folder, being written; renamed into place by `Cache::commit`.
pub struct Pending {
    pub file: std::fs::File,
    name: String,
}

fn index_name(bucket: &str, key: &str) -> String {
    format!(
        "obj-{}",
        hex::encode(Sha256::digest(format!("{bucket}/{key}").as_bytes()))
    )
}

fn object_name(digest: &str) -> String {
    format!("sha256-{digest}")
}

/// Opens an entry of the folder for reading: never through a symbolic link.
const READ: OFlag = OFlag::O_RDONLY
    .union(OFlag::O_NOFOLLOW)
    .union(OFlag::O_CLOEXEC)
    .union(OFlag::O_NOCTTY);

impl Cache {
    /// Creates `dir` (mode 0700) when missing; refuses a symbolic link, a folder not owned by this
    /// user or open to others. The checks are made on the opened folder.
    pub fn open(dir: &Path) -> Result<Self, CacheError> {
        let path = dir.display().to_string();
        let mut created = false;
        if std::fs::symlink_metadata(dir).is_err() {
            if let Some(parent) = dir.parent() {
                std::fs::create_dir_all(parent).map_err(io(parent, "creating its parent"))?;
            }
            match std::fs::DirBuilder::new().mode(0o700).create(dir) {
                Ok(()) => created = true,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(io(dir, "creating it")(e)),
            }
        }
        let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        let fd = match nix::fcntl::open(dir, flags, Mode::empty()) {
            Ok(fd) => fd,
            // With O_DIRECTORY, a symbolic link fails as "not a directory" (ENOTDIR), or ELOOP.
            Err(nix::errno::Errno::ELOOP | nix::errno::Errno::ENOTDIR) => {
                return Err(CacheError::NotDir { path });
            }
            Err(e) => return Err(sys(dir, "opening it")(e)),
        };
        let st = fstat(&fd).map_err(sys(dir, "reading its metadata"))?;
        if SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()) != SFlag::S_IFDIR {
            return Err(CacheError::NotDir { path });
        }
        let uid = nix::unistd::geteuid().as_raw();
        if st.st_uid != uid {
            return Err(CacheError::Owner {
                path,
                owner: st.st_uid,
                uid,
            });
        }
        let mut mode = st.st_mode & 0o7777;
        if created && mode != 0o700 {
            // The umask may have taken bits away; say exactly what we want, on the folder we made.
            fchmod(&fd, Mode::from_bits_truncate(0o700)).map_err(sys(dir, "setting mode 0700"))?;
            mode = 0o700;
        }
        if mode != 0o700 {
            return Err(CacheError::Mode { path, mode });
        }
        Ok(Cache {
            dir: fd,
            path: dir.to_path_buf(),
        })
    }

    fn read_entry(&self, name: &str) -> Option<std::fs::File> {
        let fd = openat(&self.dir, name, READ, Mode::empty()).ok()?;
        let st = fstat(&fd).ok()?;
        let regular =
            SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()) == SFlag::S_IFREG;
        (regular && st.st_uid == nix::unistd::geteuid().as_raw()).then(|| fd.into())
    }

    /// The cached executable for the object when its ETag is `etag` and its content is intact.
    pub fn lookup(&self, bucket: &str, key: &str, etag: &str) -> Option<Verified> {
        let mut index = String::new();
        self.read_entry(&index_name(bucket, key))?
            .take(4096)
            .read_to_string(&mut index)
            .ok()?;
        let mut lines = index.lines();
        let (tag, digest) = (lines.next()?, lines.next()?);
        if tag != etag {
            return None;
        }
        self.verified(digest)
    }

    /// `sha256-<digest>` opened, when its content hashes to `digest`.
    fn verified(&self, digest: &str) -> Option<Verified> {
        if digest.len() != 64 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let name = object_name(digest);
        let path = self.path.join(&name);
        let mut file = self.read_entry(&name)?;
        let mut hasher = Sha256::new();
        std::io::copy(&mut file, &mut hasher).ok()?;
        if hex::encode(hasher.finalize()) != digest {
            tracing::warn!(path = %path.display(), "cached executable does not match its digest: fetched again");
            return None;
        }
        Some(Verified { file, path })
    }

    /// A new private file in the folder to write an object into.
    pub fn pending(&self) -> Result<Pending, CacheError> {
        let name = format!(".new-{}", uuid::Uuid::new_v4().simple());
        let flags =
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        let fd = openat(
            &self.dir,
            name.as_str(),
            flags,
            Mode::from_bits_truncate(0o600),
        )
        .map_err(sys(&self.path.join(&name), "creating it"))?;
        Ok(Pending {
            file: fd.into(),
            name,
        })
    }

    /// Removes a pending file that will not be committed (a failed download).
    pub fn discard(&self, p: Pending) {
        drop(p.file);
        // A leftover only takes room: the download's own error says what failed.
        let _ = nix::unistd::unlinkat(
            &self.dir,
            p.name.as_str(),
            nix::unistd::UnlinkatFlags::NoRemoveDir,
        );
    }

    /// Closes the written file (nothing holds it open for writing once it has its name: a
    /// concurrent run may execute it at once), names it by its content and indexes it for the
    /// object; returns it opened and verified.
    pub fn commit(
        &self,
        p: Pending,
        bucket: &str,
        key: &str,
        etag: &str,
        digest: &str,
    ) -> Result<Verified, CacheError> {
        let Pending { file, name } = p;
        let tmp = self.path.join(&name);
        let done = (|| {
            fchmod(&file, Mode::from_bits_truncate(0o700))
                .map_err(sys(&tmp, "setting mode 0700"))?;
            file.sync_all().map_err(io(&tmp, "writing it"))?;
            drop(file);
            let target = object_name(digest);
            renameat(&self.dir, name.as_str(), &self.dir, target.as_str())
                .map_err(sys(&self.path.join(&target), "renaming the new file to it"))
        })();
        if let Err(e) = done {
            let _ = nix::unistd::unlinkat(
                &self.dir,
                name.as_str(),
                nix::unistd::UnlinkatFlags::NoRemoveDir,
            );
            return Err(e);
        }
        let index = self.pending()?;
        let Pending { mut file, name } = index;
        let target = index_name(bucket, key);
        let written = (|| {
            file.write_all(format!("{etag}\n{digest}\n").as_bytes())
                .and_then(|()| file.sync_all())
                .map_err(io(&self.path.join(&name), "writing it"))?;
            drop(file);
            renameat(&self.dir, name.as_str(), &self.dir, target.as_str()).map_err(sys(
                &self.path.join(&target),
                "renaming the new index entry to it",
            ))
        })();
        if let Err(e) = written {
            let _ = nix::unistd::unlinkat(
                &self.dir,
                name.as_str(),
                nix::unistd::UnlinkatFlags::NoRemoveDir,
            );
            return Err(e);
        }
        self.verified(digest).ok_or_else(|| CacheError::Io {
            path: self.path.join(object_name(digest)).display().to_string(),
            action: "reading it back".into(),
            source: std::io::Error::other("its content no longer hashes to its name"),
        })
    }
}
