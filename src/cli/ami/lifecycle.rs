//! `lava-ami publish | copy | prune`: the lifecycle subcommands (parsed by clap under `lava-ami`).
use crate::config::ConfigError;
use crate::lifecycle::copy::{self, CopyOptions};
use crate::lifecycle::images;
use crate::lifecycle::prune::{self, Action, Decision};
use crate::lifecycle::publish::{self, DEFAULT_PREFIX, Published};
use crate::lifecycle::usage::{self, Clients};
use crate::output::{self, Format};
use std::io::IsTerminal;
use std::time::Duration;

/// Options every lifecycle subcommand takes.
#[derive(Debug, clap::Args)]
pub struct Common {
    #[command(flatten)]
    pub profile: crate::cli::args::ProfileArg,
    /// SSM path under which AMIs are published, one parameter per kind.
    #[arg(long, value_name = "PATH", default_value = DEFAULT_PREFIX)]
    pub publish_prefix: String,
    /// Output format on stdout.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub output: Format,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Publish AMIs as the current AMI of their kind: SSM parameter <prefix>/<os>/py<X.Y>/<arch>/latest.
    Publish {
        /// AMI ids (lava AMIs of this account in the region).
        #[arg(required = true, value_name = "AMI_ID")]
        amis: Vec<String>,
        /// AWS region (else AWS_REGION or the profile's).
        #[arg(long, value_name = "REGION")]
        region: Option<String>,
        #[command(flatten)]
        common: Common,
    },
    /// Copy AMIs to other regions (encrypted, tagged SourceRegion/SourceAmi); again copies only what is missing.
    Copy {
        #[arg(required = true, value_name = "AMI_ID")]
        amis: Vec<String>,
        /// Region the AMIs are in (else AWS_REGION or the profile's).
        #[arg(long, value_name = "REGION")]
        region: Option<String>,
        /// Target regions, comma-separated.
        #[arg(long, required = true, value_delimiter = ',', value_name = "REGIONS")]
        to: Vec<String>,
        /// Publish each copy in its region.
        #[arg(long)]
        publish: bool,
        /// Minutes to wait for each copy to become available.
        #[arg(long, default_value_t = 60, value_name = "MIN",
              value_parser = clap::value_parser!(u64).range(1..=1440))]
        wait_minutes: u64,
        #[command(flatten)]
        common: Common,
    },
    /// Deprecate (or with --deregister remove, snapshots too) all but the newest N AMIs of each kind.
    #[command(after_long_help = "\
Newest is by build time (the BuildId tag, else the time in the name), never CreationDate.
Never touched: an AMI named by any stack parameter (amiId/sakAmiId of worker stacks or any other),
by the latest or default version of a launch template or a version an auto scaling group or its
instances use, by a launch configuration, by an instance not terminated, by DescribeImageReferences,
or published under --publish-prefix; nor a public AMI or one shared with other accounts.
--deregister deregisters only AMIs deprecated at least --min-deprecated-days (7) ago; the others
are deprecated now and a later run deregisters them (0: at once, without deprecating first).
Without a terminal and without --yes, prune only prints its plan.

Examples:
  lava-ami prune --dry-run                       the plan: kind, AMI, age, snapshots, GiB, reason
  lava-ami prune --keep 2 --yes                  deprecate all but the two newest of each kind in 7 days
  lava-ami prune 'lava-8.2*' --deregister --yes --region eu-west-1,us-east-1")]
    Prune(PruneArgs),
}

