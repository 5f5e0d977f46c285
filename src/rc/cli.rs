//! The `lava-rc` command line (also `s3run` when called by that name): arguments, logging, and
//! the exit statuses (0 done, 1 a failure at run time, 2 a usage or configuration error).
use super::boot::{self, BootOptions};
use super::imds::{DEFAULT_ENDPOINT, Imds};
use super::s3run::{self, S3RunOptions};
use super::steps::Root;
use crate::error::{EXIT_FAILURE, EXIT_USAGE};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
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
        #[arg(long, env = "LAVA_RC_SYSLOG_SOCKET", default_value = super::syslog::DEFAULT_SOCKET, value_name = "PATH")]
        syslog_socket: PathBuf,
    },
    /// Fetch and check the user data and show what `boot` would do; do nothing.
    Show {
        #[command(flatten)]
        common: Common,
    },
    /// Fetch an executable from S3 and run it with arguments (also installed as `s3run`).
    S3run(S3runArgs),
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
    /// AWS profile.
    #[arg(long, env = "AWS_PROFILE", value_name = "NAME")]
    profile: Option<String>,
    /// Log level: error, warn, info, debug (the arguments are logged at debug only).
    #[arg(long, default_value = "warn", value_name = "LEVEL",
          value_parser = ["error", "warn", "info", "debug", "trace"])]
    log_level: String,
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

/// A clap error on one line (`error: … <what was wrong> …`), or help and version as clap prints them.
fn parse_or_exit<T: Parser>() -> T {
    T::try_parse().unwrap_or_else(|e| {
        use clap::error::ErrorKind::*;
        if matches!(
            e.kind(),
            DisplayHelp | DisplayVersion | DisplayHelpOnMissingArgumentOrSubcommand
        ) {
            e.exit();
        }
        let text = e.to_string();
        let head: Vec<&str> = text
            .lines()
            .take_while(|l| !l.trim().is_empty())
            .map(str::trim)
            .collect();
        eprintln!("{}", head.join(" "));
        std::process::exit(EXIT_USAGE);
    })
}

/// Log records on stderr or in `file`, and, with `syslog`, the step records to that socket too.
fn logging(
    verbose: u8,
    default: &str,
    file: Option<&PathBuf>,
    no_colour: bool,
    syslog: Option<PathBuf>,
) -> std::io::Result<()> {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let level = match verbose {
        0 => default.to_string(),
        1 => "debug".into(),
        _ => "trace".into(),
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!("warn,lava_rc={level},lava_build={level}"))
    });
    let colour = !no_colour && crate::output::colour_on_stderr();
    let fmt = tracing_subscriber::fmt::layer()
        .without_time()
        .with_target(false);
    let fmt =
        match file {
            Some(p) => {
                let f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)?;
                fmt.with_ansi(false).with_writer(
                    tracing_subscriber::fmt::writer::BoxMakeWriter::new(std::sync::Mutex::new(f)),
                )
            }
            None => fmt.with_ansi(colour).with_writer(
                tracing_subscriber::fmt::writer::BoxMakeWriter::new(std::io::stderr),
            ),
        };
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(syslog.map(super::syslog::SyslogLayer::new))
        .try_init();
    Ok(())
}

/// The whole program; returns the exit status.
pub fn main() -> i32 {
    let invoked_as = std::env::args_os()
        .next()
        .map(PathBuf::from)
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let command = if invoked_as == "s3run" {
        Command::S3run(parse_or_exit::<S3runCli>().args)
    } else {
        let cli: Cli = parse_or_exit();
        let syslog = match &cli.command {
            Command::Boot { syslog_socket, .. } => {
                Some(syslog_socket.clone()).filter(|p| p.as_os_str() != "none")
            }
            Command::Show { .. } => None,
            Command::S3run(_) => None,
        };
        if !matches!(cli.command, Command::S3run(_)) {
            // stderr cannot fail to open.
            let _ = logging(cli.verbose, "info", None, false, syslog);
        }
        cli.command
    };
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(run(command)),
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            EXIT_FAILURE
        }
    }
}

