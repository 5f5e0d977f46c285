//! Building and checking: the engines of a run, the build context, the builds side by side per
//! platform, the checks in containers; and the whole run (build, check, push) in order.
use super::meta::meta;
use super::plan::{Plan, plan, usage};
use super::report::{Row, report_checks, report_rows};
use super::{BuildArgs, publish};
use crate::engine::{self, Platform, context};
use crate::images::checks::{self, CheckResult};
use crate::images::pipeline::{self, Family, Meta};
use crate::output::{Format, progress};
use crate::registry::{self, Registry};
use anyhow::Context as _;
use bollard::Docker;
use std::collections::BTreeMap;

/// One engine per platform (the --engine one, else DOCKER_HOST or the default socket), each
/// asked for its API version once. For builds on the default network, each engine must have its
/// `bridge` network: one without it (dockerd --bridge=none) would fail at the first RUN step, so
/// the run stops before building and says what to pass.
pub(super) async fn engines(
    plan: &Plan,
    building: bool,
) -> anyhow::Result<BTreeMap<Platform, Docker>> {
    let mut out = BTreeMap::new();
    for &p in &plan.platforms {
        let endpoint = plan.engines.get(&p).map(String::as_str);
        let d = engine::connect(endpoint).await?;
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
        out.insert(p, d);
    }
    Ok(out)
}

/// Whether `rel`, a path in the images folder, belongs in the build context of `os`'s images: not
/// what no build reads (the checks, the ECR lifecycle policy, the payload and builder
/// definitions) nor another os's steps, so editing those builds nothing again.
fn in_context_of(os: &str, rel: &str) -> bool {
    let mut parts = rel.split('/');
    match (parts.next(), parts.next()) {
        (Some("checks.yaml" | "lifecycle.json" | "payload" | "builders"), None) => false,
        (Some("os"), Some(other)) => other == os,
        _ => true,
    }
}

/// Whether a file name is a jinlava distribution pip can install with its extras: a wheel or a
/// source distribution (a lava-build code bundle, `.tar.bz2` of wheels, is not one).
fn pip_installable_lava(name: &str) -> bool {
    let stem = name
        .strip_suffix(".whl")
        .or_else(|| name.strip_suffix(".tar.gz"));
    stem.is_some_and(|s| {
        s.strip_prefix("jinlava-")
            .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
    })
}

/// The build files of `os` as one context tar, with the lava bundle when one is given.
async fn build_context(a: &BuildArgs, os: &str) -> anyhow::Result<(Vec<u8>, String)> {
    let mut extra = Vec::new();
    let mut bundle_arg = String::new();
    if let Some(b) = &a.lava_bundle {
        let name = b
            .file_name()
            .filter(|_| b.is_file())
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| usage(format!("--lava-bundle {}: no such file", b.display())))?;
        if !pip_installable_lava(&name) {
            return Err(usage(format!(
                "--lava-bundle {}: expected a jinlava wheel (jinlava-<version>-….whl) or source distribution (jinlava-<version>.tar.gz) that pip installs",
                b.display()
            )));
        }
        extra.push((format!("packages/lava/{name}"), b.clone()));
        bundle_arg = name;
    }
    // Reading the files is a run-time failure (exit 1), not a usage error.
    let os = os.to_string();
    let keep = move |rel: &str| in_context_of(&os, rel);
    let ctx = context::make_some(a.images_dir.clone(), keep, extra).await?;
    Ok((ctx, bundle_arg))
}

/// Builds every requested image: per os, the platforms side by side on their engines.
async fn build_all(
    a: &BuildArgs,
    plan: &Plan,
    docker: &BTreeMap<Platform, Docker>,
    meta: &Meta,
) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    for os in &plan.oses {
        let (ctx, bundle_arg) = build_context(a, os).await?;
        let build_args = BTreeMap::from([
            ("version".to_string(), a.version.clone()),
            ("lava_bundle".to_string(), bundle_arg),
        ]);
        let from_txt = a.images_dir.join("os").join(os).join("from.txt");
        let from = tokio::fs::read_to_string(&from_txt)
            .await
            .map_err(|e| {
                usage(format!(
                    "{}: {e} (every os names its FROM image there)",
                    from_txt.display()
                ))
            })?
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
            .map(|&p| {
                let (d, family) = (&docker[&p], &family);
                (p.to_string(), async move {
                    pipeline::build_platform(d, family, p).await
                })
            })
            .collect();
        let built = pipeline::all_or_cancel(jobs).await.map_err(|f| {
            for p in &f.cancelled {
                progress::line(
                    &format!("[{os} {p}]"),
                    format_args!("cancelled: the {} build failed", f.failed),
                );
            }
            anyhow::Error::from(f.error)
        })?;
        for ((_, images), &platform) in built.into_iter().zip(&plan.platforms) {
            for b in images {
                rows.push(Row {
                    image: format!("lava/{os}/{}", b.kind),
                    platform,
                    local: b.local,
                    rebuilt: b.rebuilt,
                    pushed: None,
                    uploaded: None,
                    tags: Vec::new(),
                });
            }
        }
    }
    Ok(rows)
}

