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
    Interrupted,
}

/// What the container did.
#[derive(Debug)]
pub struct Finished {
    pub ending: Ending,
    /// Its stdout and stderr, interleaved as the engine gave them.
    pub logs: Vec<u8>,
}

/// Whole lines of one stream, as they come, for `--dev`.
struct Lines {
    prefix: String,
    pending: Vec<u8>,
}

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
    }

    fn flush(&mut self) {
        if !self.pending.is_empty() {
            let rest = std::mem::take(&mut self.pending);
            crate::output::progress::line(&self.prefix, String::from_utf8_lossy(&rest));
        }
    }
}

/// Follows the container's output to its end; with `show`, prints it line by line.
async fn follow(docker: Docker, name: String, show: Option<String>) -> Vec<u8> {
    let mut all = Vec::new();
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
        all.extend_from_slice(bytes);
        if let Some(l) = stream {
            l.push(bytes);
        }
    }
    for l in [out.as_mut(), err.as_mut()].into_iter().flatten() {
        l.flush();
    }
    all
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

/// Runs the container `name` to its end: exit, timeout (killed) or Ctrl-C (killed); always
/// removed afterwards. `waiter` is an engine handle without a short API timeout.
pub async fn run(
    docker: &Docker,
    waiter: &Docker,
    name: &str,
    body: ContainerCreateBody,
    timeout: Duration,
    show: Option<String>,
) -> Result<Finished, JobError> {
    let container_err = |action: &'static str| {
        let name = name.to_string();
        move |source| JobError::Container {
            action,
            container: name,
            source,
        }
    };
    docker
        .create_container(
            Some(CreateContainerOptionsBuilder::default().name(name).build()),
            body,
        )
        .await
        .map_err(container_err("creating"))?;
    let result = async {
        docker
            .start_container(
                name,
                None::<bollard::query_parameters::StartContainerOptions>,
            )
            .await
            .map_err(container_err("starting"))?;
        let logs = tokio::spawn(follow(waiter.clone(), name.to_string(), show));
        let ending = tokio::select! {
            code = crate::engine::wait_exit(waiter, name) => {
                Ending::Exited(code.map_err(container_err("waiting for"))?)
            }
            () = tokio::time::sleep(timeout) => Ending::TimedOut,
            _ = tokio::signal::ctrl_c() => Ending::Interrupted,
        };
        if !matches!(ending, Ending::Exited(_)) {
            // Kill it now; the log stream ends when it stops.
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
        let logs = logs.await.unwrap_or_default();
        Ok(Finished { ending, logs })
    }
    .await;
    remove(docker, name).await;
    result
}

/// `s3://bucket/prefix` split into (bucket, key prefix without a trailing slash).
pub fn split_s3(url: &str) -> Option<(String, String)> {
    let rest = url.strip_prefix("s3://")?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    (!bucket.is_empty()).then(|| (bucket.to_string(), prefix.trim_matches('/').to_string()))
}

/// Puts the logs at `<s3_tmp>/logs` (SSE-KMS with `kms_key` when given); returns the S3 URL.
pub async fn upload_logs(
    sdk: &aws_config::SdkConfig,
    s3_tmp: &str,
    kms_key: Option<&str>,
    logs: Vec<u8>,
) -> Result<String, JobError> {
    let url = format!("{s3_tmp}/logs");
    let (bucket, prefix) = split_s3(&url).ok_or_else(|| JobError::LogsUrl { url: url.clone() })?;
    let mut put = aws_sdk_s3::Client::new(sdk)
        .put_object()
        .bucket(&bucket)
        .key(&prefix)
        .content_type("text/plain; charset=utf-8")
        .body(logs.into());
    if let Some(k) = kms_key {
        put = put
            .server_side_encryption(aws_sdk_s3::types::ServerSideEncryption::AwsKms)
            .ssekms_key_id(k);
    }
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
            super::split_s3("s3://b/tmp/demo/j/r/logs"),
            Some(("b".into(), "tmp/demo/j/r/logs".into()))
        );
        assert_eq!(super::split_s3("s3://b"), Some(("b".into(), String::new())));
        assert_eq!(super::split_s3("http://b/x"), None);
    }
}
