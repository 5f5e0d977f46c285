//! One run: create the container, follow its output, wait for its exit within the timeout (or
//! Ctrl-C), remove it, and put the logs in the realm's S3 temporary area (or show them, `--dev`).
use super::JobError;
use bollard::Docker;
use bollard::container::LogOutput;
use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, KillContainerOptionsBuilder, RemoveContainerOptionsBuilder,
};
use futures::StreamExt;
use std::time::Duration;

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    Exited(i64),
    TimedOut,
    /// Ctrl-C, SIGTERM or SIGHUP: the signal's name.
    Interrupted(&'static str),
}

/// What the container did.
#[derive(Debug)]
pub struct Finished {
    pub ending: Ending,
    /// How many bytes of output (stdout and stderr interleaved as the engine gave them) went to
    /// the log file.
    pub log_bytes: u64,
}

/// Whole lines of one stream, as they come, for `--dev`.
struct Lines {
    prefix: String,
    pending: Vec<u8>,
}

/// A `--dev` line longer than this is shown in pieces (memory stays bounded whatever comes).
const LONGEST_LINE: usize = 64 * 1024;

impl Lines {
    fn push(&mut self, bytes: &[u8]) {
        self.pending.extend_from_slice(bytes);
        while let Some(i) = self.pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=i).collect();
            crate::output::progress::line(
                &self.prefix,
                String::from_utf8_lossy(&line[..line.len() - 1]),
            );
        }
        if self.pending.len() > LONGEST_LINE {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if !self.pending.is_empty() {
            let rest = std::mem::take(&mut self.pending);
            crate::output::progress::line(&self.prefix, String::from_utf8_lossy(&rest));
        }
    }
}

/// Follows the container's output to its end into `log` (a file: memory stays bounded); with
/// `show`, also prints it line by line. Returns the bytes written.
async fn follow(
    docker: Docker,
    name: String,
    show: Option<String>,
    log: std::path::PathBuf,
) -> std::io::Result<u64> {
    use tokio::io::AsyncWriteExt;
    let file = tokio::fs::File::create(&log).await?;
    let mut file = tokio::io::BufWriter::with_capacity(256 * 1024, file);
    let mut written = 0u64;
    let mut out = show.as_ref().map(|p| Lines {
        prefix: format!("[{p}]"),
        pending: Vec::new(),
    });
    let mut err = show.as_ref().map(|p| Lines {
        prefix: format!("[{p} stderr]"),
        pending: Vec::new(),
    });
    let mut s = docker.logs(&name, Some(crate::engine::container::follow_all()));
    while let Some(Ok(chunk)) = s.next().await {
        let (bytes, stream) = match &chunk {
            LogOutput::StdErr { message } => (message, err.as_mut()),
            LogOutput::StdOut { message } | LogOutput::Console { message } => {
                (message, out.as_mut())
            }
            LogOutput::StdIn { .. } => continue,
        };
        file.write_all(bytes).await?;
        written += bytes.len() as u64;
        if let Some(l) = stream {
            l.push(bytes);
        }
    }
    file.flush().await?;
    for l in [out.as_mut(), err.as_mut()].into_iter().flatten() {
        l.flush();
    }
    Ok(written)
}

/// Removes the container whatever state it is in; a failure is a warning (the run's answer
/// stands), naming the container so it can be removed by hand.
pub async fn remove(docker: &Docker, name: &str) -> bool {
    match docker
        .remove_container(
            name,
            Some(RemoveContainerOptionsBuilder::default().force(true).build()),
        )
        .await
    {
        Ok(()) => true,
        Err(e) => {
            crate::output::progress::warn(format!(
                "container {name} was not removed ({e}); remove it with `docker rm -f {name}`"
            ));
            false
        }
    }
}

/// Resolves at the first Ctrl-C, SIGTERM or SIGHUP, with its name.
pub async fn interrupted() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let (mut term, mut hup) = match (
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) {
        (Ok(t), Ok(h)) => (t, h),
        // Without handlers, only Ctrl-C is caught.
        _ => {
            let _ = tokio::signal::ctrl_c().await;
            return "SIGINT";
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "SIGINT",
        _ = term.recv() => "SIGTERM",
        _ = hup.recv() => "SIGHUP",
    }
}

