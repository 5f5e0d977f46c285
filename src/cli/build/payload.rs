//! `lava-build payload build|install|uninstall`: Docker payloads of a lava job framework project.
use crate::aws::AwsConfig;
use crate::config::ConfigError;
use crate::engine::Platform;
use crate::output::{self, Format};
use crate::payload::project::{self, Platforms, Project};
use crate::payload::run::{self, Request, Target};
use crate::registry::digests::{self, Digests};
use anyhow::Context as _;
use std::io::IsTerminal;

mod index;
mod report;

use report::{report, report_removals};
use std::path::PathBuf;

/// What every verb's --help explains (a macro: `concat!` takes only literals).
macro_rules! project_help {
    () => {
        "\
A lava job framework project is a folder with config/<env>.yaml and lava-payloads/. Every folder
lava-payloads/NAME.docker is a payload; its image is <prefix.docker_repo>/NAME, tagged latest (and
--tag T). Keys of config/<env>.yaml used: realm and prefix.docker_repo (required), docker.base_img
(default ghcr.io/jin-gizmo/lava/amzn2023/base), docker.platform (host, any linux/ARCH[/VARIANT]
such as linux/amd64, linux/arm64 or linux/arm/v7, or a comma-separated list; default linux/amd64).

Each payload is copied (dot files and .dockerignore included, symlinks inside the project
followed, a symlink out of it refused unless --follow-external-links, the source untouched); files
under env/ and the payload's own Dockerfile are rendered with <{ expr }>, <% statement %>,
<# comment #> against the config's keys, env (the env name) and lava.realm (--realm-file); {{ }}
is left alone and an undefined name is an error naming file:line. Notebooks (*.ipynb) become
NAME.py starting #!/usr/bin/env python3, executable by the owner, magics commented out. The
payload's folder is the build context, so its .dockerignore applies. Without a Dockerfile the
default one is used: FROM BASE_IMG (= docker.base_img), the payload in /lava owned by root and
readable by all, user-executable files executable by all, ENV LANG=C.UTF-8, PYTHONUNBUFFERED=1,
PYTHONDONTWRITEBYTECODE=1 and PIP_INDEX_URL, requirements.txt installed with its dependencies and
requirements-nodeps.txt without them. PIP_INDEX_URL is passed from the environment as a build
argument (an own Dockerfile takes it with ARG PIP_INDEX_URL). Builds go through the Docker Engine
API with BuildKit; an image whose inputs are unchanged is not rebuilt.

Errors in the project (a missing key, a bad value, an undefined template name) stop the run before
anything is built, exit status 2; a failed build or push is exit status 1.
"
    };
}

