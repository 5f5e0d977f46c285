//! The swap step: a swap file of the size user data asks for, made once (allocated on xfs,
//! zero-filled elsewhere), checked when something is already at its path, enabled, and kept in
//! fstab so that it comes back at every boot.
use super::files::Root;
use super::steps::{GIB, StepError, file_error, tool, write_file};
use super::userdata::SwapSpec;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

const XFS_MAGIC: i64 = 0x5846_5342;

/// What is at the swap file's path before the step.
enum Existing {
    Absent,
    /// A swap file of the size asked (or one in use): enable it if it is not.
    Ready {
        active: bool,
        size: u64,
    },
    /// A file the agent made that is not a whole swap file (a crash while making it, an earlier
    /// size): made again.
    Leftover(String),
}

/// The swap areas in use (`/proc/swaps`, first column).
fn active_swaps() -> Vec<String> {
    std::fs::read_to_string("/proc/swaps")
        .unwrap_or_default()
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next().map(|p| p.replace("\\040", " ")))
        .collect()
}

/// Whether the file starts with a swap header: `SWAPSPACE2` at the end of the first page.
fn has_swap_signature(f: &mut std::fs::File) -> bool {
    use std::io::Read;
    let page = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .and_then(|p| usize::try_from(p).ok())
        .unwrap_or(4096);
    let mut head = vec![0u8; page];
    f.read_exact(&mut head).is_ok() && head.ends_with(b"SWAPSPACE2")
}

/// Looks at what is at `path`: refuses anything but a regular file, and a file that is not a swap
/// file of the size asked unless the agent made it (root's, mode 0600, not in use).
fn inspect(spec: &SwapSpec, path: &Path) -> Result<Existing, StepError> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let refuse = |what: String| StepError::SwapRefused {
        file: spec.file.clone(),
        what,
    };
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Existing::Absent),
        Err(e) => return Err(file_error("looking at", path)(e)),
    };
    let ft = meta.file_type();
    if ft.is_symlink() {
        let target = std::fs::read_link(path)
            .map(|t| t.display().to_string())
            .unwrap_or_default();
        return Err(refuse(format!(
            "is a symbolic link (to {target:?}), not a swap file: neither followed nor removed"
        )));
    }
    if !ft.is_file() {
        let kind = if ft.is_dir() {
            "a directory"
        } else if ft.is_block_device() {
            "a block device"
        } else if ft.is_socket() {
            "a socket"
        } else {
            "not a regular file"
        };
        return Err(refuse(format!("is {kind}, not a swap file: left as it is")));
    }
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(path)
        .map_err(file_error("opening", path))?;
    let want = spec.size_gib.saturating_mul(GIB);
    let size = meta.len();
    let active = active_swaps().iter().any(|p| Path::new(p) == path);
    if active {
        return Ok(Existing::Ready { active, size });
    }
    let signed = has_swap_signature(&mut f);
    if signed && size == want {
        return Ok(Existing::Ready { active, size });
    }
    let why = if !signed {
        format!("{size} bytes without a swap signature")
    } else {
        format!("a swap file of {size} bytes, not {want}")
    };
    let ours = meta.uid() == nix::unistd::geteuid().as_raw() && meta.mode() & 0o7777 == 0o600;
    if !ours {
        return Err(refuse(format!(
            "exists ({why}) and is not one the agent made (uid {}, mode {:04o}): refusing to replace it",
            meta.uid(),
            meta.mode() & 0o7777
        )));
    }
    Ok(Existing::Leftover(why))
}

/// `swap`: create, mkswap, swapon and one fstab line — once. What is already at the path is
/// checked: a swap file of the size asked is enabled (if it is not) and kept; a partial one the
/// agent made is made again; anything else is refused, never removed.
pub async fn swap(spec: &SwapSpec, root: &Root) -> Result<String, StepError> {
    let path = root.join(&spec.file);
    let existing = {
        let (spec, p) = (spec.clone(), path.clone());
        tokio::task::spawn_blocking(move || inspect(&spec, &p))
            .await
            .map_err(|e| StepError::File {
                action: "looking at",
                path: path.clone(),
                source: std::io::Error::other(e),
            })??
    };
    let repaired = match existing {
        Existing::Absent => None,
        Existing::Ready { active, size } => {
            let p = path.to_string_lossy().into_owned();
            if !active {
                tool("swapon", &[&p]).await?;
            }
            add_fstab_line(root, &spec.file)?;
            let gib = size as f64 / GIB as f64;
            return Ok(if active {
                format!(
                    "{} exists (swap of {gib:.1} GiB), already in use",
                    spec.file
                )
            } else {
                format!("{} exists (swap of {gib:.1} GiB): enabled", spec.file)
            });
        }
        Existing::Leftover(why) => {
            tracing::warn!(target: "lava_rc", step = "swap",
                "{} is {why}: made again", spec.file);
            std::fs::remove_file(&path).map_err(file_error("removing", &path))?;
            Some(why)
        }
    };
    let made = {
        let (spec, file) = (spec.clone(), path.clone());
        tokio::task::spawn_blocking(move || make_swap_file(&spec, &file))
            .await
            .map_err(|e| StepError::File {
                action: "creating",
                path: path.clone(),
                source: std::io::Error::other(e),
            })?
    };
    let how = made?;
    let enabled = async {
        let p = path.to_string_lossy().into_owned();
        let mk = tool("mkswap", &[&p]).await?;
        tracing::info!(target: "lava_rc", step = "swap", "{mk}");
        tool("swapon", &[&p]).await?;
        add_fstab_line(root, &spec.file)
    };
    if let Err(e) = enabled.await {
        // Nothing half done: the next boot starts over. Should the removal fail too, the next boot
        // finds a file without a swap signature and makes it again.
        if let Err(rm) = std::fs::remove_file(&path) {
            tracing::error!(target: "lava_rc", step = "swap", "removing {}: {rm}", path.display());
        }
        return Err(StepError::SwapUndone(Box::new(e)));
    }
    Ok(format!(
        "{} GiB at {} ({how}), enabled{}",
        spec.size_gib,
        spec.file,
        repaired.map_or(String::new(), |w| format!(" (repaired: was {w})"))
    ))
}

