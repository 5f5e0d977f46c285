//! `lava-build job run`: runs a lava docker job as a worker would (seeds 001, 003, 000).
use crate::config::ConfigError;
use crate::job::connector::PullPolicy;
use crate::job::{self, JobSource, Options, RunFailed};
use crate::output::{self, Format};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct JobArgs {
    #[command(subcommand)]
    pub command: JobCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum JobCommand {
    /// Run a docker job under the worker's runtime contract (uid, LAVA_TMP, LAVA_* environment,
    /// host_config, timeout, registry login), then remove its container.
    Run(RunArgs),
}

/// Exit status of a failed run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum ExitStatus {
    /// 1 for any failed run.
    #[default]
    One,
    /// The run's exit status as the worker records it (the container's; 28 at the timeout).
    Container,
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Where the specs come from:\n  \
    job       JOB_ID from DynamoDB lava.<realm>.jobs (key job_id), or --job FILE (JSON or YAML)\n  \
    realm     lava.realms (key realm), or --realm-file FILE; uses s3_temp, s3_payloads, s3_key, docker\n  \
    docker    the job's parameters.docker, else the realm's docker: a conn_id of\n            \
              lava.<realm>.connections, or of --connections-file FILE (a list)\n  \
    conns     each conn_id of parameters.connections from the same place: its executable is\n            \
              written into LAVA_TMP and passed as LAVA_CONN_<LABEL> (generic, postgres and\n            \
              redshift family, mysql family, oracle, mssql; secrets from SSM/Secrets Manager)\n\n\
    The container runs as this process's effective uid with its egid added, in a fresh temporary\n\
    folder mounted at the same path (LAVA_TMP, the working directory), with hostname\n\
    lava-<realm>-<worker>-<run_id> and labels lava.realm/worker/owner/job_id/run_id, unless the\n\
    job's host_config says otherwise. At parameters.timeout (a lava duration; default the realm's\n\
    config.docker_timeout, LAVA_DOCKER_TIMEOUT, else 10m) it is stopped (SIGTERM, 10 s, SIGKILL)\n\
    and the run fails with status 28; Ctrl-C, SIGTERM or SIGHUP kill it. It is always removed.\n\
    Its output goes to <s3_temp>/<job_id>/<run_id>/logs (SSE-KMS with the realm's s3_key, else\n\
    AES256), or to stderr with --dev. A job the worker would skip (enabled false or missing) is\n\
    reported skipped (exit 0) unless --run-disabled. Exit status: 0 when the container exits 0,\n\
    1 for a failed run (see --exit-status), 2 for a bad spec or option (named, before anything\n\
    is pulled).\n\n\
    Examples:\n  \
    lava-build job run demo/simple-docker --realm prod\n  \
    lava-build job run --job job.json --realm-file realm.json --connections-file conns.json --dev\n  \
    lava-build job run --job job.yaml --realm dev --worker core --network host --pull missing")]
pub struct RunArgs {
    /// The job_id to read from DynamoDB table lava.<realm>.jobs.
    #[arg(
        value_name = "JOB_ID",
        required_unless_present = "job",
        conflicts_with = "job"
    )]
    pub job_id: Option<String>,
    /// The job spec from a file (JSON or YAML) instead of DynamoDB.
    #[arg(long, value_name = "FILE")]
    pub job: Option<PathBuf>,
    /// The realm: names the tables and is LAVA_REALM.
    #[arg(long, value_name = "REALM")]
    pub realm: String,
    /// The realm spec from a file instead of the lava.realms table.
    #[arg(long, value_name = "FILE")]
    pub realm_file: Option<PathBuf>,
    /// The connection specs from a file (a list) instead of lava.<realm>.connections.
    #[arg(long, value_name = "FILE")]
    pub connections_file: Option<PathBuf>,
    /// Worker name (LAVA_WORKER, hostname) [default: the job's `worker`].
    #[arg(long, value_name = "WORKER")]
    pub worker: Option<String>,
    /// Show the container's output here, prefixed, as it comes (no upload to S3).
    #[arg(long)]
    pub dev: bool,
    /// Keep the temporary folder after the run and print its path.
    #[arg(long)]
    pub keep_tmp: bool,
    /// Network mode of the container when its host_config sets none (host, none, a network name)
    /// [default: the engine's default network].
    #[arg(long, value_name = "MODE")]
    pub network: Option<String>,
    /// When to pull the payload image (a worker always pulls).
    #[arg(long, value_enum, default_value_t = PullPolicy::Always, value_name = "WHEN")]
    pub pull: PullPolicy,
    /// Exit status of a failed run.
    #[arg(long, value_enum, default_value_t = ExitStatus::One, value_name = "WHICH")]
    pub exit_status: ExitStatus,
    /// A dispatch-time parameter (lava-dispatcher -p): replaces the job's parameter of that name
    /// (dotted names nest: `env.X=1` replaces the whole env). Repeatable.
    #[arg(long = "param", short = 'p', value_name = "NAME=VALUE", value_parser = name_value)]
    pub params: Vec<(String, String)>,
    /// A dispatch-time global (lava-dispatcher -g), merged over the job's globals. Repeatable.
    #[arg(long = "global", short = 'g', value_name = "NAME=VALUE", value_parser = name_value)]
    pub globals: Vec<(String, String)>,
    /// The run_id (LAVA_RUN_ID, the hostname, the S3 log key) [default: a new UUID].
    #[arg(long, value_name = "RUN_ID")]
    pub run_id: Option<String>,
    /// Run the job even when the worker would skip it (`enabled` false, missing, or rendering
    /// to anything but true).
    #[arg(long)]
    pub run_disabled: bool,
    #[command(flatten)]
    pub aws: crate::cli::AwsArgs,
    /// Output format of the result on stdout.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub output: Format,
}

