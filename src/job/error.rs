//! The errors of a docker job run: [`JobError`] (why a run could not be made: exit 2 for a spec,
//! 1 otherwise) and [`RunFailed`] (a run that ended without success).
use super::{Outcome, connections, connector};
use crate::config::ConfigError;

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// A bad spec or option (exit 2).
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("reading lava's tables")]
    Table {
        #[source]
        source: crate::aws::dynamodb::DynamoError,
    },
    #[error("docker connection {conn_id}")]
    Engine {
        conn_id: String,
        #[source]
        source: crate::engine::EngineError,
    },
    #[error(
        "docker connection {conn_id}: {endpoint} did not answer within the connection's timeout ({secs}s)"
    )]
    EngineTimeout {
        conn_id: String,
        endpoint: String,
        secs: f64,
    },
    #[error("docker connection {conn_id}: registry credentials")]
    Credentials {
        conn_id: String,
        #[source]
        source: crate::registry::auth::LoginError,
    },
    #[error("pulling {image} from {registry}")]
    Pull {
        image: String,
        registry: String,
        #[source]
        source: connector::PullError,
    },
    #[error("{action} container {container}")]
    Container {
        action: &'static str,
        container: String,
        #[source]
        source: bollard::errors::Error,
    },
    #[error("the job's temporary folder in {dir}")]
    Tmp {
        dir: String,
        #[source]
        source: std::io::Error,
    },
    #[error("connection {conn_id} (parameters.connections.{label})")]
    Connection {
        label: String,
        conn_id: String,
        #[source]
        source: connections::ConnError,
    },
    #[error("state item {id} in DynamoDB table {table}: decrypting its value with KMS")]
    SecureState {
        table: String,
        id: String,
        #[source]
        source: crate::aws::AwsError,
    },
    #[error("uploading the logs to {url}: not an s3:// URL")]
    LogsUrl { url: String },
    #[error("uploading the logs to {url}")]
    Logs {
        url: String,
        #[source]
        source: crate::aws::AwsError,
    },
}

impl JobError {
    /// The job's temporary folder could not be made in the system temp dir.
    pub(super) fn tmp(source: std::io::Error) -> Self {
        JobError::Tmp {
            dir: std::env::temp_dir().display().to_string(),
            source,
        }
    }
}

/// A run that ended without success: the container's non-zero exit, the timeout or a signal.
/// Ends the process with `exit_status` (1, or the run's with `--exit-status container`).
#[derive(Debug, thiserror::Error)]
#[error("job {job_id} run {run_id}: {reason}")]
pub struct RunFailed {
    pub job_id: String,
    pub run_id: String,
    pub reason: String,
    pub exit_status: i32,
}

impl RunFailed {
    /// None when the outcome is a success (or a skip).
    pub fn from_outcome(o: &Outcome, container_status: bool) -> Option<RunFailed> {
        if o.succeeded() {
            return None;
        }
        let reason = if o.timed_out {
            format!(
                "Timed out after {} seconds: the container was stopped and removed",
                o.timeout
            )
        } else if o.interrupted {
            format!(
                "{}: the container was killed and removed",
                o.error.as_deref().unwrap_or("interrupted")
            )
        } else {
            format!(
                "{}: the container exited with status {}",
                o.error.as_deref().unwrap_or("failed"),
                o.exit_status.unwrap_or(-1)
            )
        };
        let exit_status = match o.exit_status {
            Some(s) if container_status && (1..=255).contains(&s) => s as i32,
            _ => crate::error::EXIT_FAILURE,
        };
        Some(RunFailed {
            job_id: o.job_id.clone(),
            run_id: o.run_id.clone(),
            reason,
            exit_status,
        })
    }
}
