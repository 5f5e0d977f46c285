//! One AMI build: agent binaries, provisioning tarballs, template, packer validate/build, results.
use super::agent;
use super::manifest::{BuiltAmi, Manifest};
use super::render::{self, RenderInput, RenderMode};
use super::runner::{self, Invocation};
use super::version;
use crate::config::AmiParams;
use anyhow::Context as _;
use camino::{Utf8Path, Utf8PathBuf};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// The steps an emulated build leaves out (they need SSH to the build instance).
pub const SSH_STEPS: &str =
    "settle wait, tarball upload, ami-info, ami-build.sh, reboot, log copy, cleanup";

/// How to build.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// Folder for generated files (`<dist>/ami/<env>/…`).
    pub dist: Utf8PathBuf,
    /// Folder with ami-build.yaml, lava.pkr.hcl.j2, ami-build.sh and os/.
    pub ami_dir: Utf8PathBuf,
    /// Folder with `<arch>/lava-rc`.
    pub agent_dir: Utf8PathBuf,
    /// Source tree to build the host's agent from (None: never build it).
    pub agent_build_from: Option<Utf8PathBuf>,
    /// rc.d/ folder shipped with the agent.
    pub rc_dir: Utf8PathBuf,
    /// Endpoint of the local AWS emulator for `--emulate`.
    pub emulate: Option<String>,
    /// Render and `packer validate` only.
    pub validate_only: bool,
    /// Allow a real build with a packer that cannot require IMDSv2 on the build instance.
    pub allow_imdsv1: bool,
    pub profile: Option<String>,
}

/// What a build (or validation) produced.
#[derive(Debug, Serialize)]
pub struct BuildReport {
    pub build_id: String,
    pub packer_version: String,
    pub template: String,
    pub log: Option<String>,
    pub manifest: String,
    pub amis: Vec<BuiltAmi>,
    /// Steps left out, and why.
    pub notes: Vec<String>,
    pub validated_only: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(
        "packer {version} cannot require IMDSv2 on the build instance (metadata_options needs packer 1.7 or later): install a newer packer from HashiCorp, or pass --allow-imdsv1 to build anyway"
    )]
    NoImdsV2 { version: String },
    #[error(
        "ssh_interface=session_manager needs the AWS Session Manager plugin where packer runs: session-manager-plugin is not on PATH (install it from AWS: https://docs.aws.amazon.com/systems-manager/latest/userguide/session-manager-working-with-install-plugin.html)"
    )]
    NoSessionManagerPlugin,
    #[error("{source}; no AMI was built by this run")]
    NothingBuilt {
        #[source]
        source: runner::RunError,
    },
    #[error("{source}; AMIs built before the failure: {built}")]
    Partial {
        built: String,
        #[source]
        source: runner::RunError,
    },
}

fn git_remote(dir: &Utf8Path) -> String {
    duct::cmd(
        "git",
        ["-C", dir.as_str(), "config", "--get", "remote.origin.url"],
    )
    .stdout_capture()
    .stderr_null()
    .unchecked()
    .read()
    .ok()
    .map(|s| s.trim().to_string())
    .filter(|s| !s.is_empty())
    .unwrap_or_else(|| "unknown".to_string())
}

/// `dist/ami/<env>-<time>.log`, not reusing the name of an earlier run's log.
fn log_path(dist_ami: &Utf8Path, run: &str, time: &str) -> Utf8PathBuf {
    let first = dist_ami.join(format!("{run}-{time}.log"));
    if !first.exists() {
        return first;
    }
    (2..)
        .map(|n| dist_ami.join(format!("{run}-{time}-{n}.log")))
        .find(|p| !p.exists())
        .unwrap_or(first)
}

fn read_manifest(path: &Utf8Path) -> anyhow::Result<Manifest> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            Manifest::parse(&text).with_context(|| format!("reading packer manifest {path}"))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Manifest::default()),
        Err(e) => Err(e).with_context(|| format!("reading packer manifest {path}")),
    }
}

