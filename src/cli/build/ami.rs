//! `lava-build ami`: resolve and validate the build parameters, then plan or build.
use crate::aws;
use crate::config::{self, AmiBuild, AmiParams, ConfigError, DeployChoice, Source, Sourced};
use crate::output::{self, Format, progress};
use crate::packer::bucket_key::BucketKey;
use crate::packer::build::BuildOptions;
use anyhow::Context as _;
use chrono::{DateTime, Utc};
use serde::Serialize;

mod report;
use report::print_report;

fn params_help() -> String {
    let mut s =
        String::from("Parameters (key=value; the command line wins over the config file):\n");
    for p in config::PARAMS {
        let req = if p.required { " (required)" } else { "" };
        s.push_str(&format!("  {:<15} {}{req}\n", p.name, p.help));
    }
    s.push_str(
        "\nExamples:\n  lava-build ami --config deploy/dev.yaml --env dev --plan\n  lava-build ami config=deploy/dev.yaml env=dev python_version=3.11.11 arch=x86_64,arm64\n  lava-build ami ami_id=ami-0123456789abcdef0 ip=private python_version=3.11.12 s3bucket=b \\\n      s3prefix=lava/ami/ sg=sg-12345678 subnet=subnet-12345678 tz=UTC region=ap-southeast-2\n",
    );
    s
}

/// Build lava AMIs with packer, or show the plan.
#[derive(Debug, clap::Args)]
#[command(after_long_help = params_help(), after_help = "Run with --help to list every key=value parameter.")]
pub struct AmiArgs {
    /// Deploy-format YAML file with an `<env>.ami` section (same as config=FILE).
    #[arg(long, value_name = "FILE")]
    pub config: Option<String>,
    /// Environment inside the config file (same as env=ENV).
    #[arg(long, value_name = "ENV")]
    pub env: Option<String>,
    /// Resolve and validate everything, show the parameters, AMI names and steps; build nothing.
    #[arg(long)]
    pub plan: bool,
    /// With --plan: do not call AWS; show the SSM parameter that would be read for ami_id.
    #[arg(long)]
    pub offline: bool,
    /// Output format of the result on stdout.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub output: Format,
    /// The AMI build description file.
    #[arg(long, value_name = "FILE", default_value = "ami/ami-build.yaml")]
    pub ami_build: String,
    /// Fix the build time used in AMI names (RFC 3339, e.g. 2025-07-02T08:43:48Z) for reproducible output.
    #[arg(long, env = "LAVA_BUILD_TIME", value_name = "TIME")]
    pub build_time: Option<String>,
    #[command(flatten)]
    pub profile: crate::cli::args::ProfileArg,
    /// Render the packer template and run `packer validate` only; build nothing.
    #[arg(long, conflicts_with = "plan")]
    pub validate: bool,
    /// Build against the local AWS emulator at AWS_ENDPOINT_URL (moto): the same template plus only the
    /// lines packer needs to reach it; the steps that need SSH are left out.
    #[arg(long, conflicts_with = "plan")]
    pub emulate: bool,
    /// Do not sync ami/resources.s3/ to S3 first.
    #[arg(long)]
    pub no_sync: bool,
    /// Build even when the installed packer cannot require IMDSv2 on the build instance (packer < 1.7).
    #[arg(long)]
    pub allow_imdsv1: bool,
    /// Folder for generated files: rendered template, tarballs, log and manifest go under DIR/ami/.
    #[arg(long, value_name = "DIR", default_value = "dist")]
    pub dist: String,
    /// Folder holding the boot agent per arch as <arch>/lava-rc [default: DIR/agent with DIR from --dist;
    /// the host arch's agent is built from this source tree when missing or stale].
    #[arg(long, value_name = "DIR")]
    pub agent_dir: Option<String>,
    /// After the build, publish each AMI in SSM as the current AMI of its kind (and each copy in its region).
    #[arg(long, conflicts_with = "plan")]
    pub publish: bool,
    /// Build parameters as key=value (see the list below).
    #[arg(value_name = "KEY=VALUE")]
    pub params: Vec<String>,
}

