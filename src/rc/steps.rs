//! The boot steps. Each returns `Ok(detail)` or a `StepError`; a failure never stops the next step.
use super::files::{PrivateFile, Root, write_atomic};
use super::object::{self, ObjectError};
use super::proc::{Ended, Finished};
use super::userdata::SpecError;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub(super) const GIB: u64 = 1024 * 1024 * 1024;

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

pub(super) fn file_error(
    action: &'static str,
    path: &Path,
) -> impl FnOnce(std::io::Error) -> StepError {
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
pub(super) async fn tool(program: &str, args: &[&str]) -> Result<String, StepError> {
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
}
