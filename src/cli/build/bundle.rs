//! `lava-build bundle`: the lava code bundle of a runtime, made inside that runtime's builder
//! container, for workers that install lava without a network.
use crate::bundle::build::{self, BuilderChoice, LavaSource, Made, MakeError};
use crate::bundle::{self, Runtime};
use crate::config::ConfigError;
use crate::engine::{self, Platform};
use crate::output::{self, Format, progress};
use anyhow::Context as _;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    lava-build bundle --runtime amzn2023-py3.11\n  \
    lava-build bundle --runtime amzn2023-py3.12 --platform linux/amd64,linux/arm64 --version 8.3.0 \\\n      --upload s3://my-bucket/lava/bundles/\n  \
    lava-build bundle --runtime debian12-py3.11 --builder my/debian12-python --source ../lava\n\n\
    Each bundle is dist/bundle/lava-<version>-<runtime>-<arch>.tar.bz2 with a .sha256 file beside it;\n\
    unpacked, `install.sh PREFIX` makes a venv at PREFIX from the wheels inside, with no network.")]
pub struct BundleArgs {
    /// Target runtime, <os>-py<X.Y> as lava names them (amzn2023-py3.11, amzn2023-py3.12, …).
    #[arg(long, value_name = "RUNTIME")]
    pub runtime: String,
    /// Platforms, comma-separated (linux/amd64, linux/arm64) [default: this machine's].
    #[arg(long, value_name = "LIST")]
    pub platform: Option<String>,
    /// lava version (PyPI jinlava) [default: this tool's version].
    #[arg(long, value_name = "VERSION", conflicts_with = "source")]
    pub version: Option<String>,
    /// A lava source tree to bundle instead of a PyPI release.
    #[arg(long, value_name = "DIR")]
    pub source: Option<PathBuf>,
    /// Builder image to use instead of the runtime's from the builders folder.
    #[arg(long, value_name = "IMAGE")]
    pub builder: Option<String>,
    /// Folder with builders.yaml and the builder definitions.
    #[arg(long, default_value = "images/builders", value_name = "DIR")]
    pub builders_dir: PathBuf,
    /// Where the bundles go.
    #[arg(long, default_value = "dist/bundle", value_name = "DIR")]
    pub out: PathBuf,
    /// Network mode of the builder container (pip fetches from PyPI through it).
    #[arg(long, value_enum, default_value_t = BundleNetwork::Host, value_name = "MODE")]
    pub network: BundleNetwork,
    /// Docker engine (unix://, tcp://, ssh://) [default: DOCKER_HOST].
    #[arg(long, value_name = "ENDPOINT")]
    pub engine: Option<String>,
    /// Also put each bundle and its .sha256 at s3://BUCKET/PREFIX/ (by content, as `sync` does).
    #[arg(long, value_name = "S3URL")]
    pub upload: Option<String>,
    #[command(flatten)]
    pub profile: crate::cli::args::ProfileArg,
    /// Output format of the result on stdout.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub output: Format,
}

/// `--network` of the builder container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BundleNetwork {
    Host,
    Bridge,
    Default,
}

impl BundleNetwork {
    fn mode(self) -> &'static str {
        match self {
            BundleNetwork::Host => "host",
            BundleNetwork::Bridge => "bridge",
            BundleNetwork::Default => "default",
        }
    }
}

/// Everything checked before the engine is asked anything.
struct Plan {
    runtime: Runtime,
    platforms: Vec<Platform>,
    lava: LavaSource,
    builder: BuilderChoice,
    upload: Option<(String, String)>,
}

/// `s3://bucket/prefix/` (prefix empty or ending in `/`).
fn parse_s3_url(url: &str) -> Option<(String, String)> {
    let u = crate::config::s3url::S3Url::parse(url).ok()?;
    ((u.key.is_empty() || u.key.ends_with('/')) && !u.key.starts_with('/'))
        .then_some((u.bucket, u.key))
}

