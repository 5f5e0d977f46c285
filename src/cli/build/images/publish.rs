//! Publishing: each platform's image by digest, the OCI index per image (tagged with the run's tag,
//! the lava version and latest), the digests file of a one-platform run and the `index` command
//! that joins such files; and the ECR repositories.
use super::meta::meta;
use super::plan::{Plan, checked_tag, index_tags, usage, valid_prefix};
use super::report::{IndexRow, Row, report_indexes};
use super::{BuildArgs, EcrArgs, IndexArgs};
use crate::engine::Platform;
use crate::images::ImageType;
use crate::images::pipeline::{self, Meta};
use crate::output::progress;
use crate::registry::digests::{self, DigestsError};
use crate::registry::index::PlatformImage;
use crate::registry::{self, Registry};
use anyhow::Context as _;
use bollard::Docker;
use std::collections::BTreeMap;
use std::path::Path;

/// One image pushed for every platform of a run.
pub(super) struct PushedImage {
    pub repo: String,
    pub os: String,
    pub kind: ImageType,
    pub images: Vec<PlatformImage>,
}

/// What publishing a run needs from it.
pub(super) struct Run<'a> {
    pub args: &'a BuildArgs,
    pub plan: &'a Plan,
    pub docker: &'a BTreeMap<Platform, Docker>,
    pub meta: &'a Meta,
    /// The registry credentials asked for (fetched again when an ECR token ages).
    pub req: &'a crate::registry::AuthRequest,
}

impl Run<'_> {
    /// Pushes every built image of every platform, the platforms of an image side by side, and
    /// records each digest in its row: with `--push-by-digest` by digest alone (no tag), else
    /// through the engine as `<tag>-<arch>`.
    pub async fn push_platforms(
        &self,
        reg: &mut Registry,
        rows: &mut [Row],
    ) -> anyhow::Result<Vec<PushedImage>> {
        let req = self.req;
        let mut out = Vec::new();
        for os in &self.plan.oses {
            for &kind in &self.plan.kinds {
                reg.refresh(req).await?;
                let reg_ref = &*reg;
                let image = format!("lava/{os}/{kind}");
                let repo = format!("{}/{}/{image}", self.args.registry, self.args.prefix);
                let by_digest = self.args.push_by_digest;
                let pushes = rows.iter().filter(|r| r.image == image).map(|r| {
                    let (repo, d) = (&repo, &self.docker[&r.platform]);
                    let tag = format!("{}-{}", self.plan.tag, r.platform.arch());
                    let platform = r.platform.as_str();
                    async move {
                        match by_digest {
                            true => {
                                registry::push_untagged(reg_ref, d, &r.local, repo, platform).await
                            }
                            false => {
                                registry::push_platform(reg_ref, d, &r.local, repo, &tag, platform)
                                    .await
                            }
                        }
                    }
                });
                let pushed = futures::future::try_join_all(pushes).await?;
                let mut images = Vec::new();
                for p in pushed {
                    if let Some(r) = rows
                        .iter_mut()
                        .find(|r| r.image == image && r.platform.as_str() == p.image.platform)
                    {
                        r.pushed = Some(format!("{repo}@{}", p.image.digest));
                        r.uploaded = Some(p.uploaded);
                    }
                    images.push(p.image);
                }
                out.push(PushedImage {
                    repo,
                    os: os.clone(),
                    kind,
                    images,
                });
            }
        }
        Ok(out)
    }

    /// `--push`: every platform by digest, then one index per image.
    pub async fn push_all(&self, reg: &mut Registry, rows: &mut [Row]) -> anyhow::Result<()> {
        let tags = index_tags(&self.plan.tag, &self.args.version);
        for p in self.push_platforms(reg, rows).await? {
            let annotations = annotations(&p.os, p.kind, self.meta);
            let (digest, written) =
                registry::push_index(reg, &p.repo, &tags, &p.images, &annotations).await?;
            log_index(&p.repo, &tags, p.images.len(), &digest, &written);
            let image = format!("lava/{}/{}", p.os, p.kind);
            for r in rows.iter_mut().filter(|r| r.image == image) {
                r.tags = tags.clone();
            }
        }
        Ok(())
    }
}

/// The index annotations of `lava/<os>/<kind>`: the image labels but the revision (an index of the
/// same images from another commit is the same index).
fn annotations(os: &str, kind: ImageType, meta: &Meta) -> BTreeMap<String, String> {
    let mut a = pipeline::labels(os, kind, meta);
    a.remove("org.opencontainers.image.revision");
    a
}

fn log_index(repo: &str, tags: &[String], platforms: usize, digest: &str, written: &[String]) {
    let what = if written.is_empty() {
        "already there".to_string()
    } else {
        format!("pushed :{}", written.join(", :"))
    };
    progress::line(
        "[index]",
        format_args!(
            "{repo}:{} ({platforms} platforms, {digest}): {what}",
            tags.join(", :")
        ),
    );
}