/// `lava-ami prune`.
#[derive(Debug, clap::Args)]
pub struct PruneArgs {
    /// AMI name glob; lava-* when omitted ('*' needs --yes).
    #[arg(value_name = "PATTERN")]
    pub pattern: Option<String>,
    /// AMIs kept per kind, newest first (at least 1).
    #[arg(long, default_value_t = 3, value_name = "N", value_parser = parse_keep)]
    pub keep: usize,
    /// When deprecated AMIs stop being listed to others: <n>d or <n>h.
    #[arg(long, default_value = "7d", value_name = "AGE", value_parser = prune::parse_after)]
    pub deprecate_after: chrono::Duration,
    /// Deregister the pruned AMIs deprecated long enough and delete their snapshots.
    #[arg(long)]
    pub deregister: bool,
    /// With --deregister: days since an AMI's deprecation time before it is deregistered (0 to 3650;
    /// 0: deregister without deprecating first).
    #[arg(long, default_value_t = 7, value_name = "N",
          value_parser = clap::value_parser!(i64).range(0..=3650))]
    pub min_deprecated_days: i64,
    /// Do not ask EC2's DescribeImageReferences (for endpoints without it, such as the emulator).
    #[arg(long)]
    pub no_image_references: bool,
    /// Print the plan only; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Apply without asking.
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// Regions, comma-separated (else AWS_REGION or the profile's).
    #[arg(long, value_delimiter = ',', value_name = "REGIONS")]
    pub region: Vec<String>,
    #[command(flatten)]
    pub common: Common,
}

/// A `--keep` that is not a whole number of at least 1.
#[derive(Debug, thiserror::Error)]
#[error(
    "{0:?}: expected a whole number of at least 1 (the newest AMI of each kind is always kept)"
)]
pub struct KeepError(String);

fn parse_keep(text: &str) -> Result<usize, KeepError> {
    match text.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(KeepError(text.to_string())),
    }
}

fn usage(message: String) -> anyhow::Error {
    ConfigError::Usage { message }.into()
}

fn check_common(c: &Common) -> anyhow::Result<()> {
    publish::check_prefix(&c.publish_prefix).map_err(|why| {
        ConfigError::invalid("--publish-prefix", &c.publish_prefix, &why.to_string()).into()
    })
}

fn check_ids(ids: &[String]) -> anyhow::Result<()> {
    for id in ids {
        if crate::config::validate::ami_id(id).is_err() {
            return Err(usage(format!(
                "AMI_ID {id:?}: expected an AMI id (ami- and 8 to 17 hex digits)"
            )));
        }
    }
    Ok(())
}

pub async fn run(cmd: &Command) -> anyhow::Result<i32> {
    match cmd {
        Command::Publish {
            amis,
            region,
            common,
        } => {
            check_common(common)?;
            check_ids(amis)?;
            let sdk = crate::aws::sdk_config(common.profile.get(), region.as_deref()).await;
            let region = sdk_region(&sdk)?;
            let ec2 = aws_sdk_ec2::Client::new(&sdk);
            let ssm = aws_sdk_ssm::Client::new(&sdk);
            let done =
                publish::publish_ids(&ec2, &ssm, &region, &common.publish_prefix, amis).await?;
            print_published(&done, common.output)?;
            Ok(0)
        }
        Command::Copy {
            amis,
            region,
            to,
            publish,
            wait_minutes,
            common,
        } => {
            check_common(common)?;
            check_ids(amis)?;
            let sdk = crate::aws::sdk_config(common.profile.get(), region.as_deref()).await;
            let home = sdk_region(&sdk)?;
            let ec2 = aws_sdk_ec2::Client::new(&sdk);
            let regions = copy::target_regions(&ec2, &home, "--to", to).await?;
            let mut sources = Vec::new();
            for id in amis {
                sources.push(images::by_id(&ec2, &home, id).await?);
            }
            let opts = CopyOptions {
                regions,
                publish_prefix: publish.then(|| common.publish_prefix.clone()),
                wait: Duration::from_secs(wait_minutes * 60),
                poll: Duration::from_secs(15),
            };
            let results = copy::copy_all(&sdk, &sources, &opts).await;
            copy::print_copies(&results, common.output)?;
            Ok(i32::from(results.iter().any(|r| r.status == "failed")))
        }
        Command::Prune(args) => run_prune(args).await,
    }
}

fn sdk_region(sdk: &aws_config::SdkConfig) -> anyhow::Result<String> {
    sdk.region().map(|r| r.to_string()).ok_or_else(|| {
        usage(
            "no AWS region: pass --region, or set AWS_REGION or a region in the AWS profile".into(),
        )
    })
}