/// What `--plan` prints, and what a build starts from.
#[derive(Debug, Serialize)]
pub struct Plan {
    pub parameters: Vec<PlanRow>,
    pub targets: Vec<PlanTarget>,
    pub s3: String,
    pub build_time: String,
    pub steps: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct PlanRow {
    pub name: String,
    pub value: String,
    pub source: String,
}

#[derive(Debug, Serialize)]
pub struct PlanTarget {
    pub arch: String,
    pub instance_type: String,
    pub ssm_parameter: String,
    pub ami_id: Option<String>,
    pub ami_name: String,
}

fn parse_time(text: &str) -> Result<DateTime<Utc>, ConfigError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            ConfigError::invalid(
                "build_time",
                text,
                "an RFC 3339 UTC time such as 2025-07-02T08:43:48Z",
            )
        })
}

/// Resolves every parameter from the command line and files; no AWS call.
pub async fn resolve(args: &AmiArgs) -> anyhow::Result<AmiParams> {
    let mut cli = config::parse_cli(&args.params)?;
    let DeployChoice {
        config: config_path,
        env: env_name,
        file,
    } = DeployChoice::resolve(args.config.as_deref(), args.env.as_deref(), &mut cli)?;
    let build = AmiBuild::load(&args.ami_build)?;
    let build_time = match &args.build_time {
        Some(t) => parse_time(t)?,
        None => Utc::now(),
    };
    let ambient_region = if cli.contains_key("region")
        || file
            .as_ref()
            .is_some_and(|f| f.values.contains_key("region"))
    {
        None
    } else {
        aws::ambient_region(args.profile.get()).await
    };
    let ctx = config::Context {
        ambient_region,
        build_time,
    };
    let params = config::resolve(
        &cli,
        config_path.map(|c| Sourced::new(c, Source::Cli)),
        env_name.map(|e| Sourced::new(e, Source::Cli)),
        file.as_ref(),
        &build,
        &ctx,
    )?;
    Ok(params)
}

/// Fills in every missing base AMI id from SSM.
pub async fn resolve_ami_ids(params: &mut AmiParams, aws: &aws::AwsConfig) -> anyhow::Result<()> {
    if params.targets.iter().all(|t| t.ami_id.is_some()) {
        return Ok(());
    }
    let sdk = aws.in_region(&params.region.value).await;
    let client = aws_sdk_ssm::Client::new(&sdk);
    for t in params.targets.iter_mut().filter(|t| t.ami_id.is_none()) {
        let id = aws::ssm::ami_id_from_parameter(
            &client,
            &t.ssm_parameter,
            &params.os.value,
            t.arch.as_str(),
        )
        .await?;
        tracing::debug!(arch = %t.arch, parameter = %t.ssm_parameter, ami_id = %id, "resolved base AMI");
        t.ami_id = Some(Sourced::new(id, Source::Ssm(t.ssm_parameter.clone())));
    }
    Ok(())
}

/// The one KMS key the temporary instance profile may decrypt with: the bucket's customer-managed
/// key, read from its default encryption unless `s3_kms_key` is set (or an existing instance
/// profile is used). Returns a note when the bucket needs no key.
async fn resolve_bucket_key(
    params: &mut AmiParams,
    aws: &aws::AwsConfig,
) -> anyhow::Result<Option<String>> {
    if params.s3_kms_key.is_some() || params.instance_profile.is_some() {
        return Ok(None);
    }
    let sdk = aws.in_region(&params.region.value).await;
    let bucket = params.s3bucket.value.clone();
    match crate::packer::bucket_key::bucket_key(&sdk, &bucket).await? {
        BucketKey::Customer(arn) => {
            params.s3_kms_key = Some(Sourced::new(arn, Source::BucketEncryption(bucket)));
            Ok(None)
        }
        BucketKey::NotNeeded(why) => Ok(Some(format!(
            "{why}: no kms:Decrypt for the build instance"
        ))),
    }
}

