//! `lava-build images`: build, check and push the lava Docker images.
use crate::engine::{self, context};
use crate::images::checks::{self, CheckResult};
use crate::images::pipeline::{self, Family, Meta};
use crate::output::Format;
use crate::registry::index::PlatformImage;
use crate::registry::{self, AuthMode, AuthRequest, Registry};
use bollard::Docker;
use plan::{Plan, plan, usage, valid_prefix};
use report::{Row, report_checks, report_rows};
use std::collections::BTreeMap;
use std::path::PathBuf;

mod plan;
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
an OCI image index listing them is pushed as <tag> and latest. Build files reach the build
through a bind mount and stay out of every layer.

Registry credentials: LAVA_REGISTRY_USER (or --user) with LAVA_REGISTRY_TOKEN or --token-ssm;
ECR registries get a fresh token from GetAuthorizationToken. They are never printed.

Examples:
  lava-build images --os amzn2023 --platform linux/amd64
  lava-build images --push --registry ghcr.io --prefix jin-gizmo
  lava-build images --engine linux/arm64=ssh://builder@arm-host --check --push
  lava-build images --push --registry 123456789012.dkr.ecr.ap-southeast-2.amazonaws.com --prefix dist
  lava-build images check --os ubuntu24 --type full
  lava-build images ecr-repo --prefix dist"
)]
pub struct ImagesArgs {
    #[command(subcommand)]
    pub command: Option<ImagesCommand>,
    #[command(flatten)]
    pub build: BuildArgs,
}

#[derive(Debug, clap::Subcommand)]
pub enum ImagesCommand {
    /// Run the checks of images/checks.yaml in containers of the built images, per platform.
    Check(Box<BuildArgs>),
    /// Create <prefix>/lava/<os>/{base,full} in ECR with the lifecycle policy (idempotent).
    EcrRepo(EcrArgs),
}

#[derive(Debug, Clone, clap::Args)]
pub struct BuildArgs {
    /// Folder with the Dockerfile, common/, os/<os>/{from.txt,base,full}, checks.yaml.
    #[arg(long, default_value = "images", value_name = "DIR")]
    pub images_dir: PathBuf,
    /// OS to build (a folder of os/), or all.
    #[arg(long, default_value = "all", value_name = "OS")]
    pub os: String,
    /// base, full or all.
    #[arg(long = "type", default_value = "all", value_name = "TYPE")]
    pub kind: String,
    /// Platforms, comma-separated.
    #[arg(long, default_value = "linux/amd64,linux/arm64", value_name = "LIST")]
    pub platform: String,
    /// lava version (PyPI jinlava) installed in the images.
    #[arg(long, default_value = env!("CARGO_PKG_VERSION"), value_name = "VERSION")]
    pub version: String,
    /// Image tag (default: the version); latest is added when pushing.
    #[arg(long, value_name = "TAG")]
    pub tag: Option<String>,
    /// Registry host for --push.
    #[arg(long, default_value = "ghcr.io", value_name = "HOST")]
    pub registry: String,
    /// Namespace in the registry: <registry>/<prefix>/lava/<os>/<type>.
    #[arg(long, default_value = "jin-gizmo", value_name = "PREFIX")]
    pub prefix: String,
    /// Push each platform by digest and an OCI index tagged <tag> and latest.
    #[arg(long)]
    pub push: bool,
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
    /// Network mode of RUN steps: host, none, or default (the engine's bridge network; an engine
    /// without one, dockerd --bridge=none, is refused before building: pass host or none).
    #[arg(long, value_name = "MODE")]
    pub network: Option<String>,
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
    /// A local lava bundle to install instead of jinlava from PyPI.
    #[arg(long, value_name = "FILE")]
    pub lava_bundle: Option<PathBuf>,
    /// How to authenticate to the registry.
    #[arg(long, value_enum, default_value_t = AuthMode::Auto, value_name = "MODE")]
    pub registry_auth: AuthMode,
    /// Registry user (token from LAVA_REGISTRY_TOKEN or --token-ssm).
    #[arg(long, env = "LAVA_REGISTRY_USER", value_name = "USER")]
    pub user: Option<String>,
    /// SSM SecureString parameter holding the registry token.
    #[arg(long, value_name = "NAME")]
    pub token_ssm: Option<String>,
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
    /// AWS profile.
    #[arg(long, env = "AWS_PROFILE", value_name = "NAME")]
    pub profile: Option<String>,
}

