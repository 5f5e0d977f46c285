//! Making bundles on a Docker engine: the builder image (from `images/builders/` by inputs key, or
//! given), one container per platform that makes the wheels as the invoking user, then the
//! `.tar.bz2` with its SHA-256 file.
use super::{Builder, Runtime};
use crate::engine::{self, ContainerSpec, EngineError, Platform, context};
use crate::images::inputs;
use crate::output::progress;
use bollard::Docker;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};

/// The script the builder container runs (shellchecked in the repository).
const MAKE_WHEELS: &str = include_str!("../../images/builders/make-wheels.sh");

/// Exit status of make-wheels.sh when the builder has no Python of the runtime.
const NO_PYTHON: i64 = 3;

/// How many of the builder's last output lines a failure shows.
const TAIL_LINES: usize = 20;

#[derive(Debug, thiserror::Error)]
pub enum MakeError {
    #[error("builder image {image}")]
    Engine {
        image: String,
        #[source]
        source: EngineError,
    },
    #[error("builder image {image} is not in the Docker engine: build or pull it first")]
    BuilderMissing { image: String },
    #[error("building the builder image {image}")]
    BuilderContext {
        image: String,
        #[source]
        source: context::ContextError,
    },
    #[error("builder image {image} has no python{python} (on PATH or under /opt/python/)")]
    BuilderPython { image: String, python: String },
    #[error("[bundle {runtime} {platform}]")]
    Container {
        runtime: String,
        platform: Platform,
        #[source]
        source: EngineError,
    },
    #[error("lava version {version} is not on PyPI (no jinlava=={version})")]
    UnknownVersion { version: String },
    #[error(
        "[bundle {runtime} {platform}] making the wheels failed with exit status {status}; last lines:\n{tail}"
    )]
    Wheels {
        runtime: String,
        platform: Platform,
        status: i64,
        tail: String,
    },
    #[error(
        "[bundle {runtime} {platform}] no jinlava wheel was made (is {source_dir} a lava source tree?)"
    )]
    NoLavaWheel {
        runtime: String,
        platform: Platform,
        source_dir: String,
    },
    #[error("{path}")]
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
    pub platform: Platform,
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
    let engine_err = |image: &str| {
        let image = image.to_string();
        move |source| MakeError::Engine { image, source }
    };
    let (dir, builder) = match req.builder {
        BuilderChoice::Image(image) => {
            return match engine::image_id(docker, image)
                .await
                .map_err(engine_err(image))?
            {
                Some(_) => Ok(image.clone()),
                None => Err(MakeError::BuilderMissing {
                    image: image.clone(),
                }),
            };
        }
        BuilderChoice::Definition { dir, builder } => (dir, builder),
    };
    let image = format!(
        "lava-builder/{}:{}",
        req.runtime.name(),
        req.platform.ami_arch()
    );
    let tar = context::make(dir.join(&builder.context), Vec::new())
        .await
        .map_err(|source| MakeError::BuilderContext {
            image: image.clone(),
            source,
        })?;
    let build_args =
        BTreeMap::from([("python_version".to_string(), builder.python_version.clone())]);
    let mut labels = BTreeMap::from([("lava.builder.runtime".to_string(), req.runtime.name())]);
    let key = inputs::key(&inputs::Inputs {
        context: &tar,
        platform: req.platform.as_str(),
        build_args: &build_args,
        labels: &labels,
        base: "",
    });
    let prefix = format!("[builder {} {}]", req.runtime.name(), req.platform);
    if let Some(id) = engine::find_labelled(docker, inputs::LABEL, &key)
        .await
        .map_err(engine_err(&image))?
    {
        engine::tag(docker, &id, &image)
            .await
            .map_err(engine_err(&image))?;
        progress::line(&prefix, format_args!("{image}: unchanged, not rebuilt"));
        return Ok(image);
    }
    labels.insert(inputs::LABEL.into(), key);
    engine::build(
        docker,
        engine::BuildRequest {
            context: tar,
            tag: &image,
            platform: req.platform.as_str(),
            build_args,
            labels,
            network: Some(req.network),
            prefix: &prefix,
            no_cache: false,
            pull: false,
        },
    )
    .await
    .map_err(engine_err(&image))?;
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
            platform: req.platform,
            source_dir: match req.lava {
                LavaSource::Tree(p) => p.display().to_string(),
                LavaSource::Version(v) => format!("jinlava=={v}"),
            },
        })?;
    let arch = req.platform.ami_arch();
    let stem = super::bundle_stem(&made_version, req.runtime, arch);
    let bundle = req.out_dir.join(format!("{stem}.tar.bz2"));
    let env = super::bundle_env(&made_version, req.runtime, arch);
    let sha256 = {
        let (bundle, stem, version) = (bundle.clone(), stem.clone(), made_version.clone());
        let wheels = wheels.clone();
        // Compressing the wheels with bzip2 takes seconds: off the async runtime.
        tokio::task::spawn_blocking(move || {
            write_tarball(&bundle, &stem, &wheels_dir, &wheels, &version, &env)?;
            file_sha256(&bundle)
        })
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))?
    };
    let sum_path = req.out_dir.join(format!("{stem}.tar.bz2.sha256"));
    std::fs::write(
        &sum_path,
        super::sha256_line(&sha256, &format!("{stem}.tar.bz2")),
    )
    .map_err(io(&sum_path))?;
    Ok(Made {
        runtime: req.runtime.name(),
        platform: req.platform.to_string(),
        arch: arch.into(),
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
    let mut binds = vec![format!("{}:/out:rw", out.display())];
    let spec = match req.lava {
        LavaSource::Version(v) => format!("jinlava=={v}"),
        LavaSource::Tree(p) => {
            binds.push(format!("{}:/src-ro:ro", p.display()));
            "/src".to_string()
        }
    };
    let container = ContainerSpec {
        image: builder.to_string(),
        platform: req.platform.to_string(),
        cmd: vec!["/bin/sh".into(), "-c".into(), MAKE_WHEELS.into()],
        user: Some(format!(
            "{}:{}",
            nix::unistd::geteuid(),
            nix::unistd::getegid()
        )),
        env: vec![
            format!("LAVA_PYTHON={}", req.runtime.python),
            format!("LAVA_SPEC={spec}"),
            "HOME=/tmp".into(),
            "PIP_NO_INPUT=1".into(),
        ],
        working_dir: Some("/tmp".into()),
        binds,
        network: req.network.to_string(),
        name_prefix: "lava-bundle".into(),
    };
    let mut tail: VecDeque<String> = VecDeque::new();
    let status = engine::run_to_exit(docker, &container, |line| {
        progress::line(&prefix, line);
        if tail.len() == TAIL_LINES {
            tail.pop_front();
        }
        tail.push_back(line.to_string());
    })
    .await
    .map_err(|source| MakeError::Container {
        runtime: runtime.clone(),
        platform: req.platform,
        source,
    })?;
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
                platform: req.platform,
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
    bundle_env: &str,
) -> Result<(), MakeError> {
    let tmp = path.with_extension("bz2.tmp");
    let file = std::fs::File::create(&tmp).map_err(io(&tmp))?;
    let mut tar = tar::Builder::new(bzip2::write::BzEncoder::new(
        file,
        bzip2::Compression::best(),
    ));
    let written = (|| -> std::io::Result<()> {
        let mut add = |name: &str, mode: u32, data: &[u8]| {
            context::append(&mut tar, &format!("{stem}/{name}"), mode, data)
        };
        add("install.sh", 0o755, super::INSTALL_SH.as_bytes())?;
        add("bundle.env", 0o644, bundle_env.as_bytes())?;
        add(
            "requirements.txt",
            0o644,
            format!("jinlava=={version}\n").as_bytes(),
        )?;
        for w in wheels {
            let data = std::fs::read(wheels_dir.join(w))?;
            add(&format!("wheels/{w}"), 0o644, &data)?;
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