async fn run_prune(args: &PruneArgs) -> anyhow::Result<i32> {
    let PruneArgs {
        pattern,
        keep,
        deprecate_after,
        deregister,
        min_deprecated_days,
        no_image_references,
        dry_run,
        yes,
        region,
        common,
    } = args;
    let rules = prune::Rules {
        keep: *keep,
        deregister: *deregister,
        min_deprecated_days: *min_deprecated_days,
    };
    check_common(common)?;
    let pattern = pattern.clone().unwrap_or_else(|| "lava-*".into());
    if pattern.trim_matches('*').is_empty() && !yes && !dry_run {
        return Err(usage(format!(
            "prune {pattern:?} matches every AMI of the account: pass --yes to mean it (or --dry-run to see the plan)"
        )));
    }
    let glob = globset::Glob::new(&pattern)
        .map_err(|e| ConfigError::invalid("PATTERN", &pattern, &format!("an AMI name glob ({e})")))?
        .compile_matcher();
    let tty = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    let dry = *dry_run || (!yes && !tty);
    if dry && !dry_run {
        eprintln!("note: not a terminal and no --yes: dry run, nothing is changed");
    }

    let base =
        crate::aws::sdk_config(common.profile.get(), region.first().map(String::as_str)).await;
    let home = sdk_region(&base)?;
    let regions = if region.is_empty() {
        vec![home.clone()]
    } else {
        let mut r =
            copy::target_regions(&aws_sdk_ec2::Client::new(&base), &home, "--region", region)
                .await?;
        r.insert(0, home.clone());
        r
    };
    let now = chrono::Utc::now();
    let mut decisions: Vec<Decision> = Vec::new();
    for r in &regions {
        let ec2 = copy::ec2_in(&base, r);
        let ssm = copy::ssm_in(&base, r);
        let cfn = aws_sdk_cloudformation::Client::from_conf(
            aws_sdk_cloudformation::config::Builder::from(&base)
                .region(aws_config::Region::new(r.clone()))
                .build(),
        );
        let asg = aws_sdk_autoscaling::Client::from_conf(
            aws_sdk_autoscaling::config::Builder::from(&base)
                .region(aws_config::Region::new(r.clone()))
                .build(),
        );
        let clients = Clients {
            region: r,
            ec2: &ec2,
            cfn: &cfn,
            ssm: &ssm,
            asg: &asg,
        };
        let mut used = usage::in_use(&clients, &common.publish_prefix).await?;
        let mut amis: Vec<images::Ami> =
            images::describe(&ec2, r, vec![images::filter("state", &["available"])])
                .await?
                .into_iter()
                .filter(|a| glob.is_match(&a.name))
                .collect();
        for a in &mut amis {
            a.shared_with = images::launch_permissions(&ec2, r, &a.id).await?;
        }
        if !no_image_references {
            let ids: Vec<String> = amis.iter().map(|a| a.id.clone()).collect();
            usage::image_references(&clients, &ids, &mut used).await?;
        }
        decisions.extend(prune::plan(&amis, &used, &rules, now));
    }
    let changes = decisions
        .iter()
        .filter(|d| d.action != Action::Keep)
        .count();
    let mut ok = true;
    if !dry && changes > 0 {
        let confirmed = *yes
            || dialoguer::Confirm::new()
                .with_prompt(format!(
                    "{} {changes} AMI(s) in {}?",
                    if *deregister {
                        "deregister (and delete the snapshots of)"
                    } else {
                        "deprecate"
                    },
                    regions.join(", ")
                ))
                .default(false)
                .interact()
                .unwrap_or(false);
        if !confirmed {
            anyhow::bail!("not confirmed: nothing was changed");
        }
        for r in &regions {
            let ec2 = copy::ec2_in(&base, r);
            ok &= prune::apply(&ec2, r, &mut decisions, now + *deprecate_after).await;
        }
    }
    print_prune(&decisions, dry, common.output)?;
    Ok(i32::from(!ok))
}