async fn run(command: Command) -> i32 {
    match command {
        Command::Boot {
            common,
            step_timeout,
            json,
            ..
        } => {
            let opts = BootOptions {
                imds_endpoint: common.imds_endpoint,
                deadline: Duration::from_secs(common.deadline),
                root: Root(common.root),
                step_timeout: Duration::from_secs(step_timeout),
            };
            match boot::boot(&opts).await {
                Ok(report) => {
                    tracing::info!(target: "lava_rc", "{}", report.summary());
                    if json {
                        println!(
                            "{}",
                            serde_json::to_string_pretty(&report).unwrap_or_default()
                        );
                    }
                    i32::from(!report.ok())
                }
                Err(e) => {
                    tracing::error!(target: "lava_rc", "{e}; no user data step was run");
                    eprintln!("error: {e}; no user data step was run");
                    EXIT_FAILURE
                }
            }
        }
        Command::Show { common } => show(common).await,
        Command::S3run(a) => s3run_main(a).await,
    }
}

async fn show(common: Common) -> i32 {
    let mut imds = match Imds::new(&common.imds_endpoint, Duration::from_secs(common.deadline)) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    match boot::user_data(&mut imds).await {
        Ok(None) => {
            println!("no user data: boot would do nothing after writing the region");
            0
        }
        Ok(Some(data)) => {
            let unknown = super::userdata::unknown_keys(&data);
            let mut bad = false;
            for (step, what) in boot::describe(&data, &Root(common.root)) {
                bad |= what.starts_with("ERROR: ");
                println!("{step}: {what}");
            }
            if !unknown.is_empty() {
                println!("ignored keys: {}", unknown.join(", "));
            }
            i32::from(bad)
        }
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_FAILURE
        }
    }
}

/// Why s3run has no region.
#[derive(Debug, thiserror::Error)]
enum RegionError {
    #[error(transparent)]
    Endpoint(#[from] super::imds::ImdsError),
    #[error("no region (-r, AWS_REGION or IMDS): {0}")]
    Imds(#[source] boot::BootError),
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

async fn s3run_main(a: S3runArgs) -> i32 {
    if let Err(e) = logging(0, &a.log_level, a.log_file.as_ref(), a.no_colour, None) {
        let file = a.log_file.as_deref().unwrap_or(std::path::Path::new(""));
        eprintln!("{}: error: --log {}: {e}", a.tag, file.display());
        return EXIT_USAGE;
    }
    if let Err(e) = s3run::check_location(&a.location) {
        eprintln!("{}: error: {e}", a.tag);
        return e.exit_code();
    }
    let cache_dir = match (a.no_cache, &a.cache_dir) {
        (true, _) => None,
        (false, Some(d)) => Some(d.clone()),
        (false, None) => match super::cache::default_dir() {
            Ok(d) => Some(d),
            Err(e) => {
                eprintln!("{}: error: {e}", a.tag);
                return EXIT_USAGE;
            }
        },
    };
    let region = match s3run_region(&a).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{}: error: {e}", a.tag);
            return match e {
                RegionError::Endpoint(_) => EXIT_USAGE,
                RegionError::Imds(_) => EXIT_FAILURE,
            };
        }
    };
    let sdk = crate::aws::sdk_config(a.profile.as_deref(), Some(&region)).await;
    let client = aws_sdk_s3::Client::new(&sdk);
    let opts = S3RunOptions {
        location: a.location,
        args: a.args,
        cache_dir,
        chdir: a.chdir,
    };
    match s3run::run(&client, &opts).await {
        Ok(code) => code,
        Err(e) => {
            if a.log_file.is_some() {
                tracing::error!("{e}");
            }
            eprintln!("{}: error: {e}", a.tag);
            e.exit_code()
        }
    }
}

/// The `lava-rc` command line as clap describes it (for man pages and completions).
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}