/// Labels' facts, stable for the same sources so that an unchanged image rebuilds to the same
/// bytes and a second push uploads nothing: `created` is LAVA_BUILD_TIME, else the commit time,
/// else now.
fn meta(version: &str) -> Meta {
    let git = |args: &[&str]| {
        duct::cmd("git", args)
            .stderr_null()
            .read()
            .ok()
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
    };
    let created = std::env::var("LAVA_BUILD_TIME")
        .ok()
        .filter(|t| !t.is_empty())
        .or_else(|| git(&["log", "-1", "--format=%cI"]))
        .unwrap_or_else(|| chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    Meta {
        version: version.to_string(),
        created,
        revision: git(&["rev-parse", "HEAD"]).unwrap_or_else(|| "unknown".into()),
    }
}

/// One engine per platform (the --engine one, else DOCKER_HOST or the default socket), each
/// asked for its API version once. For builds on the default network, each engine must have its
/// `bridge` network: one without it (dockerd --bridge=none) would fail at the first RUN step, so
/// the run stops before building and says what to pass.
async fn engines(plan: &Plan, building: bool) -> anyhow::Result<BTreeMap<String, Docker>> {
    let mut out = BTreeMap::new();
    for p in &plan.platforms {
        let endpoint = plan.engines.get(p).map(String::as_str);
        let d = engine::connect(endpoint)
            .await
            .map_err(anyhow::Error::msg)?;
        if building && plan.network.is_none() {
            let shown = engine::shown_endpoint(endpoint);
            let names = engine::network_names(&d, &shown).await?;
            if !engine::has_default_bridge(names.iter().map(String::as_str)) {
                return Err(usage(format!(
                    "--network: Docker engine {shown} ({p}) has no bridge network (dockerd \
                     --bridge=none), so RUN steps cannot use the default network: pass \
                     --network host (steps that download need it) or --network none"
                )));
            }
        }
        out.insert(p.clone(), d);
    }
    Ok(out)
}

fn auth_request(a: &BuildArgs) -> AuthRequest {
    AuthRequest {
        mode: a.registry_auth,
        user: a.user.clone().filter(|u| !u.is_empty()),
        token: std::env::var("LAVA_REGISTRY_TOKEN")
            .ok()
            .filter(|t| !t.is_empty())
            .map(secrecy::SecretString::from),
        token_ssm: a.token_ssm.clone(),
    }
}

/// The build files as one context tar, with the lava bundle when one is given.
fn build_context(a: &BuildArgs) -> anyhow::Result<(Vec<u8>, String)> {
    let mut extra = Vec::new();
    let mut bundle_arg = String::new();
    if let Some(b) = &a.lava_bundle {
        if !b.is_file() {
            return Err(usage(format!(
                "--lava-bundle {}: no such file",
                b.display()
            )));
        }
        let name = b
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| usage(format!("--lava-bundle {}: not a file", b.display())))?;
        extra.push((format!("packages/lava/{name}"), b.clone()));
        bundle_arg = name;
    }
    let ctx = context::build(&a.images_dir, &extra).map_err(|e| usage(e.to_string()))?;
    Ok((ctx, bundle_arg))
}

