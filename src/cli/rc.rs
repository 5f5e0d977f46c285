//! The `lava-rc` command line (also `s3run` when called by that name): arguments, logging, and
//! the exit statuses (0 done, 1 a failure at run time, 2 a usage or configuration error).
use super::args::parse_or_exit;
use crate::error::Kind;
use crate::output::logging::{self, Level, LogError};
use crate::rc::boot::{self, BootError, BootOptions};
use crate::rc::cache::CacheError;
use crate::rc::files::Root;
use crate::rc::imds::{DEFAULT_ENDPOINT, Imds, ImdsError};
use crate::rc::s3run::{self, S3RunError, S3RunOptions};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Longest `--deadline` and `--step-timeout` accepted: a week.
const MAX_SECS: u64 = 7 * 24 * 3600;

#[derive(Debug, Parser)]
#[command(
    name = "lava-rc",
    version = crate::version::LONG,
    about = "Configure a lava instance at boot from its JSON user data",
    long_about = "Configure a lava instance at boot from its JSON user data.\n\n\
`boot` reads the region and the user data from the instance metadata service (IMDSv2) once and runs,\n\
each on its own (a failure is logged and the next step still runs), in name order: the built-in\n\
steps 05_shell (shell0), 20_swap (swap), 60_crontab (crontab) and 99_shell (shell), among the\n\
executables in /usr/local/etc/rc.d. It exits 0 when every step succeeded."
)]
struct Cli {
    /// More log output (-v debug, -vv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args, Clone)]
struct Common {
    /// Instance metadata service endpoint (tests point it at a fake).
    #[arg(long, env = "LAVA_RC_IMDS_ENDPOINT", default_value = DEFAULT_ENDPOINT, value_name = "URL")]
    imds_endpoint: String,
    /// Give up on the metadata service after this many seconds in all (every request included).
    #[arg(long, default_value_t = 120, value_name = "SECS",
          value_parser = clap::value_parser!(u64).range(1..=MAX_SECS))]
    deadline: u64,
    /// Write every file (aws config, fstab, swap file) under DIR instead of / (tests, image builds).
    #[arg(long, env = "LAVA_RC_ROOT", default_value = "/", value_name = "DIR")]
    root: PathBuf,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the boot steps (what the systemd unit runs).
    Boot {
        #[command(flatten)]
        common: Common,
        /// Kill a shell step or site script (its whole process group) after this many seconds.
        #[arg(long, default_value_t = boot::DEFAULT_STEP_TIMEOUT.as_secs(), value_name = "SECS",
              value_parser = clap::value_parser!(u64).range(1..=MAX_SECS))]
        step_timeout: u64,
        /// Print the summary as JSON on stdout.
        #[arg(long)]
        json: bool,
        /// Also send each step's records here, facility local0, identifier rclocal.<step> ("none": don't).
        #[arg(long, env = "LAVA_RC_SYSLOG_SOCKET", default_value = crate::rc::syslog::DEFAULT_SOCKET, value_name = "PATH")]
        syslog_socket: PathBuf,
        /// Records on stderr: all, or no-steps (step records only to the syslog socket while it
        /// takes them; for the rc.local shim, which sends stderr to syslog too).
        #[arg(long, value_enum, default_value_t = StderrRecords::All, value_name = "WHICH")]
        stderr: StderrRecords,
    },
    /// Fetch and check the user data and show what `boot` would do; do nothing.
    Show {
        #[command(flatten)]
        common: Common,
    },
    /// Fetch an executable from S3 and run it with arguments (also installed as `s3run`).
    S3run(S3runArgs),
}

/// Which records `boot` writes on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum StderrRecords {
    /// Every record.
    All,
    /// No step record while the syslog socket takes them (they are there as rclocal.<step>).
    NoSteps,
}

/// `s3run` called by that name (a link to lava-rc).
#[derive(Debug, Parser)]
#[command(
    name = "s3run",
    version = crate::version::LONG,
    about = "Fetch an executable from S3 and run it: s3run [options] s3://bucket/key|relative-key [args…]"
)]
struct S3runCli {
    #[command(flatten)]
    args: S3runArgs,
}

