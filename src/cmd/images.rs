//! `lava-build images`: build, check and push the lava Docker images.
use crate::config::ConfigError;
use crate::images::checks::{self, CheckResult};
use crate::images::engine::{self, BuildRequest, Credentials};
use crate::images::{context, index::PlatformImage};
use crate::output::{self, Format};
use bollard::Docker;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Build the multi-platform lava images (lava/<os>/{base,full}), check them, push them.
#[derive(Debug, clap::Args)]
#[command(
    args_conflicts_with_subcommands = true,
    after_long_help = "\
Each image is built per platform through the Docker Engine API with BuildKit (full FROM the base
just built), then, with --push, each platform is pushed by digest and an OCI image index listing
them is pushed as <tag> and latest. Build files reach the build through a bind mount and stay out
of every layer.

Examples:
  lava-build images --os amzn2023 --platform linux/amd64
  lava-build images --push --registry ghcr.io --prefix jin-gizmo
  lava-build images --engine linux/arm64=ssh://builder@arm-host --push
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
    /// Run the image checks after building.
    #[arg(long)]
    pub check: bool,
    /// Send one platform's builds to another engine: linux/arm64=ssh://user@host (or tcp://, unix://).
    #[arg(long, value_name = "PLATFORM=ENDPOINT")]
    pub engine: Vec<String>,
    /// Network mode of RUN steps (host or none where the engine has no bridge network).
    #[arg(long, value_name = "MODE")]
    pub network: Option<String>,
    /// A local lava bundle to install instead of jinlava from PyPI.
    #[arg(long, value_name = "FILE")]
    pub lava_bundle: Option<PathBuf>,
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

#[cfg(test)]
mod tests {
    #[test]
    fn ecr_registries_are_recognised() {
        assert_eq!(
            super::ecr_region("123456789012.dkr.ecr.ap-southeast-2.amazonaws.com").as_deref(),
            Some("ap-southeast-2")
        );
        assert_eq!(super::ecr_region("ghcr.io"), None);
        assert_eq!(super::ecr_region("127.0.0.1:5000"), None);
    }
}

fn usage(m: String) -> anyhow::Error {
    ConfigError::Usage { message: m }.into()
}

struct Plan {
    oses: Vec<String>,
    kinds: Vec<String>,
    platforms: Vec<String>,
    engines: BTreeMap<String, String>,
}

fn plan(a: &BuildArgs) -> anyhow::Result<Plan> {
    let os_dir = a.images_dir.join("os");
    let mut available: Vec<String> = std::fs::read_dir(&os_dir)
        .map_err(|e| usage(format!("--images-dir {}: {e}", a.images_dir.display())))?
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    available.sort();
    let oses = if a.os == "all" {
        available.clone()
    } else if available.contains(&a.os) {
        vec![a.os.clone()]
    } else {
        return Err(usage(format!(
            "--os {:?}: expected one of {} or all",
            a.os,
            available.join(", ")
        )));
    };
    let kinds = match a.kind.as_str() {
        "all" => vec!["base".to_string(), "full".to_string()],
        "base" | "full" => vec![a.kind.clone()],
        other => {
            return Err(usage(format!(
                "--type {other:?}: expected base, full or all"
            )));
        }
    };
    let mut platforms = Vec::new();
    for p in a.platform.split(',').map(str::trim) {
        match p {
            "linux/amd64" | "linux/arm64" => platforms.push(p.to_string()),
            other => {
                return Err(usage(format!(
                    "--platform {other:?}: expected linux/amd64 and/or linux/arm64"
                )));
            }
        }
    }
    let mut engines = BTreeMap::new();
    for e in &a.engine {
        let Some((p, ep)) = e.split_once('=') else {
            return Err(usage(format!("--engine {e:?}: expected PLATFORM=ENDPOINT")));
        };
        if !["unix://", "tcp://", "ssh://", "http://"]
            .iter()
            .any(|s| ep.starts_with(s))
        {
            return Err(usage(format!(
                "--engine {e:?}: endpoint must start with unix://, tcp:// or ssh://"
            )));
        }
        engines.insert(p.to_string(), ep.to_string());
    }
    Ok(Plan {
        oses,
        kinds,
        platforms,
        engines,
    })
}

