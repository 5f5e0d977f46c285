//! Running one step's process: its own process group, stdin /dev/null, output collected, and a time
//! limit after which the whole group is killed.
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncReadExt;

/// How long the output pipes are read after the step's process ended: background processes that
/// keep them open (`daemon &`) must not hold the boot.
const DRAIN: Duration = Duration::from_secs(1);

/// How the step's process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    Exited(i32),
    Signalled(i32),
    /// The time limit fired; the process group was killed.
    TimedOut(Duration),
}

/// The end and the output (stdout, stderr) of a step's process.
#[derive(Debug)]
pub struct Finished {
    pub ended: Ended,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

fn collect<R>(pipe: Option<R>) -> (Arc<Mutex<Vec<u8>>>, tokio::task::JoinHandle<()>)
where
    R: tokio::io::AsyncRead + Unpin + Send + 'static,
{
    let buf = Arc::new(Mutex::new(Vec::new()));
    let b = buf.clone();
    let task = tokio::spawn(async move {
        let Some(mut pipe) = pipe else { return };
        let mut chunk = [0u8; 8192];
        while let Ok(n) = pipe.read(&mut chunk).await {
            if n == 0 {
                break;
            }
            if let Ok(mut b) = b.lock() {
                b.extend_from_slice(&chunk[..n]);
            }
        }
    });
    (buf, task)
}

fn take(buf: &Arc<Mutex<Vec<u8>>>) -> Vec<u8> {
    buf.lock()
        .map(|mut b| std::mem::take(&mut *b))
        .unwrap_or_default()
}

/// Runs `cmd` in a new process group; after `limit`, SIGKILL to the group. `step` names the log records.
pub async fn run(
    step: &str,
    cmd: &mut tokio::process::Command,
    limit: Duration,
) -> std::io::Result<Finished> {
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = cmd.spawn()?;
    let pid = child.id();
    let (out, out_task) = collect(child.stdout.take());
    let (err, err_task) = collect(child.stderr.take());
    let ended = match tokio::time::timeout(limit, child.wait()).await {
        Ok(status) => {
            let status = status?;
            use std::os::unix::process::ExitStatusExt;
            match status.code() {
                Some(c) => Ended::Exited(c),
                None => Ended::Signalled(status.signal().unwrap_or(0)),
            }
        }
        Err(_) => {
            if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
                let group = nix::unistd::Pid::from_raw(pid);
                if let Err(e) = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL) {
                    tracing::warn!(target: "lava_rc", step, "killing process group {pid}: {e}");
                }
                tracing::error!(target: "lava_rc", step,
                    "timed out after {}s: process group {pid} killed", limit.as_secs());
            }
            child.wait().await?;
            Ended::TimedOut(limit)
        }
    };
    let (mut out_task, mut err_task) = (out_task, err_task);
    let drained = tokio::time::timeout(DRAIN, async {
        let _ = (&mut out_task).await;
        let _ = (&mut err_task).await;
    })
    .await;
    if drained.is_err() {
        out_task.abort();
        err_task.abort();
        tracing::warn!(target: "lava_rc", step,
            "a background process keeps the step's output open: its further output is not logged");
    }
    Ok(Finished {
        ended,
        stdout: take(&out),
        stderr: take(&err),
    })
}
