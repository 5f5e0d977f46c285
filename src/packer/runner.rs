//! Runs packer (init, validate, build) with its output streamed live, one prefix per arch.
use camino::Utf8Path;
use std::io::{BufRead, BufReader};
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot start {program}")]
    Start {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`packer {action}` failed with {status}; log: {log}")]
    Failed {
        action: String,
        status: String,
        log: String,
    },
    #[error("interrupted: packer stopped after cleaning up; log: {log}")]
    Interrupted { log: String },
}

/// One packer invocation.
pub struct Invocation<'a> {
    pub packer: &'a Path,
    /// `init`, `validate` or `build`.
    pub action: &'a str,
    pub args: Vec<String>,
    pub template: &'a Utf8Path,
    pub log_file: &'a Utf8Path,
    /// Extra environment (AWS_PROFILE, AWS_REGION…).
    pub env: Vec<(String, String)>,
}

/// `==> lava.amazon-ebs.x86_64: Launching…` → `[x86_64] ==> Launching…`; other lines get `[packer]`.
pub fn prefix_line(line: &str) -> String {
    if let Some((left, tail)) = line
        .split_once(": ")
        .or_else(|| line.strip_suffix(':').map(|l| (l, "")))
    {
        let mut words: Vec<&str> = left.split_whitespace().collect();
        if let Some(last) = words.pop()
            && let Some(pos) = last.find("amazon-ebs.")
        {
            {
                let name = &last[pos + "amazon-ebs.".len()..];
                if !name.is_empty() {
                    let mut out = format!("[{name}]");
                    for w in words.iter().copied().chain([tail.trim_start()]) {
                        if !w.is_empty() {
                            out.push(' ');
                            out.push_str(w);
                        }
                    }
                    return out;
                }
            }
        }
    }
    format!("[packer] {line}")
}

/// Runs packer, streaming its output to stderr, and forwards Ctrl-C to it so it can terminate its
/// build instance and delete its temporary resources before exiting.
pub async fn run(inv: Invocation<'_>) -> Result<(), RunError> {
    let mut args = vec![inv.action.to_string()];
    args.extend(inv.args.iter().cloned());
    args.push(inv.template.to_string());
    let mut cmd = duct::cmd(inv.packer, &args)
        .env("PACKER_LOG", "1")
        .env("PACKER_LOG_PATH", inv.log_file.as_str())
        .env("CHECKPOINT_DISABLE", "1")
        .stderr_to_stdout()
        .stdin_null()
        .unchecked()
        // Its own process group: a Ctrl-C at the terminal reaches us only, and we forward exactly one.
        .before_spawn(|c| {
            use std::os::unix::process::CommandExt;
            c.process_group(0);
            Ok(())
        });
    for (k, v) in &inv.env {
        cmd = cmd.env(k, v);
    }
    let program = inv.packer.display().to_string();
    let reader = cmd.reader().map_err(|source| RunError::Start {
        program: program.clone(),
        source,
    })?;
    let reader = std::sync::Arc::new(reader);
    let pids = reader.pids();
    let pump = {
        let reader = reader.clone();
        tokio::task::spawn_blocking(move || {
            let mut lines = BufReader::new(&*reader);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match lines.read_until(b'\n', &mut buf) {
                    Ok(0) => break,
                    Ok(_) => {
                        let line = String::from_utf8_lossy(&buf);
                        crate::output::progress::line("", prefix_line(line.trim_end()));
                    }
                    Err(_) => break,
                }
            }
            reader.try_wait().ok().flatten().map(|o| o.status)
        })
    };
    tokio::pin!(pump);
    let mut interrupted = false;
    let status = loop {
        tokio::select! {
            res = &mut pump => break res.ok().flatten(),
            _ = tokio::signal::ctrl_c() => {
                interrupted = true;
                crate::output::progress::line(
                    "[lava-build]",
                    "interrupt: asking packer to stop and clean up (press Ctrl-C again to insist)",
                );
                // To packer's whole process group, as a terminal would: its wrapper process does
                // not pass a signal on to the build by itself.
                for pid in &pids {
                    let _ = nix::sys::signal::killpg(
                        nix::unistd::Pid::from_raw(*pid as i32),
                        nix::sys::signal::Signal::SIGINT,
                    );
                }
            }
        }
    };
    let log = inv.log_file.to_string();
    if interrupted {
        return Err(RunError::Interrupted { log });
    }
    match status {
        Some(s) if s.success() => Ok(()),
        Some(s) => Err(RunError::Failed {
            action: inv.action.to_string(),
            status: match s.code() {
                Some(c) => format!("exit status {c}"),
                None => "a signal".to_string(),
            },
            log,
        }),
        None => Err(RunError::Failed {
            action: inv.action.to_string(),
            status: "an unknown status".to_string(),
            log,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::prefix_line;

    #[test]
    fn lines_are_prefixed_by_arch() {
        assert_eq!(
            prefix_line("==> amazon-ebs.x86_64: Launching a source AWS instance..."),
            "[x86_64] ==> Launching a source AWS instance..."
        );
        assert_eq!(
            prefix_line("    amazon-ebs.arm64: Adding tag: \"Arch\": \"arm64\""),
            "[arm64] Adding tag: \"Arch\": \"arm64\""
        );
        assert_eq!(
            prefix_line("--> lava.amazon-ebs.x86_64: AMIs were created:"),
            "[x86_64] --> AMIs were created:"
        );
        assert_eq!(
            prefix_line("==> Wait completed after 5 seconds"),
            "[packer] ==> Wait completed after 5 seconds"
        );
    }
}
