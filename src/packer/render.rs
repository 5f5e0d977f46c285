//! Rendering of the packer HCL2 template (`ami/lava.pkr.hcl.j2`) from resolved parameters. Pure.
use crate::config::{AmiParams, SshInterface};
use camino::Utf8PathBuf;
use minijinja::value::Value;
use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde::Serialize;
use std::collections::BTreeMap;

/// Root volume of the build instance, GiB (Python, OpenSSL and Oracle builds need room).
pub const VOLUME_SIZE_GIB: u32 = 16;

/// How packer is driven: what the installed version supports, and whether to talk to an emulator.
#[derive(Debug, Clone, Default)]
pub struct RenderMode {
    /// `packer { required_plugins … }` and `packer init` (packer ≥ 1.7).
    pub plugins: bool,
    /// `metadata_options` with `http_tokens = "required"` (packer ≥ 1.7 amazon plugin).
    pub imdsv2: bool,
    /// The local AWS emulator's endpoint: adds only the lines that let packer run against it.
    pub emulate: Option<String>,
}

/// Everything the template needs besides the parameters.
#[derive(Debug, Clone)]
pub struct RenderInput<'a> {
    pub params: &'a AmiParams,
    /// Git remote of the build repository (AMI tag `Repo`).
    pub repo: String,
    /// Provisioning tarball per arch.
    pub tarballs: BTreeMap<String, Utf8PathBuf>,
    pub manifest: Utf8PathBuf,
    pub log_file: Utf8PathBuf,
    pub mode: RenderMode,
}

#[derive(Debug, Serialize)]
struct Target {
    arch: String,
    source_ami: String,
    instance_type: String,
    ami_name: String,
    description: String,
    tarball: String,
    tags: BTreeMap<String, String>,
    run_tags: BTreeMap<String, String>,
}

/// One statement of the temporary instance profile's policy.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Statement {
    pub actions: Vec<String>,
    pub resources: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("cannot read the packer template {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("packer template {path}{}", line_text(.line))]
    Template {
        path: String,
        line: Option<usize>,
        #[source]
        source: minijinja::Error,
    },
    #[error("arch {arch}: no base AMI id resolved (run without --offline)")]
    NoAmiId { arch: String },
}

fn line_text(line: &Option<usize>) -> String {
    line.map(|n| format!(", line {n}")).unwrap_or_default()
}

/// What the build instance may do, and nothing else: list the resource bucket, read under the
/// prefix, decrypt with the bucket's customer-managed key when it has one (S3 calls KMS with the
/// instance's credentials; `s3_kms_key`, configured or read from the bucket), describe regions
/// (the AWS CLI); with `session_manager`, what the SSM agent needs to carry packer's SSH session.
pub fn policy(
    bucket: &str,
    prefix: &str,
    bucket_key: Option<&str>,
    ssh_interface: SshInterface,
) -> Vec<Statement> {
    let mut statements = vec![
        Statement {
            actions: vec!["s3:ListBucket".into()],
            resources: vec![format!("arn:aws:s3:::{bucket}")],
        },
        Statement {
            actions: vec!["s3:GetObject".into()],
            resources: vec![format!("arn:aws:s3:::{bucket}/{prefix}*")],
        },
    ];
    if let Some(key) = bucket_key {
        statements.push(Statement {
            actions: vec!["kms:Decrypt".into()],
            resources: vec![key.to_string()],
        });
    }
    statements.push(Statement {
        actions: vec!["ec2:DescribeRegions".into()],
        resources: vec!["*".into()],
    });
    if ssh_interface == SshInterface::SessionManager {
        statements.push(Statement {
            actions: [
                "ssm:UpdateInstanceInformation",
                "ssmmessages:CreateControlChannel",
                "ssmmessages:CreateDataChannel",
                "ssmmessages:OpenControlChannel",
                "ssmmessages:OpenDataChannel",
            ]
            .map(String::from)
            .to_vec(),
            resources: vec!["*".into()],
        });
    }
    statements
}

