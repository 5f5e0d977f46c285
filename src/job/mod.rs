//! Docker jobs (seeds 001, 003, 000): `lava-build job run` runs a lava docker job as a worker would,
//! under the same runtime contract, so a payload (or a lava image) can be tried before it is
//! deployed. Specs come from lava's DynamoDB tables or files ([`load`]) and are checked in full
//! ([`spec`], [`hostconfig`]) before the connector ([`connector`]) pulls anything; the container
//! ([`container`]) is run, timed and removed by [`run`].
pub mod as_job;
pub mod connection;
pub mod connections;
pub mod connector;
pub mod container;
pub mod dispatch;
pub mod duration;
mod error;
pub mod hostconfig;
pub mod load;
pub mod pyshlex;
pub mod render;
pub mod run;
pub mod spec;
pub mod time;

use crate::config::ConfigError;
use connector::PullPolicy;
use render::RunContext;
use run::Ending;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

pub use dispatch::{config_proxy_env, expand_dotted, merge_dispatch};
pub use error::{JobError, RunFailed};
use std::path::PathBuf;
use std::time::Instant;

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
    /// The command's AWS configuration (`--profile`, `--region`): every call of the run uses it,
    /// the ECR login and SSM passwords included.
    pub aws: crate::aws::AwsConfig,
    /// Dispatch-time parameters (`-p K=V` of lava-dispatcher): dotted names nest.
    pub params: Vec<(String, String)>,
    /// Dispatch-time globals (`-g K=V`).
    pub globals: Vec<(String, String)>,
    /// The run_id (default a fresh UUID4).
    pub run_id: Option<String>,
    /// Run a job the worker would skip (`enabled` false or missing).
    pub run_disabled: bool,
}

/// The result of a run (`--output json`).
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub job_id: String,
    pub run_id: String,
    pub image: String,
    /// The worker's event for the run: `complete`, `failed` or `skipped`.
    pub status: String,
    /// The worker's error text (`Failed with exit status 3`, `Timed out after 600.0 seconds`).
    pub error: Option<String>,
    /// The run's exit status as the worker records it: the container's, 28 at the timeout.
    pub exit_status: Option<i64>,
    pub timed_out: bool,
    pub interrupted: bool,
    /// The run's timeout in seconds (Python's float text, as the worker prints it).
    pub timeout: String,
    /// The S3 URL of the logs; None with --dev or when the container wrote nothing.
    pub logs: Option<String>,
    /// The temporary folder, when --keep-tmp kept it.
    pub tmp: Option<String>,
    pub duration_secs: f64,
}

impl Outcome {
    pub fn succeeded(&self) -> bool {
        self.status != "failed" && !self.interrupted
    }
}

/// The worker's exit status of a timed-out docker job.
pub const STATUS_TIMEOUT: i64 = 28;

/// Everything checked before the engine is asked anything.
struct Checked {
    job: spec::Job,
    job_origin: String,
    realm: spec::Realm,
    worker: String,
    timeout: f64,
}

async fn check(o: &Options, tables: &load::Tables) -> Result<Checked, JobError> {
    let mut loaded = match &o.job {
        JobSource::File(p) => load::spec_file(p, "--job")?,
        JobSource::Table(id) => tables.job(&o.realm, id).await?,
    };
    let params = expand_dotted("--param", &o.params)?;
    let globals = expand_dotted("--global", &o.globals)?;
    if let Some(g) = globals
        .keys()
        .find(|g| g.to_lowercase().starts_with("lava"))
    {
        return Err(ConfigError::invalid(
            "--global",
            g,
            "a name not starting with `lava` (reserved)",
        )
        .into());
    }
    merge_dispatch(&mut loaded.spec, params, globals);
    let job = spec::job(&loaded.origin, &loaded.spec)?;
    for w in &job.warnings {
        crate::output::progress::warn(w);
    }
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
    let env_timeout = std::env::var("LAVA_DOCKER_TIMEOUT").ok();
    let (timeout, _) = spec::resolve_timeout(&job, env_timeout.as_deref(), &realm)?;
    Ok(Checked {
        job,
        job_origin: loaded.origin,
        realm,
        worker,
        timeout,
    })
}