/// Build, push (install, index) or delete (uninstall) the Docker payloads of a lava job framework
/// project.
#[derive(Debug, clap::Args)]
#[command(after_long_help = project_help!())]
pub struct PayloadArgs {
    #[command(subcommand)]
    pub command: PayloadCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum PayloadCommand {
    /// Build the payload images (all, or the NAMEs given) on the Docker engine.
    #[command(after_long_help = concat!(project_help!(), "\nExamples:\n  \
        lava-build payload build --env dev\n  \
        lava-build payload build etl report --project ~/src/my-jobs --env prod --tag 1.4.0\n  \
        lava-build payload build --env dev --network host --realm-file realm-dev.json --output json"))]
    Build(BuildArgs),
    /// Build what is not built, create the ECR repositories that are missing, push by digest.
    #[command(after_long_help = concat!(project_help!(), "\n\
The ECR repository <prefix.docker_repo>/NAME is created when missing, after its payload built (a
failed build leaves nothing in ECR), with scan on push and no lifecycle policy unless --lifecycle
FILE (set then on existing repositories too). Images are pushed by digest: nothing the registry
already holds is sent again; several platforms are pushed as one OCI index tagged latest (and
--tag). Without --registry the images go to the repository's ECR registry with a token from
GetAuthorizationToken; --registry HOST pushes elsewhere (credentials: LAVA_REGISTRY_USER or
--user with LAVA_REGISTRY_TOKEN or --token-ssm) while the repositories are still made in ECR.
With --push-by-digest each platform's image is pushed by digest only (no tag) and its digest
recorded in --digests-file; `payload index` then pushes the index (a release with one runner per platform).

Examples:
  lava-build payload install --env dev
  lava-build payload install etl --env prod --tag 1.4.0 --dry-run
  lava-build payload install --env dev --registry 127.0.0.1:5000 --lifecycle my-policy.json
  lava-build payload install --env prod --platform linux/arm64 --push-by-digest --digests-file arm64.json"))]
    Install(InstallArgs),
    /// Push the OCI index of each payload from the digests files of install --push-by-digest runs.
    #[command(after_long_help = concat!(project_help!(), "\n\
A release on native runners, one platform per machine: each runs `payload install --platform P
--push-by-digest --digests-file FILE`, which pushes that platform's image of every payload by
digest and records {repository: {platform: digest}} in FILE. `payload index` then joins the
files, checks that every payload has a digest for each platform (--platform, default
docker.platform) and that the registry holds each of them, and only then pushes one OCI index per
payload tagged latest (and --tag), with the annotations install gives it. A missing platform or a
platform listed with two digests is exit status 2, a digest the registry lacks exit status 1; in
each case nothing is pushed. A tag that already points at the same index is not written again.
The registry is found as install finds it: --registry HOST, else the repository's ECR registry.

Examples:
  lava-build payload install --env prod --platform linux/arm64 --push-by-digest --digests-file arm64.json
  lava-build payload index --env prod --digests amd64.json arm64.json --tag 1.4.0
  lava-build payload index --env dev --registry 127.0.0.1:5000 --digests digests.json --dry-run"))]
    Index(index::IndexArgs),
    /// Delete the ECR repository of each payload, with its images (lists them first).
    #[command(after_long_help = concat!(project_help!(), "\nExamples:\n  \
        lava-build payload uninstall --env dev --dry-run\n  \
        lava-build payload uninstall old-etl --env dev --yes"))]
    Uninstall(UninstallArgs),
}

/// What every verb takes.
#[derive(Debug, Clone, clap::Args)]
pub struct ProjectArgs {
    /// Payloads (folder names under lava-payloads/ without .docker) [default: all].
    #[arg(value_name = "NAME")]
    pub names: Vec<String>,
    /// The job framework project folder.
    #[arg(long, default_value = ".", value_name = "DIR")]
    pub project: PathBuf,
    /// Environment: the config file config/<ENV>.yaml.
    #[arg(long, value_name = "ENV")]
    pub env: String,
    /// Show what would be done, and do nothing else.
    #[arg(long)]
    pub dry_run: bool,
    /// Output format of the result on stdout.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub output: Format,
}

/// Where `lava.realm` comes from besides `--realm-file`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RealmInfo {
    /// The realm's item of the `lava.realms` table (key `realm`).
    Dynamodb,
}

#[derive(Debug, Clone, clap::Args)]
pub struct BuildArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Another tag besides latest.
    #[arg(long, value_name = "TAG")]
    pub tag: Option<String>,
    /// The realm's info (a JSON object, as its lava.realms item) for templates, as lava.realm.
    #[arg(long, value_name = "FILE", conflicts_with = "realm_info")]
    pub realm_file: Option<PathBuf>,
    /// Read lava.realm from the realm's item of the lava.realms DynamoDB table (AWS credentials
    /// and region as usual: AWS_PROFILE, AWS_REGION; `install` also takes --profile).
    #[arg(long, value_enum, value_name = "SOURCE")]
    pub realm_info: Option<RealmInfo>,
    /// Docker engine (unix://, tcp://, ssh://) [default: DOCKER_HOST or the default socket].
    #[arg(long, value_name = "ENDPOINT")]
    pub engine: Option<String>,
    /// Network mode of RUN steps: host, none, or default (the engine's bridge network; an engine
    /// without one, dockerd --bridge=none, is refused before building: pass host, which pip
    /// installs from PyPI need there, or none).
    #[arg(long, value_parser = ["host", "none", "default"], value_name = "MODE")]
    pub network: Option<String>,
    /// Send every build to the engine even when an image of the same inputs exists.
    #[arg(long)]
    pub rebuild: bool,
    /// Build without the engine's layer cache (implies --rebuild).
    #[arg(long)]
    pub no_cache: bool,
    /// Build one payload at a time and stop at the first that fails, pushing nothing (by default
    /// a few build side by side, and the others still build and push when one fails).
    #[arg(long)]
    pub fail_fast: bool,
    /// Copy what symlinks pointing out of the project point at (by default such a link is
    /// refused, naming it: it could ship anything, ~/.aws included).
    #[arg(long)]
    pub follow_external_links: bool,
    /// Only these platforms, comma-separated (of docker.platform's list; any with host), e.g. the
    /// runner's own in a release on native runners [default: docker.platform].
    #[arg(
        long = "platform",
        value_enum,
        value_delimiter = ',',
        value_name = "LIST"
    )]
    pub platforms: Vec<Platform>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct InstallArgs {
    #[command(flatten)]
    pub build: BuildArgs,
    /// ECR lifecycle policy (JSON) to set on the repositories pushed to, new and existing
    /// [default: none is set, as the job framework sets none].
    #[arg(long, value_name = "FILE")]
    pub lifecycle: Option<PathBuf>,
    #[command(flatten)]
    pub target: TargetArgs,
    /// Push each platform's image by digest only (no tag, no index, no latest): the first half
    /// of a release on native runners; `payload index` is the second.
    #[arg(long, requires = "digests_file")]
    pub push_by_digest: bool,
    /// With --push-by-digest: the JSON file {repository: {platform: digest}} to write (merged
    /// into an existing one).
    #[arg(long, value_name = "FILE", requires = "push_by_digest")]
    pub digests_file: Option<PathBuf>,
}