/// The steps a build of `params` with `opts` runs, in order, naming the paths it really uses.
pub fn steps(params: &AmiParams, opts: &BuildOptions) -> Vec<String> {
    let dist_ami = opts.dist.join("ami");
    let out = dist_ami.join(params.run_name());
    let ami = &opts.ami_dir;
    let mut steps = vec![
        format!(
            "check {}/ against {} (SHA-256 of every pinned file the instance fetches from S3; stop when one is missing or differs)",
            crate::packer::downloads::downloads_dir(ami.as_std_path()).display(),
            ami.join("os").join(&params.os.value).join("downloads.lock")
        ),
        format!(
            "sync {}/ to {} (by content; dot files excluded)",
            ami.join("resources.s3"),
            params.s3_url()
        ),
    ];
    for t in &params.targets {
        steps.push(format!(
            "pack {}, {}/, {}/ and {} into {}",
            ami.join("ami-build.sh"),
            ami.join("os").join(&params.os.value),
            opts.rc_dir,
            opts.agent_dir.join(t.arch.as_str()).join("lava-rc"),
            out.join(format!("provision-{}.tar.gz", t.arch)),
        ));
    }
    steps.push(format!(
        "render {} into {} and run packer validate",
        ami.join("lava.pkr.hcl.j2"),
        out.join("lava.pkr.hcl")
    ));
    for t in &params.targets {
        let base = t
            .ami_id
            .as_ref()
            .map(|s| s.value.clone())
            .unwrap_or_else(|| format!("the AMI in {}", t.ssm_parameter));
        steps.push(format!(
            "packer build {}: {} from {base} -> {}",
            t.arch, t.instance_type.value, t.ami_name
        ));
    }
    steps.push(format!(
        "read {} and report the AMIs built",
        dist_ami.join(format!("{}-manifest.json", params.run_name()))
    ));
    steps
}

pub fn plan(params: &AmiParams, opts: &BuildOptions) -> Plan {
    Plan {
        parameters: params
            .rows()
            .into_iter()
            .map(|(name, value, source)| PlanRow {
                name,
                value,
                source,
            })
            .collect(),
        targets: params
            .targets
            .iter()
            .map(|t| PlanTarget {
                arch: t.arch.to_string(),
                instance_type: t.instance_type.value.clone(),
                ssm_parameter: t.ssm_parameter.clone(),
                ami_id: t.ami_id.as_ref().map(|s| s.value.clone()),
                ami_name: t.ami_name.clone(),
            })
            .collect(),
        s3: params.s3_url(),
        build_time: params
            .build_time
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        steps: steps(params, opts),
    }
}

fn print_plan(plan: &Plan, format: Format) -> anyhow::Result<()> {
    if format == Format::Json {
        return output::print_json(plan);
    }
    let mut t = output::table(&["parameter", "value", "source"]);
    for r in &plan.parameters {
        t.add_row(vec![&r.name, &r.value, &r.source]);
    }
    println!("{t}");
    println!();
    for target in &plan.targets {
        println!("AMI name ({}): {}", target.arch, target.ami_name);
    }
    println!("S3 resources:    {}", plan.s3);
    println!();
    println!("Steps a build would run:");
    for (i, s) in plan.steps.iter().enumerate() {
        println!("  {}. {s}", i + 1);
    }
    Ok(())
}

pub async fn run(args: &AmiArgs) -> anyhow::Result<()> {
    if args.offline && !args.plan && !args.validate {
        return Err(
            ConfigError::usage("--offline only goes with --plan (a build needs AWS)").into(),
        );
    }
    let emulate = if args.emulate {
        match std::env::var("AWS_ENDPOINT_URL") {
            Ok(url) if !url.is_empty() => Some(url),
            _ => {
                return Err(ConfigError::usage(
                    "--emulate needs AWS_ENDPOINT_URL set to the local AWS emulator (e.g. http://127.0.0.1:5000); `make demo` starts one",
                )
                .into());
            }
        }
    } else {
        None
    };
    let mut params = resolve(args).await?;
    // The one AWS configuration of the build: the profile asked for, the build's region.
    let aws = aws::AwsConfig::new(args.profile.get(), Some(&params.region.value));
    let opts = build_options(args, emulate);
    AmiBuild::load(&args.ami_build)?.require_tree(&params.os.value, opts.ami_dir.as_std_path())?;
    if args.plan {
        if !args.offline {
            resolve_ami_ids(&mut params, &aws)
                .await
                .context("resolving the base AMI")?;
        }
        check_downloads(&params, args, &opts.ami_dir)?;
        return print_plan(&plan(&params, &opts), args.output);
    }
    // Local checks first (packer, boot agents, pinned downloads); the first AWS call comes after.
    let mut pre = crate::packer::build::preflight(&params, &opts).await?;
    check_downloads(&params, args, &opts.ami_dir)?;
    if !args.offline {
        resolve_ami_ids(&mut params, &aws)
            .await
            .context("resolving the base AMI")?;
    }
    if !args.validate {
        crate::lifecycle::build::preflight(&params, &aws).await?;
    }
    if !args.no_sync && !args.validate {
        sync_resources(&params, &aws, &opts.ami_dir).await?;
    }
    if !args.offline
        && let Some(note) = resolve_bucket_key(&mut params, &aws).await?
    {
        pre.note(note);
    }
    let report = crate::packer::build::build(&params, &opts, pre).await?;
    let dist = crate::lifecycle::build::distribute(&params, args.publish, &aws, &report.amis).await;
    print_report(
        &report,
        args.output,
        dist.as_ref().ok().and_then(Option::as_ref),
    )?;
    match dist?.and_then(|d| d.failed()) {
        Some(regions) => anyhow::bail!(
            "copies failed in {regions} (the others are in place; run again to copy what is missing)"
        ),
        None => Ok(()),
    }
}