/// Fetch an executable from S3 and run it: s3run [options] s3://bucket/key|relative-key [args…]
#[derive(Debug, Args, Clone)]
struct S3runArgs {
    /// Cache folder (default ~/.s3run; must be yours with mode 0700), reused while the ETag is unchanged.
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// Do not cache: download into a private temporary file, removed afterwards.
    #[arg(long)]
    no_cache: bool,
    /// Change to DIR before running.
    #[arg(short = 'd', long = "directory", value_name = "DIR")]
    chdir: Option<PathBuf>,
    /// AWS region (default: AWS_REGION, then the instance's region from IMDS).
    #[arg(short, long, value_name = "REGION")]
    region: Option<String>,
    #[command(flatten)]
    profile: crate::cli::args::ProfileArg,
    /// Log level (the arguments are logged at debug only).
    #[arg(long, value_enum, default_value_t = Level::Warn, value_name = "LEVEL")]
    log_level: Level,
    /// Log to FILE (appended) instead of stderr.
    #[arg(long = "log", value_name = "FILE")]
    log_file: Option<PathBuf>,
    /// Tag of log records.
    #[arg(long, default_value = "s3run", value_name = "TAG")]
    tag: String,
    /// No colour in log output.
    #[arg(long, alias = "no-color")]
    no_colour: bool,
    /// Instance metadata service endpoint, for the region.
    #[arg(long, env = "LAVA_RC_IMDS_ENDPOINT", default_value = DEFAULT_ENDPOINT, value_name = "URL")]
    imds_endpoint: String,
    /// s3://bucket/key, or a key searched along S3PATH (colon-separated s3:// prefixes).
    #[arg(value_name = "LOCATION")]
    location: String,
    /// Arguments for the executable.
    #[arg(
        value_name = "ARGS",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    args: Vec<String>,
}

