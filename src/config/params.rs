//! AMI build parameters: the known names, command-line `key=value` parsing, and resolution of
//! command line > config file > ami-build.yaml > defaults into one validated [`AmiParams`].
use super::ami_build::AmiBuild;
use super::deploy::DeployAmi;
use super::error::{ConfigError, nearest};
use super::source::{Source, Sourced};
use super::validate;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;

/// One parameter a user can set.
pub struct ParamSpec {
    pub name: &'static str,
    pub required: bool,
    pub help: &'static str,
}

/// Every parameter `lava-build ami` accepts as `key=value`, in the order `--plan` shows them.
pub const PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "config",
        required: false,
        help: "deploy-format YAML file to read <env>.ami from (needs env)",
    },
    ParamSpec {
        name: "env",
        required: false,
        help: "environment key inside the config file (needs config)",
    },
    ParamSpec {
        name: "os",
        required: true,
        help: "key of os in ami/ami-build.yaml with a tree in ami/os/: amzn2023 (default; amzn2 is refused)",
    },
    ParamSpec {
        name: "arch",
        required: false,
        help: "x86_64 (default), arm64, or both as x86_64,arm64",
    },
    ParamSpec {
        name: "ami_ref",
        required: false,
        help: "tail of the SSM public parameter holding the base AMI id; may use {{ arch }}; default from ami-build.yaml",
    },
    ParamSpec {
        name: "ami_id",
        required: false,
        help: "base AMI id (ami-…); default: read from SSM via ami_ref",
    },
    ParamSpec {
        name: "instance_type",
        required: false,
        help: "build instance type; default per arch from ami-build.yaml; arm64 needs Graviton (t4g, m7g…)",
    },
    ParamSpec {
        name: "ip",
        required: true,
        help: "public or private: the address packer connects to (public also gets a public IP)",
    },
    ParamSpec {
        name: "python_version",
        required: true,
        help: "full Python version built on the AMI, e.g. 3.11.12 (config: python.version)",
    },
    ParamSpec {
        name: "s3bucket",
        required: true,
        help: "bucket holding the build resources (config: ami.s3 with _.s3base)",
    },
    ParamSpec {
        name: "s3prefix",
        required: true,
        help: "key prefix of the build resources, ending in / (config: ami.s3)",
    },
    ParamSpec {
        name: "sg",
        required: true,
        help: "security group id(s) for the build instance, comma-separated, no spaces",
    },
    ParamSpec {
        name: "subnet",
        required: true,
        help: "subnet id for the build instance",
    },
    ParamSpec {
        name: "tz",
        required: true,
        help: "IANA time zone set on instances, e.g. Australia/Sydney",
    },
    ParamSpec {
        name: "region",
        required: true,
        help: "AWS region; default AWS_REGION or the profile's region",
    },
    ParamSpec {
        name: "lava_version",
        required: false,
        help: "lava release the AMI is for; default this tool's version",
    },
    ParamSpec {
        name: "regions",
        required: false,
        help: "regions to copy the AMIs to after the build, comma-separated (config: ami.regions)",
    },
    ParamSpec {
        name: "publish_prefix",
        required: false,
        help: "SSM path the AMIs are published under with --publish; default /lava/ami (config: ami.publish.prefix)",
    },
];

fn known_names() -> impl Iterator<Item = &'static str> {
    PARAMS.iter().map(|p| p.name)
}