/// Where a build reads and writes, from `--ami-build`, `--dist` and `--agent-dir`.
fn build_options(args: &AmiArgs, emulate: Option<String>) -> BuildOptions {
    let ami_dir = camino::Utf8Path::new(&args.ami_build)
        .parent()
        .filter(|p| !p.as_str().is_empty())
        .map(|p| p.to_path_buf())
        .unwrap_or_else(|| ".".into());
    let dist = camino::Utf8PathBuf::from(&args.dist);
    let (agent_dir, agent_build_from) = match &args.agent_dir {
        Some(d) => (camino::Utf8PathBuf::from(d), None),
        None => (dist.join("agent"), source_tree()),
    };
    BuildOptions {
        dist,
        ami_dir,
        agent_dir,
        agent_build_from,
        rc_dir: "rc.d".into(),
        emulate,
        validate_only: args.validate,
        allow_imdsv1: args.allow_imdsv1,
        profile: args.profile.name.clone(),
    }
}

/// Refuses a real build whose pinned downloads are not in place, before any AWS call or upload;
/// `--plan`, `--validate` and `--emulate` (no instance runs the steps) only report what is missing.
fn check_downloads(
    params: &AmiParams,
    args: &AmiArgs,
    ami_dir: &camino::Utf8Path,
) -> anyhow::Result<()> {
    use crate::packer::downloads;
    let report_only = args.plan || args.validate || args.emulate;
    let dir = downloads::downloads_dir(ami_dir.as_std_path());
    let refusal: anyhow::Error = match downloads::for_build(ami_dir.as_std_path(), params) {
        Ok(Ok(problems)) if problems.is_empty() => return Ok(()),
        Ok(Ok(problems)) => downloads::DownloadsError::NotReady {
            dir: dir.display().to_string(),
            problems,
        }
        .into(),
        Ok(Err(unpinned)) => unpinned.into(),
        Err(e) => e,
    };
    if report_only {
        progress::note(format_args!(
            "a real build would stop here: {}",
            crate::error::one_line(&refusal)
        ));
        return Ok(());
    }
    Err(refusal)
}

/// The lava-build source tree in the current directory, if that is where we run (to build the agent).
fn source_tree() -> Option<camino::Utf8PathBuf> {
    let text = std::fs::read_to_string("Cargo.toml").ok()?;
    text.lines()
        .any(|l| l.trim() == "name = \"lava-build\"")
        .then(|| camino::Utf8PathBuf::from("."))
}

/// The first step of a build: the resources the instance fetches, to s3://bucket/prefix.
async fn sync_resources(
    params: &AmiParams,
    aws: &aws::AwsConfig,
    ami_dir: &camino::Utf8Path,
) -> anyhow::Result<()> {
    let source = ami_dir.join("resources.s3");
    progress::line(
        "[lava-build]",
        format_args!("sync {source}/ to {}", params.s3_url()),
    );
    let sdk = aws.in_region(&params.region.value).await;
    let opts = crate::sync::SyncOptions {
        source: source.into_std_path_buf(),
        bucket: params.s3bucket.value.clone(),
        prefix: params.s3prefix.value.clone(),
        dry_run: false,
        delete: false,
        excludes: Vec::new(),
        concurrency: 8,
        cache_path: "build/sync-cache.json".into(),
        progress: std::io::IsTerminal::is_terminal(&std::io::stderr()),
    };
    let report = crate::sync::sync(&sdk, &opts)
        .await
        .context("syncing the build resources")?;
    progress::line("[lava-build]", report.summary());
    if let Some(list) = report.failures() {
        anyhow::bail!("syncing the build resources failed for {list}; nothing was built");
    }
    Ok(())
}