/// Builds every requested image: per os, the platforms side by side on their engines.
async fn build_all(
    a: &BuildArgs,
    plan: &Plan,
    docker: &BTreeMap<String, Docker>,
    meta: &Meta,
) -> anyhow::Result<Vec<Row>> {
    let (ctx, bundle_arg) = build_context(a)?;
    let build_args = BTreeMap::from([
        ("version".to_string(), a.version.clone()),
        ("lava_bundle".to_string(), bundle_arg),
    ]);
    let mut rows = Vec::new();
    for os in &plan.oses {
        let from = std::fs::read_to_string(a.images_dir.join("os").join(os).join("from.txt"))
            .map_err(|e| usage(format!("os/{os}/from.txt: {e}")))?
            .trim()
            .to_string();
        let family = Family {
            os,
            from: &from,
            kinds: &plan.kinds,
            tag: &plan.tag,
            context: &ctx,
            build_args: &build_args,
            meta,
            network: plan.network.as_deref(),
            rebuild: a.rebuild,
            no_cache: a.no_cache,
            pull: a.pull,
        };
        let jobs = plan
            .platforms
            .iter()
            .map(|p| {
                let d = &docker[p];
                let family = &family;
                (p.clone(), async move {
                    pipeline::build_platform(d, family, p).await
                })
            })
            .collect();
        let built = pipeline::all_or_cancel(jobs).await.map_err(|f| {
            for p in &f.cancelled {
                eprintln!("[{os} {p}] cancelled: the {} build failed", f.failed);
            }
            anyhow::anyhow!(f.error)
        })?;
        for (platform, images) in built {
            for b in images {
                rows.push(Row {
                    image: format!("lava/{os}/{}", b.kind),
                    platform: platform.clone(),
                    local: b.local,
                    rebuilt: b.rebuilt,
                    pushed: None,
                    uploaded: None,
                });
            }
        }
    }
    Ok(rows)
}

/// Pushes every built image by digest, then one index per image, tagged <tag> and latest.
async fn push_all(
    a: &BuildArgs,
    plan: &Plan,
    docker: &BTreeMap<String, Docker>,
    meta: &Meta,
    reg: &mut Registry,
    rows: &mut [Row],
) -> anyhow::Result<()> {
    let req = auth_request(a);
    for os in &plan.oses {
        for kind in &plan.kinds {
            reg.refresh(&req).await?;
            let reg_ref = &*reg;
            let image = format!("lava/{os}/{kind}");
            let repo = format!("{}/{}/{image}", a.registry, a.prefix);
            let pushes = rows.iter().filter(|r| r.image == image).map(|r| {
                let (repo, d) = (&repo, &docker[&r.platform]);
                let tag = format!(
                    "{}-{}",
                    plan.tag,
                    r.platform.rsplit('/').next().unwrap_or_default()
                );
                async move {
                    registry::push_platform(reg_ref, d, &r.local, repo, &tag, &r.platform).await
                }
            });
            let pushed = futures::future::try_join_all(pushes).await?;
            let mut images: Vec<PlatformImage> = Vec::new();
            for p in pushed {
                if let Some(r) = rows
                    .iter_mut()
                    .find(|r| r.image == image && r.platform == p.image.platform)
                {
                    r.pushed = Some(format!("{repo}@{}", p.image.digest));
                    r.uploaded = Some(p.uploaded);
                }
                images.push(p.image);
            }
            let mut annotations = pipeline::labels(os, kind, meta);
            annotations.remove("org.opencontainers.image.revision");
            let mut tags = vec![plan.tag.clone()];
            if plan.tag != "latest" {
                tags.push("latest".into());
            }
            let (digest, written) =
                registry::push_index(reg_ref, &repo, &tags, &images, &annotations).await?;
            let what = if written.is_empty() {
                "already there".to_string()
            } else {
                format!("pushed :{}", written.join(", :"))
            };
            eprintln!(
                "[{image}] index {repo}:{} ({} platforms, {}): {what}",
                tags.join(", :"),
                images.len(),
                &digest
            );
        }
    }
    Ok(())
}

/// Runs the checks on the local images; returns every result.
async fn check_all(
    a: &BuildArgs,
    plan: &Plan,
    docker: &BTreeMap<String, Docker>,
) -> anyhow::Result<Vec<CheckResult>> {
    let file = checks::load(&a.images_dir.join("checks.yaml")).map_err(usage)?;
    let mut results = Vec::new();
    for platform in &plan.platforms {
        let d = &docker[platform];
        for os in &plan.oses {
            for kind in &plan.kinds {
                let local = pipeline::local_tag(os, kind, &plan.tag, platform);
                for c in checks::for_type(&file, kind) {
                    let (status, out) = if a.as_job {
                        crate::job::as_job::run_check(d, &local, &c.run)
                            .await
                            .unwrap_or_else(|e| (-1, e.to_string()))
                    } else {
                        engine::run_in(d, &local, platform, &c.run)
                            .await
                            .unwrap_or_else(|e| (-1, e))
                    };
                    results.push(CheckResult {
                        image: local.clone(),
                        platform: platform.clone(),
                        check: c.name.clone(),
                        passed: checks::judge(c, platform, status, &out),
                        output: out.lines().next().unwrap_or_default().to_string(),
                    });
                }
            }
        }
    }
    Ok(results)
}

