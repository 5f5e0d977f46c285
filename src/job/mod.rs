//! Docker jobs (seeds 001, 003, 000): `lava-build job run` runs a lava docker job as a worker would,
//! under the same runtime contract, so a payload (or a lava image) can be tried before it is
//! deployed. Specs come from lava's DynamoDB tables or files ([`load`]) and are checked in full
//! ([`spec`], [`hostconfig`]) before the connector ([`connector`]) pulls anything; the container
//! ([`container`]) is run, timed and removed by [`run`].
pub mod as_job;
pub mod connection;
pub mod connector;
pub mod container;
pub mod hostconfig;
pub mod load;
pub mod render;
pub mod run;
pub mod spec;
pub mod time;

use crate::config::ConfigError;
use connector::PullPolicy;
use render::RunContext;
use run::Ending;
use serde::Serialize;
use std::path::PathBuf;
use std::time::Instant;

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
    #[error("uploading the logs to {url}: not an s3:// URL")]
    LogsUrl { url: String },
    #[error("uploading the logs to {url}")]
    Logs {
        url: String,
        #[source]
        source: crate::aws::AwsError,
    },
}

/// Where the job spec comes from.
#[derive(Debug, Clone)]
pub enum JobSource {
    /// `lava.<realm>.jobs`, by job_id.
    Table(String),
    /// `--job FILE`.
    File(PathBuf),
}

/// What `job run` was asked.
#[derive(Debug, Clone)]
pub struct Options {
    pub job: JobSource,
    pub realm: String,
    pub realm_file: Option<PathBuf>,
    pub connections_file: Option<PathBuf>,
    pub worker: Option<String>,
    pub dev: bool,
    pub keep_tmp: bool,
    pub network: Option<String>,
    pub pull: PullPolicy,
    pub profile: Option<String>,
    pub region: Option<String>,
}

/// The result of a run (`--output json`).
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub job_id: String,
    pub run_id: String,
    pub image: String,
    /// The container's exit status (its status when killed at the timeout).
    pub exit_status: Option<i64>,
    pub timed_out: bool,
    pub interrupted: bool,
    /// The job's timeout, as the spec gives it (default 10m).
    pub timeout: String,
    /// The S3 URL of the logs; None with --dev or when the container wrote nothing.
    pub logs: Option<String>,
    /// The temporary folder, when --keep-tmp kept it.
    pub tmp: Option<String>,
    pub duration_secs: f64,
}

impl Outcome {
    pub fn succeeded(&self) -> bool {
        self.exit_status == Some(0) && !self.timed_out && !self.interrupted
    }
}

/// Everything checked before the engine is asked anything.
struct Checked {
    job: spec::Job,
    job_origin: String,
    realm: spec::Realm,
    conn: connection::Connection,
    worker: String,
}

async fn check(o: &Options, tables: &load::Tables) -> Result<Checked, JobError> {
    let loaded = match &o.job {
        JobSource::File(p) => load::spec_file(p, "--job")?,
        JobSource::Table(id) => tables.job(&o.realm, id).await?,
    };
    let job = spec::job(&loaded.origin, &loaded.spec)?;
    let realm_loaded = match &o.realm_file {
        Some(p) => load::spec_file(p, "--realm-file")?,
        None => tables.realm(&o.realm).await?,
    };
    let realm = spec::realm(&realm_loaded.origin, &o.realm, &realm_loaded.spec)?;
    let worker = o
        .worker
        .clone()
        .or_else(|| job.worker.clone())
        .ok_or_else(|| ConfigError::Missing {
            param: format!("{}: worker", loaded.origin),
            hint: "the job names no worker: set `worker` in the job or pass --worker".into(),
        })?;
    let conn_id = connector::conn_id(&job, &realm, &loaded.origin)?;
    let conn_loaded = match &o.connections_file {
        Some(p) => load::connection_file(p, &conn_id)?,
        None => tables.connection(&o.realm, &conn_id).await?,
    };
    let conn = connection::connection(&conn_loaded.origin, &o.realm, &conn_loaded.spec)?;
    Ok(Checked {
        job,
        job_origin: loaded.origin,
        realm,
        conn,
        worker,
    })
}