fn plan(args: &BundleArgs) -> Result<Plan, ConfigError> {
    let runtime = Runtime::parse(&args.runtime).ok_or_else(|| {
        ConfigError::invalid(
            "--runtime",
            &args.runtime,
            "<os>-py<X.Y> as lava names runtimes, e.g. amzn2023-py3.11",
        )
    })?;
    let host = Platform::host();
    let list = args.platform.as_deref().unwrap_or(host.as_str());
    let mut platforms = Vec::new();
    for p in list.split(',') {
        let p = Platform::parse(p).ok_or_else(|| {
            ConfigError::invalid(
                "--platform",
                list,
                "linux/amd64, linux/arm64 or both, comma-separated",
            )
        })?;
        if platforms.contains(&p) {
            return Err(ConfigError::invalid(
                "--platform",
                list,
                "each platform once",
            ));
        }
        platforms.push(p);
    }
    let lava = match (&args.source, &args.version) {
        (Some(dir), _) => {
            if !dir.join("pyproject.toml").is_file() && !dir.join("setup.py").is_file() {
                return Err(ConfigError::invalid(
                    "--source",
                    &dir.display().to_string(),
                    "a lava source tree (a folder with pyproject.toml or setup.py)",
                ));
            }
            LavaSource::Tree(std::path::absolute(dir).map_err(|e| {
                ConfigError::invalid("--source", &dir.display().to_string(), &e.to_string())
            })?)
        }
        (None, v) => {
            let v = v
                .clone()
                .unwrap_or_else(|| env!("CARGO_PKG_VERSION").into());
            if !bundle::valid_version(&v) {
                return Err(ConfigError::invalid(
                    "--version",
                    &v,
                    "a lava release version such as 8.3.0",
                ));
            }
            LavaSource::Version(v)
        }
    };
    let builder = match &args.builder {
        Some(image) => BuilderChoice::Image(image.clone()),
        None => {
            let table_path = args.builders_dir.join("builders.yaml");
            let table = bundle::load_builders(&table_path).map_err(|e| ConfigError::Usage {
                message: e.to_string(),
            })?;
            let Some(b) = table.get(&runtime.name()) else {
                return Err(ConfigError::invalid(
                    "--runtime",
                    &args.runtime,
                    &format!(
                        "a runtime with a builder in {} ({}), or --builder IMAGE",
                        table_path.display(),
                        table.keys().cloned().collect::<Vec<_>>().join(", ")
                    ),
                ));
            };
            BuilderChoice::Definition {
                dir: args.builders_dir.clone(),
                builder: b.clone(),
            }
        }
    };
    let upload = match &args.upload {
        Some(url) => Some(parse_s3_url(url).ok_or_else(|| {
            ConfigError::invalid("--upload", url, "s3://BUCKET/ or s3://BUCKET/PREFIX/")
        })?),
        None => None,
    };
    Ok(Plan {
        runtime,
        platforms,
        lava,
        builder,
        upload,
    })
}

pub async fn run(args: &BundleArgs) -> anyhow::Result<()> {
    let plan = plan(args)?;
    let docker = engine::connect(args.engine.as_deref()).await?;
    let mut made = Vec::new();
    for &platform in &plan.platforms {
        let req = build::Request {
            runtime: &plan.runtime,
            platform,
            lava: &plan.lava,
            builder: &plan.builder,
            network: args.network.mode(),
            out_dir: &args.out,
        };
        let m = build::make(&docker, &req).await.map_err(as_usage)?;
        progress::line(
            &format!("[bundle {} {platform}]", m.runtime),
            format_args!("{} ({} wheels)", m.bundle, m.wheels),
        );
        made.push(m);
    }
    let uploaded = match &plan.upload {
        Some((bucket, prefix)) => Some(upload(&made, bucket, prefix, args).await?),
        None => None,
    };
    report(&made, uploaded.as_deref(), args.output)
}

