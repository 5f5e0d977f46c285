//! Files the agent writes: under a root (`/` on an instance), atomically, or private to us.
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Where the agent writes: `/` on an instance, a temporary folder in tests and image builds.
#[derive(Debug, Clone)]
pub struct Root(pub PathBuf);

impl Root {
    /// `abs` (an absolute path) under the root.
    pub fn join(&self, abs: &str) -> PathBuf {
        self.0.join(abs.trim_start_matches('/'))
    }
}

/// A file nobody else can read, with a name nobody can guess, in a private folder of ours.
pub struct PrivateFile {
    dir: PathBuf,
    pub path: PathBuf,
}

impl PrivateFile {
    /// Writes `content` into a new private file (mode 0600, or `mode`).
    pub fn create(prefix: &str, content: &[u8], mode: u32) -> std::io::Result<Self> {
        let (file, mut f) = Self::empty(prefix)?;
        f.write_all(content)?;
        f.set_permissions(std::fs::Permissions::from_mode(mode))?;
        f.sync_all()?;
        Ok(file)
    }

    /// A new empty private file (mode 0600) and its handle for writing; close the handle before
    /// running the file.
    pub fn empty(prefix: &str) -> std::io::Result<(Self, std::fs::File)> {
        let dir = std::env::temp_dir().join(format!("lava-rc.{}", uuid::Uuid::new_v4().simple()));
        std::fs::DirBuilder::new().mode(0o700).create(&dir)?;
        // From here on, Drop removes the folder whatever fails next.
        let file = PrivateFile {
            path: dir.join(format!("{prefix}.{}", uuid::Uuid::new_v4().simple())),
            dir,
        };
        let f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&file.path)?;
        Ok((file, f))
    }
}

impl Drop for PrivateFile {
    fn drop(&mut self) {
        // A temporary folder left behind is harmless: nothing to report at this point.
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Writes `path` (its folder must exist) through a new file beside it and a rename, so readers
/// never see half a file; the new file has `mode` exactly, whatever the umask.
pub fn write_atomic(path: &Path, content: &[u8], mode: u32) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("/"));
    let tmp = dir.join(format!(
        ".{}.{}",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default(),
        uuid::Uuid::new_v4().simple()
    ));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        f.write_all(content)?;
        f.set_permissions(std::fs::Permissions::from_mode(mode))?;
        f.sync_all()?;
        // Closed before it has its name: nobody finds it still open for writing.
        drop(f);
        std::fs::rename(&tmp, path)
    };
    write().inspect_err(|_| {
        // The write already failed and says why; a leftover temporary file only takes room.
        let _ = std::fs::remove_file(&tmp);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_writes_replace_the_file_with_the_mode_asked() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f");
        write_atomic(&p, b"one", 0o600).unwrap();
        write_atomic(&p, b"two", 0o644).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644);
        assert_eq!(
            std::fs::read_dir(d.path()).unwrap().count(),
            1,
            "no leftover"
        );
    }

    #[test]
    fn a_private_file_goes_with_its_folder() {
        let f = PrivateFile::create("t", b"x", 0o700).unwrap();
        let dir = f.path.parent().unwrap().to_path_buf();
        assert_eq!(
            std::fs::metadata(&f.path).unwrap().permissions().mode() & 0o777,
            0o700
        );
        drop(f);
        assert!(!dir.exists());
    }
}