fn arch_of(platform: &str) -> &str {
    platform.rsplit('/').next().unwrap_or(platform)
}

fn local_tag(os: &str, kind: &str, tag: &str, platform: &str) -> String {
    format!("lava/{os}/{kind}:{tag}-{}", arch_of(platform))
}

fn labels(os: &str, kind: &str, version: &str) -> BTreeMap<String, String> {
    let revision = duct::cmd!("git", "rev-parse", "HEAD")
        .stderr_null()
        .read()
        .unwrap_or_else(|_| "unknown".into());
    // Stable for the same sources, so an unchanged image rebuilds to the same bytes and a second
    // push uploads nothing: LAVA_BUILD_TIME, else the commit time, else now.
    let created = std::env::var("LAVA_BUILD_TIME")
        .ok()
        .filter(|t| !t.is_empty())
        .or_else(|| {
            duct::cmd!("git", "log", "-1", "--format=%cI")
                .stderr_null()
                .read()
                .ok()
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
        })
        .unwrap_or_else(|| chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    let p = "org.opencontainers.image";
    BTreeMap::from([
        (format!("{p}.title"), format!("lava/{os}/{kind}")),
        (
            format!("{p}.description"),
            format!("lava job runner {kind} image on {os}"),
        ),
        (
            format!("{p}.url"),
            "https://github.com/jin-gizmo/lava".into(),
        ),
        (
            format!("{p}.source"),
            "https://github.com/jin-gizmo/lava".into(),
        ),
        (
            format!("{p}.documentation"),
            "https://jin-gizmo.github.io/lava/".into(),
        ),
        (format!("{p}.licenses"), "BSD-3-Clause".into()),
        (format!("{p}.version"), version.into()),
        (format!("{p}.created"), created),
        (format!("{p}.revision"), revision.trim().to_string()),
    ])
}

#[derive(Debug, Serialize)]
struct Built {
    image: String,
    platform: String,
    local: String,
    pushed: Option<String>,
}

async fn engine_for(plan: &Plan, platform: &str) -> anyhow::Result<Docker> {
    engine::connect(plan.engines.get(platform).map(String::as_str))
        .await
        .map_err(anyhow::Error::msg)
}

/// Whether `registry` is an ECR registry (`<account>.dkr.ecr.<region>.amazonaws.com`).
fn ecr_region(registry: &str) -> Option<String> {
    let host = registry.split(':').next()?;
    let parts: Vec<&str> = host.split('.').collect();
    match parts.as_slice() {
        [_, "dkr", "ecr", region, "amazonaws", "com", ..] => Some(region.to_string()),
        _ => None,
    }
}

/// A fresh ECR token for this run (its stated expiry is not relied on: one is fetched per run,
/// right before pushing).
async fn ecr_credentials(region: &str) -> anyhow::Result<Credentials> {
    use base64::Engine as _;
    let sdk = crate::aws::sdk_config(None, Some(region)).await;
    let out = aws_sdk_ecr::Client::new(&sdk)
        .get_authorization_token()
        .send()
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "ECR GetAuthorizationToken ({region}): {}",
                crate::aws::describe(&e)
            )
        })?;
    let token = out
        .authorization_data()
        .first()
        .and_then(|d| d.authorization_token())
        .ok_or_else(|| anyhow::anyhow!("ECR GetAuthorizationToken ({region}) returned no token"))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(token)
        .map_err(|e| anyhow::anyhow!("ECR token is not base64: {e}"))?;
    let text = String::from_utf8_lossy(&decoded);
    let (user, secret) = text
        .split_once(':')
        .ok_or_else(|| anyhow::anyhow!("ECR token is not user:password"))?;
    Ok(Credentials {
        user: Some(user.to_string()),
        secret: Some(secret.to_string()),
    })
}

