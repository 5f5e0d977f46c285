//! Resolution of AMI parameters: command line > config file > ami-build.yaml > defaults.
use crate::common::{fixture, root};
use chrono::{TimeZone, Utc};
use lava_build::config::{self, AmiBuild, AmiParams, ConfigError, DeployAmi, Source, Sourced};
use std::collections::BTreeMap;

fn ami_build() -> AmiBuild {
    AmiBuild::load(&root().join("ami/ami-build.yaml").to_string_lossy()).unwrap()
}

fn ctx(region: Option<&str>) -> config::Context {
    config::Context {
        ambient_region: region
            .map(|r| Sourced::new(r.to_string(), Source::Env("AWS_REGION".into()))),
        build_time: Utc.with_ymd_and_hms(2025, 7, 2, 8, 43, 48).unwrap(),
    }
}

fn cli(words: &[&str]) -> BTreeMap<String, String> {
    config::parse_cli(&words.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
}

fn resolve_env(env: &str, words: &[&str]) -> Result<AmiParams, ConfigError> {
    let path = fixture("deploy/test.yaml");
    let file = DeployAmi::load(&path, env)?;
    config::resolve(
        &cli(words),
        Some(Sourced::new(path, Source::Cli)),
        Some(Sourced::new(env.to_string(), Source::Cli)),
        Some(&file),
        &ami_build(),
        &ctx(None),
    )
}

fn file_line<T>(s: &Sourced<T>) -> Option<usize> {
    match &s.source {
        Source::File { line, .. } => *line,
        _ => None,
    }
}

#[test]
fn config_file_only() {
    let p = resolve_env("test", &[]).unwrap();
    assert_eq!(p.ip.value, config::IpMode::Public);
    assert_eq!(file_line(&p.ip), Some(11));
    assert_eq!(p.subnet.value, "subnet-f6b6d681");
    assert_eq!(
        p.security_groups(),
        vec!["sg-004d25956a3bf5bd4", "sg-12345678"]
    );
    assert_eq!(p.tz.value, "Australia/Sydney");
    assert_eq!(p.python_version.value, "3.11.12");
    assert_eq!(file_line(&p.python_version), Some(17));
    assert_eq!(p.python_minor, "3.11");
    assert_eq!(p.region.value, "us-east-1");
    // Relative s3 under s3base, ${version} replaced by the default lava version.
    assert_eq!(p.s3bucket.value, "test-bucket");
    assert_eq!(p.s3prefix.value, "base/ami/8.3.0/");
    assert_eq!(p.s3_url(), "s3://test-bucket/base/ami/8.3.0/");
    assert_eq!(p.lava_version.value, env!("CARGO_PKG_VERSION"));
    assert_eq!(p.lava_version.source, Source::Default);
}

#[test]
fn defaults_come_from_ami_build_yaml() {
    let p = resolve_env("test", &[]).unwrap();
    assert_eq!(p.os.value, "amzn2023");
    assert!(matches!(p.os.source, Source::AmiBuild { .. }));
    assert_eq!(p.os_description, "Amazon Linux 2023");
    assert_eq!(p.ssh_user, "ec2-user");
    assert_eq!(p.targets.len(), 1);
    let t = &p.targets[0];
    assert_eq!(t.arch, config::Arch::X86_64);
    assert_eq!(t.instance_type.value, "t3.large");
    assert!(matches!(
        &t.instance_type.source,
        Source::AmiBuild { line: Some(_), .. }
    ));
    assert_eq!(t.ami_ref.value, "al2023-ami-kernel-default-x86_64");
    assert_eq!(
        t.ssm_parameter,
        "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
    );
    assert!(t.ami_id.is_none());
    assert_eq!(
        t.ami_name,
        "lava-8.3.0-amzn2023-py3.11-x86_64-2025-07-02T08-43-48Z"
    );
}

#[test]
fn command_line_overrides_config() {
    let p = resolve_env(
        "test",
        &[
            "python_version=3.11.11",
            "ip=private",
            "lava_version=8.2.1",
            "tz=UTC",
        ],
    )
    .unwrap();
    assert_eq!(p.python_version.value, "3.11.11");
    assert_eq!(p.python_version.source, Source::Cli);
    assert_eq!(p.ip.value, config::IpMode::Private);
    assert_eq!(p.tz.source, Source::Cli);
    // The overridden lava version also flows into ${version}.
    assert_eq!(p.s3prefix.value, "base/ami/8.2.1/");
    assert!(
        p.targets[0]
            .ami_name
            .starts_with("lava-8.2.1-amzn2023-py3.11-x86_64-")
    );
    // Untouched values keep their file source.
    assert!(matches!(p.subnet.source, Source::File { .. }));
}

#[test]
fn the_hard_way_command_line_only() {
    let words = [
        "ami_id=ami-0123456789abcdef0",
        "ip=private",
        "python_version=3.12.4",
        "s3bucket=hard-bucket",
        "s3prefix=lava/ami/",
        "sg=sg-12345678",
        "subnet=subnet-12345678",
        "tz=Europe/London",
    ];
    let p = config::resolve(
        &cli(&words),
        None,
        None,
        None,
        &ami_build(),
        &ctx(Some("eu-west-2")),
    )
    .unwrap();
    assert_eq!(p.region.value, "eu-west-2");
    assert_eq!(p.region.source, Source::Env("AWS_REGION".into()));
    assert_eq!(p.s3_url(), "s3://hard-bucket/lava/ami/");
    assert_eq!(p.s3bucket.source, Source::Cli);
    let id = p.targets[0].ami_id.as_ref().unwrap();
    assert_eq!(id.value, "ami-0123456789abcdef0");
    assert_eq!(id.source, Source::Cli);
    assert_eq!(p.run_name(), "cli");
    assert!(p.targets[0].ami_name.contains("-py3.12-"));
}

#[test]
fn absolute_s3_location_and_arm64() {
    let p = resolve_env("absolute", &[]).unwrap();
    assert_eq!(p.s3bucket.value, "other-bucket");
    assert_eq!(p.s3prefix.value, "some/prefix/");
    let t = &p.targets[0];
    assert_eq!(t.arch, config::Arch::Arm64);
    assert_eq!(t.instance_type.value, "t4g.large");
    assert_eq!(t.ami_ref.value, "al2023-ami-kernel-default-arm64");
    assert_eq!(
        t.ami_name,
        "lava-8.1.0-amzn2023-py3.12-arm64-2025-07-02T08-43-48Z"
    );
}

#[test]
fn both_architectures_get_their_own_defaults() {
    let p = resolve_env("both", &[]).unwrap();
    let arches: Vec<_> = p.targets.iter().map(|t| t.arch.as_str()).collect();
    assert_eq!(arches, ["x86_64", "arm64"]);
    assert_eq!(p.targets[0].instance_type.value, "t3.large");
    assert_eq!(p.targets[1].instance_type.value, "t4g.large");
    assert_eq!(
        p.targets[1].ami_ref.value,
        "al2023-ami-kernel-default-arm64"
    );
    assert_eq!(p.s3_url(), "s3://test-bucket/lava/");
}

#[test]
fn ami_ref_override_is_rendered_per_arch_and_legacy_os() {
    let p = resolve_env(
        "both",
        &["os=amzn2", "ami_ref=amzn2-ami-minimal-hvm-{{ arch }}-ebs"],
    )
    .unwrap();
    assert_eq!(
        p.targets[0].ami_ref.value,
        "amzn2-ami-minimal-hvm-x86_64-ebs"
    );
    assert_eq!(
        p.targets[1].ami_ref.value,
        "amzn2-ami-minimal-hvm-arm64-ebs"
    );
    assert_eq!(p.targets[0].ami_ref.source, Source::Cli);
    let p = resolve_env("test", &["os=amzn2"]).unwrap();
    assert_eq!(p.targets[0].ami_ref.value, "amzn2-ami-hvm-x86_64-gp2");
    assert_eq!(p.os_description, "Amazon Linux 2");
}

#[test]
fn arm64_with_a_graviton_override() {
    let p = resolve_env("test", &["arch=arm64", "instance_type=m7g.xlarge"]).unwrap();
    assert_eq!(p.targets[0].instance_type.value, "m7g.xlarge");
    assert_eq!(p.targets[0].instance_type.source, Source::Cli);
}

#[test]
fn missing_values_are_listed_together() {
    let e = resolve_env("partial", &[]).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.starts_with(
            "python_version, s3bucket, s3prefix, sg, subnet, region: required parameter is missing"
        ),
        "{msg}"
    );
}
