//! `lava-build images`: build, check and push the lava Docker images. The arguments and the
//! dispatch; the pure request is `plan`, building and checking `build`, pushing and the index
//! `publish`, what is printed `report`, ECR repositories `crate::aws::ecr`.
use crate::engine::Platform;
use crate::output::Format;
use std::path::PathBuf;

mod build;
mod meta;
mod plan;
mod publish;
mod report;

/// Build the multi-platform lava images (lava/<os>/{base,full}), check them, push them.
#[derive(Debug, clap::Args)]
#[command(
    args_conflicts_with_subcommands = true,
    after_long_help = "\
Each image is built per platform through the Docker Engine API with BuildKit (full FROM the base
just built); platforms build side by side, and when one fails the others are cancelled. An image
whose inputs (build files, arguments, labels, platform, FROM image) are unchanged is not rebuilt:
the engine's image carrying the same inputs key gets the tag (--rebuild sends the build anyway;
--pull fetches base's FROM image again, for its latest updates).
With --check the checks run before anything is pushed, and a failed check stops the push. With
--push each platform is pushed by digest (nothing the registry already holds is sent again) and
an OCI image index listing them is pushed as <tag>, the lava version and latest (latest only for
a release version such as 8.3.0, never for a pre-release such as 8.4.0rc1). Build files
reach the build through a bind mount and stay out of every layer.

On native runners, one platform per machine: --push-by-digest --digests-file FILE pushes that
platform's images and records their digests; `images index --digests FILE…` then writes the index.

Registry credentials: LAVA_REGISTRY_USER (or --user) with LAVA_REGISTRY_TOKEN or --token-ssm;
ECR registries get a fresh token from GetAuthorizationToken. They are never printed.

Examples:
  lava-build images --os amzn2023 --platform linux/amd64
  lava-build images --push --registry ghcr.io --prefix jin-gizmo
  lava-build images --engine linux/arm64=ssh://builder@arm-host --check --push
  lava-build images --platform linux/arm64 --push-by-digest --digests-file arm64.json
  lava-build images index --digests amd64.json arm64.json --tag 8.3.0
  lava-build images --push --registry 123456789012.dkr.ecr.ap-southeast-2.amazonaws.com --prefix dist
  lava-build images check --os ubuntu24 --type full
  lava-build images ecr-repo --prefix dist"
)]
pub struct ImagesArgs {
    #[command(subcommand)]
    pub command: Option<ImagesCommand>,
    #[command(flatten)]
    pub build: Box<BuildArgs>,
}

#[derive(Debug, clap::Subcommand)]
pub enum ImagesCommand {
    /// Run the checks of images/checks.yaml in containers of the built images, per platform.
    Check(Box<BuildArgs>),
    /// Push the OCI index of each image from the digests files of --push-by-digest runs.
    Index(IndexArgs),
    /// Create <prefix>/lava/<os>/{base,full} in ECR with the lifecycle policy (idempotent).
    EcrRepo(EcrArgs),
}

/// `--type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TypeChoice {
    Base,
    Full,
    All,
}

/// `--network`: where RUN steps run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum NetworkChoice {
    /// The engine's bridge network (refused before building when the engine has none).
    Default,
    Host,
    None,
}