/// Parses `key=value` words from the command line. Later words win over earlier ones.
pub fn parse_cli(words: &[String]) -> Result<BTreeMap<String, String>, ConfigError> {
    let mut out = BTreeMap::new();
    for w in words {
        let Some((k, v)) = w.split_once('=') else {
            return Err(ConfigError::Usage {
                message: format!(
                    "argument {w:?}: expected key=value, e.g. python_version=3.11.12 (see --help for the keys)"
                ),
            });
        };
        let k = k.trim();
        if !known_names().any(|n| n == k) {
            return Err(ConfigError::UnknownCliKey {
                key: k.to_string(),
                nearest: nearest(k, known_names()),
            });
        }
        out.insert(k.to_string(), v.to_string());
    }
    Ok(out)
}

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
    pub arch: String,
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
    pub ip: Sourced<String>,
    pub python_version: Sourced<String>,
    /// `X.Y` of the Python version, as used in AMI names.
    pub python_minor: String,
    pub s3bucket: Sourced<String>,
    pub s3prefix: Sourced<String>,
    pub sg: Sourced<String>,
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
        self.sg.value.split(',').map(String::from).collect()
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
        let mut add = |name: &str, s: &Sourced<String>| {
            rows.push((name.to_string(), s.value.clone(), s.source.to_string()))
        };
        if let Some(c) = &self.config {
            add("config", c);
        }
        if let Some(e) = &self.env {
            add("env", e);
        }
        add("os", &self.os);
        add("arch", &self.arch);
        let multi = self.targets.len() > 1;
        for t in &self.targets {
            let suffix = if multi {
                format!("[{}]", t.arch)
            } else {
                String::new()
            };
            add(&format!("ami_ref{suffix}"), &t.ami_ref);
            let unresolved = Sourced::new(
                "(not resolved)".to_string(),
                Source::Ssm(t.ssm_parameter.clone()),
            );
            add(
                &format!("ami_id{suffix}"),
                t.ami_id.as_ref().unwrap_or(&unresolved),
            );
            add(&format!("instance_type{suffix}"), &t.instance_type);
        }
        add("ip", &self.ip);
        add("python_version", &self.python_version);
        add("s3bucket", &self.s3bucket);
        add("s3prefix", &self.s3prefix);
        add("sg", &self.sg);
        add("subnet", &self.subnet);
        add("tz", &self.tz);
        add("region", &self.region);
        add("lava_version", &self.lava_version);
        if let Some(r) = &self.regions {
            add("regions", r);
        }
        if self.publish_prefix.source != Source::Default {
            add("publish_prefix", &self.publish_prefix);
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

/// Splits an S3 location into bucket and prefix. `location` is `s3://bucket/prefix/` or, when
/// relative, a prefix under `s3base` (`bucket[/prefix]`).
pub fn split_s3_location(location: &str, s3base: Option<&str>) -> Result<(String, String), String> {
    let full = if let Some(rest) = location.strip_prefix("s3://") {
        rest.to_string()
    } else {
        let base = s3base.ok_or_else(|| {
            "a relative S3 location needs _.s3base in the environment (or write s3://bucket/prefix/)"
                .to_string()
        })?;
        let base = base.trim_end_matches('/');
        format!("{base}/{}", location.trim_start_matches('/'))
    };
    let (bucket, prefix) = match full.split_once('/') {
        Some((b, p)) => (b.to_string(), p.to_string()),
        None => (full.clone(), String::new()),
    };
    if bucket.is_empty() {
        return Err("no bucket name".into());
    }
    Ok((bucket, prefix))
}

/// Bucket and prefix of the build resources: `s3bucket=`/`s3prefix=` from the command line, else
/// `<env>.ami.s3` (relative to `_.s3base` unless it is an `s3://` URL); `${version}` is replaced.
/// Either may stay `None` when nothing gives it.
#[allow(clippy::type_complexity)]
pub fn resolve_s3(
    cli: &BTreeMap<String, String>,
    file: Option<&DeployAmi>,
    lava_version: &str,
) -> Result<(Option<Sourced<String>>, Option<Sourced<String>>), ConfigError> {
    // S3: bucket and prefix from the command line, else from <env>.ami.s3.
    let (mut s3bucket, mut s3prefix) = (
        cli.get("s3bucket")
            .map(|v| Sourced::new(v.clone(), Source::Cli)),
        cli.get("s3prefix")
            .map(|v| Sourced::new(v.clone(), Source::Cli)),
    );
    if let Some(s3) = file.and_then(|f| f.s3.as_ref()) {
        let location = s3.value.replace("${version}", lava_version);
        let base = file
            .and_then(|f| f.s3base.as_ref())
            .map(|b| b.value.replace("${version}", lava_version));
        let (bucket, prefix) = split_s3_location(&location, base.as_deref())
            .map_err(|why| ConfigError::invalid("s3", &s3.value, &why))?;
        if !prefix.is_empty() && !prefix.ends_with('/') {
            return Err(ConfigError::invalid(
                "s3",
                &s3.value,
                "an S3 location ending in '/', e.g. lava/ami/ or s3://bucket/lava/ami/",
            ));
        }
        let bucket_source = if location.starts_with("s3://") {
            s3.source.clone()
        } else {
            file.and_then(|f| f.s3base.as_ref())
                .map(|b| b.source.clone())
                .unwrap_or_else(|| s3.source.clone())
        };
        s3bucket.get_or_insert(Sourced::new(bucket, bucket_source));
        s3prefix.get_or_insert(Sourced::new(prefix, s3.source.clone()));
    } else if let Some(base) = file.and_then(|f| f.s3base.as_ref()) {
        // No ami.s3: the bucket can still come from s3base when the prefix is given.
        if s3prefix.is_some() && s3bucket.is_none() {
            let b = base.value.split('/').next().unwrap_or_default().to_string();
            s3bucket = Some(Sourced::new(b, base.source.clone()));
        }
    }
    for s in [&mut s3bucket, &mut s3prefix].into_iter().flatten() {
        s.value = s.value.replace("${version}", lava_version);
    }
    Ok((s3bucket, s3prefix))
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
    let mut arches: Vec<String> = Vec::new();
    for a in arch.value.split(',') {
        if !build.arch.contains_key(a) {
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
        }
        if arches.iter().any(|x| x == a) {
            return Err(ConfigError::invalid(
                "arch",
                &arch.value,
                "each architecture once",
            ));
        }
        arches.push(a.to_string());
    }

    // Required scalar values, all reported at once when missing.
    let required = |name: &str| layers.get(name);
    let ip = required("ip");
    let python_version = required("python_version");
    let sg = required("sg");
    let subnet = required("subnet");
    let tz = required("tz");

    let (s3bucket, s3prefix) = resolve_s3(cli, file, &lava_version.value)?;

    let region = layers.get("region").or_else(|| ctx.ambient_region.clone());

    let missing: Vec<&str> = [
        ("ip", ip.is_none()),
        ("python_version", python_version.is_none()),
        ("s3bucket", s3bucket.is_none()),
        ("s3prefix", s3prefix.is_none()),
        ("sg", sg.is_none()),
        ("subnet", subnet.is_none()),
        ("tz", tz.is_none()),
        ("region", region.is_none()),
    ]
    .into_iter()
    .filter(|(_, m)| *m)
    .map(|(n, _)| n)
    .collect();
    let (
        Some(ip),
        Some(python_version),
        Some(s3bucket),
        Some(s3prefix),
        Some(sg),
        Some(subnet),
        Some(tz),
        Some(region),
    ) = (
        ip,
        python_version,
        s3bucket,
        s3prefix,
        sg,
        subnet,
        tz,
        region,
    )
    else {
        let hint = if missing == ["region"] {
            "set region=…, region in <env>.ami, AWS_REGION, or a region in the AWS profile"
        } else if file.is_some() {
            "set them in <env>.ami of the config file (s3bucket/s3prefix come from ami.s3) or as key=value"
        } else {
            "pass them as key=value, or use config=FILE env=ENV"
        };
        return Err(ConfigError::Missing {
            param: missing.join(", "),
            hint: hint.to_string(),
        });
    };

    validate::ip(&ip.value)?;
    let python_minor = validate::python_version(&python_version.value)?;
    validate::s3bucket(&s3bucket.value)?;
    validate::s3prefix(&s3prefix.value)?;
    validate::sg(&sg.value)?;
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
    for a in &arches {
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
                super::ami_build::render_strict(&r.value, a)
                    .map_err(|why| ConfigError::invalid("ami_ref", &r.value, &why))?,
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
            arch: a.clone(),
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
