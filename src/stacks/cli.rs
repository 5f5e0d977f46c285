//! The `lava-ami` command: list, then optionally update the selected worker stacks.
use super::fetch;
use super::model::{self, AmiState, Kind, LavaAmi, WorkerStack};
use super::replace::Replacement;
use crate::config::ConfigError;
use crate::output::{self, Format};
use serde::Serialize;
use std::io::IsTerminal;
use std::time::Duration;

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
(OS, Python X.Y, arch); the newest of each kind is marked. Worker stacks are stacks with parameters
realm, worker and amiId (sakAmiId before lava 7.1) and an instance type parameter (or, in
cloudformation/lava-worker.cfn.yaml, attribute-based selection). After an update, the line below each
stack shows its auto scaling group: launch template version, instances on it, scaling activities.

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
    #[arg(long, value_name = "ami-…|latest")]
    pub ami: Option<String>,
    /// With --ami latest: the kind to take the newest of, as OS/pyX.Y/ARCH.
    #[arg(long, value_name = "KIND")]
    pub kind: Option<String>,
    /// With -U --ami: do not ask for confirmation (CI).
    #[arg(short = 'y', long)]
    pub yes: bool,
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
    /// AWS profile (else AWS_PROFILE or the default chain).
    #[arg(long, env = "AWS_PROFILE", value_name = "NAME")]
    pub profile: Option<String>,
    /// AWS region (else AWS_REGION or the profile's).
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// Output format on stdout.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub output: Format,
    /// Print the version.
    #[arg(short = 'v', long, action = clap::ArgAction::Version)]
    pub version: Option<bool>,
    /// SSM path the published AMIs are listed from.
    #[arg(long, value_name = "PATH", default_value = crate::lifecycle::publish::DEFAULT_PREFIX)]
    pub publish_prefix: String,
    /// AMI lifecycle: publish, copy, prune (see `lava-ami help prune`).
    #[command(subcommand)]
    pub command: Option<crate::lifecycle::cli::Command>,
}

#[derive(Debug, Serialize)]
struct Listing<'a> {
    amis: &'a [LavaAmi],
    stacks: &'a [WorkerStack],
    published: &'a [crate::lifecycle::publish::Entry],
}

#[derive(Debug, Serialize, Clone)]
pub struct UpdateResult {
    pub stack: String,
    pub from: String,
    pub to: Option<String>,
    pub status: String,
    pub reason: String,
    /// The worker's auto scaling groups after the update: the rolling replacement.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub replacement: Vec<Replacement>,
}

fn usage(message: String) -> anyhow::Error {
    ConfigError::Usage { message }.into()
}

fn state_text(s: AmiState) -> &'static str {
    match s {
        AmiState::Newest => "newest",
        AmiState::Older => "older lava AMI",
        AmiState::Unknown => "unknown",
    }
}

