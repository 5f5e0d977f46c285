//! The build context: a folder as a tar in memory (modes kept, dot files left out), plus optional
//! extra files such as a lava bundle. Pure apart from reading the files; [`make`] does it off the
//! async runtime.
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    #[error("build context: {path}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("build context: {0}: not a build folder (it has no Dockerfile)")]
    NoDockerfile(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ContextError + '_ {
    move |source| ContextError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Appends a regular file `name` with `mode` and `data`, root-owned at time 0, so that the same
/// files make the same bytes (build contexts, bundles).
pub fn append<W: std::io::Write>(
    tar: &mut tar::Builder<W>,
    name: &str,
    mode: u32,
    data: &[u8],
) -> std::io::Result<()> {
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(mode);
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    h.set_entry_type(tar::EntryType::Regular);
    tar.append_data(&mut h, name, data)
}

/// [`build`] on a blocking thread, so a large context does not hold up the runtime.
pub async fn make(dir: PathBuf, extra: Vec<(String, PathBuf)>) -> Result<Vec<u8>, ContextError> {
    tokio::task::spawn_blocking(move || build(&dir, &extra))
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
}

/// [`build_some`] on a blocking thread.
pub async fn make_some(
    dir: PathBuf,
    keep: impl Fn(&str) -> bool + Send + 'static,
    extra: Vec<(String, PathBuf)>,
) -> Result<Vec<u8>, ContextError> {
    tokio::task::spawn_blocking(move || build_some(&dir, &keep, &extra))
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
}

/// The context tar of `dir` (every file but dot files, sorted, modes kept, fixed times and owner),
/// with `extra` files (name in the context, file on disk) added.
pub fn build(dir: &Path, extra: &[(String, PathBuf)]) -> Result<Vec<u8>, ContextError> {
    build_some(dir, &|_| true, extra)
}

/// [`build`] of the files and folders whose path relative to `dir` (`/`-separated) `keep` accepts;
/// a folder it refuses is not entered.
pub fn build_some(
    dir: &Path,
    keep: &dyn Fn(&str) -> bool,
    extra: &[(String, PathBuf)],
) -> Result<Vec<u8>, ContextError> {
    if !dir.join("Dockerfile").is_file() {
        return Err(ContextError::NoDockerfile(dir.display().to_string()));
    }
    let mut files: Vec<(String, PathBuf)> = Vec::new();
    let walker = walkdir::WalkDir::new(dir)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            if e.depth() == 0 {
                return true;
            }
            let rel = e.path().strip_prefix(dir).unwrap_or(e.path());
            !crate::ignore::ignored_name(&e.file_name().to_string_lossy())
                && keep(&rel.to_string_lossy())
        });
    for e in walker {
        let e = e.map_err(|err| {
            let path = err.path().unwrap_or(dir).to_path_buf();
            io(&path)(err.into())
        })?;
        if e.file_type().is_file() {
            let rel = e.path().strip_prefix(dir).unwrap_or(e.path());
            files.push((rel.to_string_lossy().into_owned(), e.path().to_path_buf()));
        }
    }
    files.extend(extra.iter().cloned());
    let mut tar = tar::Builder::new(Vec::new());
    tar.mode(tar::HeaderMode::Deterministic);
    for (name, path) in files {
        let mut data = Vec::new();
        std::fs::File::open(&path)
            .and_then(|mut f| f.read_to_end(&mut data))
            .map_err(io(&path))?;
        let mode = std::fs::metadata(&path)
            .map_err(io(&path))?
            .permissions()
            .mode()
            & 0o777;
        append(&mut tar, &name, mode, &data).map_err(io(&path))?;
    }
    tar.into_inner().map_err(io(dir))
}

/// (name, mode) of every entry of a context tar.
pub fn entries(tar_bytes: &[u8]) -> Vec<(String, u32)> {
    let mut a = tar::Archive::new(tar_bytes);
    a.entries()
        .map(|es| {
            es.flatten()
                .map(|e| {
                    (
                        e.path()
                            .map(|p| p.to_string_lossy().into_owned())
                            .unwrap_or_default(),
                        e.header().mode().unwrap_or(0),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_modes_and_drops_dot_files() {
        let d = tempfile::tempdir().unwrap();
        let w = |rel: &str, mode: u32| {
            let p = d.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, rel).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        };
        w("Dockerfile", 0o644);
        w("os/x/base/10-a.sh", 0o755);
        w(".git/config", 0o644);
        w("os/x/.DS_Store", 0o644);
        let extra = d.path().join("bundle.tgz");
        std::fs::write(&extra, b"b").unwrap();
        let t = build(d.path(), &[("packages/lava/bundle.tgz".into(), extra)]).unwrap();
        assert_eq!(
            entries(&t),
            [
                ("Dockerfile".to_string(), 0o644),
                ("bundle.tgz".to_string(), 0o644),
                ("os/x/base/10-a.sh".to_string(), 0o755),
                ("packages/lava/bundle.tgz".to_string(), 0o644),
            ]
        );
        assert_eq!(
            build(d.path(), &[]).unwrap(),
            build(d.path(), &[]).unwrap(),
            "deterministic"
        );
        assert!(build(&d.path().join("os"), &[]).is_err());
    }
}