/// Runs the checks on the local images; returns every result. A check the engine could not run
/// fails, with the engine's error as its output.
async fn check_all(
    a: &BuildArgs,
    plan: &Plan,
    docker: &BTreeMap<Platform, Docker>,
) -> anyhow::Result<Vec<CheckResult>> {
    let file = checks::load(&a.images_dir.join("checks.yaml"))
        .map_err(|e| usage(format!("{:#}", anyhow::Error::from(e))))?;
    let mut results = Vec::new();
    for &platform in &plan.platforms {
        let d = &docker[&platform];
        for os in &plan.oses {
            for &kind in &plan.kinds {
                let local = pipeline::local_tag(os, kind, &plan.tag, platform);
                for c in checks::for_type(&file, kind.as_str()) {
                    let ran = if a.as_job {
                        crate::job::as_job::run_check(d, &local, &c.run)
                            .await
                            .map_err(anyhow::Error::from)
                    } else {
                        engine::run_in(d, &local, platform.as_str(), &c.run)
                            .await
                            .map_err(anyhow::Error::from)
                    };
                    let (status, out) = ran.unwrap_or_else(|e| (-1, crate::error::one_line(&e)));
                    results.push(CheckResult {
                        image: local.clone(),
                        platform: platform.to_string(),
                        check: c.name.clone(),
                        passed: checks::judge(c, platform.as_str(), status, &out),
                        output: out.lines().next().unwrap_or_default().to_string(),
                    });
                }
            }
        }
    }
    Ok(results)
}

/// `images check`: the checks alone, on images built before.
pub(super) async fn check_only(a: &BuildArgs) -> anyhow::Result<()> {
    let plan = plan(a)?;
    let docker = engines(&plan, false).await?;
    report_checks(&check_all(a, &plan, &docker).await?, a.output)
}

/// Build, then check (a failure stops before the push), then push.
pub(super) async fn build_check_push(a: &BuildArgs) -> anyhow::Result<()> {
    let plan = plan(a)?;
    let req = a.auth.request();
    let pushing = a.push || a.push_by_digest;
    if pushing
        && let Err(e) = registry::resolve(&req, &a.registry)
        && e.is_usage()
    {
        return Err(usage(format!("registry credentials: {e}")));
    }
    // Credentials before building: a bad SSM name or a missing ECR permission stops the run
    // before a long build, not after it. Fetched while the engines are reached.
    let (reg, docker) = tokio::join!(
        async {
            match pushing {
                true => Registry::connect(&a.registry, &req).await.map(Some),
                false => Ok(None),
            }
        },
        engines(&plan, true)
    );
    let (mut reg, docker) = (reg?, docker?);
    if let Some(r) = &reg {
        progress::line(
            "",
            format_args!("registry {}: pushing {}", a.registry, r.identity()),
        );
    }
    let meta = meta(&a.version).await;
    let mut rows = build_all(a, &plan, &docker, &meta).await?;
    if a.check {
        let results = check_all(a, &plan, &docker).await?;
        report_checks(&results, Format::Text).map_err(|e| {
            if pushing {
                e.context("nothing was pushed")
            } else {
                e
            }
        })?;
    }
    if let Some(reg) = reg.as_mut() {
        let run = publish::Run {
            args: a,
            plan: &plan,
            docker: &docker,
            meta: &meta,
            req: &req,
        };
        if let Some(file) = &a.digests_file {
            let digests = run.push_platforms(reg, &mut rows).await?;
            publish::merge_digests_file(file, &digests)
                .map_err(crate::registry::digests::DigestsError::classified)
                .with_context(|| format!("--digests-file {}", file.display()))?;
        } else {
            run.push_all(reg, &mut rows).await?;
        }
    }
    report_rows(&rows, a.output)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_pip_installs_is_a_lava_bundle() {
        for ok in ["jinlava-8.3.0-py3-none-any.whl", "jinlava-8.4.0rc1.tar.gz"] {
            assert!(pip_installable_lava(ok), "{ok}");
        }
        for bad in [
            "lava-8.3.0-amzn2023-py3.12-x86_64.tar.bz2",
            "jinlava-8.3.0.tar.bz2",
            "jinlava.whl",
            "notes.txt",
            "jinlava-latest.whl",
        ] {
            assert!(!pip_installable_lava(bad), "{bad}");
        }
    }

    #[test]
    fn an_os_context_holds_only_what_its_builds_read() {
        for kept in [
            "Dockerfile",
            "common/lib.sh",
            "packages/x.zip",
            "os/amzn2023/base/10-packages.sh",
            "os",
            "bin/busybox",
        ] {
            assert!(in_context_of("amzn2023", kept), "{kept}");
        }
        for left in [
            "checks.yaml",
            "lifecycle.json",
            "payload",
            "builders",
            "os/ubuntu24",
            "os/ubuntu24/base/10-packages.sh",
        ] {
            assert!(!in_context_of("amzn2023", left), "{left}");
        }
    }
}