/// A git remote as it may be shown on an AMI tag: any `user[:password]@` of a URL with a scheme
/// removed (a token in an https remote must not end up on every AMI). `git@host:path` stays.
pub fn public_remote(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    format!("{scheme}://{host}{path}")
}

/// Identifies every AMI of one run: the env and the build time.
pub fn build_id(params: &AmiParams) -> String {
    format!(
        "{}-{}",
        params.run_name(),
        params.build_time.format("%Y%m%dT%H%M%SZ")
    )
}

/// The environment `ami-build.sh` runs with on the instance (FACTS §2 step 5).
pub fn build_env(params: &AmiParams) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("OS".to_string(), params.os.value.clone()),
        ("REPO_UPGRADE".to_string(), "security".to_string()),
        ("TIMEZONE".to_string(), params.tz.value.clone()),
        ("S3BUCKET".to_string(), params.s3bucket.value.clone()),
        ("S3PREFIX".to_string(), params.s3prefix.value.clone()),
        (
            "PYTHON_VERSION".to_string(),
            params.python_version.value.clone(),
        ),
        (
            "AWS_DEFAULT_REGION".to_string(),
            params.region.value.clone(),
        ),
    ])
}

/// Quotes a value as an HCL2 literal: strings (with `${` and `%{` escaped), lists, numbers, booleans.
fn hcl(value: Value) -> Result<String, minijinja::Error> {
    fn quote(s: &str) -> String {
        let json = serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_string());
        json.replace("${", "$${").replace("%{", "%%{")
    }
    if let Some(s) = value.as_str() {
        return Ok(quote(s));
    }
    if value.kind() == minijinja::value::ValueKind::Seq {
        let mut items = Vec::new();
        for v in value.try_iter()? {
            items.push(hcl(v)?);
        }
        return Ok(format!("[{}]", items.join(", ")));
    }
    match value.kind() {
        minijinja::value::ValueKind::Number | minijinja::value::ValueKind::Bool => {
            Ok(value.to_string())
        }
        kind => Err(minijinja::Error::new(
            minijinja::ErrorKind::InvalidOperation,
            format!("hcl: cannot write a {kind} as HCL"),
        )),
    }
}

