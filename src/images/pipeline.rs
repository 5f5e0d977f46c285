//! One image family on one engine and platform: base, then full FROM the base just built, each
//! skipped when the engine already has an image of the same inputs; and the rule that runs the
//! platforms side by side and cancels the others when one fails.
use super::ImageType;
use super::inputs::{self, Inputs};
use crate::engine::{self, BuildRequest, EngineError, Platform};
use crate::output::progress;
use bollard::Docker;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::time::Instant;

/// What every image of a run shares.
pub struct Family<'a> {
    pub os: &'a str,
    /// The FROM image of base (`os/<os>/from.txt`).
    pub from: &'a str,
    pub kinds: &'a [ImageType],
    pub tag: &'a str,
    pub context: &'a [u8],
    /// version, lava_bundle.
    pub build_args: &'a BTreeMap<String, String>,
    pub meta: &'a Meta,
    pub network: Option<&'a str>,
    /// Send every build to the engine, even when an image of the same inputs exists.
    pub rebuild: bool,
    /// …and without the engine's layer cache.
    pub no_cache: bool,
    /// Fetch base's FROM image again (full's FROM is the base just built, a local image).
    pub pull: bool,
}

/// Facts about the sources that go into labels and annotations.
#[derive(Debug, Clone)]
pub struct Meta {
    pub version: String,
    /// RFC 3339; stable for the same sources (see `cmd::images`).
    pub created: String,
    pub revision: String,
}

/// The `org.opencontainers.image.*` labels of `lava/<os>/<kind>`.
pub fn labels(os: &str, kind: ImageType, meta: &Meta) -> BTreeMap<String, String> {
    let p = "org.opencontainers.image";
    let lava = "https://github.com/jin-gizmo/lava";
    [
        ("title", format!("lava/{os}/{kind}")),
        (
            "description",
            format!("lava job runner {kind} image on {os}"),
        ),
        ("url", lava.into()),
        ("source", lava.into()),
        ("documentation", "https://jin-gizmo.github.io/lava/".into()),
        ("licenses", "BSD-3-Clause".into()),
        ("version", meta.version.clone()),
        ("created", meta.created.clone()),
        ("revision", meta.revision.clone()),
    ]
    .into_iter()
    .map(|(k, v)| (format!("{p}.{k}"), v))
    .collect()
}

/// The local name of one platform's image: `lava/<os>/<kind>:<tag>-<arch>`.
pub fn local_tag(os: &str, kind: ImageType, tag: &str, platform: Platform) -> String {
    format!("lava/{os}/{kind}:{tag}-{}", platform.arch())
}

/// A build of the family that failed, named by its output prefix (`[os/kind platform]`).
#[derive(Debug, thiserror::Error)]
#[error("{prefix}")]
pub struct BuildError {
    pub prefix: String,
    #[source]
    pub source: EngineError,
}

/// One image built (or found already built) on its platform's engine.
#[derive(Debug, Clone)]
pub struct Built {
    pub kind: ImageType,
    pub local: String,
    /// false: an image of the same inputs was there and only got the tag.
    pub rebuilt: bool,
}

/// Builds the family's kinds, in order, for `platform` on `docker`.
pub async fn build_platform(
    docker: &Docker,
    f: &Family<'_>,
    platform: Platform,
) -> Result<Vec<Built>, BuildError> {
    let mut out = Vec::new();
    for &kind in f.kinds {
        let prefix = format!("[{}/{kind} {platform}]", f.os);
        let built = build_one(docker, f, kind, platform, &prefix)
            .await
            .map_err(|source| BuildError {
                prefix: prefix.clone(),
                source,
            })?;
        out.push(built);
    }
    Ok(out)
}

/// One kind of the family: tagged when the engine has an image of the same inputs, else built.
async fn build_one(
    docker: &Docker,
    f: &Family<'_>,
    kind: ImageType,
    platform: Platform,
    prefix: &str,
) -> Result<Built, EngineError> {
    let local = local_tag(f.os, kind, f.tag, platform);
    let base = match kind {
        ImageType::Base => f.from.to_string(),
        ImageType::Full => local_tag(f.os, ImageType::Base, f.tag, platform),
    };
    // The FROM image by id where the engine has it: a rebuilt base makes a new full.
    let base_ref = if base == "scratch" {
        base.clone()
    } else {
        engine::image_id(docker, &base)
            .await?
            .unwrap_or_else(|| base.clone())
    };
    let mut build_args = f.build_args.clone();
    build_args.insert("os".into(), f.os.to_string());
    build_args.insert("type".into(), kind.to_string());
    let mut labels = labels(f.os, kind, f.meta);
    let key = inputs::key(&Inputs {
        context: f.context,
        platform: platform.as_str(),
        build_args: &build_args,
        labels: &labels,
        base: &base_ref,
    });
    let pull = f.pull && kind == ImageType::Base && base != "scratch";
    if !(f.rebuild || f.no_cache || pull)
        && let Some(id) = engine::find_labelled(docker, inputs::LABEL, &key).await?
    {
        engine::tag(docker, &id, &local).await?;
        progress::line(
            prefix,
            format_args!(
                "unchanged: {local} is {} (same inputs), not rebuilt",
                short(&id)
            ),
        );
        return Ok(Built {
            kind,
            local,
            rebuilt: false,
        });
    }
    labels.insert(inputs::LABEL.into(), key);
    build_args.insert("base".into(), base);
    let started = Instant::now();
    engine::build(
        docker,
        BuildRequest {
            context: f.context.to_vec(),
            tag: &local,
            platform: platform.as_str(),
            build_args,
            labels,
            network: f.network,
            prefix,
            no_cache: f.no_cache,
            pull,
        },
    )
    .await?;
    progress::line(
        prefix,
        format_args!("built {local} in {:.1} s", started.elapsed().as_secs_f64()),
    );
    Ok(Built {
        kind,
        local,
        rebuilt: true,
    })
}