/// What is checked before anything is synced or built: packer, its version, the boot agents.
pub struct Preflight {
    packer: std::path::PathBuf,
    version: version::Version,
    agents: BTreeMap<String, Option<Utf8PathBuf>>,
    notes: Vec<String>,
}

impl Preflight {
    /// Adds a line to the notes the build report shows.
    pub fn note(&mut self, note: String) {
        self.notes.push(note);
    }
}

/// Finds packer and the boot agent of every arch (building the host's when stale), and refuses
/// what a build could not honour. Runs programs, so off the async threads.
pub async fn preflight(params: &AmiParams, opts: &BuildOptions) -> anyhow::Result<Preflight> {
    let (params, opts) = (params.clone(), opts.clone());
    tokio::task::spawn_blocking(move || preflight_blocking(&params, &opts))
        .await
        .context("the checks before the build did not finish")?
}

fn preflight_blocking(params: &AmiParams, opts: &BuildOptions) -> anyhow::Result<Preflight> {
    let (packer, pv) = version::find()?;
    let real = opts.emulate.is_none();
    if real && !opts.validate_only && !pv.has_plugins() && !opts.allow_imdsv1 {
        return Err(BuildError::NoImdsV2 {
            version: pv.to_string(),
        }
        .into());
    }
    if real
        && !opts.validate_only
        && params.ssh_interface.value == crate::config::SshInterface::SessionManager
        && which::which("session-manager-plugin").is_err()
    {
        return Err(BuildError::NoSessionManagerPlugin.into());
    }
    let mut notes = Vec::new();
    if !pv.has_plugins() {
        notes.push(format!(
            "packer {pv} has no metadata_options: IMDSv2 is not enforced on the build instance"
        ));
    }
    let mut agents = BTreeMap::new();
    for t in &params.targets {
        let plan = agent::prepare(
            &opts.agent_dir,
            t.arch.as_str(),
            // Emulated builds and validation never upload the tarball: no agent build for them.
            opts.agent_build_from
                .as_deref()
                .filter(|_| real && !opts.validate_only),
            real && !opts.validate_only,
        )?;
        notes.extend(plan.note);
        agents.insert(t.arch.to_string(), plan.path);
    }
    Ok(Preflight {
        packer,
        version: pv,
        agents,
        notes,
    })
}