/// Why lava-rc or s3run stopped; each kind knows its exit status.
#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error(transparent)]
    Logging(#[from] LogError),
    #[error("cannot start the async runtime")]
    Runtime(#[source] std::io::Error),
    #[error("no user data step was run")]
    Boot(#[source] BootError),
    #[error(transparent)]
    Imds(#[from] ImdsError),
    #[error(transparent)]
    UserData(BootError),
    #[error("cannot print the report as JSON")]
    Json(#[source] serde_json::Error),
    #[error(transparent)]
    Cache(#[from] CacheError),
    #[error(transparent)]
    Region(#[from] RegionError),
    #[error(transparent)]
    S3Run(#[from] S3RunError),
}

impl CliError {
    fn kind(&self) -> Kind {
        match self {
            CliError::Logging(_) | CliError::Cache(_) => Kind::Usage,
            CliError::Imds(ImdsError::Endpoint(_))
            | CliError::Region(RegionError::Endpoint(ImdsError::Endpoint(_))) => Kind::Usage,
            CliError::S3Run(e) => e.kind(),
            _ => Kind::Runtime,
        }
    }
}

/// The whole program; returns the exit status.
pub fn main() -> i32 {
    let invoked_as = std::env::args_os()
        .next()
        .map(PathBuf::from)
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let (verbose, command) = if invoked_as == "s3run" {
        (0, Command::S3run(parse_or_exit::<S3runCli>().args))
    } else {
        let cli: Cli = parse_or_exit();
        (cli.verbose, cli.command)
    };
    // s3run names itself on its error line (its tag), as callers of the old s3run expect.
    let prefix = match &command {
        Command::S3run(a) => format!("{}: ", a.tag),
        _ => String::new(),
    };
    let result = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)
        .and_then(|rt| rt.block_on(run(verbose, command)));
    match result {
        Ok(code) => code,
        Err(e) => {
            let status = e.kind().exit_status();
            crate::output::progress::report_status(&prefix, &e.into(), status)
        }
    }
}

/// Logging as `boot` wants it: stderr, and each step's records to the syslog socket.
fn boot_logging(verbose: u8, socket: PathBuf, stderr: StderrRecords) -> Result<(), LogError> {
    let mut setup = logging::Setup {
        level: Level::Info.raised(verbose),
        ..Default::default()
    };
    if socket.as_os_str() != "none" {
        let layer = crate::rc::syslog::SyslogLayer::new(socket);
        if stderr == StderrRecords::NoSteps {
            let delivering = layer.delivering();
            setup.keep = Some(Box::new(move |meta: &tracing::Metadata<'_>| {
                meta.fields().field("step").is_none() || !delivering.load(Ordering::Relaxed)
            }));
        }
        setup.extra = Some(Box::new(layer));
    }
    logging::init(setup)
}

async fn run(verbose: u8, command: Command) -> Result<i32, CliError> {
    match command {
        Command::Boot {
            common,
            step_timeout,
            json,
            syslog_socket,
            stderr,
        } => {
            boot_logging(verbose, syslog_socket, stderr)?;
            // First in the boot log: exactly which build runs.
            tracing::info!(target: "lava_rc", "lava-rc {} starting", crate::version::LONG);
            let opts = BootOptions {
                imds_endpoint: common.imds_endpoint,
                deadline: Duration::from_secs(common.deadline),
                root: Root(common.root),
                step_timeout: Duration::from_secs(step_timeout),
                // The instance role: no profile; the region is the instance's, read at boot.
                aws: crate::aws::AwsConfig::default(),
            };
            let report = boot::boot(&opts).await.map_err(CliError::Boot)?;
            tracing::info!(target: "lava_rc", "{}", report.summary());
            if json {
                let text = serde_json::to_string_pretty(&report).map_err(CliError::Json)?;
                println!("{text}");
            }
            Ok(i32::from(!report.ok()))
        }
        Command::Show { common } => {
            logging::init(logging::Setup {
                level: Level::Info.raised(verbose),
                ..Default::default()
            })?;
            show(common).await
        }
        Command::S3run(a) => {
            logging::init(logging::Setup {
                level: a.log_level.raised(verbose),
                file: a.log_file.clone(),
                no_colour: a.no_colour,
                ..Default::default()
            })?;
            s3run_main(a).await
        }
    }
}

async fn show(common: Common) -> Result<i32, CliError> {
    let mut imds = Imds::new(&common.imds_endpoint, Duration::from_secs(common.deadline))?;
    let Some(data) = boot::user_data(&mut imds)
        .await
        .map_err(CliError::UserData)?
    else {
        println!("no user data: boot would do nothing after writing the region");
        return Ok(0);
    };
    let unknown = crate::rc::userdata::unknown_keys(&data);
    let mut bad = false;
    for (step, what) in boot::describe(&data, &Root(common.root)) {
        bad |= what.starts_with("ERROR: ");
        println!("{step}: {what}");
    }
    if !unknown.is_empty() {
        println!("ignored keys: {}", unknown.join(", "));
    }
    Ok(i32::from(bad))
}

/// Why s3run has no region.
#[derive(Debug, thiserror::Error)]
enum RegionError {
    #[error(transparent)]
    Endpoint(#[from] ImdsError),
    #[error("no region (-r, AWS_REGION or IMDS)")]
    Imds(#[source] BootError),
}

/// `-r`, then AWS_REGION / AWS_DEFAULT_REGION, then the instance's region from IMDS.
async fn s3run_region(a: &S3runArgs) -> Result<String, RegionError> {
    if let Some(r) = a.region.clone().or_else(|| {
        ["AWS_REGION", "AWS_DEFAULT_REGION"]
            .iter()
            .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
    }) {
        return Ok(r);
    }
    let mut imds = Imds::new(&a.imds_endpoint, Duration::from_secs(10))?;
    boot::region(&mut imds).await.map_err(RegionError::Imds)
}

async fn s3run_main(a: S3runArgs) -> Result<i32, CliError> {
    s3run::check_location(&a.location)?;
    let cache_dir = match (a.no_cache, &a.cache_dir) {
        (true, _) => None,
        (false, Some(d)) => Some(d.clone()),
        (false, None) => Some(crate::rc::cache::default_dir()?),
    };
    let region = s3run_region(&a).await?;
    let sdk = crate::aws::sdk_config(a.profile.get(), Some(&region)).await;
    let client = aws_sdk_s3::Client::new(&sdk);
    let opts = S3RunOptions {
        location: a.location,
        args: a.args,
        cache_dir,
        chdir: a.chdir,
    };
    let result = s3run::run(&client, &opts).await;
    if let (Err(e), Some(_)) = (&result, &a.log_file) {
        // The log file gets the error too: stderr may go nowhere under cron.
        tracing::error!(error = e as &dyn std::error::Error, "s3run failed");
    }
    Ok(result?)
}

/// The `lava-rc` command line as clap describes it (for man pages and completions).
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}