/// Renders `template` (the text of ami/lava.pkr.hcl.j2, read from `path`) for `input`.
pub fn render(path: &str, template: &str, input: &RenderInput<'_>) -> Result<String, RenderError> {
    let p = input.params;
    let id = build_id(p);
    let created = p
        .build_time
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut targets = Vec::new();
    for t in &p.targets {
        let source_ami =
            t.ami_id
                .as_ref()
                .map(|s| s.value.clone())
                .ok_or_else(|| RenderError::NoAmiId {
                    arch: t.arch.to_string(),
                })?;
        let tags = BTreeMap::from([
            ("Name".to_string(), t.ami_name.clone()),
            ("OS".to_string(), p.os.value.clone()),
            ("Repo".to_string(), public_remote(&input.repo)),
            ("SourceAmi".to_string(), source_ami.clone()),
            ("LavaVersion".to_string(), p.lava_version.value.clone()),
            ("PythonVersion".to_string(), p.python_version.value.clone()),
            // The name lava's documentation tells operators to read; same value.
            ("PYTHON_VERSION".to_string(), p.python_version.value.clone()),
            ("Arch".to_string(), t.arch.to_string()),
            ("BuildId".to_string(), id.clone()),
        ]);
        let mut run_tags = tags.clone();
        run_tags.insert("Name".to_string(), format!("lava-build {}", t.ami_name));
        targets.push(Target {
            arch: t.arch.to_string(),
            description: format!(
                "lava {} on {} ({}) with Python {}, from {source_ami}, built {created}",
                p.lava_version.value, p.os_description, t.arch, p.python_version.value
            ),
            source_ami,
            instance_type: t.instance_type.value.clone(),
            ami_name: t.ami_name.clone(),
            tarball: input
                .tarballs
                .get(t.arch.as_str())
                .map(|p| p.to_string())
                .unwrap_or_default(),
            tags,
            run_tags,
        });
    }
    let sources: Vec<String> = p
        .targets
        .iter()
        .map(|t| format!("source.amazon-ebs.{}", t.arch))
        .collect();
    let emulate = input
        .mode
        .emulate
        .as_ref()
        .map(|endpoint| BTreeMap::from([("endpoint", endpoint.clone())]));

    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| AutoEscape::None);
    env.set_keep_trailing_newline(true);
    env.add_filter("hcl", hcl);
    let tmpl_err = |source: minijinja::Error| RenderError::Template {
        path: path.to_string(),
        line: source.line(),
        source,
    };
    env.add_template("lava", template).map_err(tmpl_err)?;
    let ctx = minijinja::context! {
        tool_version => env!("CARGO_PKG_VERSION"),
        env => p.run_name(),
        os => p.os.value,
        build_id => id,
        packer_plugins => input.mode.plugins,
        imdsv2_block => input.mode.imdsv2,
        emulate => emulate,
        targets => targets,
        region => p.region.value,
        subnet => p.subnet.value,
        security_groups => p.security_groups(),
        ip => p.ip.value,
        ssh_interface => p.ssh_interface.value.as_str(),
        instance_profile => p.instance_profile.as_ref().map(|v| v.value.clone()),
        kms_key_id => p.kms_key_id.as_ref().map(|v| v.value.clone()),
        ssh_user => p.ssh_user,
        policy => policy(
            &p.s3bucket.value,
            &p.s3prefix.value,
            p.s3_kms_key.as_ref().map(|k| k.value.as_str()),
            p.ssh_interface.value,
        ),
        volume_size => VOLUME_SIZE_GIB,
        sources => sources,
        build_env => build_env(p),
        lava_version => p.lava_version.value,
        python_version => p.python_version.value,
        repo => public_remote(&input.repo),
        manifest => input.manifest.as_str(),
        log_file => input.log_file.as_str(),
    };
    env.get_template("lava")
        .and_then(|t| t.render(ctx))
        .map_err(tmpl_err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{self, AmiBuild, Source, Sourced};

    fn params(arch: &str) -> AmiParams {
        let cli: BTreeMap<String, String> = [
            ("ip", "private"),
            ("python_version", "3.12.4"),
            ("s3bucket", "res-bucket"),
            ("s3prefix", "lava/ami/"),
            ("sg", "sg-12345678"),
            ("subnet", "subnet-12345678"),
            ("tz", "UTC"),
            ("region", "eu-west-1"),
            ("arch", arch),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let build = AmiBuild::load("ami/ami-build.yaml").unwrap();
        let ctx = config::Context {
            ambient_region: None,
            build_time: chrono::DateTime::parse_from_rfc3339("2025-07-02T08:43:48Z")
                .unwrap()
                .into(),
        };
        let mut p = config::resolve(&cli, None, None, None, &build, &ctx).unwrap();
        for (i, t) in p.targets.iter_mut().enumerate() {
            t.ami_id = Some(Sourced::new(format!("ami-0000000{i}"), Source::Cli));
        }
        p
    }

    fn render_with(p: &AmiParams, mode: RenderMode) -> String {
        let text = std::fs::read_to_string("ami/lava.pkr.hcl.j2").unwrap();
        let input = RenderInput {
            params: p,
            repo: "https://example.com/lava-build.git".into(),
            tarballs: BTreeMap::new(),
            manifest: "/d/m.json".into(),
            log_file: "/d/packer-build.log".into(),
            mode,
        };
        render("ami/lava.pkr.hcl.j2", &text, &input).unwrap()
    }

    #[test]
    fn newer_packer_gets_plugins_and_imdsv2_required() {
        let p = params("x86_64,arm64");
        let modern = render_with(
            &p,
            RenderMode {
                plugins: true,
                imdsv2: true,
                emulate: None,
            },
        );
        assert!(modern.contains("required_plugins {"));
        assert!(modern.contains("source  = \"github.com/hashicorp/amazon\""));
        assert_eq!(
            modern
                .matches("http_tokens                 = \"required\"")
                .count(),
            2
        );
        // Instances of the AMI default to IMDSv2 only: once per source, inside the source block.
        assert_eq!(modern.matches("imds_support = \"v2.0\"").count(), 2);
        for source in modern.split("source \"amazon-ebs\"").skip(1) {
            let block = &source[..source.find("\n}\n").expect("a source block ends")];
            assert!(block.contains("imds_support = \"v2.0\""), "{block}");
        }
        let old = render_with(&p, RenderMode::default());
        assert!(!old.contains("required_plugins") && !old.contains("metadata_options"));
        assert!(!old.contains("imds_support"));
    }

    #[test]
    fn private_ip_connects_privately_and_public_associates_an_address() {
        let p = params("x86_64");
        let text = render_with(&p, RenderMode::default());
        assert!(text.contains("associate_public_ip_address = false"));
        assert!(text.contains("ssh_interface               = \"private_ip\""));
        assert!(text.contains("\"S3PREFIX=lava/ami/\""));
        assert!(text.contains("\"PYTHON_VERSION=3.12.4\""));
    }

    #[test]
    fn the_repo_tag_carries_no_credentials() {
        for (remote, shown) in [
            (
                "https://x-access-token:ghs_abc@github.com/o/r.git",
                "https://github.com/o/r.git",
            ),
            (
                "https://user@example.com/r.git",
                "https://example.com/r.git",
            ),
            ("ssh://git@host:22/o/r", "ssh://host:22/o/r"),
            ("https://github.com/o/r.git", "https://github.com/o/r.git"),
            ("git@github.com:o/r.git", "git@github.com:o/r.git"),
            ("unknown", "unknown"),
        ] {
            assert_eq!(public_remote(remote), shown, "{remote}");
        }
        let p = params("x86_64");
        let text = std::fs::read_to_string("ami/lava.pkr.hcl.j2").unwrap();
        let input = RenderInput {
            params: &p,
            repo: "https://me:secret@example.com/lava-build.git".into(),
            tarballs: BTreeMap::new(),
            manifest: "/m".into(),
            log_file: "/l".into(),
            mode: RenderMode::default(),
        };
        let out = render("t", &text, &input).unwrap();
        assert!(!out.contains("secret") && !out.contains("me:"), "{out}");
        assert!(out.contains("\"https://example.com/lava-build.git\""));
    }

    #[test]
    fn hcl_strings_escape_interpolation() {
        assert_eq!(
            hcl(Value::from("a${b}%{c}\"")).unwrap(),
            r#""a$${b}%%{c}\"""#
        );
        assert_eq!(hcl(Value::from(vec!["x", "y"])).unwrap(), r#"["x", "y"]"#);
        assert_eq!(hcl(Value::from(16)).unwrap(), "16");
    }

    #[test]
    fn a_missing_template_variable_is_an_error_not_an_empty_string() {
        let p = params("x86_64");
        let input = RenderInput {
            params: &p,
            repo: String::new(),
            tarballs: BTreeMap::new(),
            manifest: "/m".into(),
            log_file: "/l".into(),
            mode: RenderMode::default(),
        };
        let e = render("t.j2", "x = {{ no_such_value }}", &input).unwrap_err();
        assert!(
            matches!(&e, RenderError::Template { path, line: Some(1), source }
                if path == "t.j2" && source.kind() == minijinja::ErrorKind::UndefinedError),
            "{e}"
        );
    }
}