/// Adds the digests of this run to `path` (see `registry::digests::merge_into`).
pub(super) fn merge_digests_file(path: &Path, pushed: &[PushedImage]) -> Result<(), DigestsError> {
    let mut these = digests::Digests::new();
    for p in pushed {
        let entry = these.entry(p.repo.clone()).or_default();
        for i in &p.images {
            entry.insert(i.platform.clone(), i.digest.clone());
        }
    }
    digests::merge_into(path, &these)
}

/// `<host>/<prefix>/lava/<os>/<kind>` → (host, os, kind).
fn repo_parts(repo: &str) -> Option<(&str, &str, ImageType)> {
    let (host, path) = repo.split_once('/')?;
    let mut parts = path.rsplitn(4, '/');
    let kind = ImageType::parse(parts.next()?)?;
    let os = parts.next()?;
    let lava = parts.next()?;
    (lava == "lava" && parts.next().is_some_and(valid_prefix)).then_some((host, os, kind))
}

/// `images index`: checks every digest file entry against the registry, then pushes the indexes.
/// Nothing is pushed unless every image has every platform and the registry has every digest.
pub(super) async fn index(a: &IndexArgs) -> anyhow::Result<()> {
    let tag = checked_tag(a.tag.as_deref(), &a.version)?;
    let tags = index_tags(&tag, &a.version);
    let joined = digests::join(&a.digests)
        .map_err(DigestsError::classified)
        .context("--digests")?;
    let req = a.auth.request();
    let mut registries: BTreeMap<&str, Registry> = BTreeMap::new();
    let mut plan = Vec::new();
    for (repo, platforms) in &joined {
        let (host, os, kind) = repo_parts(repo).ok_or_else(|| {
            usage(format!(
                "--digests: {repo:?} is not a lava image repository (<registry>/<prefix>/lava/<os>/base|full)"
            ))
        })?;
        digests::complete(repo, platforms, &a.platforms.list, "image")
            .map_err(DigestsError::classified)?;
        if !registries.contains_key(host) {
            registries.insert(host, Registry::connect(host, &req).await?);
        }
        let images = digests::verify(
            &registries[host],
            repo,
            platforms,
            &a.platforms.list,
            "image",
        )
        .await
        .map_err(DigestsError::classified)?;
        plan.push((repo, host, os, kind, images));
    }
    let meta = meta(&a.version).await;
    let mut rows = Vec::new();
    for (repo, host, os, kind, images) in plan {
        let (digest, written) = registry::push_index(
            &registries[host],
            repo,
            &tags,
            &images,
            &annotations(os, kind, &meta),
        )
        .await?;
        log_index(repo, &tags, images.len(), &digest, &written);
        rows.push(IndexRow {
            repository: repo.clone(),
            digest,
            platforms: a.platforms.list.clone(),
            tags: tags.clone(),
            written,
        });
    }
    report_indexes(&rows, a.output)
}

/// `images ecr-repo`: `<prefix>/lava/<os>/{base,full}` with the lifecycle policy.
pub(super) async fn ecr_repo(a: &EcrArgs) -> anyhow::Result<()> {
    let policy_path = a.images_dir.join("lifecycle.json");
    let policy = std::fs::read_to_string(&policy_path)
        .map_err(|e| usage(format!("{}: {e}", policy_path.display())))?;
    let prefix = a.prefix.trim_end_matches('/');
    if !valid_prefix(prefix) {
        return Err(usage(format!(
            "--prefix {:?}: expected lowercase path components of letters, digits, '.', '_' and '-'",
            a.prefix
        )));
    }
    let mut oses: Vec<String> = std::fs::read_dir(a.images_dir.join("os"))
        .map_err(|e| usage(format!("{}/os: {e}", a.images_dir.display())))?
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    oses.sort();
    let sdk = crate::aws::sdk_config(a.profile.get(), None).await;
    let ecr = aws_sdk_ecr::Client::new(&sdk);
    for os in oses {
        for kind in ImageType::ALL {
            let name = format!("{prefix}/lava/{os}/{kind}");
            match crate::aws::ecr::ensure_repository(&ecr, &name, &policy).await? {
                crate::aws::ecr::Created::New => println!("created {name}"),
                crate::aws::ecr::Created::Existed => println!("exists  {name}"),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repositories_name_their_os_and_type() {
        assert_eq!(
            repo_parts("127.0.0.1:5000/team/x/lava/tiny/base"),
            Some(("127.0.0.1:5000", "tiny", ImageType::Base))
        );
        assert_eq!(
            repo_parts("ghcr.io/jin-gizmo/lava/ubuntu24/full"),
            Some(("ghcr.io", "ubuntu24", ImageType::Full))
        );
        assert_eq!(repo_parts("ghcr.io/jin-gizmo/lava/ubuntu24/slim"), None);
        assert_eq!(repo_parts("ghcr.io/lava/ubuntu24/full"), None);
        assert_eq!(repo_parts("ghcr.io/jin-gizmo/other/ubuntu24/full"), None);
    }
}