/// Runs the job: checks, renders, pulls, runs, removes, uploads the logs.
pub async fn execute(o: &Options) -> Result<Outcome, JobError> {
    let progress = crate::output::progress::line;
    let sdk = crate::aws::sdk_config(o.profile.as_deref(), o.region.as_deref()).await;
    let tables = load::Tables::new(&sdk);
    let c = check(o, &tables).await?;
    let run_id = uuid::Uuid::new_v4().to_string();
    let started = Instant::now();
    let state = if c.job.state.is_empty() {
        serde_json::Map::new()
    } else {
        tables.state(&o.realm, &c.job.state).await?
    };
    let ctx = RunContext {
        realm: c.realm.clone(),
        worker: c.worker.clone(),
        run_id: run_id.clone(),
        start: time::TemplateTime(chrono::Local::now().naive_local()),
        ustart: time::TemplateTime(chrono::Utc::now().naive_utc()),
        state,
    };
    let (command, own_env) = render::command_and_env(&c.job, &ctx, &c.job_origin)?;
    if command.is_none() && !c.job.args.is_empty() {
        crate::output::progress::note(format!(
            "{}: parameters.args are ignored: there is no command, so the image's entry point runs",
            c.job_origin
        ));
    }
    let prefix = format!("[job {}]", c.job.job_id);

    let (docker, engine) = connector::connect(&c.conn).await?;
    let source = connector::source(&c.conn, &c.job.payload).await?;
    progress(&prefix, format!("pulling {} ({})", source.image, engine));
    connector::pull(&docker, &source, o.pull).await?;

    let (tmp, tmp_path) = job_tmp().map_err(JobError::tmp)?;
    let env = render::environment(&c.job, &ctx, &tmp_path, &own_env);
    let contract = container::Contract {
        image: &source.image,
        command,
        env,
        tmp: &tmp_path,
        uid: nix::unistd::geteuid().as_raw(),
        gid: nix::unistd::getegid().as_raw(),
        realm: &c.realm.realm,
        worker: &c.worker,
        owner: &c.job.owner,
        job_id: &c.job.job_id,
        run_id: &run_id,
        network: o.network.as_deref(),
    };
    let body = container::body(&contract, &c.job.host);
    let name = format!("lava-job-{run_id}");
    progress(
        &prefix,
        format!(
            "run {run_id}: container {name}, timeout {}",
            c.job.timeout_text
        ),
    );
    let waiter = connector::long_lived(&docker, c.job.timeout);
    let show = o.dev.then(|| c.job.job_id.clone());
    let finished = run::run(&docker, &waiter, &name, body, c.job.timeout, show).await?;

    let logs = if o.dev || finished.logs.is_empty() {
        None
    } else {
        let s3_tmp = render::s3_tmp(&c.job, &ctx);
        Some(run::upload_logs(&sdk, &s3_tmp, c.realm.s3_key.as_deref(), finished.logs).await?)
    };
    let kept = if o.keep_tmp {
        Some(tmp.keep().to_string_lossy().into_owned())
    } else {
        if let Err(e) = tmp.close() {
            crate::output::progress::warn(format!(
                "the temporary folder {tmp_path} was not removed: {e}"
            ));
        }
        None
    };
    let (exit_status, timed_out, interrupted) = match finished.ending {
        Ending::Exited(code) => (Some(code), false, false),
        Ending::TimedOut => (Some(137), true, false),
        Ending::Interrupted => (Some(130), false, true),
    };
    Ok(Outcome {
        job_id: c.job.job_id,
        run_id,
        image: source.image,
        exit_status,
        timed_out,
        interrupted,
        timeout: c.job.timeout_text.clone(),
        logs,
        tmp: kept,
        duration_secs: started.elapsed().as_secs_f64(),
    })
}

/// A run that ended without success: the container's non-zero exit, the timeout or Ctrl-C. Ends
/// the process with `exit_status` (1, or the container's with `--exit-status container`).
#[derive(Debug, thiserror::Error)]
#[error("job {job_id} run {run_id}: {reason}")]
pub struct RunFailed {
    pub job_id: String,
    pub run_id: String,
    pub reason: String,
    pub exit_status: i32,
}

impl RunFailed {
    /// None when the outcome is a success.
    pub fn from_outcome(o: &Outcome, container_status: bool) -> Option<RunFailed> {
        if o.succeeded() {
            return None;
        }
        let reason = if o.timed_out {
            format!(
                "timed out after {}: the container was killed and removed",
                o.timeout
            )
        } else if o.interrupted {
            "interrupted (Ctrl-C): the container was killed and removed".to_string()
        } else {
            format!(
                "the container exited with status {}",
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

/// A fresh LAVA_TMP under the system temp dir, removed when the guard drops: (guard, path).
/// Its error becomes [`JobError::Tmp`] through [`JobError::tmp`].
fn job_tmp() -> std::io::Result<(tempfile::TempDir, String)> {
    let tmp = tempfile::Builder::new()
        .prefix("lava-job-")
        .tempdir_in(std::env::temp_dir())?;
    let path = tmp.path().to_string_lossy().into_owned();
    Ok((tmp, path))
}

impl JobError {
    /// The job's temporary folder could not be made in the system temp dir.
    fn tmp(source: std::io::Error) -> Self {
        JobError::Tmp {
            dir: std::env::temp_dir().display().to_string(),
            source,
        }
    }
}
