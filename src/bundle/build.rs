//! Making bundles on a Docker engine: the builder image (from `images/builders/` by inputs key, or
//! given), one container per platform that makes the wheels as the invoking user, then the
//! `.tar.bz2` with its SHA-256 file.
use super::{Builder, Runtime};
use crate::engine::{self, context};
use crate::images::inputs;
use bollard::Docker;
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, LogsOptionsBuilder, RemoveContainerOptionsBuilder,
};
use futures::StreamExt;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};

/// The script the builder container runs (shellchecked in the repository).
const MAKE_WHEELS: &str = include_str!("../../images/builders/make-wheels.sh");

/// Exit status of make-wheels.sh when the builder has no Python of the runtime.
const NO_PYTHON: i64 = 3;

#[derive(Debug, thiserror::Error)]
pub enum MakeError {
    #[error("{0}")]
    Engine(String),
    #[error("builder image {image} is not in the Docker engine: build or pull it first")]
    BuilderMissing { image: String },
    #[error("building the builder image {image}: {message}")]
    BuilderImage { image: String, message: String },
    #[error("builder image {image} has no python{python} (on PATH or under /opt/python/)")]
    BuilderPython { image: String, python: String },
    #[error("[bundle {runtime} {platform}] {action}: {source}")]
    Container {
        runtime: String,
        platform: String,
        action: &'static str,
        #[source]
        source: Box<bollard::errors::Error>,
    },
    #[error("lava version {version} is not on PyPI (no jinlava=={version})")]
    UnknownVersion { version: String },
    #[error(
        "[bundle {runtime} {platform}] making the wheels failed with exit status {status}; last lines:\n{tail}"
    )]
    Wheels {
        runtime: String,
        platform: String,
        status: i64,
        tail: String,
    },
    #[error(
        "[bundle {runtime} {platform}] no jinlava wheel was made (is {source_dir} a lava source tree?)"
    )]
    NoLavaWheel {
        runtime: String,
        platform: String,
        source_dir: String,
    },
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> MakeError + '_ {
    move |source| MakeError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// What to make wheels of.
#[derive(Debug, Clone)]
pub enum LavaSource {
    /// `jinlava==<version>` from PyPI.
    Version(String),
    /// A lava source tree (mounted read-only).
    Tree(PathBuf),
}

/// Where the builder image comes from.
#[derive(Debug, Clone)]
pub enum BuilderChoice {
    /// An image the engine has.
    Image(String),
    /// `images/builders/<context>/` built with the runtime's Python version.
    Definition { dir: PathBuf, builder: Builder },
}

pub struct Request<'a> {
    pub runtime: &'a Runtime,
    pub platform: &'a str,
    pub arch: &'a str,
    pub lava: &'a LavaSource,
    pub builder: &'a BuilderChoice,
    /// `host` or `none` where the engine has no bridge network; pip needs a network.
    pub network: &'a str,
    pub out_dir: &'a Path,
}

/// One bundle made.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Made {
    pub runtime: String,
    pub platform: String,
    pub arch: String,
    pub version: String,
    pub builder: String,
    pub bundle: String,
    pub sha256: String,
    pub wheels: usize,
}

/// The builder image for `req`'s platform: the given one (checked), or the definition's, built
/// unless the engine has an image of the same inputs.
async fn builder_image(docker: &Docker, req: &Request<'_>) -> Result<String, MakeError> {
    let (dir, builder) = match req.builder {
        BuilderChoice::Image(image) => {
            return match engine::image_id(docker, image)
                .await
                .map_err(MakeError::Engine)?
            {
                Some(_) => Ok(image.clone()),
                None => Err(MakeError::BuilderMissing {
                    image: image.clone(),
                }),
            };
        }
        BuilderChoice::Definition { dir, builder } => (dir, builder),
    };
    let image = format!("lava-builder/{}:{}", req.runtime.name(), req.arch);
    let ctx_dir = dir.join(&builder.context);
    let tar = context::build(&ctx_dir, &[]).map_err(|e| MakeError::BuilderImage {
        image: image.clone(),
        message: e.to_string(),
    })?;
    let build_args =
        BTreeMap::from([("python_version".to_string(), builder.python_version.clone())]);
    let mut labels = BTreeMap::from([("lava.builder.runtime".to_string(), req.runtime.name())]);
    let key = inputs::key(&inputs::Inputs {
        context: &tar,
        platform: req.platform,
        build_args: &build_args,
        labels: &labels,
        base: "",
    });
    let prefix = format!("[builder {} {}]", req.runtime.name(), req.platform);
    let fail = |message: String| MakeError::BuilderImage {
        image: image.clone(),
        message,
    };
    if let Some(id) = engine::find_labelled(docker, inputs::LABEL, &key)
        .await
        .map_err(MakeError::Engine)?
    {
        engine::tag(docker, &id, &image).await.map_err(fail)?;
        eprintln!("{prefix} {image}: unchanged, not rebuilt");
        return Ok(image);
    }
    labels.insert(inputs::LABEL.into(), key);
    engine::build(
        docker,
        engine::BuildRequest {
            context: tar,
            tag: &image,
            platform: req.platform,
            build_args,
            labels,
            network: Some(req.network),
            prefix: &prefix,
            no_cache: false,
            pull: false,
        },
    )
    .await
    .map_err(fail)?;
    Ok(image)
}

