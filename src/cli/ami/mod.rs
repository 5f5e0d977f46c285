//! The `lava-ami` command: list, then optionally update the selected worker stacks.
mod lifecycle;

use crate::ami::model::{self as ami, Kind, LavaAmi};
use crate::error::Kind as ErrorKind;
use crate::output::{self, Format, logging};
use crate::stacks::error::StackError;
use crate::stacks::fetch;
use crate::stacks::model::{self, SelectError, WorkerStack};
use crate::stacks::prompt::{PromptError, state_text};
use crate::stacks::update::{self, AmiChoice, Clients};
use serde::Serialize;
use std::io::IsTerminal;

pub use crate::stacks::update::EXIT_IN_PROGRESS;

/// Show lava AMIs and the AMI of every lava worker stack; update stacks to a new AMI.
#[derive(Debug, clap::Parser)]
#[command(
    name = "lava-ami",
    version = crate::version::LONG,
    disable_version_flag = true,
    args_conflicts_with_subcommands = true,
    about = "Show lava AMIs and the AMI of every lava worker CloudFormation stack; roll out a new AMI",
    after_long_help = "\
Lava AMIs are the account's own available AMIs named lava-* (and sak-* with --sak), grouped by kind
(OS, Python X.Y, arch); the newest of each kind, by build time (the BuildId tag, else the time in the
name, else a copy's source AMI's creation; never CreationDate, which a region copy resets), is marked.
Worker stacks are stacks with parameters
realm, worker and amiId (sakAmiId before lava 7.1) and an instance type parameter (or, in
cloudformation/lava-worker.cfn.yaml, attribute-based selection). After an update, the line below each
stack shows its auto scaling group: launch template version, instances on it, scaling activities.
-U refuses (exit 2, nothing updated) an AMI of another kind than the stack runs unless --force.
Exit status: 0 done, 1 a stack failed, 2 bad usage, 3 an update still in progress when
--wait-minutes ran out (STILL_IN_PROGRESS: not failed; look again later).

Examples:
  lava-ami                                  every lava AMI and worker stack
  lava-ami 'lava-prod-*' -n 3               prod stacks, three AMIs per kind
  lava-ami -U 'lava-dev-*'                  choose an AMI for each dev stack (interactive)
  lava-ami -U 'lava-prod-*' --ami latest --yes      newest AMI of each stack's kind (CI)
  lava-ami -U lava-prod-core --ami ami-0123456789abcdef0 --yes -W
  lava-ami publish ami-0123456789abcdef0    publish as the current AMI of its kind (SSM)
  lava-ami prune --dry-run                  what pruning old AMIs would do"
)]
pub struct Args {
    /// Stack name globs (e.g. 'lava-prod-*'); all worker stacks when none.
    #[arg(value_name = "STACK-GLOB")]
    pub patterns: Vec<String>,
    /// AMIs shown per kind.
    #[arg(short = 'n', default_value_t = 5, value_name = "N")]
    pub count: usize,
    /// Include SAK-style AMIs (sak-*).
    #[arg(long)]
    pub sak: bool,
    /// Update the matching stacks (needs a pattern; '*' alone is refused).
    #[arg(short = 'U', long)]
    pub update: bool,
    /// With -U: the AMI to roll out, an id or `latest` (newest of the stack's kind, or of --kind).
    #[arg(long, value_name = "ami-…|latest", value_parser = parse_ami)]
    pub ami: Option<AmiChoice>,
    /// With --ami latest: the kind to take the newest of, as OS/pyX.Y/ARCH.
    #[arg(long, value_name = "KIND", value_parser = clap::value_parser!(Kind))]
    pub kind: Option<Kind>,
    /// With -U --ami: do not ask for confirmation (CI).
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// With -U: allow an AMI of another kind (OS, Python X.Y, arch) than the stack runs.
    #[arg(long)]
    pub force: bool,
    /// With -U: do not wait for the updates to finish.
    #[arg(short = 'W', long)]
    pub no_wait: bool,
    /// With -U: minutes to wait for each stack (1 to 1440).
    #[arg(long, default_value_t = 10, value_name = "MIN",
          value_parser = clap::value_parser!(u64).range(1..=1440))]
    pub wait_minutes: u64,
    /// Seconds between status checks while waiting (1 to 600).
    #[arg(long, default_value_t = 15, value_name = "SECS", hide = true,
          value_parser = clap::value_parser!(u64).range(1..=600))]
    pub poll_seconds: u64,
    /// With -U: go on with the other stacks after one fails.
    #[arg(long)]
    pub keep_going: bool,
    #[command(flatten)]
    pub aws: crate::cli::AwsArgs,
    /// Output format on stdout.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub output: Format,
    /// Print the version.
    #[arg(short = 'v', long, action = clap::ArgAction::Version)]
    pub version: Option<bool>,
    /// SSM path the published AMIs are listed from.
    #[arg(long, value_name = "PATH", default_value = crate::ami::prefix::DEFAULT_PREFIX)]
    pub publish_prefix: String,
    /// AMI lifecycle: publish, copy, prune (see `lava-ami help prune`).
    #[command(subcommand)]
    pub command: Option<lifecycle::Command>,
}

