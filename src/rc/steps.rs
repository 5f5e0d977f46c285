//! The boot steps. Each returns `Ok(detail)` or a `StepError`; a failure never stops the next step.
use super::files::{PrivateFile, Root, write_atomic};
use super::object::{self, ObjectError};
use super::proc::{Ended, Finished};
use super::userdata::{SpecError, SwapSpec};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Why a step failed.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// The user data cannot be read (not JSON, not an object): the site scripts still run.
    #[error(transparent)]
    UserData(#[from] super::userdata::UserDataError),
    #[error("cannot write the {what} to a private file")]
    Private {
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot run {}", program.display())]
    Spawn {
        program: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("exit status {0}")]
    Exit(i32),
    #[error("killed by signal {0}")]
    Signal(i32),
    #[error("timed out after {}s (process group killed)", .0.as_secs())]
    TimedOut(Duration),
    #[error("timed out after {}s (--step-timeout)", .0.as_secs())]
    StepTimedOut(Duration),
    /// A tool (mkswap, swapon, crontab) failed; `output` is what it said.
    #[error("{command}: {output} (exit status {status})")]
    Tool {
        command: String,
        output: String,
        status: i32,
    },
    #[error("{call} {}", path.display())]
    Sys {
        call: &'static str,
        path: PathBuf,
        #[source]
        source: nix::Error,
    },
    #[error("{action} {}", path.display())]
    File {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{size_gib} GiB of swap would leave less than 1 GiB free on {} ({:.1} GiB free)",
        dir.display(), *free as f64 / GIB as f64
    )]
    NoRoom {
        size_gib: u64,
        dir: PathBuf,
        free: u64,
    },
    #[error("{file} {what}")]
    SwapRefused { file: String, what: String },
    #[error("swap file removed so the next boot tries again")]
    SwapUndone(#[source] Box<StepError>),
    #[error("no such user")]
    NoUser,
    #[error(transparent)]
    Object(#[from] ObjectError),
}

fn file_error(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> StepError {
    let path = path.to_path_buf();
    move |source| StepError::File {
        action,
        path,
        source,
    }
}

/// The step's result from how its process ended (its output was logged as it came).
fn finish(f: &Finished) -> Result<String, StepError> {
    match f.ended {
        Ended::Exited(0) => Ok("exit status 0".into()),
        Ended::Exited(c) => Err(StepError::Exit(c)),
        Ended::Signalled(s) => Err(StepError::Signal(s)),
        Ended::TimedOut(t) => Err(StepError::TimedOut(t)),
    }
}

/// Runs `cmd` as step `step` (its own process group, killed after `limit`).
async fn run_step(
    step: &str,
    program: &Path,
    cmd: &mut tokio::process::Command,
    limit: Duration,
) -> Result<String, StepError> {
    let f = super::proc::run(step, cmd, limit)
        .await
        .map_err(|source| StepError::Spawn {
            program: program.to_path_buf(),
            source,
        })?;
    finish(&f)
}

/// `shell0`/`shell`: the lines as one bash script, stdin /dev/null, output to the log, killed with
/// its process group after `limit`.
pub async fn shell(step: &str, script: &str, limit: Duration) -> Result<String, StepError> {
    let file =
        PrivateFile::create(step, format!("{script}\n").as_bytes(), 0o600).map_err(|source| {
            StepError::Private {
                what: "script",
                source,
            }
        })?;
    let mut cmd = tokio::process::Command::new("bash");
    cmd.arg(&file.path);
    run_step(step, Path::new("bash"), &mut cmd, limit).await
}

/// Runs one site script like a shell step.
pub async fn site_script(step: &str, path: &Path, limit: Duration) -> Result<String, StepError> {
    let mut cmd = tokio::process::Command::new(path);
    run_step(step, path, &mut cmd, limit).await
}

/// Runs a tool to its end (stdin /dev/null); its stdout on success.
async fn tool(program: &str, args: &[&str]) -> Result<String, StepError> {
    let out = tokio::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|source| StepError::Spawn {
            program: program.into(),
            source,
        })?;
    let text = |b: &[u8]| String::from_utf8_lossy(b).trim().to_string();
    if out.status.success() {
        return Ok(text(&out.stdout));
    }
    let mut output = text(&out.stderr);
    if output.is_empty() {
        output = text(&out.stdout);
    }
    Err(StepError::Tool {
        command: format!("{program} {}", args.join(" ")),
        output,
        status: out.status.code().unwrap_or(-1),
    })
}

const GIB: u64 = 1024 * 1024 * 1024;
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

/// Writes `path` atomically, creating its folder when missing.
pub fn write_file(path: &Path, content: &[u8], mode: u32) -> Result<(), StepError> {
    let dir = path.parent().unwrap_or(Path::new("/"));
    std::fs::create_dir_all(dir).map_err(file_error("creating", dir))?;
    write_atomic(path, content, mode).map_err(file_error("writing", path))
}

/// The AWS CLI configuration every user of the instance shares.
pub fn aws_config_text(region: &str) -> String {
    format!(
        "[default]\nregion = {region}\nmetadata_service_num_attempts=5\nmetadata_service_timeout=5\ns3 =\n    signature_version = s3v4\n"
    )
}

/// Whether `az` looks like an availability zone (`ap-southeast-2a`, `us-gov-west-1b`).
pub fn valid_az(az: &str) -> bool {
    let Some(region) = az.strip_suffix(|c: char| c.is_ascii_lowercase()) else {
        return false;
    };
    crate::config::validate::is_region(region)
}

/// The site scripts: every executable file in `<root>/usr/local/etc/rc.d`, in name order.
pub fn site_scripts(root: &Root) -> Vec<PathBuf> {
    let dir = root.join("/usr/local/etc/rc.d");
    let Ok(rd) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = rd
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
        .collect();
    out.sort();
    out
}

/// The largest crontab object accepted (a crontab is a few lines; more is a mistake).
pub const MAX_CRONTAB: u64 = 256 * 1024;

/// `crontab -u <user> <file>` with the object's content, streamed into a private file (at most
/// `MAX_CRONTAB` bytes); the whole step ends after `limit` (a dripping download included).
pub async fn crontab(
    s3: &aws_sdk_s3::Client,
    user: &str,
    bucket: &str,
    key: &str,
    limit: Duration,
) -> Result<String, StepError> {
    if nix::unistd::User::from_name(user).ok().flatten().is_none() {
        return Err(StepError::NoUser);
    }
    let work = async {
        let private = |source| StepError::Private {
            what: "crontab",
            source,
        };
        let (file, mut f) = PrivateFile::empty("crontab").map_err(private)?;
        let cap = object::Cap {
            max: MAX_CRONTAB,
            what: "a crontab",
        };
        object::download(s3, bucket, key, &mut f, Some(cap)).await?;
        f.sync_all().map_err(private)?;
        drop(f);
        let p = file.path.to_string_lossy().into_owned();
        tool("crontab", &["-u", user, &p]).await?;
        Ok::<_, StepError>(format!("{user}: installed from s3://{bucket}/{key}"))
    };
    match tokio::time::timeout(limit, work).await {
        Ok(r) => r,
        Err(_) => Err(StepError::StepTimedOut(limit)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_and_regions() {
        assert!(valid_az("ap-southeast-2a"));
        assert!(valid_az("us-gov-west-1b"));
        assert!(!valid_az("ap-southeast-2"));
        assert!(!valid_az("AP-southeast-2a"));
    }

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