/// Where payload images go (install) or went (index): the registry, its credentials, and the AWS
/// profile of ECR.
#[derive(Debug, Clone, clap::Args)]
pub struct TargetArgs {
    /// The registry of the images, instead of the repositories' ECR registry.
    #[arg(long, value_name = "HOST")]
    pub registry: Option<String>,
    #[command(flatten)]
    pub auth: crate::cli::args::RegistryArgs,
}

#[derive(Debug, Clone, clap::Args)]
pub struct UninstallArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Delete without asking (needed when not on a terminal).
    #[arg(long)]
    pub yes: bool,
    #[command(flatten)]
    pub profile: crate::cli::args::ProfileArg,
}

/// A Docker tag: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
fn valid_tag(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 128
        && !t.starts_with(['.', '-'])
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// `latest`, then `--tag` when given.
fn tags(tag: Option<&str>) -> Result<Vec<String>, ConfigError> {
    let mut tags = vec!["latest".to_string()];
    if let Some(t) = tag {
        if !valid_tag(t) {
            return Err(ConfigError::invalid(
                "--tag",
                t,
                "a Docker tag: letters, digits, '_', '.', '-' (not first), at most 128",
            ));
        }
        if t != "latest" {
            tags.push(t.to_string());
        }
    }
    Ok(tags)
}

fn request(a: &BuildArgs) -> Result<Request, ConfigError> {
    let project = Project::load(&a.project.project, &a.project.env)?;
    let payloads = project.select(&a.project.names)?;
    let tags = tags(a.tag.as_deref())?;
    let mut project = project;
    project.platforms = selected_platforms(&project, &a.platforms)?;
    let realm_info = a
        .realm_file
        .as_deref()
        .map(project::realm_file)
        .transpose()?;
    Ok(Request {
        project,
        payloads,
        realm_info,
        tags,
        engine: a.engine.clone(),
        network: a.network.clone().filter(|n| n != "default"),
        rebuild: a.rebuild || a.no_cache,
        no_cache: a.no_cache,
        fail_fast: a.fail_fast,
        dry_run: a.project.dry_run,
        follow_external_links: a.follow_external_links,
    })
}

/// docker.platform, or those of it `--platform` names (any with `host`).
fn selected_platforms(project: &Project, given: &[Platform]) -> Result<Platforms, ConfigError> {
    if given.is_empty() {
        return Ok(project.platforms.clone());
    }
    let mut list: Vec<String> = Vec::new();
    for p in given {
        let p = p.as_str().to_string();
        if let Platforms::List(allowed) = &project.platforms
            && !allowed.contains(&p)
        {
            return Err(ConfigError::invalid(
                "--platform",
                &p,
                &format!(
                    "one of docker.platform in {}: {}",
                    project.config_file,
                    allowed.join(",")
                ),
            ));
        }
        if !list.contains(&p) {
            list.push(p);
        }
    }
    Ok(Platforms::List(list))
}

/// The request of `a`, with `lava.realm` read from DynamoDB when `--realm-info dynamodb` asks.
async fn request_with_realm(a: &BuildArgs, aws: &AwsConfig) -> anyhow::Result<Request> {
    let mut req = request(a)?;
    if a.realm_info == Some(RealmInfo::Dynamodb) {
        req.realm_info = Some(realm_item(&req.project.realm, aws).await?);
    }
    Ok(req)
}

/// The realm's item of `lava.realms`; a realm without one is a configuration error.
async fn realm_item(realm: &str, aws: &AwsConfig) -> anyhow::Result<serde_json::Value> {
    let client = aws_sdk_dynamodb::Client::new(aws.get().await);
    let item = crate::aws::dynamodb::get_json(&client, "lava.realms", "realm", realm).await?;
    match item {
        Some(item) => Ok(serde_json::Value::Object(item)),
        None => Err(ConfigError::invalid(
            "realm",
            realm,
            "a realm with an item in the lava.realms table (--realm-info dynamodb)",
        )
        .into()),
    }
}

async fn ecr_client(aws: &AwsConfig) -> aws_sdk_ecr::Client {
    aws_sdk_ecr::Client::new(aws.get().await)
}

async fn install(a: &InstallArgs) -> anyhow::Result<()> {
    let aws = a.target.auth.profile.aws();
    let req = request_with_realm(&a.build, &aws).await?;
    let lifecycle = match &a.lifecycle {
        Some(f) => {
            let text = std::fs::read_to_string(f).map_err(|source| ConfigError::Read {
                path: f.display().to_string(),
                source,
            })?;
            if serde_json::from_str::<serde_json::Value>(&text).is_err() {
                return Err(ConfigError::invalid(
                    "--lifecycle",
                    &f.display().to_string(),
                    "a file with an ECR lifecycle policy (JSON)",
                )
                .into());
            }
            Some(text)
        }
        None => None,
    };
    // A digests file that is there must be one before anything is built (exit status 2).
    if let Some(f) = a.digests_file.as_deref().filter(|f| f.exists()) {
        digests::read(f)
            .map_err(digests::DigestsError::classified)
            .context("--digests-file")?;
    }
    let target = Target {
        registry: a.target.registry.clone(),
        auth: a.target.auth.request_with(&aws),
        lifecycle,
        ecr: ecr_client(&aws).await,
        by_digest: a.push_by_digest,
    };
    let (rows, failed) = run::install(&req, &target).await?;
    // What was pushed is recorded even when another payload failed.
    let pushed: Digests = rows
        .iter()
        .filter_map(|r| r.by_digest.as_ref())
        .map(|b| (b.repository.clone(), b.digests.clone()))
        .collect();
    if let (Some(f), false) = (&a.digests_file, pushed.is_empty()) {
        digests::merge_into(f, &pushed)
            .map_err(digests::DigestsError::classified)
            .context("--digests-file")?;
    }
    report(&rows, a.build.project.output)?;
    failed.map_or(Ok(()), |e| Err(e.into()))
}

async fn uninstall(a: &UninstallArgs) -> anyhow::Result<()> {
    let project = Project::load(&a.project.project, &a.project.env)?;
    let payloads = project.select(&a.project.names)?;
    let ecr = ecr_client(&a.profile.aws()).await;
    let mut list = run::removals(&project, &payloads, &ecr).await?;
    let present = list.iter().filter(|r| r.images.is_some()).count();
    if a.project.dry_run || present == 0 {
        return report_removals(&list, a.project.output);
    }
    for r in list.iter().filter(|r| r.images.is_some()) {
        let n = r.images.as_ref().map_or(0, Vec::len);
        output::progress::line(
            "will delete",
            format_args!("{} and its {n} images", r.repository),
        );
    }
    if !a.yes {
        if !std::io::stdin().is_terminal() {
            return Err(ConfigError::Missing {
                param: "--yes".into(),
                hint: format!(
                    "deleting {present} ECR repositories needs --yes when not on a terminal"
                ),
            }
            .into());
        }
        let go = dialoguer::Confirm::new()
            .with_prompt(format!(
                "Delete {present} ECR repositories and their images?"
            ))
            .default(false)
            .interact()?;
        if !go {
            anyhow::bail!("nothing was deleted (not confirmed)");
        }
    }
    run::remove(&ecr, &mut list).await?;
    report_removals(&list, a.project.output)
}

pub async fn run(args: &PayloadArgs) -> anyhow::Result<()> {
    match &args.command {
        PayloadCommand::Build(a) => {
            // No --profile here: the realm's item is read with the default chain (AWS_PROFILE).
            let req = request_with_realm(a, &AwsConfig::default()).await?;
            let (rows, failed) = run::build(&req).await?;
            report(&rows, a.project.output)?;
            failed.map_or(Ok(()), |e| Err(e.into()))
        }
        PayloadCommand::Install(a) => install(a).await,
        PayloadCommand::Index(a) => index::run(a).await,
        PayloadCommand::Uninstall(a) => uninstall(a).await,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn tags() {
        assert!(super::valid_tag("1.4.0"));
        assert!(!super::valid_tag("-x"));
        assert!(!super::valid_tag("a:b"));
    }
}