/// A failure that is the user's input (a version PyPI lacks, a builder image the engine lacks) as
/// the usage error it is; any other as it came.
fn as_usage(e: MakeError) -> anyhow::Error {
    let (param, value, expected) = match &e {
        MakeError::UnknownVersion { version } => (
            "--version",
            version,
            "a lava version published on PyPI as jinlava",
        ),
        MakeError::BuilderMissing { image } => (
            "--builder",
            image,
            "an image the Docker engine has (build or pull it first)",
        ),
        _ => return e.into(),
    };
    ConfigError::invalid(param, value, expected).into()
}

/// Puts every bundle and its .sha256 under s3://bucket/prefix through the sync (by content).
async fn upload(
    made: &[Made],
    bucket: &str,
    prefix: &str,
    args: &BundleArgs,
) -> anyhow::Result<String> {
    let staging = tempfile::tempdir().context("a staging folder for the upload")?;
    let files: Vec<PathBuf> = made
        .iter()
        .flat_map(|m| {
            [
                PathBuf::from(&m.bundle),
                PathBuf::from(format!("{}.sha256", m.bundle)),
            ]
        })
        .collect();
    let to_dir = staging.path().to_path_buf();
    // A link, or a copy of bundles of many megabytes where links cannot be: off the async threads.
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        for f in &files {
            let to = to_dir.join(f.file_name().unwrap_or_default());
            std::fs::hard_link(f, &to)
                .or_else(|_| std::fs::copy(f, &to).map(drop))
                .with_context(|| format!("staging {} for the upload", f.display()))?;
        }
        Ok(())
    })
    .await
    .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))?;
    let sdk = crate::aws::sdk_config(args.profile.get(), None).await;
    let opts = crate::sync::SyncOptions {
        source: staging.path().to_path_buf(),
        bucket: bucket.into(),
        prefix: prefix.into(),
        dry_run: false,
        delete: false,
        excludes: Vec::new(),
        concurrency: 4,
        cache_path: "build/bundle-sync-cache.json".into(),
        progress: std::io::IsTerminal::is_terminal(&std::io::stderr()),
    };
    let report = crate::sync::sync(&sdk, &opts)
        .await
        .context("uploading the bundles")?;
    progress::line("[bundle]", report.summary());
    if let Some(list) = report.failures() {
        anyhow::bail!("uploading the bundles failed for {list}");
    }
    Ok(format!("s3://{bucket}/{prefix}"))
}

fn report(made: &[Made], uploaded: Option<&str>, format: Format) -> anyhow::Result<()> {
    if format == Format::Json {
        #[derive(serde::Serialize)]
        struct Out<'a> {
            bundles: &'a [Made],
            uploaded_to: Option<&'a str>,
        }
        return output::print_json(&Out {
            bundles: made,
            uploaded_to: uploaded,
        });
    }
    let mut t = output::table(&["runtime", "arch", "lava", "bundle", "sha256", "wheels"]);
    for m in made {
        t.add_row(vec![
            m.runtime.clone(),
            m.arch.clone(),
            m.version.clone(),
            m.bundle.clone(),
            m.sha256[..12].to_string(),
            m.wheels.to_string(),
        ]);
    }
    println!("{t}");
    if let Some(url) = uploaded {
        println!("uploaded to {url}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_upload_locations() {
        assert_eq!(
            parse_s3_url("s3://my-bucket/lava/bundles/"),
            Some(("my-bucket".into(), "lava/bundles/".into()))
        );
        assert_eq!(
            parse_s3_url("s3://my-bucket"),
            Some(("my-bucket".into(), String::new()))
        );
        for bad in [
            "my-bucket/x/",
            "s3://my-bucket/x",
            "s3://B/x/",
            "s3://my-bucket//x/",
        ] {
            assert_eq!(parse_s3_url(bad), None, "{bad}");
        }
    }
}