fn print_published(done: &[Published], format: Format) -> anyhow::Result<()> {
    if format == Format::Json {
        return output::print_json(&done);
    }
    let mut t = output::table(&[
        "region",
        "kind",
        "parameter",
        "AMI id",
        "version",
        "was",
        "status",
    ]);
    for p in done {
        let mut row = p.cells();
        row.push(p.previous.clone().unwrap_or_else(|| "-".into()));
        row.push(p.status.clone());
        t.add_row(row);
    }
    println!("{t}");
    Ok(())
}

#[derive(serde::Serialize)]
struct PruneReport<'a> {
    dry_run: bool,
    decisions: &'a [Decision],
    freed_gib: i64,
    /// Estimate at the standard snapshot price (USD per GB-month).
    monthly_usd_estimate: f64,
}

fn print_prune(decisions: &[Decision], dry: bool, format: Format) -> anyhow::Result<()> {
    let (gib, usd) = prune::freed(decisions, dry);
    if format == Format::Json {
        return output::print_json(&PruneReport {
            dry_run: dry,
            decisions,
            freed_gib: gib,
            monthly_usd_estimate: usd,
        });
    }
    let mut t = output::table(&[
        "region",
        "kind",
        "AMI id",
        "age (days)",
        "snapshots",
        "GiB",
        "action",
        "reason",
    ]);
    for d in decisions {
        let action = match (d.action, d.outcome.as_str()) {
            (Action::Keep, _) => "keep".to_string(),
            (a, "") => format!("{a:?}").to_lowercase(),
            (a, o) => format!("{}: {o}", format!("{a:?}").to_lowercase()),
        };
        t.add_row(vec![
            d.region.clone(),
            d.kind.clone(),
            d.ami.clone(),
            d.age_days.to_string(),
            d.snapshots.join(" "),
            d.size_gib.to_string(),
            action,
            d.reason.clone(),
        ]);
    }
    println!("{t}");
    let verb = if dry { "would free" } else { "freed" };
    println!(
        "{}snapshots {verb}: {gib} GiB (about ${usd:.2} a month at ${} per GB-month, an estimate)",
        if dry { "dry run: " } else { "" },
        prune::SNAPSHOT_USD_PER_GB_MONTH
    );
    Ok(())
}

/// What is published under `prefix` in the region of `sdk`, for `lava-ami`'s listing.
pub async fn published(
    sdk: &aws_config::SdkConfig,
    prefix: &str,
) -> anyhow::Result<Vec<publish::Entry>> {
    publish::check_prefix(prefix)
        .map_err(|why| ConfigError::invalid("--publish-prefix", prefix, &why.to_string()))?;
    let region = sdk_region(sdk)?;
    match publish::list(&aws_sdk_ssm::Client::new(sdk), &region, prefix).await {
        Ok(entries) => Ok(entries),
        // Reading AMIs and stacks does not need SSM: without the right to read the parameters,
        // the listing goes on and says why the published AMIs are missing.
        Err(e) if e.code() == Some("AccessDeniedException") => {
            eprintln!(
                "note: published AMIs not listed: {}",
                crate::error::one_line(&e.into())
            );
            Ok(Vec::new())
        }
        Err(e) => Err(e.into()),
    }
}

/// The published AMI of each kind, below `lava-ami`'s tables.
pub fn print_published_listing(entries: &[publish::Entry], prefix: &str) {
    let mut t = output::table(&["kind", "AMI id", "version", "since"]);
    for e in entries {
        let kind = e
            .parameter
            .strip_prefix(prefix)
            .and_then(|k| k.strip_suffix("/latest"))
            .map(|k| k.trim_start_matches('/'))
            .unwrap_or(&e.parameter);
        t.add_row(vec![
            kind.to_string(),
            e.ami.clone(),
            e.version.to_string(),
            e.modified
                .get(..16)
                .unwrap_or(&e.modified)
                .replace('T', " "),
        ]);
    }
    println!();
    println!("Published AMIs (SSM {prefix}/<kind>/latest)");
    println!("{t}");
}
