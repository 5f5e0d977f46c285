//! The local side of a sync: the files under the source folder that are synced.
use globset::{Glob, GlobSet, GlobSetBuilder};
use std::path::{Path, PathBuf};

/// A file to sync: its key below the prefix and what identifies its content cheaply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalFile {
    /// Path relative to the source folder with `/` separators: the key below the prefix.
    pub rel: String,
    pub path: PathBuf,
    pub size: u64,
    pub mtime_ns: i128,
    pub inode: u64,
    /// Inode change time: changes with every write, like the mtime, but cannot be set back.
    pub ctime_ns: i128,
}

impl LocalFile {
    /// What the walk saw of the file, to tell whether it changed since.
    pub fn stamp(&self) -> Stamp {
        Stamp {
            size: self.size,
            mtime_ns: self.mtime_ns,
            ctime_ns: self.ctime_ns,
            inode: self.inode,
        }
    }
}

/// Size, modification and change times, inode: a file whose stamp is the same before and after a
/// read was not written to during it (its content is one version of the file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub size: u64,
    pub mtime_ns: i128,
    pub ctime_ns: i128,
    pub inode: u64,
}

impl Stamp {
    pub fn of(meta: &std::fs::Metadata) -> Stamp {
        use std::os::unix::fs::MetadataExt;
        Stamp {
            size: meta.len(),
            mtime_ns: meta.mtime() as i128 * 1_000_000_000 + meta.mtime_nsec() as i128,
            ctime_ns: meta.ctime() as i128 * 1_000_000_000 + meta.ctime_nsec() as i128,
            inode: meta.ino(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WalkError {
    #[error("source folder {0} does not exist or is not a folder")]
    NoSource(String),
    #[error("broken symbolic link {0}: its target does not exist")]
    BrokenLink(String),
    #[error("{}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}", .path.display())]
    Walk {
        path: PathBuf,
        #[source]
        source: walkdir::Error,
    },
    #[error(
        "{folder}: {} not UTF-8 and cannot be S3 keys (two such names may read alike): {}; rename them",
        if .names.len() == 1 { "1 file name is".to_string() } else { format!("{} file names are", .names.len()) },
        .names.join(", ")
    )]
    NotUtf8 { folder: String, names: Vec<String> },
    #[error("--exclude {glob:?}")]
    BadGlob {
        glob: String,
        #[source]
        source: globset::Error,
    },
}

use crate::ignore::ignored_name;

/// `--exclude` globs, matched against the relative path (`oracle/*.zip`) and the file name (`*.tmp`).
pub fn excludes(globs: &[String]) -> Result<GlobSet, WalkError> {
    let mut b = GlobSetBuilder::new();
    for g in globs {
        let glob = Glob::new(g).map_err(|source| WalkError::BadGlob {
            glob: g.clone(),
            source,
        })?;
        b.add(glob);
    }
    b.build().map_err(|source| WalkError::BadGlob {
        glob: globs.join(" "),
        source,
    })
}

/// Whether a relative key is left out by the ignore rules or the excludes (also for `--delete`).
pub fn skipped(rel: &str, excludes: &GlobSet) -> bool {
    rel.split('/').any(ignored_name)
        || excludes.is_match(rel)
        || rel
            .rsplit('/')
            .next()
            .is_some_and(|name| excludes.is_match(name))
}

/// Every file to sync under `source`, sorted by key. Symlinks are followed. A name that is not
/// UTF-8 is refused (all of them named, with their bytes escaped): a lossy key would put two such
/// files on one object.
pub fn walk(source: &Path, excludes: &GlobSet) -> Result<Vec<LocalFile>, WalkError> {
    if !source.is_dir() {
        return Err(WalkError::NoSource(source.display().to_string()));
    }
    let mut out = Vec::new();
    let mut not_utf8 = Vec::new();
    let it = walkdir::WalkDir::new(source)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !ignored_name(&e.file_name().to_string_lossy()));
    for entry in it {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                let path = e.path().map(Path::to_path_buf).unwrap_or_default();
                if std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink())
                    && std::fs::metadata(&path).is_err()
                {
                    return Err(WalkError::BrokenLink(path.display().to_string()));
                }
                return Err(WalkError::Walk { path, source: e });
            }
        };
        if !entry.file_type().is_file() {
            continue;
        }
        let below = entry.path().strip_prefix(source).unwrap_or(entry.path());
        let rel = below
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/");
        if skipped(&rel, excludes) {
            continue;
        }
        if below.to_str().is_none() {
            // Debug of a path escapes the bytes that are not UTF-8 (`a\xFF.txt`).
            not_utf8.push(format!("{below:?}"));
            continue;
        }
        let meta = std::fs::metadata(entry.path()).map_err(|source| WalkError::Io {
            path: entry.path().to_path_buf(),
            source,
        })?;
        let stamp = Stamp::of(&meta);
        out.push(LocalFile {
            rel,
            path: entry.path().to_path_buf(),
            size: stamp.size,
            mtime_ns: stamp.mtime_ns,
            inode: stamp.inode,
            ctime_ns: stamp.ctime_ns,
        });
    }
    if !not_utf8.is_empty() {
        return Err(WalkError::NotUtf8 {
            folder: source.display().to_string(),
            names: not_utf8,
        });
    }
    out.sort_by(|a, b| a.rel.cmp(&b.rel));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_dot_files_swap_files_and_excludes_follows_links() {
        let d = tempfile::tempdir().unwrap();
        let s = d.path();
        for f in [
            "a.zip",
            "oracle/b.zip",
            ".hidden",
            ".git/config",
            "sub/.DS_Store",
            "sub/x.swp",
            "sub/notes~",
            "sub/keep.txt",
            "tmp/skip.tmp",
        ] {
            let p = s.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, f).unwrap();
        }
        std::os::unix::fs::symlink(s.join("a.zip"), s.join("link.zip")).unwrap();
        let ex = excludes(&["*.tmp".to_string()]).unwrap();
        let keys: Vec<_> = walk(s, &ex).unwrap().into_iter().map(|f| f.rel).collect();
        assert_eq!(keys, ["a.zip", "link.zip", "oracle/b.zip", "sub/keep.txt"]);
        std::os::unix::fs::symlink(s.join("gone"), s.join("broken")).unwrap();
        let e = walk(s, &ex).unwrap_err();
        assert!(
            matches!(&e, WalkError::BrokenLink(p) if p.ends_with("/broken")),
            "{e}"
        );
    }

    #[test]
    fn bad_globs_are_named() {
        let e = excludes(&["a[".to_string()]).unwrap_err();
        assert!(
            matches!(&e, WalkError::BadGlob { glob, .. } if glob == "a["),
            "{e}"
        );
    }
}
