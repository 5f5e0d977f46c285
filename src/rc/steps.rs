//! The boot steps. Each returns `Ok(detail)` or `Err(message)`; a failure never stops the next step.
use super::userdata::SwapSpec;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

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
    pub fn create(prefix: &str, content: &[u8]) -> std::io::Result<Self> {
        let dir = std::env::temp_dir().join(format!("lava-rc.{}", uuid::Uuid::new_v4().simple()));
        std::fs::DirBuilder::new().mode(0o700).create(&dir)?;
        let path = dir.join(format!("{prefix}.{}", uuid::Uuid::new_v4().simple()));
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)?;
        f.write_all(content)?;
        f.sync_all()?;
        Ok(PrivateFile { dir, path })
    }
}

impl Drop for PrivateFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Logs a command's output, one record per line, at info (success) or error (failure).
fn log_output(step: &str, output: &[u8], ok: bool) {
    for line in String::from_utf8_lossy(output).lines() {
        if ok {
            tracing::info!(target: "lava_rc", step, "{line}");
        } else {
            tracing::error!(target: "lava_rc", step, "{line}");
        }
    }
}

/// Logs a finished step's output and turns its end into the step's result.
fn finish(step: &str, f: &super::proc::Finished) -> Result<String, String> {
    use super::proc::Ended;
    let ok = f.ended == Ended::Exited(0);
    log_output(step, &f.stdout, ok);
    log_output(step, &f.stderr, ok);
    match f.ended {
        Ended::Exited(0) => Ok("exit status 0".into()),
        Ended::Exited(c) => Err(format!("exit status {c}")),
        Ended::Signalled(s) => Err(format!("killed by signal {s}")),
        Ended::TimedOut(t) => Err(format!(
            "timed out after {}s (process group killed)",
            t.as_secs()
        )),
    }
}

/// `shell0`/`shell`: the lines as one bash script, stdin /dev/null, output to the log, killed with
/// its process group after `limit`.
pub async fn shell(step: &str, script: &str, limit: Duration) -> Result<String, String> {
    let file = PrivateFile::create(step, format!("{script}\n").as_bytes())
        .map_err(|e| format!("cannot write the script: {e}"))?;
    let mut cmd = tokio::process::Command::new("bash");
    cmd.arg(&file.path);
    let f = super::proc::run(step, &mut cmd, limit)
        .await
        .map_err(|e| format!("cannot run bash: {e}"))?;
    finish(step, &f)
}

fn run(program: &str, args: &[&str]) -> Result<String, String> {
    let out = duct::cmd(program, args)
        .stdout_capture()
        .stderr_capture()
        .stdin_null()
        .unchecked()
        .run()
        .map_err(|e| format!("{program}: {e}"))?;
    let text = |b: &[u8]| String::from_utf8_lossy(b).trim().to_string();
    if out.status.success() {
        Ok(text(&out.stdout))
    } else {
        let mut msg = text(&out.stderr);
        if msg.is_empty() {
            msg = text(&out.stdout);
        }
        Err(format!(
            "{program} {}: {msg} (exit status {})",
            args.join(" "),
            out.status.code().unwrap_or(-1)
        ))
    }
}

const GIB: u64 = 1024 * 1024 * 1024;
const XFS_MAGIC: i64 = 0x5846_5342;

/// `swap`: create, mkswap, swapon and one fstab line — once. An existing file means it was done.
pub fn swap(spec: &SwapSpec, root: &Root) -> Result<String, String> {
    let path = root.join(&spec.file);
    if path.exists() {
        return Ok(format!("{} exists: nothing to do", spec.file));
    }
    let dir = path.parent().unwrap_or(Path::new("/"));
    let fs = nix::sys::statfs::statfs(dir).map_err(|e| format!("statfs {}: {e}", dir.display()))?;
    let vfs =
        nix::sys::statvfs::statvfs(dir).map_err(|e| format!("statvfs {}: {e}", dir.display()))?;
    let free = vfs.blocks_available() as u64 * vfs.fragment_size() as u64;
    let want = spec.size_gib.saturating_mul(GIB);
    if free < want.saturating_add(GIB) {
        return Err(format!(
            "{} GiB of swap would leave less than 1 GiB free on {} ({:.1} GiB free)",
            spec.size_gib,
            dir.display(),
            free as f64 / GIB as f64
        ));
    }
    let made = make_file(&path, want, fs.filesystem_type().0 as i64 == XFS_MAGIC);
    let result = made.and_then(|how| {
        let p = path.to_string_lossy().into_owned();
        let mk = run("mkswap", &[&p])?;
        tracing::info!(target: "lava_rc", step = "swap", "{mk}");
        run("swapon", &[&p])?;
        add_fstab_line(root, &spec.file)?;
        Ok(format!(
            "{} GiB at {} ({how}), enabled",
            spec.size_gib, spec.file
        ))
    });
    if let Err(e) = &result {
        // Nothing half done: the next boot starts over.
        let _ = std::fs::remove_file(&path);
        return Err(format!(
            "{e} (swap file removed so the next boot tries again)"
        ));
    }
    result
}

