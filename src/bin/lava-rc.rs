//! `lava-rc`: the boot agent of lava AMIs (also `s3run` when called by that name).
use clap::{Args, Parser, Subcommand};
use lava_build::rc::boot::{self, BootOptions};
use lava_build::rc::imds::{DEFAULT_ENDPOINT, Imds};
use lava_build::rc::s3run::{self, S3RunOptions};
use lava_build::rc::steps::Root;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(
    name = "lava-rc",
    version,
    about = "Configure a lava instance at boot from its JSON user data",
    long_about = "Configure a lava instance at boot from its JSON user data.\n\n\
`boot` reads the region and the user data from the instance metadata service (IMDSv2) once and runs,\n\
in order and each on its own (a failure is logged and the next step still runs): shell0, swap,\n\
crontab, the executables in /usr/local/etc/rc.d, shell. It exits 0 when every step succeeded."
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
    /// Give up on the metadata service after this many seconds in all.
    #[arg(long, default_value_t = 120, value_name = "SECS")]
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
        /// Kill a shell step or site script after this many seconds (default: no limit).
        #[arg(long, value_name = "SECS")]
        step_timeout: Option<u64>,
        /// Print the summary as JSON on stdout.
        #[arg(long)]
        json: bool,
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
    version,
    about = "Fetch an executable from S3 and run it: s3run [options] s3://bucket/key|relative-key [args…]"
)]
struct S3runCli {
    #[command(flatten)]
    args: S3runArgs,
}

/// Fetch an executable from S3 and run it: s3run [options] s3://bucket/key|relative-key [args…]
#[derive(Debug, Args, Clone)]
struct S3runArgs {
    /// Download into this cache folder, reused while the object's ETag is unchanged.
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
    /// Log level: error, warn, info, debug.
    #[arg(long, default_value = "warn", value_name = "LEVEL")]
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

fn logging(
    verbose: u8,
    default: &str,
    file: Option<&PathBuf>,
    no_colour: bool,
) -> Result<(), String> {
    let level = match verbose {
        0 => default.to_string(),
        1 => "debug".into(),
        _ => "trace".into(),
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!("warn,lava_rc={level},lava_build={level}"))
    });
    let colour = !no_colour && lava_build::output::colour_on_stderr();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .without_time()
        .with_target(false);
    match file {
        Some(p) => {
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .map_err(|e| format!("--log {}: {e}", p.display()))?;
            let _ = builder
                .with_ansi(false)
                .with_writer(std::sync::Mutex::new(f))
                .try_init();
        }
        None => {
            let _ = builder
                .with_ansi(colour)
                .with_writer(std::io::stderr)
                .try_init();
        }
    }
    Ok(())
}

fn main() {
    lava_build::tls::install_crypto_provider();
    let invoked_as = std::env::args_os()
        .next()
        .map(PathBuf::from)
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let command = if invoked_as == "s3run" {
        Command::S3run(S3runCli::parse().args)
    } else {
        let cli = Cli::parse();
        if let Command::S3run(_) = cli.command {
        } else if let Err(e) = logging(cli.verbose, "info", None, false) {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
        cli.command
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    std::process::exit(rt.block_on(run(command)));
}

async fn run(command: Command) -> i32 {
    match command {
        Command::Boot {
            common,
            step_timeout,
            json,
        } => {
            let opts = BootOptions {
                imds_endpoint: common.imds_endpoint,
                deadline: Duration::from_secs(common.deadline),
                root: Root(common.root),
                step_timeout: step_timeout.map(Duration::from_secs),
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
                    1
                }
            }
        }
        Command::Show { common } => {
            let mut imds =
                match Imds::new(&common.imds_endpoint, Duration::from_secs(common.deadline)) {
                    Ok(i) => i,
                    Err(e) => {
                        eprintln!("error: {e}");
                        return 2;
                    }
                };
            match boot::user_data(&mut imds).await {
                Ok(None) => {
                    println!("no user data: boot would do nothing after writing the region");
                    0
                }
                Ok(Some(data)) => {
                    let unknown = lava_build::rc::userdata::unknown_keys(&data);
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
                    1
                }
            }
        }
        Command::S3run(a) => s3run_main(a).await,
    }
}

async fn s3run_main(a: S3runArgs) -> i32 {
    if let Err(e) = logging(0, &a.log_level, a.log_file.as_ref(), a.no_colour) {
        eprintln!("{}: error: {e}", a.tag);
        return 2;
    }
    let region = match a.region.clone().or_else(|| {
        ["AWS_REGION", "AWS_DEFAULT_REGION"]
            .iter()
            .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
    }) {
        Some(r) => r,
        None => {
            let mut imds = match Imds::new(&a.imds_endpoint, Duration::from_secs(10)) {
                Ok(i) => i,
                Err(e) => {
                    eprintln!("{}: error: {e}", a.tag);
                    return 2;
                }
            };
            match boot::region(&mut imds).await {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("{}: error: no region (-r, AWS_REGION or IMDS): {e}", a.tag);
                    return 1;
                }
            }
        }
    };
    let sdk = lava_build::aws::sdk_config(a.profile.as_deref(), Some(&region)).await;
    let client = aws_sdk_s3::Client::new(&sdk);
    let cache_dir = if a.no_cache {
        None
    } else {
        Some(a.cache_dir.clone().unwrap_or_else(|| {
            std::env::var_os("HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("/tmp"))
                .join(".s3run")
        }))
    };
    let opts = S3RunOptions {
        location: a.location.clone(),
        args: a.args.clone(),
        cache_dir,
        chdir: a.chdir.clone(),
    };
    match s3run::run(&client, &opts).await {
        Ok(code) => code,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("{}: error: {e}", a.tag);
            1
        }
    }
}