async fn credentials(a: &BuildArgs) -> anyhow::Result<Credentials> {
    if a.user.is_none()
        && a.token_ssm.is_none()
        && let Some(region) = ecr_region(&a.registry)
    {
        return ecr_credentials(&region).await;
    }
    let secret = match (&a.token_ssm, std::env::var("LAVA_REGISTRY_TOKEN")) {
        (Some(name), _) => {
            let sdk = crate::aws::sdk_config(None, None).await;
            let out = aws_sdk_ssm::Client::new(&sdk)
                .get_parameter()
                .name(name)
                .with_decryption(true)
                .send()
                .await
                .map_err(|e| anyhow::anyhow!("--token-ssm {name}: {}", crate::aws::describe(&e)))?;
            out.parameter().and_then(|p| p.value()).map(String::from)
        }
        (None, Ok(t)) if !t.is_empty() => Some(t),
        _ => None,
    };
    Ok(Credentials {
        user: a.user.clone(),
        secret,
    })
}

/// Builds (and with --push pushes) every requested image; platforms in parallel.
async fn build_all(a: &BuildArgs) -> anyhow::Result<Vec<Built>> {
    let plan = plan(a)?;
    let tag = a.tag.clone().unwrap_or_else(|| a.version.clone());
    let mut extra = Vec::new();
    let mut bundle_arg = String::new();
    if let Some(b) = &a.lava_bundle {
        let name = b
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| usage(format!("--lava-bundle {}: not a file", b.display())))?;
        if !b.is_file() {
            return Err(usage(format!(
                "--lava-bundle {}: no such file",
                b.display()
            )));
        }
        extra.push((format!("packages/lava/{name}"), b.clone()));
        bundle_arg = name;
    }
    let ctx = context::build(&a.images_dir, &extra)?;
    let creds = if a.push {
        credentials(a).await?
    } else {
        Credentials::default()
    };
    let mut built = Vec::new();
    for os in &plan.oses {
        let from = std::fs::read_to_string(a.images_dir.join("os").join(os).join("from.txt"))
            .map_err(|e| usage(format!("os/{os}/from.txt: {e}")))?
            .trim()
            .to_string();
        // Each platform builds base then full on its engine; platforms run side by side.
        let jobs = plan.platforms.iter().map(|platform| {
            let ctx = ctx.clone();
            let from = from.clone();
            let bundle_arg = bundle_arg.clone();
            let plan = &plan;
            let tag = tag.clone();
            async move {
                let docker = engine_for(plan, platform).await?;
                let mut out = Vec::new();
                for kind in &plan.kinds {
                    let local = local_tag(os, kind, &tag, platform);
                    let base = if kind == "base" {
                        from.clone()
                    } else {
                        local_tag(os, "base", &tag, platform)
                    };
                    let prefix = format!("[{os}/{kind} {platform}]");
                    let build_args = BTreeMap::from([
                        ("base".to_string(), base),
                        ("os".to_string(), os.clone()),
                        ("type".to_string(), kind.clone()),
                        ("version".to_string(), a.version.clone()),
                        ("lava_bundle".to_string(), bundle_arg.clone()),
                    ]);
                    engine::build(
                        &docker,
                        BuildRequest {
                            context: ctx.clone(),
                            tag: &local,
                            platform,
                            build_args,
                            labels: labels(os, kind, &a.version),
                            network: a.network.as_deref(),
                            prefix: &prefix,
                        },
                    )
                    .await
                    .map_err(|e| anyhow::anyhow!("{prefix} {e}"))?;
                    out.push((kind.clone(), local));
                }
                anyhow::Ok((platform.clone(), docker, out))
            }
        });
        let results = futures::future::try_join_all(jobs).await?;
        for kind in &plan.kinds {
            let repo = format!("{}/{}/lava/{os}/{kind}", a.registry, a.prefix);
            let mut images: Vec<PlatformImage> = Vec::new();
            for (platform, docker, locals) in &results {
                let local = &locals
                    .iter()
                    .find(|(k, _)| k == kind)
                    .map(|(_, l)| l.clone())
                    .unwrap_or_default();
                let mut pushed = None;
                if a.push {
                    let img = engine::push_platform(
                        docker,
                        local,
                        &a.registry,
                        &repo,
                        &format!("{tag}-{}", arch_of(platform)),
                        platform,
                        &creds,
                    )
                    .await
                    .map_err(anyhow::Error::msg)?;
                    pushed = Some(format!("{repo}@{}", img.digest));
                    images.push(img);
                }
                built.push(Built {
                    image: format!("lava/{os}/{kind}"),
                    platform: platform.clone(),
                    local: local.clone(),
                    pushed,
                });
            }
            if a.push {
                let mut ann = labels(os, kind, &a.version);
                ann.remove("org.opencontainers.image.revision");
                let mut tags = vec![tag.clone()];
                if tag != "latest" {
                    tags.push("latest".into());
                }
                engine::push_index(&a.registry, &repo, &tags, &images, &ann, &creds)
                    .await
                    .map_err(anyhow::Error::msg)?;
                eprintln!(
                    "[lava/{os}/{kind}] pushed {repo}:{} (index of {} platforms)",
                    tags.join(", :"),
                    images.len()
                );
            }
        }
    }
    Ok(built)
}