/// An `--ami` that is neither an AMI id nor `latest` (clap shows it after the option and the
/// value: the one-line usage error).
#[derive(Debug, thiserror::Error)]
#[error("expected an AMI id (ami- and 8 to 17 hex digits) or latest")]
pub struct NotAnAmi;

fn parse_ami(text: &str) -> Result<AmiChoice, NotAnAmi> {
    if text == "latest" {
        Ok(AmiChoice::Latest)
    } else if crate::config::validate::ami_id(text).is_ok() {
        Ok(AmiChoice::Id(text.to_string()))
    } else {
        Err(NotAnAmi)
    }
}

#[derive(Debug, Serialize)]
struct Listing<'a> {
    amis: &'a [LavaAmi],
    stacks: &'a [WorkerStack],
    published: &'a [crate::lifecycle::publish::Entry],
}

/// Why lava-ami stopped; each kind knows its exit status.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Select(#[from] SelectError),
    #[error("--ami, --kind, --force and --yes go with -U/--update")]
    NotUpdating,
    #[error(
        "-U without --ami is interactive and needs a terminal; in CI pass --ami ID|latest --yes"
    )]
    NoTerminal,
    #[error("-U --ami without a terminal needs --yes")]
    NoYes,
    /// An AMI of another kind than the stack's, without `--force`: nothing was updated.
    #[error("{0} (nothing was updated)")]
    OtherKind(update::KindRefusal),
    #[error(transparent)]
    Logging(#[from] logging::LogError),
    #[error("cannot start the async runtime")]
    Runtime(#[source] std::io::Error),
    #[error(transparent)]
    Aws(#[from] StackError),
    #[error("no worker stack matches {0}")]
    NoMatch(String),
    #[error(transparent)]
    Prompt(#[from] PromptError),
    /// `publish`, `copy`, `prune` and the published listing (its kind decides the exit status).
    #[error(transparent)]
    Lifecycle(anyhow::Error),
    #[error("cannot print the result")]
    Print(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl CliError {
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Select(_)
            | CliError::NotUpdating
            | CliError::NoTerminal
            | CliError::NoYes
            | CliError::OtherKind(_)
            | CliError::Logging(_) => ErrorKind::Usage.exit_status(),
            CliError::Lifecycle(e) => crate::error::exit_code(e),
            _ => ErrorKind::Runtime.exit_status(),
        }
    }
}

/// The whole program; returns the exit status.
pub fn main() -> i32 {
    let args: Args = super::args::parse_or_exit();
    let result = logging::init(logging::Setup::default())
        .map_err(CliError::from)
        .and_then(|()| tokio::runtime::Runtime::new().map_err(CliError::Runtime))
        .and_then(|rt| rt.block_on(run(&args)));
    match result {
        Ok(code) => code,
        Err(e) => {
            let status = e.exit_code();
            crate::output::progress::report_status("", &e.into(), status)
        }
    }
}

/// What the arguments ask for, checked before any AWS call.
struct Request {
    globs: Option<globset::GlobSet>,
}

fn check(args: &Args) -> Result<Request, CliError> {
    let globs = model::patterns(&args.patterns, args.update)?;
    if !args.update && (args.ami.is_some() || args.yes || args.kind.is_some() || args.force) {
        return Err(CliError::NotUpdating);
    }
    let interactive = args.update && args.ami.is_none();
    let tty = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    if interactive && !tty {
        return Err(CliError::NoTerminal);
    }
    if args.update && args.ami.is_some() && !args.yes && !tty {
        return Err(CliError::NoYes);
    }
    Ok(Request { globs })
}

/// The account's lava AMIs (all, and the newest `-n` per kind) and the selected worker stacks.
struct Inventory {
    all: Vec<LavaAmi>,
    shown: Vec<LavaAmi>,
    stacks: Vec<WorkerStack>,
}

async fn inventory(
    ec2: &aws_sdk_ec2::Client,
    cfn: &aws_sdk_cloudformation::Client,
    args: &Args,
    globs: Option<&globset::GlobSet>,
) -> Result<Inventory, StackError> {
    let images = fetch::images(ec2, args.sak).await?;
    let all: Vec<LavaAmi> = ami::group(
        images
            .iter()
            .filter_map(|i| ami::lava_ami(i, args.sak))
            .collect(),
        usize::MAX,
    );
    let shown = ami::group(all.clone(), args.count.max(1));
    let mut stacks: Vec<WorkerStack> = fetch::stacks(cfn)
        .await?
        .iter()
        .filter_map(|s| model::worker_stack(s, &all))
        .filter(|s| globs.is_none_or(|g| g.is_match(&s.name)))
        .collect();
    stacks.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Inventory { all, shown, stacks })
}

pub async fn run(args: &Args) -> Result<i32, CliError> {
    if let Some(command) = &args.command {
        return lifecycle::run(command).await.map_err(CliError::Lifecycle);
    }
    let request = check(args)?;
    let sdk = args.aws.sdk_config().await;
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let clients = Clients {
        cfn: aws_sdk_cloudformation::Client::new(&sdk),
        asg: aws_sdk_autoscaling::Client::new(&sdk),
    };
    let inv = inventory(&ec2, &clients.cfn, args, request.globs.as_ref()).await?;
    if !args.update {
        let published = lifecycle::published(&sdk, &args.publish_prefix)
            .await
            .map_err(CliError::Lifecycle)?;
        if args.output == Format::Json {
            print_json(&Listing {
                amis: &inv.shown,
                stacks: &inv.stacks,
                published: &published,
            })?;
        } else {
            print_tables(&inv.shown, &inv.stacks);
            lifecycle::print_published_listing(&published, &args.publish_prefix);
        }
        return Ok(0);
    }
    if inv.stacks.is_empty() {
        return Err(CliError::NoMatch(args.patterns.join(" ")));
    }
    let req = update::Request {
        ami: args.ami.clone(),
        kind: args.kind.clone(),
        yes: args.yes,
        force: args.force,
        no_wait: args.no_wait,
        wait_minutes: args.wait_minutes,
        poll_seconds: args.poll_seconds,
        keep_going: args.keep_going,
        output: args.output,
    };
    update::precheck(&req, &inv.stacks, &inv.all).map_err(CliError::OtherKind)?;
    let results = update::update_all(&clients, &req, &inv.stacks, &inv.all).await?;
    if args.output == Format::Json {
        print_json(&results)?;
    }
    Ok(update::exit_status(&results))
}

fn print_json<T: Serialize>(value: &T) -> Result<(), CliError> {
    output::print_json(value).map_err(|e| CliError::Print(e.into()))
}

fn print_tables(amis: &[LavaAmi], stacks: &[WorkerStack]) {
    let colour = output::colour_on_stdout();
    let mut t = output::table(&["", "AMI id", "name", "built", "Python", "arch"]);
    for a in amis {
        let mark = if a.newest { "*" } else { "" };
        let name = if a.newest && colour {
            format!("\x1b[1;32m{}\x1b[0m", a.name)
        } else {
            a.name.clone()
        };
        let created = a.built.get(..10).unwrap_or(&a.built).to_string();
        t.add_row(vec![
            mark.to_string(),
            a.id.clone(),
            name,
            created,
            a.python.clone(),
            a.arch.clone(),
        ]);
    }
    println!("Lava AMIs (* newest of its kind)");
    println!("{t}");
    let mut t = output::table(&["stack", "realm", "worker", "last updated", "AMI id", "AMI"]);
    for s in stacks {
        let updated = s
            .last_updated
            .get(..16)
            .unwrap_or(&s.last_updated)
            .replace('T', " ");
        t.add_row(vec![
            s.name.clone(),
            s.realm.clone(),
            s.worker.clone(),
            updated,
            s.ami_id.clone(),
            state_text(s.ami_state).to_string(),
        ]);
    }
    println!();
    println!("Worker stacks");
    println!("{t}");
}
