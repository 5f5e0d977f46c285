//! The provisioning tarball: what the build instance unpacks into `~/packer` and runs.
//!
//! Layout: `ami-build.sh` (from ami/), the contents of `ami/os/<os>/` at the top (conf.d/, lib/,
//! resources/, versions.sh), `agent/lava-rc` and `rc.d/…` for the boot agent. Symlinks are followed;
//! dot files, macOS litter, logs, editor swap files and `resources.s3` are left out. Entries are sorted
//! and carry fixed owner and time, so the same inputs give the same bytes.
use flate2::Compression;
use flate2::write::GzEncoder;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// What goes into the tarball.
#[derive(Debug, Clone)]
pub struct TarballSpec {
    /// The ami/ folder (ami-build.sh and os/<os>/).
    pub ami_dir: PathBuf,
    pub os: String,
    /// The boot agent binary for the tarball's arch.
    pub agent: Option<PathBuf>,
    /// rc.d/ (systemd unit, rc.local shim, install.sh).
    pub rc_dir: Option<PathBuf>,
}

/// What was packed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TarballSummary {
    /// Paths inside the tarball, in order.
    pub entries: Vec<String>,
    pub bytes: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum TarballError {
    #[error("{}: no provisioning tree for os {os}", .path.display())]
    NoOsTree { path: PathBuf, os: String },
    #[error("{}: missing: the build instance runs it", .path.display())]
    NoScript { path: PathBuf },
    #[error("{}: {name} would be packed twice", .path.display())]
    Twice { path: PathBuf, name: String },
    #[error("{}", .path.display())]
    Walk {
        path: PathBuf,
        #[source]
        source: walkdir::Error,
    },
    #[error("{}", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("writing {}", .path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Whether a file or folder name is left out of the tarball: what is never shipped
/// ([`crate::ignore`]), logs, and the resources that go to S3 instead.
pub fn excluded(name: &str) -> bool {
    crate::ignore::ignored_name(name) || name.ends_with(".log") || name == "resources.s3"
}

/// (path inside the tarball, file on disk) for every file under `dir`, sorted, symlinks followed.
fn collect(dir: &Path, prefix: &str, out: &mut Vec<(String, PathBuf)>) -> Result<(), TarballError> {
    let walker = walkdir::WalkDir::new(dir)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !excluded(&e.file_name().to_string_lossy()));
    for entry in walker {
        let entry = entry.map_err(|source| TarballError::Walk {
            path: source
                .path()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| dir.to_path_buf()),
            source,
        })?;
        if !entry.file_type().is_file() {
            continue;
        }
        // Every entry of the walk lies under `dir`.
        let rel = entry.path().strip_prefix(dir).unwrap_or(entry.path());
        let rel = rel.to_string_lossy();
        let name = if prefix.is_empty() {
            rel.into_owned()
        } else {
            format!("{prefix}/{rel}")
        };
        out.push((name, entry.path().to_path_buf()));
    }
    Ok(())
}

/// The files of the tarball, in order: (path inside, file on disk).
pub fn contents(spec: &TarballSpec) -> Result<Vec<(String, PathBuf)>, TarballError> {
    let os_dir = spec.ami_dir.join("os").join(&spec.os);
    if !os_dir.is_dir() {
        return Err(TarballError::NoOsTree {
            path: os_dir,
            os: spec.os.clone(),
        });
    }
    let script = spec.ami_dir.join("ami-build.sh");
    if !script.is_file() {
        return Err(TarballError::NoScript { path: script });
    }
    let mut files = vec![("ami-build.sh".to_string(), script)];
    collect(&os_dir, "", &mut files)?;
    if let Some(agent) = &spec.agent {
        files.push(("agent/lava-rc".to_string(), agent.clone()));
    }
    if let Some(rc) = &spec.rc_dir
        && rc.is_dir()
    {
        collect(rc, "rc.d", &mut files)?;
    }
    let mut seen = std::collections::BTreeSet::new();
    for (name, path) in &files {
        if !seen.insert(name.clone()) {
            return Err(TarballError::Twice {
                path: path.clone(),
                name: name.clone(),
            });
        }
    }
    Ok(files)
}