/// `--platform`, shared by building and indexing.
#[derive(Debug, Clone, clap::Args)]
pub struct Platforms {
    /// Platforms, comma-separated (for `index`: those every image must have a digest for).
    #[arg(
        long = "platform",
        value_enum,
        value_delimiter = ',',
        default_value = "linux/amd64,linux/arm64",
        value_name = "LIST"
    )]
    pub list: Vec<Platform>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct BuildArgs {
    /// Folder with the Dockerfile, common/, os/<os>/{from.txt,base,full}, checks.yaml.
    #[arg(long, default_value = "images", value_name = "DIR")]
    pub images_dir: PathBuf,
    /// OS to build (a folder of os/), or all.
    #[arg(long, default_value = "all", value_name = "OS")]
    pub os: String,
    /// Which images.
    #[arg(long = "type", value_enum, default_value_t = TypeChoice::All, value_name = "TYPE")]
    pub kind: TypeChoice,
    #[command(flatten)]
    pub platforms: Platforms,
    /// lava version (PyPI jinlava) installed in the images; also a tag of every pushed index.
    #[arg(long, default_value = env!("CARGO_PKG_VERSION"), value_name = "VERSION")]
    pub version: String,
    /// Image tag (default: the version); pushed with the version and latest (a release version only).
    #[arg(long, value_name = "TAG")]
    pub tag: Option<String>,
    /// Registry host for --push.
    #[arg(long, default_value = "ghcr.io", value_name = "HOST")]
    pub registry: String,
    /// Namespace in the registry: <registry>/<prefix>/lava/<os>/<type>.
    #[arg(long, default_value = "jin-gizmo", value_name = "PREFIX")]
    pub prefix: String,
    /// Push each platform by digest and an OCI index tagged <tag>, the version and latest (a release only).
    #[arg(long, conflicts_with = "push_by_digest")]
    pub push: bool,
    /// Push each platform's images by digest only (no tag, no index): the first half of a release
    /// on native runners; `images index` is the second. The image is exported from the engine and
    /// its layers compressed and sent here (the engine's own push always writes a tag).
    #[arg(long, requires = "digests_file")]
    pub push_by_digest: bool,
    /// With --push-by-digest: the JSON file {image: {platform: digest}} to write (merged into an
    /// existing one).
    #[arg(long, value_name = "FILE", requires = "push_by_digest")]
    pub digests_file: Option<PathBuf>,
    /// Run the image checks after building (before pushing: a failed check stops the push).
    #[arg(long)]
    pub check: bool,
    /// Run each check as a lava docker job runs (worker uid, LAVA_TMP as working directory).
    #[arg(long)]
    pub as_job: bool,
    /// Send one platform's builds to another engine: linux/arm64=ssh://user@host (or unix://,
    /// tcp://, https://; TLS with DOCKER_CERT_PATH's ca.pem, cert.pem, key.pem, and for tcp://
    /// DOCKER_TLS_VERIFY).
    #[arg(long, value_name = "PLATFORM=ENDPOINT")]
    pub engine: Vec<String>,
    /// Network mode of RUN steps (an engine without a bridge network, dockerd --bridge=none, is
    /// refused with the default before building: pass host or none).
    #[arg(long, value_enum, default_value_t = NetworkChoice::Default, value_name = "MODE")]
    pub network: NetworkChoice,
    /// Send every build to the engine even when an image of the same inputs exists.
    #[arg(long)]
    pub rebuild: bool,
    /// Build without the engine's layer cache (implies --rebuild).
    #[arg(long)]
    pub no_cache: bool,
    /// Fetch base's FROM image (os/<os>/from.txt) again, for its latest updates (implies --rebuild
    /// for base; full follows when base changed).
    #[arg(long)]
    pub pull: bool,
    /// A jinlava wheel or source distribution (jinlava-<version>…whl or .tar.gz) to install, with its
    /// extras, instead of jinlava from PyPI.
    #[arg(long, value_name = "FILE")]
    pub lava_bundle: Option<PathBuf>,
    #[command(flatten)]
    pub auth: crate::cli::args::RegistryArgs,
    /// Output format of the result on stdout.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub output: Format,
}

#[derive(Debug, Clone, clap::Args)]
pub struct IndexArgs {
    /// Digests files written by --push-by-digest runs (one per platform, or merged).
    #[arg(long, num_args = 1.., required = true, value_name = "FILE")]
    pub digests: Vec<PathBuf>,
    /// The index tag (default: the version); pushed with the version and latest (a release version only).
    #[arg(long, value_name = "TAG")]
    pub tag: Option<String>,
    /// lava version of the images (a tag, and the version annotation).
    #[arg(long, default_value = env!("CARGO_PKG_VERSION"), value_name = "VERSION")]
    pub version: String,
    #[command(flatten)]
    pub platforms: Platforms,
    #[command(flatten)]
    pub auth: crate::cli::args::RegistryArgs,
    /// Output format of the result on stdout.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub output: Format,
}

#[derive(Debug, Clone, clap::Args)]
pub struct EcrArgs {
    /// Repository prefix: <prefix>/lava/<os>/{base,full}.
    #[arg(long, default_value = "dist", value_name = "PREFIX")]
    pub prefix: String,
    #[arg(long, default_value = "images", value_name = "DIR")]
    pub images_dir: PathBuf,
    #[command(flatten)]
    pub profile: crate::cli::args::ProfileArg,
}

pub async fn run(args: &ImagesArgs) -> anyhow::Result<()> {
    match &args.command {
        Some(ImagesCommand::Check(a)) => build::check_only(a).await,
        Some(ImagesCommand::Index(a)) => publish::index(a).await,
        Some(ImagesCommand::EcrRepo(a)) => publish::ecr_repo(a).await,
        None => build::build_check_push(&args.build).await,
    }
}