/// Makes the bundle of `req`: wheels in a container of the builder, then the tarball.
pub async fn make(docker: &Docker, req: &Request<'_>) -> Result<Made, MakeError> {
    let builder = builder_image(docker, req).await?;
    std::fs::create_dir_all(req.out_dir).map_err(io(req.out_dir))?;
    let work = tempfile::Builder::new()
        .prefix(".bundle-")
        .tempdir_in(req.out_dir)
        .map_err(io(req.out_dir))?;
    let out = work.path().join("out");
    std::fs::create_dir(&out).map_err(io(&out))?;
    run_wheels(docker, req, &builder, &out).await?;

    let wheels_dir = out.join("wheels");
    let mut wheels: Vec<String> = std::fs::read_dir(&wheels_dir)
        .map_err(io(&wheels_dir))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".whl"))
        .collect();
    wheels.sort();
    let made_version = wheels
        .iter()
        .find_map(|w| super::jinlava_wheel_version(w))
        .ok_or_else(|| MakeError::NoLavaWheel {
            runtime: req.runtime.name(),
            platform: req.platform.into(),
            source_dir: match req.lava {
                LavaSource::Tree(p) => p.display().to_string(),
                LavaSource::Version(v) => format!("jinlava=={v}"),
            },
        })?;
    let stem = super::bundle_stem(&made_version, req.runtime, req.arch);
    let bundle = req.out_dir.join(format!("{stem}.tar.bz2"));
    write_tarball(&bundle, &stem, &wheels_dir, &wheels, &made_version, req)?;
    let sha256 = file_sha256(&bundle)?;
    let sum_path = req.out_dir.join(format!("{stem}.tar.bz2.sha256"));
    std::fs::write(
        &sum_path,
        super::sha256_line(&sha256, &format!("{stem}.tar.bz2")),
    )
    .map_err(io(&sum_path))?;
    Ok(Made {
        runtime: req.runtime.name(),
        platform: req.platform.into(),
        arch: req.arch.into(),
        version: made_version,
        builder,
        bundle: bundle.display().to_string(),
        sha256,
        wheels: wheels.len(),
    })
}