fn short(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    &hex[..hex.len().min(12)]
}

/// The first failure of a set of jobs run side by side, and the jobs it cancelled.
#[derive(Debug)]
pub struct Failure<E> {
    pub failed: String,
    pub error: E,
    pub cancelled: Vec<String>,
}

/// Runs named jobs side by side. The first to fail ends the run: the others are dropped at once
/// (for a build, that closes its request and the engine stops it) and named in the failure.
/// Results come back in the order the jobs were given.
pub async fn all_or_cancel<T, E, F>(jobs: Vec<(String, F)>) -> Result<Vec<(String, T)>, Failure<E>>
where
    F: Future<Output = Result<T, E>>,
{
    let order: Vec<String> = jobs.iter().map(|(n, _)| n.clone()).collect();
    let mut running: BTreeSet<String> = order.iter().cloned().collect();
    let mut pending: FuturesUnordered<_> = jobs
        .into_iter()
        .map(|(name, fut)| async move { (name, fut.await) })
        .collect();
    let mut done: Vec<(String, T)> = Vec::new();
    while let Some((name, result)) = pending.next().await {
        running.remove(&name);
        match result {
            Ok(v) => done.push((name, v)),
            Err(error) => {
                drop(pending);
                return Err(Failure {
                    failed: name,
                    error,
                    cancelled: order.into_iter().filter(|n| running.contains(n)).collect(),
                });
            }
        }
    }
    done.sort_by_key(|(n, _)| order.iter().position(|o| o == n));
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    struct SetOnDrop(Arc<AtomicBool>);
    impl Drop for SetOnDrop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    type Job = std::pin::Pin<Box<dyn Future<Output = Result<u32, &'static str>>>>;

    #[tokio::test]
    async fn a_failure_drops_the_jobs_still_running_and_names_them() {
        let dropped = Arc::new(AtomicBool::new(false));
        let guard = SetOnDrop(dropped.clone());
        let slow: Job = Box::pin(async move {
            let _g = guard;
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok(1)
        });
        let quick: Job = Box::pin(async { Ok(2) });
        let failing: Job = Box::pin(async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            Err("step 20-x.sh failed")
        });
        let r = tokio::time::timeout(
            Duration::from_secs(10),
            all_or_cancel(vec![
                ("linux/amd64".to_string(), slow),
                ("linux/arm64".to_string(), failing),
                ("linux/s390x".to_string(), quick),
            ]),
        )
        .await
        .expect("the failure ends the run without waiting for the slow job");
        let f = r.unwrap_err();
        assert_eq!(f.failed, "linux/arm64");
        assert_eq!(f.error, "step 20-x.sh failed");
        assert_eq!(
            f.cancelled,
            ["linux/amd64"],
            "the finished job is not cancelled"
        );
        assert!(dropped.load(Ordering::SeqCst), "the slow job was dropped");
    }

    #[tokio::test]
    async fn results_keep_the_order_of_the_jobs() {
        let later: Job = Box::pin(async {
            tokio::time::sleep(Duration::from_millis(30)).await;
            Ok(1)
        });
        let sooner: Job = Box::pin(async { Ok(2) });
        let r = all_or_cancel(vec![("a".to_string(), later), ("b".to_string(), sooner)])
            .await
            .unwrap();
        assert_eq!(r, [("a".to_string(), 1), ("b".to_string(), 2)]);
    }

    #[test]
    fn labels_name_the_image_and_the_sources() {
        let meta = Meta {
            version: "8.3.0".into(),
            created: "2026-11-24T10:00:00Z".into(),
            revision: "abc".into(),
        };
        let l = labels("amzn2023", ImageType::Full, &meta);
        assert_eq!(l["org.opencontainers.image.title"], "lava/amzn2023/full");
        assert_eq!(l["org.opencontainers.image.licenses"], "BSD-3-Clause");
        assert_eq!(l["org.opencontainers.image.version"], "8.3.0");
        assert_eq!(l.len(), 9);
        assert_eq!(
            local_tag("ubuntu24", ImageType::Base, "8.3.0", Platform::Arm64),
            "lava/ubuntu24/base:8.3.0-arm64"
        );
    }
}
