//! AMI build parameters: resolution of command line > config file > ami-build.yaml > defaults
//! into one validated [`AmiParams`] (the names and `key=value` parsing are in [`super::cli`]).
use super::ami_build::AmiBuild;
use super::deploy::DeployAmi;
use super::error::ConfigError;
use super::source::{Source, Sourced};
use super::validate::{self, Arch, IpMode, SecurityGroups, SshInterface};

pub use super::cli::{PARAMS, ParamSpec, parse_cli};
pub use super::s3::{resolve_s3, split_s3_location};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;

/// Everything `resolve` needs besides the command line and files.
#[derive(Debug, Clone)]
pub struct Context {
    /// Region from the environment or the AWS profile, used when neither CLI nor file sets one.
    pub ambient_region: Option<Sourced<String>>,
    /// The UTC time that goes into AMI names.
    pub build_time: DateTime<Utc>,
}

/// Per-architecture part of a build.
#[derive(Debug, Clone, Serialize)]
pub struct ArchTarget {
    pub arch: Arch,
    pub instance_type: Sourced<String>,
    pub ami_ref: Sourced<String>,
    /// The SSM parameter that names the base AMI.
    pub ssm_parameter: String,
    /// Base AMI id, when given; otherwise filled in from SSM.
    pub ami_id: Option<Sourced<String>>,
    pub ami_name: String,
}

/// The validated parameters of one AMI build.
#[derive(Debug, Clone, Serialize)]
pub struct AmiParams {
    pub config: Option<Sourced<String>>,
    pub env: Option<Sourced<String>>,
    pub os: Sourced<String>,
    pub os_description: String,
    pub ssh_user: String,
    pub arch: Sourced<String>,
    pub targets: Vec<ArchTarget>,
    pub ip: Sourced<IpMode>,
    /// How packer reaches the instance; default from `ip`.
    pub ssh_interface: Sourced<SshInterface>,
    /// An existing instance profile for the build instance (no temporary one is made).
    pub instance_profile: Option<Sourced<String>>,
    /// KMS key of the AMI's encrypted volumes (default: the account's EBS default key).
    pub kms_key_id: Option<Sourced<String>>,
    /// ARN of the customer-managed KMS key of the resource bucket: the only key the temporary
    /// instance profile may decrypt with. Configured, or read from the bucket before the build.
    pub s3_kms_key: Option<Sourced<String>>,
    pub python_version: Sourced<String>,
    /// `X.Y` of the Python version, as used in AMI names.
    pub python_minor: String,
    pub s3bucket: Sourced<String>,
    pub s3prefix: Sourced<String>,
    pub sg: Sourced<SecurityGroups>,
    pub subnet: Sourced<String>,
    pub tz: Sourced<String>,
    pub region: Sourced<String>,
    pub lava_version: Sourced<String>,
    pub build_time: DateTime<Utc>,
    /// Regions to copy the AMIs to, comma-separated (see `config::lifecycle`).
    pub regions: Option<Sourced<String>>,
    pub publish_prefix: Sourced<String>,
}

impl AmiParams {
    pub fn s3_url(&self) -> String {
        format!("s3://{}/{}", self.s3bucket.value, self.s3prefix.value)
    }

    pub fn security_groups(&self) -> Vec<String> {
        self.sg.value.ids().to_vec()
    }

    /// Name used for generated files (`dist/ami/<name>/`): the env, or `cli` for the hard way.
    pub fn run_name(&self) -> String {
        self.env
            .as_ref()
            .map(|e| e.value.clone())
            .unwrap_or_else(|| "cli".to_string())
    }

    /// Every parameter as (name, value, source), in the order of [`PARAMS`].
    pub fn rows(&self) -> Vec<(String, String, String)> {
        let mut rows = Vec::new();
        fn row<T: std::fmt::Display>(name: &str, s: &Sourced<T>) -> (String, String, String) {
            (name.to_string(), s.value.to_string(), s.source.to_string())
        }
        if let Some(c) = &self.config {
            rows.push(row("config", c));
        }
        if let Some(e) = &self.env {
            rows.push(row("env", e));
        }
        rows.push(row("os", &self.os));
        rows.push(row("arch", &self.arch));
        let multi = self.targets.len() > 1;
        for t in &self.targets {
            let suffix = if multi {
                format!("[{}]", t.arch)
            } else {
                String::new()
            };
            rows.push(row(&format!("ami_ref{suffix}"), &t.ami_ref));
            let unresolved = Sourced::new(
                "(not resolved)".to_string(),
                Source::Ssm(t.ssm_parameter.clone()),
            );
            rows.push(row(
                &format!("ami_id{suffix}"),
                t.ami_id.as_ref().unwrap_or(&unresolved),
            ));
            rows.push(row(&format!("instance_type{suffix}"), &t.instance_type));
        }
        rows.push(row("ip", &self.ip));
        rows.push(row("ssh_interface", &self.ssh_interface));
        if let Some(v) = &self.instance_profile {
            rows.push(row("instance_profile", v));
        }
        if let Some(v) = &self.kms_key_id {
            rows.push(row("kms_key_id", v));
        }
        if let Some(v) = &self.s3_kms_key {
            rows.push(row("s3_kms_key", v));
        }
        rows.push(row("python_version", &self.python_version));
        rows.push(row("s3bucket", &self.s3bucket));
        rows.push(row("s3prefix", &self.s3prefix));
        rows.push(row("sg", &self.sg));
        rows.push(row("subnet", &self.subnet));
        rows.push(row("tz", &self.tz));
        rows.push(row("region", &self.region));
        rows.push(row("lava_version", &self.lava_version));
        if let Some(r) = &self.regions {
            rows.push(row("regions", r));
        }
        if self.publish_prefix.source != Source::Default {
            rows.push(row("publish_prefix", &self.publish_prefix));
        }
        rows
    }
}