/// Build, then check (a failure stops before the push), then push.
async fn build_check_push(a: &BuildArgs) -> anyhow::Result<()> {
    let plan = plan(a)?;
    let req = auth_request(a);
    if a.push {
        registry::resolve(&req, &a.registry)
            .map_err(|e| usage(format!("registry credentials: {e}")))?;
    }
    // Credentials before building: a bad SSM name or a missing ECR permission stops the run
    // before a long build, not after it. Fetched while the engines are reached.
    let (reg, docker) = tokio::join!(
        async {
            match a.push {
                true => Registry::connect(&a.registry, &req).await.map(Some),
                false => Ok(None),
            }
        },
        engines(&plan, true)
    );
    let (mut reg, docker) = (reg?, docker?);
    if let Some(r) = &reg {
        eprintln!("registry {}: pushing {}", a.registry, r.identity());
    }
    let meta = meta(&a.version);
    let mut rows = build_all(a, &plan, &docker, &meta).await?;
    if a.check {
        let results = check_all(a, &plan, &docker).await?;
        report_checks(&results, Format::Text).map_err(|e| {
            if a.push {
                e.context("nothing was pushed")
            } else {
                e
            }
        })?;
    }
    if let Some(reg) = reg.as_mut() {
        push_all(a, &plan, &docker, &meta, reg, &mut rows).await?;
    }
    report_rows(&rows, a.output)
}

async fn ecr_repo(a: &EcrArgs) -> anyhow::Result<()> {
    let policy = std::fs::read_to_string(a.images_dir.join("lifecycle.json"))
        .map_err(|e| usage(format!("{}/lifecycle.json: {e}", a.images_dir.display())))?;
    let prefix = a.prefix.trim_end_matches('/');
    if !valid_prefix(prefix) {
        return Err(usage(format!(
            "--prefix {:?}: expected lowercase path components of letters, digits, '.', '_' and '-'",
            a.prefix
        )));
    }
    let sdk = crate::aws::sdk_config(a.profile.as_deref(), None).await;
    let ecr = aws_sdk_ecr::Client::new(&sdk);
    let mut oses: Vec<String> = std::fs::read_dir(a.images_dir.join("os"))
        .map_err(|e| usage(format!("{}/os: {e}", a.images_dir.display())))?
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    oses.sort();
    for os in oses {
        for kind in ["base", "full"] {
            let name = format!("{prefix}/lava/{os}/{kind}");
            match ecr.create_repository().repository_name(&name).send().await {
                Ok(_) => println!("created {name}"),
                Err(e)
                    if crate::aws::error_code(&e).as_deref()
                        == Some("RepositoryAlreadyExistsException") =>
                {
                    println!("exists  {name}")
                }
                Err(e) => anyhow::bail!(
                    "creating ECR repository {name}: {}",
                    crate::aws::describe(&e)
                ),
            }
            ecr.put_lifecycle_policy()
                .repository_name(&name)
                .lifecycle_policy_text(&policy)
                .send()
                .await
                .map_err(|e| {
                    anyhow::anyhow!("lifecycle policy of {name}: {}", crate::aws::describe(&e))
                })?;
        }
    }
    Ok(())
}

pub async fn run(args: &ImagesArgs) -> anyhow::Result<()> {
    match &args.command {
        Some(ImagesCommand::Check(a)) => {
            let plan = plan(a)?;
            let docker = engines(&plan, false).await?;
            report_checks(&check_all(a, &plan, &docker).await?, a.output)
        }
        Some(ImagesCommand::EcrRepo(a)) => ecr_repo(a).await,
        None => build_check_push(&args.build).await,
    }
}
