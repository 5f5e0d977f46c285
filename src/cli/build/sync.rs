//! `lava-build sync`: the AMI build resources to S3, by content.
use crate::aws;
use crate::config::{self, ConfigError, DeployChoice, validate};
use crate::output::{self, Format};
use crate::sync::{SyncOptions, SyncReport};
use std::path::PathBuf;

/// Sync ami/resources.s3/ to s3://bucket/prefix by content (size + SHA-256), not by modification time.
#[derive(Debug, clap::Args)]
#[command(after_long_help = "\
The bucket and prefix come from the config file (<env>.ami.s3, relative to <env>._.s3base unless it
is an s3:// URL) or from s3bucket=… s3prefix=… on the command line, which wins.

A file is up to date when the object has the same size and the same SHA-256: for files up to 16 MiB
the file's SHA-256 (x-amz-meta-sha256 and S3's checksum), for larger ones S3's composite SHA-256 of
the 8 MiB parts. The ETag is compared only where it is an MD5 (single-part, not SSE-KMS/SSE-C).
Local hashes are cached in build/sync-cache.json, so an unchanged tree is not read again; new files
are hashed while they are uploaded. Only transient errors are retried (by the SDK, 5 attempts).
Dot files, editor swap files and --exclude globs are skipped. Remote objects are deleted only with
--delete; with an empty s3prefix= that is the whole bucket, refused unless --delete-bucket-root is
given too. A file written to while it is uploaded fails (nothing is stored for it); file names
that are not UTF-8 are refused before anything is sent. Ctrl-C or SIGTERM aborts the multipart
uploads under way; those of a sync killed outright are found (build/sync-cache.uploads) and
aborted by the next sync to the same bucket and prefix.

Examples:
  lava-build sync --config deploy/dev.yaml --env dev --dry-run
  lava-build sync s3bucket=my-bucket s3prefix=lava/ami/ --delete
  lava-build sync --config deploy/dev.yaml --env dev --exclude 'oracle/*arm64*' --output json")]
pub struct SyncArgs {
    /// Deploy-format YAML file with an `<env>.ami.s3` location (same as config=FILE).
    #[arg(long, value_name = "FILE")]
    pub config: Option<String>,
    /// Environment inside the config file (same as env=ENV).
    #[arg(long, value_name = "ENV")]
    pub env: Option<String>,
    /// Folder to sync.
    #[arg(long, value_name = "DIR", default_value = "ami/resources.s3")]
    pub source: PathBuf,
    /// Show what would be uploaded and deleted, with byte totals; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Delete objects under the prefix that have no local file (never without this flag).
    #[arg(long)]
    pub delete: bool,
    /// Allow --delete with an empty s3prefix=, where it covers every object in the bucket.
    #[arg(long, requires = "delete")]
    pub delete_bucket_root: bool,
    /// Skip files matching GLOB (relative path or file name); repeatable.
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,
    /// Requests in flight at most.
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,
    /// Hash cache (local file hashes and confirmed remote objects).
    #[arg(long, value_name = "FILE", default_value = "build/sync-cache.json")]
    pub cache_file: PathBuf,
    /// Output format of the summary on stdout.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub output: Format,
    #[command(flatten)]
    pub profile: crate::cli::args::ProfileArg,
    /// s3bucket=, s3prefix=, region=, lava_version= (and config=, env=).
    #[arg(value_name = "KEY=VALUE")]
    pub params: Vec<String>,
}

/// Bucket, prefix and region for a sync.
pub struct Target {
    pub bucket: String,
    pub prefix: String,
    pub region: Option<String>,
}

const SYNC_KEYS: [&str; 6] = [
    "config",
    "env",
    "s3bucket",
    "s3prefix",
    "region",
    "lava_version",
];

/// Resolves where to sync from `--config/--env` and `key=value` words.
pub fn resolve(args: &SyncArgs) -> Result<Target, ConfigError> {
    let mut cli = config::parse_cli(&args.params)?;
    if let Some(k) = cli.keys().find(|k| !SYNC_KEYS.contains(&k.as_str())) {
        return Err(ConfigError::usage(format!(
            "{k}: not a sync parameter (expected one of {})",
            SYNC_KEYS.join(", ")
        )));
    }
    let file = DeployChoice::resolve(args.config.as_deref(), args.env.as_deref(), &mut cli)?.file;
    let get = |k: &str| {
        cli.get(k).cloned().or_else(|| {
            file.as_ref()
                .and_then(|f| f.values.get(k).map(|v| v.value.clone()))
        })
    };
    let lava_version = get("lava_version").unwrap_or_else(|| env!("CARGO_PKG_VERSION").into());
    validate::lava_version(&lava_version)?;
    let (bucket, prefix) = config::s3::resolve_s3(&cli, file.as_ref(), &lava_version)?;
    let (Some(bucket), Some(prefix)) = (&bucket, &prefix) else {
        let missing = config::cli::missing(&[
            ("s3bucket", bucket.is_none()),
            ("s3prefix", prefix.is_none()),
        ]);
        return Err(ConfigError::Missing {
            param: missing.join(", "),
            hint: "pass s3bucket=… s3prefix=…, or --config FILE --env ENV with <env>.ami.s3".into(),
        });
    };
    validate::s3bucket(&bucket.value)?;
    validate::s3prefix(&prefix.value)?;
    if prefix.value.is_empty() && args.delete && !args.delete_bucket_root && !args.dry_run {
        return Err(ConfigError::usage(format!(
            "s3prefix is empty: --delete would delete every object in bucket {} that has no local \
             file; pass --delete-bucket-root as well to mean it, or set s3prefix=<prefix>/",
            bucket.value
        )));
    }
    let region = get("region");
    if let Some(r) = &region {
        validate::region(r)?;
    }
    Ok(Target {
        bucket: bucket.value.clone(),
        prefix: prefix.value.clone(),
        region,
    })
}

/// Prints the report and turns failed files into an error naming them.
pub fn finish(report: &SyncReport, format: Format) -> anyhow::Result<()> {
    if format == Format::Json {
        output::print_json(report)?;
    } else {
        if report.dry_run {
            for u in &report.uploads {
                println!(
                    "would upload {}  ({}, {})",
                    u.key,
                    crate::sync::human_bytes(u.size),
                    u.reason
                );
            }
            for d in &report.deletions {
                println!("would delete {d}");
            }
        }
        println!("{}", report.summary());
    }
    if let Some(list) = report.failures() {
        anyhow::bail!(
            "{} of {} files failed to sync to {}: {list}; run the sync again to finish",
            report.failed.len(),
            report.checked,
            report.url
        );
    }
    Ok(())
}

pub async fn run(args: &SyncArgs) -> anyhow::Result<()> {
    let target = resolve(args)?;
    let region = match target.region.clone() {
        Some(r) => Some(r),
        None => aws::ambient_region(args.profile.get())
            .await
            .map(|s| s.value),
    };
    let sdk = aws::sdk_config(args.profile.get(), region.as_deref()).await;
    let opts = SyncOptions {
        source: args.source.clone(),
        bucket: target.bucket,
        prefix: target.prefix,
        dry_run: args.dry_run,
        delete: args.delete,
        excludes: args.exclude.clone(),
        concurrency: args.concurrency as usize,
        cache_path: args.cache_file.clone(),
        progress: std::io::IsTerminal::is_terminal(&std::io::stderr()),
    };
    let stop = crate::sync::uploads::Stop::on_signals();
    let report = crate::sync::sync_until(&sdk, &opts, stop).await?;
    finish(&report, args.output)
}