/// An argument that is not `NAME=VALUE` (clap names the option before it).
#[derive(Debug, thiserror::Error)]
#[error("{0:?}: expected NAME=VALUE")]
pub struct NotNameValue(String);

/// `NAME=VALUE` (the value may hold `=`).
fn name_value(s: &str) -> Result<(String, String), NotNameValue> {
    match s.split_once('=') {
        Some((n, v)) if !n.is_empty() => Ok((n.to_string(), v.to_string())),
        _ => Err(NotNameValue(s.to_string())),
    }
}

pub async fn run(args: &JobArgs) -> anyhow::Result<()> {
    match &args.command {
        JobCommand::Run(a) => run_job(a).await,
    }
}

async fn run_job(a: &RunArgs) -> anyhow::Result<()> {
    let opts = Options {
        job: match (&a.job, &a.job_id) {
            (Some(f), _) => JobSource::File(f.clone()),
            (None, Some(id)) => JobSource::Table(id.clone()),
            (None, None) => {
                return Err(ConfigError::Missing {
                    param: "JOB_ID".into(),
                    hint: "give a job_id (read from lava.<realm>.jobs) or --job FILE".into(),
                }
                .into());
            }
        },
        realm: a.realm.clone(),
        realm_file: a.realm_file.clone(),
        connections_file: a.connections_file.clone(),
        worker: a.worker.clone(),
        dev: a.dev,
        keep_tmp: a.keep_tmp,
        network: a.network.clone(),
        pull: a.pull,
        aws: a.aws.aws(),
        params: a.params.clone(),
        globals: a.globals.clone(),
        run_id: a.run_id.clone(),
        run_disabled: a.run_disabled,
    };
    // A spec error is a ConfigError in the chain (exit 2), not hidden behind JobError.
    let outcome = job::execute(&opts).await.map_err(|e| match e {
        job::JobError::Config(c) => anyhow::Error::from(c),
        other => anyhow::Error::from(other),
    })?;
    match a.output {
        Format::Json => output::print_json(&outcome)?,
        Format::Text => {
            let status = outcome
                .exit_status
                .map_or_else(|| "none".to_string(), |s| s.to_string());
            println!("run_id      {}", outcome.run_id);
            println!("status      {}", outcome.status);
            if let Some(e) = &outcome.error {
                println!("error       {e}");
            }
            println!("exit status {status}");
            println!("duration    {:.1}s", outcome.duration_secs);
            if let Some(l) = &outcome.logs {
                println!("logs        {l}");
            }
            if let Some(t) = &outcome.tmp {
                println!("tmp         {t}");
            }
        }
    }
    match RunFailed::from_outcome(&outcome, a.exit_status == ExitStatus::Container) {
        Some(f) => Err(crate::error::with_status(f.exit_status, f)),
        None => Ok(()),
    }
}