/// Runs make-wheels.sh in a container of `builder` as the invoking user, output streamed.
async fn run_wheels(
    docker: &Docker,
    req: &Request<'_>,
    builder: &str,
    out: &Path,
) -> Result<(), MakeError> {
    let runtime = req.runtime.name();
    let prefix = format!("[bundle {runtime} {}]", req.platform);
    let err = |action: &'static str| {
        let runtime = runtime.clone();
        let platform = req.platform.to_string();
        move |source| MakeError::Container {
            runtime,
            platform,
            action,
            source: Box::new(source),
        }
    };
    let mut binds = vec![format!("{}:/out:rw", out.display())];
    let spec = match req.lava {
        LavaSource::Version(v) => format!("jinlava=={v}"),
        LavaSource::Tree(p) => {
            binds.push(format!("{}:/src-ro:ro", p.display()));
            "/src".to_string()
        }
    };
    let user = format!("{}:{}", nix::unistd::geteuid(), nix::unistd::getegid());
    let name = format!("lava-bundle-{}", uuid::Uuid::new_v4().simple());
    let body = bollard::models::ContainerCreateBody {
        image: Some(builder.to_string()),
        user: Some(user),
        cmd: Some(vec!["/bin/sh".into(), "-c".into(), MAKE_WHEELS.into()]),
        env: Some(vec![
            format!("LAVA_PYTHON={}", req.runtime.python),
            format!("LAVA_SPEC={spec}"),
            "HOME=/tmp".into(),
            "PIP_NO_INPUT=1".into(),
        ]),
        working_dir: Some("/tmp".into()),
        host_config: Some(bollard::models::HostConfig {
            binds: Some(binds),
            network_mode: Some(req.network.to_string()),
            ..Default::default()
        }),
        ..Default::default()
    };
    docker
        .create_container(
            Some(
                CreateContainerOptionsBuilder::default()
                    .name(&name)
                    .platform(req.platform)
                    .build(),
            ),
            body,
        )
        .await
        .map_err(err("creating the container"))?;
    let result = async {
        docker
            .start_container(
                &name,
                None::<bollard::query_parameters::StartContainerOptions>,
            )
            .await
            .map_err(err("starting the container"))?;
        let mut tail: VecDeque<String> = VecDeque::new();
        let mut logs = docker.logs(
            &name,
            Some(
                LogsOptionsBuilder::default()
                    .follow(true)
                    .stdout(true)
                    .stderr(true)
                    .build(),
            ),
        );
        let mut pending = String::new();
        while let Some(chunk) = logs.next().await {
            pending.push_str(&chunk.map_err(err("reading the output"))?.to_string());
            while let Some(i) = pending.find('\n') {
                let line: String = pending.drain(..=i).collect();
                let line = line.trim_end().to_string();
                eprintln!("{prefix} {line}");
                if tail.len() == 20 {
                    tail.pop_front();
                }
                tail.push_back(line);
            }
        }
        if !pending.trim().is_empty() {
            eprintln!("{prefix} {}", pending.trim_end());
            tail.push_back(pending.trim_end().to_string());
        }
        let status = engine::wait_exit(docker, &name)
            .await
            .map_err(err("waiting for the container"))?;
        Ok((status, tail))
    }
    .await;
    if let Err(e) = docker
        .remove_container(
            &name,
            Some(RemoveContainerOptionsBuilder::default().force(true).build()),
        )
        .await
    {
        tracing::warn!(container = %name, error = %e, "could not remove the bundle container");
    }
    let (status, tail) = result?;
    match status {
        0 => Ok(()),
        NO_PYTHON => Err(MakeError::BuilderPython {
            image: builder.into(),
            python: req.runtime.python.clone(),
        }),
        _ => {
            if let LavaSource::Version(v) = req.lava
                && tail
                    .iter()
                    .any(|l| l.contains("No matching distribution found for jinlava=="))
            {
                return Err(MakeError::UnknownVersion { version: v.clone() });
            }
            Err(MakeError::Wheels {
                runtime,
                platform: req.platform.into(),
                status,
                tail: Vec::from(tail).join("\n"),
            })
        }
    }
}

/// `<stem>/{install.sh,bundle.env,requirements.txt,wheels/*}`: sorted, root-owned, time 0, so the
/// same wheels make the same bytes. Written to a temporary name and renamed when complete.
fn write_tarball(
    path: &Path,
    stem: &str,
    wheels_dir: &Path,
    wheels: &[String],
    version: &str,
    req: &Request<'_>,
) -> Result<(), MakeError> {
    let tmp = path.with_extension("bz2.tmp");
    let file = std::fs::File::create(&tmp).map_err(io(&tmp))?;
    let mut tar = tar::Builder::new(bzip2::write::BzEncoder::new(
        file,
        bzip2::Compression::best(),
    ));
    let add = |tar: &mut tar::Builder<_>, name: &str, mode: u32, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(mode);
        h.set_mtime(0);
        h.set_uid(0);
        h.set_gid(0);
        h.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut h, format!("{stem}/{name}"), data)
    };
    let written = (|| -> std::io::Result<()> {
        add(&mut tar, "install.sh", 0o755, super::INSTALL_SH.as_bytes())?;
        add(
            &mut tar,
            "bundle.env",
            0o644,
            super::bundle_env(version, req.runtime, req.arch).as_bytes(),
        )?;
        add(
            &mut tar,
            "requirements.txt",
            0o644,
            format!("jinlava=={version}\n").as_bytes(),
        )?;
        for w in wheels {
            let data = std::fs::read(wheels_dir.join(w))?;
            add(&mut tar, &format!("wheels/{w}"), 0o644, &data)?;
        }
        tar.into_inner()?.finish()?;
        Ok(())
    })();
    written.map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))
}

fn file_sha256(path: &Path) -> Result<String, MakeError> {
    let mut f = std::fs::File::open(path).map_err(io(path))?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h).map_err(io(path))?;
    Ok(hex::encode(h.finalize()))
}
