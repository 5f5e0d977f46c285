//! Running one step's process: its own process group, stdin /dev/null, each line of its output
//! logged as it comes (stdout at info, stderr at warn), and a time limit after which the whole
//! group is killed.
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

/// How the step's process ended.
#[derive(Debug)]
pub struct Finished {
    pub ended: Ended,
}

/// Longest line logged as one record; a longer one is logged in pieces.
const MAX_LINE: usize = 16 * 1024;

/// Which of the step's outputs a line came from.
#[derive(Debug, Clone, Copy)]
enum Stream {
    Out,
    Err,
}

fn log_line(step: &str, stream: Stream, line: &[u8]) {
    let text = String::from_utf8_lossy(line);
    let text = text.trim_end_matches(['\n', '\r']);
    match stream {
        Stream::Out => tracing::info!(target: "lava_rc", step, "{text}"),
        Stream::Err => tracing::warn!(target: "lava_rc", step, "{text}"),
    }
}

/// Reads the pipe to its end, logging each line as soon as it is complete.
fn follow<R>(step: &str, stream: Stream, pipe: Option<R>) -> tokio::task::JoinHandle<()>
where
    R: tokio::io::AsyncRead + Unpin + Send + 'static,
{
    let step = step.to_string();
    tokio::spawn(async move {
        let Some(mut pipe) = pipe else { return };
        let mut pending: Vec<u8> = Vec::new();
        let mut chunk = [0u8; 8192];
        while let Ok(n) = pipe.read(&mut chunk).await {
            if n == 0 {
                break;
            }
            pending.extend_from_slice(&chunk[..n]);
            while let Some(nl) = pending.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = pending.drain(..=nl).collect();
                log_line(&step, stream, &line);
            }
            if pending.len() >= MAX_LINE {
                log_line(&step, stream, &pending);
                pending.clear();
            }
        }
        if !pending.is_empty() {
            log_line(&step, stream, &pending);
        }
    })
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
    let out_task = follow(step, Stream::Out, child.stdout.take());
    let err_task = follow(step, Stream::Err, child.stderr.take());
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
    Ok(Finished { ended })
}