fn print_tables(amis: &[LavaAmi], stacks: &[WorkerStack]) {
    let colour = output::colour_on_stdout();
    let mut t = output::table(&["", "AMI id", "name", "created", "Python", "arch"]);
    for a in amis {
        let mark = if a.newest { "*" } else { "" };
        let name = if a.newest && colour {
            format!("\x1b[1;32m{}\x1b[0m", a.name)
        } else {
            a.name.clone()
        };
        let created = a.created.get(..10).unwrap_or(&a.created).to_string();
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

/// Interactive choice of an AMI for one stack, by number: Some(id), None to skip; Err to quit.
fn choose(stack: &WorkerStack, amis: &[LavaAmi]) -> anyhow::Result<Option<String>> {
    let mut ids: Vec<&LavaAmi> = amis.iter().collect();
    // The stack's own kind first.
    ids.sort_by_key(|a| Some(&a.kind) != stack.kind.as_ref());
    eprintln!(
        "\n{} (realm {}, worker {}) runs {} [{}]",
        stack.name,
        stack.realm,
        stack.worker,
        stack.ami_id,
        state_text(stack.ami_state)
    );
    for (i, a) in ids.iter().enumerate() {
        eprintln!(
            "  {:>2}. {} {}{}",
            i + 1,
            a.id,
            a.name,
            if a.newest { " (newest)" } else { "" }
        );
    }
    let n = ids.len();
    let answer: String = dialoguer::Input::new()
        .with_prompt(format!("AMI number 1-{n}, s to skip this stack, q to quit"))
        .validate_with(|v: &String| -> Result<(), String> {
            let v = v.trim();
            if v == "s" || v == "q" || v.parse::<usize>().is_ok_and(|k| (1..=n).contains(&k)) {
                Ok(())
            } else {
                Err(format!("enter a number from 1 to {n}, s or q"))
            }
        })
        .interact_text()?;
    match answer.trim() {
        "s" => Ok(None),
        "q" => anyhow::bail!("quit: the remaining stacks were not touched"),
        k => Ok(k
            .parse::<usize>()
            .ok()
            .and_then(|k| ids.get(k - 1))
            .map(|a| a.id.clone())),
    }
}

pub async fn run(args: &Args) -> anyhow::Result<i32> {
    if let Some(command) = &args.command {
        return crate::lifecycle::cli::run(command).await;
    }
    let globs = model::patterns(&args.patterns, args.update).map_err(usage)?;
    if !args.update && (args.ami.is_some() || args.yes || args.kind.is_some()) {
        return Err(usage("--ami, --kind and --yes go with -U/--update".into()));
    }
    let kind: Option<Kind> = args
        .kind
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(usage)?;
    if let Some(a) = &args.ami
        && a != "latest"
        && crate::config::validate::ami_id(a).is_err()
    {
        return Err(usage(format!(
            "--ami {a:?}: expected an AMI id (ami- and 8 to 17 hex digits) or latest"
        )));
    }
    let interactive = args.update && args.ami.is_none();
    let tty = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    if interactive && !tty {
        return Err(usage(
            "-U without --ami is interactive and needs a terminal; in CI pass --ami ID|latest --yes".into(),
        ));
    }
    if args.update && args.ami.is_some() && !args.yes && !tty {
        return Err(usage("-U --ami without a terminal needs --yes".into()));
    }

    let sdk = crate::aws::sdk_config(args.profile.as_deref(), args.region.as_deref()).await;
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let cfn = aws_sdk_cloudformation::Client::new(&sdk);
    let asg = aws_sdk_autoscaling::Client::new(&sdk);
    let images = fetch::images(&ec2, args.sak).await?;
    let all: Vec<LavaAmi> = model::group(
        images
            .iter()
            .filter_map(|i| model::lava_ami(i, args.sak))
            .collect(),
        usize::MAX,
    );
    let shown = model::group(all.clone(), args.count.max(1));
    let mut stacks: Vec<WorkerStack> = fetch::stacks(&cfn)
        .await?
        .iter()
        .filter_map(|s| model::worker_stack(s, &all))
        .filter(|s| globs.as_ref().is_none_or(|g| g.is_match(&s.name)))
        .collect();
    stacks.sort_by(|a, b| a.name.cmp(&b.name));

    if !args.update {
        let published = crate::lifecycle::cli::published(&sdk, &args.publish_prefix).await?;
        if args.output == Format::Json {
            output::print_json(&Listing {
                amis: &shown,
                stacks: &stacks,
                published: &published,
            })?;
        } else {
            print_tables(&shown, &stacks);
            crate::lifecycle::cli::print_published_listing(&published, &args.publish_prefix);
        }
        return Ok(0);
    }
    if stacks.is_empty() {
        anyhow::bail!("no worker stack matches {}", args.patterns.join(" "));
    }

    let mut results: Vec<UpdateResult> = Vec::new();
    let mut failed = false;
    for stack in &stacks {
        let mut result = UpdateResult {
            stack: stack.name.clone(),
            from: stack.ami_id.clone(),
            to: None,
            status: String::new(),
            reason: String::new(),
            replacement: Vec::new(),
        };
        let target: Result<Option<String>, String> = match args.ami.as_deref() {
            None => match choose(stack, &all) {
                Ok(t) => Ok(t),
                Err(e) => {
                    eprintln!("{e}");
                    break;
                }
            },
            Some("latest") => {
                let k = kind.clone().or_else(|| stack.kind.clone());
                match k {
                    None => Err(format!(
                        "its AMI {} is not a lava AMI of this account: pass --kind (kinds here: {})",
                        stack.ami_id,
                        model::kinds(&all)
                    )),
                    Some(k) => model::latest(&all, &k)
                        .map(|a| Some(a.id.clone()))
                        .ok_or_else(|| format!("no lava AMI of kind {k}")),
                }
            }
            Some(id) => {
                if all.iter().any(|a| a.id == id) {
                    Ok(Some(id.to_string()))
                } else {
                    Err(format!("{id} is not an available lava AMI of this account"))
                }
            }
        };
        match target {
            Ok(None) => {
                result.status = "SKIPPED".into();
            }
            Err(e) => {
                result.status = "FAILED".into();
                result.reason = e;
            }
            Ok(Some(id)) if id == stack.ami_id => {
                result.to = Some(id);
                result.status = "ALREADY_CURRENT".into();
            }
            Ok(Some(id)) => {
                result.to = Some(id.clone());
                let confirmed = args.yes
                    || args.ami.is_none()
                    || dialoguer::Confirm::new()
                        .with_prompt(format!(
                            "update {} from {} to {id}?",
                            stack.name, stack.ami_id
                        ))
                        .default(false)
                        .interact()
                        .unwrap_or(false);
                if !confirmed {
                    result.status = "SKIPPED".into();
                } else {
                    apply(&cfn, &asg, args, stack, &id, &mut result).await;
                }
            }
        }
        let bad = !matches!(
            result.status.as_str(),
            "UPDATE_COMPLETE" | "ALREADY_CURRENT" | "SKIPPED" | "UPDATE_IN_PROGRESS"
        );
        if args.output == Format::Text {
            let to = result.to.clone().unwrap_or_default();
            let reason = if result.reason.is_empty() {
                String::new()
            } else {
                format!(": {}", result.reason)
            };
            println!(
                "{}: {} -> {to} {}{reason}",
                result.stack, result.from, result.status
            );
            for r in &result.replacement {
                println!("  {}", r.summary());
            }
        }
        results.push(result);
        if bad {
            failed = true;
            if !args.keep_going {
                eprintln!(
                    "stopping: the remaining stacks were not touched (--keep-going to go on)"
                );
                break;
            }
        }
    }
    if args.output == Format::Json {
        output::print_json(&results)?;
    }
    Ok(i32::from(failed))
}

/// Updates one stack to `ami`, waits unless `--no-wait`, and records the status and what its
/// auto scaling groups are doing (the rolling replacement of its instances).
async fn apply(
    cfn: &aws_sdk_cloudformation::Client,
    asg: &aws_sdk_autoscaling::Client,
    args: &Args,
    stack: &WorkerStack,
    ami: &str,
    result: &mut UpdateResult,
) {
    let info = super::model::StackInfo {
        name: stack.name.clone(),
        parameters: stack.parameters.clone(),
        capabilities: stack.capabilities.clone(),
        ..Default::default()
    };
    // Activities are matched by their start time on AWS's clock: allow a minute of skew.
    let since = aws_smithy_types::DateTime::from_secs(
        aws_smithy_types::DateTime::from(std::time::SystemTime::now()).secs() - 60,
    );
    if let Err(e) = fetch::update(cfn, &info, &stack.ami_parameter, ami).await {
        result.status = "FAILED".into();
        result.reason = crate::error::one_line(&e.into());
        return;
    }
    if args.no_wait {
        result.status = "UPDATE_IN_PROGRESS".into();
    } else {
        match fetch::wait(
            cfn,
            &stack.name,
            Duration::from_secs(args.wait_minutes * 60),
            Duration::from_secs(args.poll_seconds),
        )
        .await
        {
            Ok(w) => {
                result.status = match w.outcome {
                    super::wait::Outcome::TimedOut => "TIMED_OUT".into(),
                    _ => w.status,
                };
                result.reason = w.reason;
            }
            Err(e) => {
                result.status = "UNKNOWN".into();
                result.reason = crate::error::one_line(&e.into());
                return;
            }
        }
    }
    match fetch::replacement(cfn, asg, &stack.name, since).await {
        Ok(r) => result.replacement = r,
        Err(e) => {
            let line = crate::error::one_line(&e.into());
            if result.reason.is_empty() {
                result.reason = format!("auto scaling group not read: {line}");
            } else {
                result.reason = format!("{}; auto scaling group not read: {line}", result.reason);
            }
        }
    }
}