/// Formats the build time as it appears in AMI names: `2025-07-02T08-43-48Z`.
pub fn name_time(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H-%M-%SZ").to_string()
}

/// `lava-<version>-<os>-py<major.minor>-<arch>-<time>`.
pub fn ami_name(
    lava_version: &str,
    os: &str,
    py_minor: &str,
    arch: &str,
    t: &DateTime<Utc>,
) -> String {
    format!(
        "lava-{lava_version}-{os}-py{py_minor}-{arch}-{}",
        name_time(t)
    )
}

struct Layers<'a> {
    cli: &'a BTreeMap<String, String>,
    file: Option<&'a DeployAmi>,
}

impl Layers<'_> {
    /// The value of `name` from the command line, then the config file.
    fn get(&self, name: &str) -> Option<Sourced<String>> {
        if let Some(v) = self.cli.get(name) {
            return Some(Sourced::new(v.clone(), Source::Cli));
        }
        self.file.and_then(|f| f.values.get(name).cloned())
    }
}

/// Resolves and validates every parameter. Makes no AWS call; `ami_id`s not given stay `None`.
pub fn resolve(
    cli: &BTreeMap<String, String>,
    config: Option<Sourced<String>>,
    env: Option<Sourced<String>>,
    file: Option<&DeployAmi>,
    build: &AmiBuild,
    ctx: &Context,
) -> Result<AmiParams, ConfigError> {
    let layers = Layers { cli, file };
    let build_src = |section: &str, name: &str| Source::AmiBuild {
        path: build.path().to_string(),
        line: build.line_of(section, name),
    };

    let lava_version = layers
        .get("lava_version")
        .unwrap_or_else(|| Sourced::new(env!("CARGO_PKG_VERSION").to_string(), Source::Default));
    validate::lava_version(&lava_version.value)?;

    let os = layers
        .get("os")
        .unwrap_or_else(|| Sourced::new(build.default_os.clone(), build_src("default_os", "")));
    let Some(os_spec) = build.os.get(&os.value) else {
        return Err(ConfigError::invalid(
            "os",
            &os.value,
            &format!(
                "one of {} (keys of os in {})",
                build.os_names(),
                build.path()
            ),
        ));
    };

    let arch = layers
        .get("arch")
        .unwrap_or_else(|| Sourced::new(build.default_arch.clone(), build_src("default_arch", "")));
    let mut arches: Vec<Arch> = Vec::new();
    for a in arch.value.split(',') {
        let known = Arch::parse(a).filter(|_| build.arch.contains_key(a));
        let Some(known) = known else {
            let hint = if a == "aarch64" {
                " (AMI names say arm64, not aarch64)"
            } else {
                ""
            };
            return Err(ConfigError::invalid(
                "arch",
                &arch.value,
                &format!(
                    "{} or a comma-separated list of them{hint}",
                    build.arch_names()
                ),
            ));
        };
        if arches.contains(&known) {
            return Err(ConfigError::invalid(
                "arch",
                &arch.value,
                "each architecture once",
            ));
        }
        arches.push(known);
    }

    // Required values, all reported at once when missing.
    let (s3bucket, s3prefix) = resolve_s3(cli, file, &lava_version.value)?;
    let region = layers.get("region").or_else(|| ctx.ambient_region.clone());
    let mut missing: Vec<&str> = Vec::new();
    let mut need = |name: &'static str, v: Option<Sourced<String>>| {
        v.unwrap_or_else(|| {
            missing.push(name);
            Sourced::new(String::new(), Source::Default)
        })
    };
    let ip = need("ip", layers.get("ip"));
    let python_version = need("python_version", layers.get("python_version"));
    let s3bucket = need("s3bucket", s3bucket);
    let s3prefix = need("s3prefix", s3prefix);
    let sg = need("sg", layers.get("sg"));
    let subnet = need("subnet", layers.get("subnet"));
    let tz = need("tz", layers.get("tz"));
    let region = need("region", region);
    if !missing.is_empty() {
        let hint = if missing == ["region"] {
            "set region=…, region in <env>.ami, AWS_REGION, or a region in the AWS profile"
        } else if file.is_some() {
            "set each in <env>.ami of the config file (s3bucket/s3prefix come from ami.s3) or as key=value"
        } else {
            "pass each as key=value, or use config=FILE env=ENV"
        };
        return Err(ConfigError::Missing {
            param: missing.join(", "),
            hint: hint.to_string(),
        });
    }

    let ip = Sourced::new(validate::ip(&ip.value)?, ip.source);
    let ssh_interface = match layers.get("ssh_interface") {
        Some(s) => Sourced::new(validate::ssh_interface(&s.value, ip.value)?, s.source),
        None => Sourced::new(SshInterface::from_ip(ip.value), ip.source.clone()),
    };
    let instance_profile = layers.get("instance_profile");
    if let Some(v) = &instance_profile {
        validate::instance_profile(&v.value)?;
    }
    let kms_key_id = layers.get("kms_key_id");
    if let Some(v) = &kms_key_id {
        validate::kms_key_id(&v.value)?;
    }
    let s3_kms_key = layers.get("s3_kms_key");
    if let Some(v) = &s3_kms_key {
        validate::kms_key_arn("s3_kms_key", &v.value)?;
    }
    let python_minor = validate::python_version(&python_version.value)?;
    validate::s3bucket(&s3bucket.value)?;
    validate::s3prefix(&s3prefix.value)?;
    let sg = Sourced::new(validate::sg(&sg.value)?, sg.source);
    validate::subnet(&subnet.value)?;
    validate::tz(&tz.value)?;
    validate::region(&region.value)?;

    let regions = super::lifecycle::regions(layers.get("regions"))?;
    let publish_prefix = super::lifecycle::publish_prefix(layers.get("publish_prefix"))?;

    let ami_id = layers.get("ami_id");
    if let Some(id) = &ami_id {
        validate::ami_id(&id.value)?;
        if arches.len() > 1 {
            return Err(ConfigError::invalid(
                "ami_id",
                &id.value,
                "a single arch when ami_id is given (an AMI has one architecture); drop ami_id or build one arch at a time",
            ));
        }
    }
    let given_type = layers.get("instance_type");
    let given_ref = layers.get("ami_ref");

    let mut targets = Vec::new();
    for &arch_of in &arches {
        let a = arch_of.as_str();
        let instance_type = match &given_type {
            Some(t) => t.clone(),
            None => Sourced::new(build.arch[a].instance_type.clone(), build_src("arch", a)),
        };
        validate::instance_type(&instance_type.value, a).map_err(|e| match e {
            ConfigError::Invalid {
                param,
                value,
                expected,
            } => ConfigError::Invalid {
                param,
                value,
                expected: format!("{expected} [source: {}]", instance_type.source),
            },
            other => other,
        })?;
        let ami_ref = match &given_ref {
            Some(r) => Sourced::new(
                super::ami_build::render_strict(&r.value, a).map_err(|source| {
                    ConfigError::Template {
                        location: "ami_ref".into(),
                        template: r.value.clone(),
                        source,
                    }
                })?,
                r.source.clone(),
            ),
            None => Sourced::new(
                build.render_ami_ref(&os.value, a)?,
                build_src("os", &os.value),
            ),
        };
        if ami_ref.value.is_empty() || ami_ref.value.contains(char::is_whitespace) {
            return Err(ConfigError::invalid(
                "ami_ref",
                &ami_ref.value,
                "an SSM parameter name tail such as al2023-ami-kernel-default-x86_64",
            ));
        }
        let ssm_parameter = format!("{}{}", os_spec.ssm_prefix, ami_ref.value);
        targets.push(ArchTarget {
            arch: arch_of,
            ami_name: ami_name(
                &lava_version.value,
                &os.value,
                &python_minor,
                a,
                &ctx.build_time,
            ),
            instance_type,
            ami_ref,
            ssm_parameter,
            ami_id: ami_id.clone(),
        });
    }

    Ok(AmiParams {
        config,
        env,
        os_description: os_spec.description.clone(),
        ssh_user: os_spec.ssh_user.clone(),
        os,
        arch,
        targets,
        ip,
        ssh_interface,
        instance_profile,
        kms_key_id,
        s3_kms_key,
        python_version,
        python_minor,
        s3bucket,
        s3prefix,
        sg,
        subnet,
        tz,
        region,
        lava_version,
        build_time: ctx.build_time,
        regions,
        publish_prefix,
    })
}

impl AmiParams {
    /// The regions to copy the AMIs to (the build region, when listed, is left out later).
    pub fn copy_regions(&self) -> Vec<String> {
        self.regions
            .as_ref()
            .map(|r| r.value.split(',').map(|s| s.trim().to_string()).collect())
            .unwrap_or_default()
    }
}