fn make_file(path: &Path, len: u64, xfs: bool) -> Result<&'static str, String> {
    let f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("creating {}: {e}", path.display()))?;
    f.set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(|e| e.to_string())?;
    if !xfs {
        match nix::fcntl::fallocate(
            &f,
            nix::fcntl::FallocateFlags::empty(),
            0,
            len as nix::libc::off_t,
        ) {
            Ok(()) => return Ok("fallocate"),
            Err(nix::errno::Errno::EOPNOTSUPP) => {}
            Err(e) => return Err(format!("fallocate {}: {e}", path.display())),
        }
    }
    // xfs cannot swap from fallocated (unwritten) extents, and some filesystems lack fallocate.
    let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..len.div_ceil(1 << 20) {
        w.write_all(&zeros)
            .map_err(|e| format!("writing {}: {e}", path.display()))?;
    }
    w.flush().map_err(|e| e.to_string())?;
    Ok("zero-filled")
}

/// Appends `<file> swap swap defaults 0 0` to fstab unless a line for that file is there.
pub fn add_fstab_line(root: &Root, file: &str) -> Result<(), String> {
    let fstab = root.join("/etc/fstab");
    let current = std::fs::read_to_string(&fstab).unwrap_or_default();
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
    write_atomic(&fstab, text.as_bytes(), 0o644)
}

/// Writes `path` through a temporary file and a rename, so readers never see half a file.
pub fn write_atomic(path: &Path, content: &[u8], mode: u32) -> Result<(), String> {
    let dir = path.parent().unwrap_or(Path::new("/"));
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
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
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("writing {}: {e}", path.display())
    })
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
    valid_region(region)
}

/// `^[a-z]{2}(-[a-z]+)?-[a-z]+-[0-9]+$`
pub fn valid_region(r: &str) -> bool {
    let parts: Vec<&str> = r.split('-').collect();
    let letters = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase());
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match parts.as_slice() {
        [cc, area, n] => cc.len() == 2 && letters(cc) && letters(area) && digits(n),
        [cc, extra, area, n] => {
            cc.len() == 2 && letters(cc) && letters(extra) && letters(area) && digits(n)
        }
        _ => false,
    }
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

/// Runs one site script like a shell step.
pub async fn site_script(step: &str, path: &Path, limit: Duration) -> Result<String, String> {
    let mut cmd = tokio::process::Command::new(path);
    let f = super::proc::run(step, &mut cmd, limit)
        .await
        .map_err(|e| format!("cannot run {}: {e}", path.display()))?;
    finish(step, &f)
}

/// `crontab -u <user> <file>` with the object's content, fetched into a private file.
pub async fn crontab(
    s3: &aws_sdk_s3::Client,
    user: &str,
    bucket: &str,
    key: &str,
) -> Result<String, String> {
    if nix::unistd::User::from_name(user).ok().flatten().is_none() {
        return Err(format!("crontab.{user}: no such user"));
    }
    let obj = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| {
            format!(
                "crontab.{user}: s3://{bucket}/{key}: {}",
                crate::sync::remote::describe(&e)
            )
        })?;
    let body = obj
        .body
        .collect()
        .await
        .map_err(|e| format!("crontab.{user}: reading s3://{bucket}/{key}: {e}"))?
        .into_bytes();
    let file = PrivateFile::create("crontab", &body).map_err(|e| format!("crontab.{user}: {e}"))?;
    let p = file.path.to_string_lossy().into_owned();
    run("crontab", &["-u", user, &p]).map_err(|e| format!("crontab.{user}: {e}"))?;
    Ok(format!("{user}: installed from s3://{bucket}/{key}"))
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
        assert!(valid_region("eu-west-1"));
        assert!(!valid_region("eu-west"));
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