/// Builds the tarballs, renders the template and runs packer.
pub async fn build(
    params: &AmiParams,
    opts: &BuildOptions,
    pre: Preflight,
) -> anyhow::Result<BuildReport> {
    let Preflight {
        packer,
        version: pv,
        agents,
        mut notes,
    } = pre;
    let run = params.run_name();
    let dist_ami = opts.dist.join("ami");
    let out_dir = dist_ami.join(&run);
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {out_dir}"))?;

    // Boot agent and provisioning tarball per arch; all checked before packer starts.
    let mut tarballs = BTreeMap::new();
    for t in &params.targets {
        let out = out_dir.join(format!("provision-{}.tar.gz", t.arch));
        let spec = super::tarball::TarballSpec {
            ami_dir: opts.ami_dir.clone().into_std_path_buf(),
            os: params.os.value.clone(),
            agent: agents
                .get(t.arch.as_str())
                .cloned()
                .flatten()
                .map(|p| p.into_std_path_buf()),
            rc_dir: Some(opts.rc_dir.clone().into_std_path_buf()),
        };
        let target = out.clone().into_std_path_buf();
        tokio::task::spawn_blocking(move || super::tarball::build_tarball(&spec, &target))
            .await
            .map_err(anyhow::Error::from)
            .and_then(|r| r.map_err(anyhow::Error::from))
            .with_context(|| format!("packing the provisioning tarball for {}", t.arch))?;
        tarballs.insert(
            t.arch.to_string(),
            std::path::absolute(&out)
                .ok()
                .and_then(|p| Utf8PathBuf::from_path_buf(p).ok())
                .unwrap_or(out),
        );
    }
    let real = opts.emulate.is_none();
    if !real && !opts.validate_only {
        notes.push(format!(
            "emulated build: the steps that need SSH are left out ({SSH_STEPS})"
        ));
    }

    let abs = |p: Utf8PathBuf| -> Utf8PathBuf {
        std::path::absolute(&p)
            .ok()
            .and_then(|a| Utf8PathBuf::from_path_buf(a).ok())
            .unwrap_or(p)
    };
    let manifest_path = abs(dist_ami.join(format!("{run}-manifest.json")));
    // The log is named by the wall-clock time of this run; the template refers to it through a
    // fixed link in the output folder, so that the render stays the same from run to run.
    let time = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
    let log_file = abs(log_path(&dist_ami, &run, &time));
    std::fs::write(&log_file, b"").with_context(|| format!("creating {log_file}"))?;
    let log_link = abs(out_dir.join("packer-build.log"));
    let _ = std::fs::remove_file(&log_link);
    std::os::unix::fs::symlink(&log_file, &log_link)
        .with_context(|| format!("linking {log_link} to {log_file}"))?;

    let template_src = opts.ami_dir.join("lava.pkr.hcl.j2");
    let text = std::fs::read_to_string(&template_src).map_err(|e| render::RenderError::Read {
        path: template_src.to_string(),
        source: e,
    })?;
    let input = RenderInput {
        params,
        repo: git_remote(&opts.ami_dir),
        tarballs,
        manifest: manifest_path.clone(),
        log_file: log_link.clone(),
        mode: RenderMode {
            plugins: pv.has_plugins(),
            imdsv2: pv.has_plugins(),
            emulate: opts.emulate.clone(),
        },
    };
    let hcl = render::render(template_src.as_str(), &text, &input)?;
    let template = out_dir.join("lava.pkr.hcl");
    std::fs::write(&template, &hcl).with_context(|| format!("writing {template}"))?;

    let mut env = vec![("AWS_REGION".to_string(), params.region.value.clone())];
    if let Some(p) = &opts.profile {
        env.push(("AWS_PROFILE".to_string(), p.clone()));
    }
    if opts.emulate.is_some() {
        env.push(("AWS_EC2_METADATA_DISABLED".to_string(), "true".to_string()));
    }
    let invoke = |action: &'static str, args: Vec<String>| Invocation {
        packer: &packer,
        action,
        args,
        template: &template,
        log_file: &log_file,
        env: env.clone(),
    };
    if pv.has_plugins() {
        runner::run(invoke("init", vec![])).await?;
    }
    runner::run(invoke("validate", vec![])).await?;
    let build_id = render::build_id(params);
    let mut report = BuildReport {
        build_id: build_id.clone(),
        packer_version: pv.to_string(),
        template: template.to_string(),
        log: Some(log_file.to_string()),
        manifest: manifest_path.to_string(),
        amis: Vec::new(),
        notes,
        validated_only: opts.validate_only,
    };
    if opts.validate_only {
        return Ok(report);
    }

    let before = read_manifest(&manifest_path)?.run_ids();
    let result = runner::run(invoke("build", vec!["-color=false".to_string()])).await;
    let names: BTreeMap<String, String> = params
        .targets
        .iter()
        .map(|t| (t.arch.to_string(), t.ami_name.clone()))
        .collect();
    report.amis = read_manifest(&manifest_path)?
        .this_run(&before, &build_id, |arch| names.get(arch).cloned());
    if let Err(source) = result {
        if report.amis.is_empty() {
            return Err(BuildError::NothingBuilt { source }.into());
        }
        let built = report
            .amis
            .iter()
            .map(|a| format!("{} {} ({})", a.arch, a.ami_id, a.region))
            .collect::<Vec<_>>()
            .join(", ");
        return Err(BuildError::Partial { built, source }.into());
    }
    let missing: BTreeSet<_> = params
        .targets
        .iter()
        .map(|t| t.arch.to_string())
        .filter(|a| !report.amis.iter().any(|b| &b.arch == a))
        .collect();
    if !missing.is_empty() {
        anyhow::bail!(
            "packer succeeded but {manifest_path} lists no AMI of this run for {}; log: {log_file}",
            missing.into_iter().collect::<Vec<_>>().join(", ")
        );
    }
    Ok(report)
}