/// Runs the container `name` to its end: exit, timeout (stopped as the worker stops it: SIGTERM,
/// 10 s, SIGKILL) or a signal to this process (killed); its output goes to the file `log`;
/// always removed afterwards. `waiter` is an engine handle without a short API timeout.
pub async fn run(
    docker: &Docker,
    waiter: &Docker,
    name: &str,
    body: ContainerCreateBody,
    timeout: Duration,
    show: Option<String>,
    log: &std::path::Path,
) -> Result<Finished, JobError> {
    let container_err = |action: &'static str| {
        let name = name.to_string();
        move |source| JobError::Container {
            action,
            container: name,
            source,
        }
    };
    let signal = interrupted();
    tokio::pin!(signal);
    let created = tokio::select! {
        r = docker.create_container(
            Some(CreateContainerOptionsBuilder::default().name(name).build()),
            body,
        ) => r,
        s = &mut signal => {
            // Created meanwhile or not: removing by name settles it.
            remove(docker, name).await;
            return Ok(Finished { ending: Ending::Interrupted(s), log_bytes: 0 });
        }
    };
    created.map_err(container_err("creating"))?;
    let result = async {
        docker
            .start_container(
                name,
                None::<bollard::query_parameters::StartContainerOptions>,
            )
            .await
            .map_err(container_err("starting"))?;
        let logs = tokio::spawn(follow(
            waiter.clone(),
            name.to_string(),
            show,
            log.to_path_buf(),
        ));
        let ending = tokio::select! {
            code = crate::engine::wait_exit(waiter, name) => {
                Ending::Exited(code.map_err(container_err("waiting for"))?)
            }
            () = tokio::time::sleep(timeout) => Ending::TimedOut,
            s = &mut signal => Ending::Interrupted(s),
        };
        match ending {
            Ending::Exited(0) => {}
            Ending::Interrupted(_) => {
                let _ = docker
                    .kill_container(
                        name,
                        Some(
                            KillContainerOptionsBuilder::default()
                                .signal("KILL")
                                .build(),
                        ),
                    )
                    .await;
            }
            // As the worker: a failed or timed-out container is stopped (SIGTERM, the engine's
            // 10 s grace, SIGKILL); the log stream ends when it stops.
            _ => {
                let _ = waiter
                    .stop_container(
                        name,
                        None::<bollard::query_parameters::StopContainerOptions>,
                    )
                    .await;
            }
        }
        let log_bytes = match logs.await {
            Ok(Ok(n)) => n,
            Ok(Err(source)) => {
                return Err(JobError::Tmp {
                    dir: log.display().to_string(),
                    source,
                });
            }
            Err(_) => 0,
        };
        Ok(Finished { ending, log_bytes })
    }
    .await;
    remove(docker, name).await;
    result
}

/// `s3://bucket/prefix` split into (bucket, key prefix without a trailing slash).
pub fn split_s3(url: &str) -> Option<(String, String)> {
    let u = crate::config::s3url::S3Url::parse(url).ok()?;
    let prefix = u.prefix_trimmed().to_string();
    Some((u.bucket, prefix))
}

/// Puts the log file at `<s3_tmp>/logs`, SSE-KMS with `kms_key` when given, else SSE AES256 (as
/// the worker); returns the S3 URL.
pub async fn upload_logs(
    sdk: &aws_config::SdkConfig,
    s3_tmp: &str,
    kms_key: Option<&str>,
    logs: &std::path::Path,
) -> Result<String, JobError> {
    let url = format!("{s3_tmp}/logs");
    let (bucket, prefix) = split_s3(&url).ok_or_else(|| JobError::LogsUrl { url: url.clone() })?;
    let body = aws_sdk_s3::primitives::ByteStream::from_path(logs)
        .await
        .map_err(|e| JobError::Tmp {
            dir: logs.display().to_string(),
            source: std::io::Error::other(e),
        })?;
    let mut put = aws_sdk_s3::Client::new(sdk)
        .put_object()
        .bucket(&bucket)
        .key(&prefix)
        .body(body);
    put = match kms_key {
        Some(k) => put
            .server_side_encryption(aws_sdk_s3::types::ServerSideEncryption::AwsKms)
            .ssekms_key_id(k),
        None => put.server_side_encryption(aws_sdk_s3::types::ServerSideEncryption::Aes256),
    };
    put.send().await.map_err(|e| JobError::Logs {
        url: url.clone(),
        source: crate::aws::AwsError::from_sdk("S3", &e),
    })?;
    Ok(url)
}

#[cfg(test)]
mod tests {
    #[test]
    fn s3_urls_split() {
        assert_eq!(
            super::split_s3("s3://bkt/tmp/demo/j/r/logs"),
            Some(("bkt".into(), "tmp/demo/j/r/logs".into()))
        );
        assert_eq!(
            super::split_s3("s3://bkt"),
            Some(("bkt".into(), String::new()))
        );
        assert_eq!(super::split_s3("http://b/x"), None);
    }
}