/// Checks the free space and writes the swap file; how it was made.
fn make_swap_file(spec: &SwapSpec, path: &Path) -> Result<&'static str, StepError> {
    let dir = path.parent().unwrap_or(Path::new("/"));
    let sys = |call: &'static str| {
        move |source| StepError::Sys {
            call,
            path: dir.to_path_buf(),
            source,
        }
    };
    let fs = nix::sys::statfs::statfs(dir).map_err(sys("statfs"))?;
    let vfs = nix::sys::statvfs::statvfs(dir).map_err(sys("statvfs"))?;
    let free = vfs.blocks_available() as u64 * vfs.fragment_size() as u64;
    let want = spec.size_gib.saturating_mul(GIB);
    if free < want.saturating_add(GIB) {
        return Err(StepError::NoRoom {
            size_gib: spec.size_gib,
            dir: dir.to_path_buf(),
            free,
        });
    }
    let made = make_file(path, want, fs.filesystem_type().0 as i64 == XFS_MAGIC);
    if made.is_err() {
        // Whatever part was written is no swap file: the next boot must not take it for one.
        let _ = std::fs::remove_file(path);
    }
    made
}

fn make_file(path: &Path, len: u64, xfs: bool) -> Result<&'static str, StepError> {
    let f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(file_error("creating", path))?;
    f.set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(file_error("setting mode 0600 on", path))?;
    if !xfs {
        match nix::fcntl::fallocate(
            &f,
            nix::fcntl::FallocateFlags::empty(),
            0,
            len as nix::libc::off_t,
        ) {
            Ok(()) => return Ok("fallocate"),
            Err(nix::errno::Errno::EOPNOTSUPP) => {}
            Err(source) => {
                return Err(StepError::Sys {
                    call: "fallocate",
                    path: path.to_path_buf(),
                    source,
                });
            }
        }
    }
    // xfs cannot swap from fallocated (unwritten) extents, and some filesystems lack fallocate.
    let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..len.div_ceil(1 << 20) {
        w.write_all(&zeros).map_err(file_error("writing", path))?;
    }
    w.flush().map_err(file_error("writing", path))?;
    Ok("zero-filled")
}

/// Appends `<file> swap swap defaults 0 0` to fstab unless a line for that file is there.
pub fn add_fstab_line(root: &Root, file: &str) -> Result<(), StepError> {
    let fstab = root.join("/etc/fstab");
    let current = match std::fs::read_to_string(&fstab) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(file_error("reading", &fstab)(e)),
    };
    let present = current.lines().any(|l| {
        let mut w = l.split_whitespace();
        w.next() == Some(file) && w.next() == Some("swap")
    });
    if present {
        return Ok(());
    }
    let mut text = current;
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&format!("{file} swap swap defaults 0 0\n"));
    write_file(&fstab, text.as_bytes(), 0o644)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fstab_line_is_added_once() {
        let d = tempfile::tempdir().unwrap();
        let root = Root(d.path().to_path_buf());
        std::fs::create_dir_all(root.join("/etc")).unwrap();
        std::fs::write(root.join("/etc/fstab"), "UUID=x / ext4 defaults 0 1").unwrap();
        add_fstab_line(&root, "/swapfile").unwrap();
        add_fstab_line(&root, "/swapfile").unwrap();
        let text = std::fs::read_to_string(root.join("/etc/fstab")).unwrap();
        assert_eq!(
            text,
            "UUID=x / ext4 defaults 0 1\n/swapfile swap swap defaults 0 0\n"
        );
    }
}