/// Writes the gzip-compressed tarball of `spec` to `out`.
pub fn build_tarball(spec: &TarballSpec, out: &Path) -> Result<TarballSummary, TarballError> {
    let files = contents(spec)?;
    let werr = |source: std::io::Error| TarballError::Write {
        path: out.to_path_buf(),
        source,
    };
    let tmp = out.with_extension("tmp");
    let file = std::fs::File::create(&tmp).map_err(werr)?;
    let mut tar = tar::Builder::new(GzEncoder::new(file, Compression::default()));
    tar.mode(tar::HeaderMode::Deterministic);
    let mut entries = Vec::new();
    for (name, path) in &files {
        let data = std::fs::read(path).map_err(|source| TarballError::Read {
            path: path.clone(),
            source,
        })?;
        let exec = std::fs::metadata(path)
            .map(|m| m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false);
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(if exec || name == "agent/lava-rc" {
            0o755
        } else {
            0o644
        });
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut header, name, data.as_slice())
            .map_err(werr)?;
        entries.push(name.clone());
    }
    let mut gz = tar.into_inner().map_err(werr)?;
    gz.flush().map_err(werr)?;
    gz.finish().map_err(werr)?;
    std::fs::rename(&tmp, out).map_err(werr)?;
    let bytes = std::fs::metadata(out).map(|m| m.len()).unwrap_or(0);
    Ok(TarballSummary { entries, bytes })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        let ami = d.path();
        let w = |rel: &str, text: &str, mode: u32| {
            let p = ami.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, text).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        };
        w("ami-build.sh", "#!/bin/bash\n", 0o755);
        w("os/amzn2023/conf.d/10-a.sh", "#!/bin/bash\n", 0o755);
        w("os/amzn2023/lib/log.sh", "x\n", 0o644);
        w("os/amzn2023/.DS_Store", "junk", 0o644);
        w("os/amzn2023/._conf", "junk", 0o644);
        w("os/amzn2023/conf.d/.10-a.sh.swp", "junk", 0o644);
        w("os/amzn2023/build.log", "junk", 0o644);
        w("os/amzn2023/resources.s3/big.zip", "junk", 0o644);
        w("os/amzn2023/.git/config", "junk", 0o644);
        w("shared/motd", "hello\n", 0o644);
        std::os::unix::fs::symlink(ami.join("shared/motd"), ami.join("os/amzn2023/motd")).unwrap();
        d
    }

    #[test]
    fn packs_the_os_tree_with_exclusions_and_followed_links() {
        let d = tree();
        let spec = TarballSpec {
            ami_dir: d.path().to_path_buf(),
            os: "amzn2023".into(),
            agent: Some(d.path().join("ami-build.sh")),
            rc_dir: None,
        };
        let out = d.path().join("t.tar.gz");
        let s = build_tarball(&spec, &out).unwrap();
        assert_eq!(
            s.entries,
            [
                "ami-build.sh",
                "conf.d/10-a.sh",
                "lib/log.sh",
                "motd",
                "agent/lava-rc"
            ]
        );
        let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(
            std::fs::File::open(&out).unwrap(),
        ));
        let modes: Vec<(String, u32)> = ar
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.path().unwrap().to_string_lossy().into_owned(),
                    e.header().mode().unwrap(),
                )
            })
            .collect();
        assert!(modes.contains(&("conf.d/10-a.sh".into(), 0o755)));
        assert!(modes.contains(&("lib/log.sh".into(), 0o644)));
        assert!(
            modes.contains(&("motd".into(), 0o644)),
            "symlink followed: {modes:?}"
        );
    }

    #[test]
    fn same_inputs_give_the_same_bytes() {
        let d = tree();
        let spec = TarballSpec {
            ami_dir: d.path().to_path_buf(),
            os: "amzn2023".into(),
            agent: None,
            rc_dir: None,
        };
        let a = d.path().join("a.tar.gz");
        let b = d.path().join("b.tar.gz");
        build_tarball(&spec, &a).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(d.path().join("os/amzn2023/lib/log.sh"), "x\n").unwrap();
        build_tarball(&spec, &b).unwrap();
        assert_eq!(std::fs::read(a).unwrap(), std::fs::read(b).unwrap());
    }

    #[test]
    fn a_missing_os_tree_or_broken_link_is_named() {
        let d = tree();
        let mut spec = TarballSpec {
            ami_dir: d.path().to_path_buf(),
            os: "ubuntu24".into(),
            agent: None,
            rc_dir: None,
        };
        let out = d.path().join("t.tar.gz");
        let e = build_tarball(&spec, &out).unwrap_err();
        assert!(
            matches!(&e, TarballError::NoOsTree { os, .. } if os == "ubuntu24"),
            "{e}"
        );
        spec.os = "amzn2023".into();
        std::os::unix::fs::symlink("/nonexistent/x", d.path().join("os/amzn2023/broken")).unwrap();
        let e = build_tarball(&spec, &out).unwrap_err();
        assert!(
            matches!(&e, TarballError::Walk { path, .. } if path.ends_with("broken")),
            "{e}"
        );
    }
}