/// Runs the checks on the local images; returns every result.
async fn check_all(a: &BuildArgs) -> anyhow::Result<Vec<CheckResult>> {
    let plan = plan(a)?;
    let tag = a.tag.clone().unwrap_or_else(|| a.version.clone());
    let file = checks::load(&a.images_dir.join("checks.yaml")).map_err(usage)?;
    let mut results = Vec::new();
    for platform in &plan.platforms {
        let docker = engine_for(&plan, platform).await?;
        for os in &plan.oses {
            for kind in &plan.kinds {
                let local = local_tag(os, kind, &tag, platform);
                for c in checks::for_type(&file, kind) {
                    let (status, out) = engine::run_in(&docker, &local, platform, &c.run)
                        .await
                        .unwrap_or_else(|e| (-1, e));
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

fn report_checks(results: &[CheckResult], format: Format) -> anyhow::Result<()> {
    if format == Format::Json {
        output::print_json(&results)?;
    } else {
        let mut t = output::table(&["image", "platform", "check", "result", "output"]);
        for r in results {
            t.add_row(vec![
                r.image.clone(),
                r.platform.clone(),
                r.check.clone(),
                if r.passed { "pass" } else { "FAIL" }.to_string(),
                r.output.clone(),
            ]);
        }
        println!("{t}");
    }
    let failed: Vec<String> = results
        .iter()
        .filter(|r| !r.passed)
        .map(|r| format!("{} {} {}", r.image, r.platform, r.check))
        .collect();
    if !failed.is_empty() {
        anyhow::bail!(
            "{} image check(s) failed: {}",
            failed.len(),
            failed.join("; ")
        );
    }
    Ok(())
}

async fn ecr_repo(a: &EcrArgs) -> anyhow::Result<()> {
    let policy = std::fs::read_to_string(a.images_dir.join("lifecycle.json"))
        .map_err(|e| usage(format!("{}/lifecycle.json: {e}", a.images_dir.display())))?;
    let sdk = crate::aws::sdk_config(a.profile.as_deref(), None).await;
    let ecr = aws_sdk_ecr::Client::new(&sdk);
    let mut oses: Vec<String> = std::fs::read_dir(a.images_dir.join("os"))?
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    oses.sort();
    for os in oses {
        for kind in ["base", "full"] {
            let name = format!("{}/lava/{os}/{kind}", a.prefix.trim_end_matches('/'));
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
        Some(ImagesCommand::Check(a)) => report_checks(&check_all(a).await?, a.output),
        Some(ImagesCommand::EcrRepo(a)) => ecr_repo(a).await,
        None => {
            let a = &args.build;
            let built = build_all(a).await?;
            if a.output == Format::Json {
                output::print_json(&built)?;
            } else {
                let mut t = output::table(&["image", "platform", "local tag", "pushed"]);
                for b in &built {
                    t.add_row(vec![
                        b.image.clone(),
                        b.platform.clone(),
                        b.local.clone(),
                        b.pushed.clone().unwrap_or_default(),
                    ]);
                }
                println!("{t}");
            }
            if a.check {
                report_checks(&check_all(a).await?, Format::Text)?;
            }
            Ok(())
        }
    }
}