async fn connection_of(
    o: &Options,
    tables: &load::Tables,
    c: &Checked,
) -> Result<connection::Connection, JobError> {
    let conn_id = connector::conn_id(&c.job, &c.realm, &c.job_origin)?;
    let conn_loaded = match &o.connections_file {
        Some(p) => load::connection_file(p, &conn_id, "parameters.docker")?,
        None => tables.connection(&o.realm, &conn_id).await?,
    };
    Ok(connection::connection(
        &conn_loaded.origin,
        &o.realm,
        &conn_loaded.spec,
    )?)
}

/// Each of the job's connections loaded (its table, or --connections-file) and checked.
async fn plan_connections(
    o: &Options,
    tables: &load::Tables,
    c: &Checked,
) -> Result<Vec<connections::Planned>, JobError> {
    let mut out = Vec::new();
    for (label, conn_id) in &c.job.connections {
        let param = format!("parameters.connections.{label}");
        let loaded = match &o.connections_file {
            Some(p) => load::connection_file(p, conn_id, &param)?,
            None => tables.connection_for(&o.realm, conn_id, &param).await?,
        };
        out.push(connections::plan(
            label,
            conn_id,
            &loaded.origin,
            loaded.spec,
        )?);
    }
    Ok(out)
}

/// Runs the job: checks, renders, pulls, runs, removes, uploads the logs.
pub async fn execute(o: &Options) -> Result<Outcome, JobError> {
    let progress = crate::output::progress::line;
    let sdk = o.aws.get().await.clone();
    let tables = load::Tables::new(&sdk);
    let c = check(o, &tables).await?;
    let run_id = match &o.run_id {
        Some(r) if r.is_empty() || r.contains('/') || r == "." || r == ".." => {
            return Err(
                ConfigError::invalid("--run-id", r, "a run id without '/' (a UUID)").into(),
            );
        }
        Some(r) => r.clone(),
        None => uuid::Uuid::new_v4().to_string(),
    };
    let started = Instant::now();
    let start = time::TemplateTime::now_local();
    let timeout_text = duration::python_float(c.timeout);
    let skipped = |why: String| Outcome {
        job_id: c.job.job_id.clone(),
        run_id: run_id.clone(),
        image: c.job.payload.reference(),
        status: "skipped".into(),
        error: Some(why),
        exit_status: None,
        timed_out: false,
        interrupted: false,
        timeout: timeout_text.clone(),
        logs: None,
        tmp: None,
        duration_secs: started.elapsed().as_secs_f64(),
    };
    if c.job.enabled == spec::Enabled::Static(false) && !o.run_disabled {
        return Ok(skipped("Job not enabled (static)".into()));
    }
    let state = if c.job.state.is_empty() {
        serde_json::Map::new()
    } else {
        tables.state(&o.realm, &c.job.state).await?
    };
    let ctx = RunContext {
        realm: c.realm.clone(),
        worker: c.worker.clone(),
        run_id: run_id.clone(),
        start,
        dispatch: start,
        state,
    };
    if let spec::Enabled::Template(t) = &c.job.enabled {
        let e = render::enabled(&c.job, &ctx, &c.job_origin, t)?;
        if e != "true" && !o.run_disabled {
            return Ok(skipped(format!("Job not enabled (enabled=\"{e}\")")));
        }
    }
    let (command, own_env) = render::command_and_env(&c.job, &ctx, &c.job_origin)?;
    if command.is_none() && !c.job.args.is_empty() {
        crate::output::progress::note(format!(
            "{}: parameters.args are ignored: there is no command, so the image's entry point runs",
            c.job_origin
        ));
    }
    let conn = connection_of(o, &tables, &c).await?;
    let planned = plan_connections(o, &tables, &c).await?;
    let prefix = format!("[job {}]", c.job.job_id);

    // The temporary area and the connections' files come before the pull, as on the worker (a
    // connection that cannot be made fails the run before anything is pulled).
    let (tmp, area) = job_tmp().map_err(JobError::tmp)?;
    let tmp_path = format!("{area}/{run_id}");
    std::fs::create_dir(&tmp_path).map_err(|source| JobError::Tmp {
        dir: tmp_path.clone(),
        source,
    })?;
    let empty = serde_json::Map::new();
    let conn_ctx = connections::Context {
        aws_keys: Default::default(),
        sdk: &sdk,
        workdir: std::path::Path::new(&tmp_path),
        profile: o
            .aws
            .profile()
            .map(str::to_string)
            .or_else(|| std::env::var("AWS_PROFILE").ok())
            .unwrap_or_else(|| "default".into()),
        realm_config: c
            .realm
            .raw
            .get("config")
            .and_then(Value::as_object)
            .unwrap_or(&empty),
    };
    let conn_env = connections::materialise(&conn_ctx, &planned).await?;

    let (docker, engine) = connector::connect(&conn).await?;
    let source = connector::source(&sdk, &conn, &c.job.payload).await?;
    if let Some(r) = &source.withheld {
        crate::output::progress::note(format!(
            "the payload is pulled from {}: the credentials of connection {} (for {r}) are not sent there",
            source.registry, conn.conn_id
        ));
    }
    progress(&prefix, format!("pulling {} ({})", source.image, engine));
    connector::pull(&docker, &source, o.pull).await?;
    // The container is made from the image pulled (its id), as the worker's SDK does.
    let image_id = crate::engine::image_id(&docker, &source.image)
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| source.image.clone());

    let log_path = PathBuf::from(format!("{area}/{run_id}.logs"));
    let inherited: BTreeMap<String, String> = std::env::vars()
        .filter(|(k, _)| k.starts_with("LAVA_"))
        .collect();
    let mut env = render::environment_of(&c.job, &ctx, &tmp_path, &own_env, &inherited);
    // The connections' variables come last and win, as on the worker.
    env.extend(conn_env.into_iter().map(|(k, v)| (k, Some(v))));
    let contract = container::Contract {
        image: &image_id,
        command,
        env,
        proxy_env: config_proxy_env(),
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
    let name = format!("lava-{}", uuid::Uuid::new_v4());
    progress(
        &prefix,
        format!("run {run_id}: container {name}, timeout {timeout_text} seconds"),
    );
    let wait = duration::wait(c.timeout);
    let waiter = connector::long_lived(&docker, wait);
    let show = o.dev.then(|| c.job.job_id.clone());
    let finished = run::run(&docker, &waiter, &name, body, wait, show, &log_path).await?;

    let was_interrupted = matches!(finished.ending, Ending::Interrupted(_));
    let logs = if o.dev || finished.log_bytes == 0 || was_interrupted {
        None
    } else {
        let s3_tmp = render::s3_tmp(&c.job, &ctx);
        Some(run::upload_logs(&sdk, &s3_tmp, c.realm.s3_key.as_deref(), &log_path).await?)
    };
    let _ = std::fs::remove_file(&log_path);
    let kept = if o.keep_tmp {
        Some(tmp.keep().join(&run_id).to_string_lossy().into_owned())
    } else {
        if let Err(e) = tmp.close() {
            crate::output::progress::warn(format!(
                "the temporary folder {area} was not removed: {e}"
            ));
        }
        None
    };
    let (exit_status, error, timed_out, interrupted) = match finished.ending {
        Ending::Exited(0) => (Some(0), None, false, false),
        Ending::Exited(code) => (
            Some(code),
            Some(format!("Failed with exit status {code}")),
            false,
            false,
        ),
        Ending::TimedOut => (
            Some(STATUS_TIMEOUT),
            Some(format!("Timed out after {timeout_text} seconds")),
            true,
            false,
        ),
        Ending::Interrupted(sig) => (Some(130), Some(format!("interrupted ({sig})")), false, true),
    };
    Ok(Outcome {
        job_id: c.job.job_id,
        run_id,
        image: source.image,
        status: if error.is_none() {
            "complete"
        } else {
            "failed"
        }
        .into(),
        error,
        exit_status,
        timed_out,
        interrupted,
        timeout: timeout_text,
        logs,
        tmp: kept,
        duration_secs: started.elapsed().as_secs_f64(),
    })
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
