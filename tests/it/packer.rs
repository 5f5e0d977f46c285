//! `lava-build ami` with packer: rendered templates (snapshots, `packer validate`), the policy document,
//! determinism, emulated builds against the AWS emulator, and failures.
use crate::common::{bin, bin_moto, moto_sdk, path_str};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

const TIME: &str = "2025-07-02T08:43:48Z";

/// `ami --config <fixture> --env test --dist DIST`.
fn ami_args(dist: &Path) -> [String; 7] {
    [
        "ami".into(),
        "--config".into(),
        "tests/fixtures/deploy/test.yaml".into(),
        "--env".into(),
        "test".into(),
        "--dist".into(),
        path_str(dist),
    ]
}

/// `lava-build ami --config <fixture> --env test …` pointed at the emulator, writing under `dist`.
pub(crate) fn ami(dist: &Path, extra: &[&str]) -> assert_cmd::Command {
    let mut c = bin_moto("lava-build");
    c.args(ami_args(dist))
        .args(["--agent-dir", &path_str(&dist.join("agent"))])
        .args(extra);
    c
}

fn ok(cmd: &mut assert_cmd::Command) -> std::process::Output {
    crate::common::ok(cmd.output().unwrap())
}

fn rendered(dist: &Path) -> String {
    std::fs::read_to_string(dist.join("ami/test/lava.pkr.hcl")).unwrap()
}

fn validate(dist: &Path, arch: &str, time: &str, emulate: bool) -> String {
    let mut args = vec!["--validate", "--build-time", time];
    let a = format!("arch={arch}");
    args.push(&a);
    if emulate {
        args.push("--emulate");
    }
    let out = ok(&mut ami(dist, &args));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("is valid"), "{stdout}");
    rendered(dist)
}

#[test]
fn rendered_templates_pass_packer_validate_and_match_snapshots() {
    for (name, arch) in [
        ("template_x86_64", "x86_64"),
        ("template_arm64", "arm64"),
        ("template_both", "x86_64,arm64"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let text = validate(dir.path(), arch, TIME, false);
        let dist = path_str(dir.path());
        insta::with_settings!({filters => vec![
            (dist.as_str(), "[DIST]"),
            (r"ami-[0-9a-f]{8,17}", "[AMI]"),
            (r#"Repo( +)= ".*""#, "Repo$1= \"[REPO]\""),
        ]}, {
            insta::assert_snapshot!(name, text);
        });
    }
}

/// The statements of `temporary_iam_instance_profile_policy_document`: (effect, actions, resources).
fn policy_statements(hcl: &str) -> Vec<(String, Vec<String>, Vec<String>)> {
    let start = hcl
        .find("temporary_iam_instance_profile_policy_document {")
        .expect("policy block");
    let mut depth = 0;
    let mut end = start;
    for (i, ch) in hcl[start..].char_indices() {
        match ch {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    end = start + i;
                    break;
                }
            }
            _ => {}
        }
    }
    let block = &hcl[start..end];
    let mut out = Vec::new();
    for stmt in block.split("Statement {").skip(1) {
        let field = |key: &str| -> Value {
            let line = stmt
                .lines()
                .find(|l| l.trim_start().starts_with(key))
                .unwrap_or_else(|| panic!("{key} in {stmt}"));
            let value = line.split_once('=').unwrap().1.trim();
            serde_json::from_str(value).unwrap_or_else(|e| panic!("{value}: {e}"))
        };
        let list = |v: Value| -> Vec<String> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap().to_string())
                .collect()
        };
        out.push((
            field("Effect").as_str().unwrap().to_string(),
            list(field("Action")),
            list(field("Resource")),
        ));
    }
    out
}

/// A bucket without a customer-managed key (the fixture's bucket has none, or does not exist yet):
/// list, read under the prefix, describe regions, and no KMS permission at all.
#[test]
fn the_build_instance_policy_has_exactly_three_statements() {
    let dir = tempfile::tempdir().unwrap();
    let text = validate(dir.path(), "x86_64,arm64", TIME, false);
    // The fixture's s3 location: s3base test-bucket/base + ami/${version}/.
    let expected = vec![
        (
            "Allow".to_string(),
            vec!["s3:ListBucket".to_string()],
            vec!["arn:aws:s3:::test-bucket".to_string()],
        ),
        (
            "Allow".to_string(),
            vec!["s3:GetObject".to_string()],
            vec!["arn:aws:s3:::test-bucket/base/ami/8.3.0/*".to_string()],
        ),
        (
            "Allow".to_string(),
            vec!["ec2:DescribeRegions".to_string()],
            vec!["*".to_string()],
        ),
    ];
    assert_eq!(
        text.matches("temporary_iam_instance_profile_policy_document")
            .count(),
        2
    );
    assert_eq!(policy_statements(&text), expected);
}

/// The `kms:Decrypt` statement of a rendered template's policy, if there is one.
fn decrypt_resources(text: &str) -> Option<Vec<String>> {
    policy_statements(text)
        .into_iter()
        .find(|(_, actions, _)| actions == &["kms:Decrypt".to_string()])
        .map(|(_, _, resources)| resources)
}

/// A resource bucket encrypted with a customer-managed key (named in the bucket by its alias): the
/// temporary profile may decrypt with that key's ARN and no other key; a bucket with SSE-S3 gives
/// no KMS permission; `s3_kms_key=` is taken as given, and anything but a key ARN is refused.
#[tokio::test(flavor = "multi_thread")]
async fn the_build_instance_may_decrypt_with_the_buckets_own_key_and_no_other() {
    use aws_sdk_s3::types::{
        ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
        ServerSideEncryptionRule,
    };
    let sdk = moto_sdk("us-east-1").await;
    let kms = aws_sdk_kms::Client::new(&sdk);
    let s3 = aws_sdk_s3::Client::new(&sdk);
    let key = kms.create_key().send().await.unwrap().key_metadata.unwrap();
    let key_arn = key.arn().unwrap().to_string();
    let alias = format!("alias/lava-res-{}", &key.key_id()[..8]);
    kms.create_alias()
        .alias_name(&alias)
        .target_key_id(key.key_id())
        .send()
        .await
        .unwrap();
    let encrypt = |bucket: &str, algorithm: ServerSideEncryption, key: Option<&str>| {
        s3.put_bucket_encryption()
            .bucket(bucket)
            .server_side_encryption_configuration(
                ServerSideEncryptionConfiguration::builder()
                    .rules(
                        ServerSideEncryptionRule::builder()
                            .apply_server_side_encryption_by_default(
                                ServerSideEncryptionByDefault::builder()
                                    .sse_algorithm(algorithm)
                                    .set_kms_master_key_id(key.map(String::from))
                                    .build()
                                    .unwrap(),
                            )
                            .build(),
                    )
                    .build()
                    .unwrap(),
            )
    };
    let with_key = format!("lava-kms-{}", &key.key_id()[..8]);
    let sse_s3 = format!("lava-sse-{}", &key.key_id()[..8]);
    for b in [&with_key, &sse_s3] {
        s3.create_bucket().bucket(b).send().await.unwrap();
    }
    encrypt(&with_key, ServerSideEncryption::AwsKms, Some(&alias))
        .send()
        .await
        .unwrap();
    encrypt(&sse_s3, ServerSideEncryption::Aes256, None)
        .send()
        .await
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let text = validate_with(dir.path(), &[&format!("s3bucket={with_key}")]);
    assert_eq!(decrypt_resources(&text), Some(vec![key_arn.clone()]));

    let dir = tempfile::tempdir().unwrap();
    let out = ok(&mut ami(
        dir.path(),
        &[
            "--validate",
            "--build-time",
            TIME,
            "arch=x86_64",
            &format!("s3bucket={sse_s3}"),
        ],
    ));
    assert_eq!(decrypt_resources(&rendered(dir.path())), None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "s3://{sse_s3} is encrypted with AES256: no kms:Decrypt for the build instance"
        )),
        "{stderr}"
    );

    // Configured: no lookup (the bucket says SSE-S3, the parameter wins).
    let other = "arn:aws:kms:us-east-1:123456789012:key/0b1c2d3e-aaaa-bbbb-cccc-123456789012";
    let dir = tempfile::tempdir().unwrap();
    let text = validate_with(
        dir.path(),
        &[
            &format!("s3bucket={sse_s3}"),
            &format!("s3_kms_key={other}"),
        ],
    );
    assert_eq!(decrypt_resources(&text), Some(vec![other.to_string()]));

    let dir = tempfile::tempdir().unwrap();
    let out = ami(
        dir.path(),
        &[
            "--validate",
            "--build-time",
            TIME,
            "arch=x86_64",
            &format!("s3_kms_key={alias}"),
        ],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "s3_kms_key: invalid value \"{alias}\": expected a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID; not an alias)"
        )),
        "{stderr}"
    );
}

/// `ami --validate` with extra parameters: the rendered template, accepted by the installed packer.
fn validate_with(dist: &Path, extra: &[&str]) -> String {
    let mut args = vec!["--validate", "--build-time", TIME, "arch=x86_64"];
    args.extend_from_slice(extra);
    let out = ok(&mut ami(dist, &args));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("is valid"), "{stdout}");
    rendered(dist)
}

/// Private subnets: packer reaches the instance through Session Manager (no route from the runner
/// to the private address); the temporary profile then carries what the SSM agent needs.
#[test]
fn session_manager_renders_and_validates_with_the_ssm_permissions() {
    let dir = tempfile::tempdir().unwrap();
    let text = validate_with(dir.path(), &["ip=private", "ssh_interface=session_manager"]);
    assert!(text.contains("ssh_interface               = \"session_manager\""));
    assert!(text.contains("associate_public_ip_address = false"));
    let statements = policy_statements(&text);
    assert_eq!(statements.len(), 4, "{statements:?}");
    let (effect, actions, resources) = statements.last().unwrap();
    assert_eq!(effect, "Allow");
    assert_eq!(
        actions,
        &[
            "ssm:UpdateInstanceInformation",
            "ssmmessages:CreateControlChannel",
            "ssmmessages:CreateDataChannel",
            "ssmmessages:OpenControlChannel",
            "ssmmessages:OpenDataChannel"
        ]
    );
    assert_eq!(resources, &["*"]);
    // Without session_manager, none of them.
    let plain = validate_with(dir.path(), &["ip=private"]);
    assert!(plain.contains("ssh_interface               = \"private_ip\""));
    assert!(!plain.contains("ssmmessages"));
}

/// instance_profile= uses an existing profile (no temporary role is made, so an organisation's
/// permissions boundary rules are met); kms_key_id= encrypts the AMI with that key; snapshots and
/// the build instance's volumes carry the tags too.
#[test]
fn an_existing_instance_profile_and_a_kms_key_render_and_validate() {
    let dir = tempfile::tempdir().unwrap();
    let text = validate_with(
        dir.path(),
        &[
            "instance_profile=lava-ami-build",
            "kms_key_id=alias/lava-ami",
        ],
    );
    assert!(text.contains("iam_instance_profile = \"lava-ami-build\""));
    assert!(!text.contains("temporary_iam_instance_profile_policy_document"));
    assert!(text.contains("kms_key_id                  = \"alias/lava-ami\""));
    for block in ["snapshot_tags = {", "run_volume_tags = {"] {
        let at = text.find(block).unwrap_or_else(|| panic!("{block}"));
        let body = &text[at..at + text[at..].find("\n  }").unwrap()];
        assert!(body.contains("LavaVersion = \"8.3.0\""), "{body}");
    }
    let plain = validate(dir.path(), "x86_64", TIME, false);
    assert!(!plain.contains("kms_key_id") && !plain.contains("iam_instance_profile ="));
    // Bad values: one line naming the parameter, exit 2, before anything runs.
    for (arg, expected) in [
        (
            "kms_key_id=lava-ami",
            "kms_key_id: invalid value \"lava-ami\"",
        ),
        (
            "instance_profile=arn:aws:iam::1:instance-profile/x",
            "instance_profile: invalid value",
        ),
        (
            "ssh_interface=public_ip",
            "ssh_interface: invalid value \"public_ip\"",
        ),
    ] {
        let out = ami(dir.path(), &["--validate", "ip=private", arg])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{arg}: {stderr}");
        assert!(stderr.contains(expected), "{arg}: {stderr}");
    }
}

/// After packer's reboot, packer reconnects with a long retry window and tries the log upload
/// again on failure; packer (1.6.6 here) accepts both.
#[test]
fn after_the_reboot_packer_reconnects_and_retries_the_log_upload() {
    let dir = tempfile::tempdir().unwrap();
    let text = validate(dir.path(), "x86_64", TIME, false);
    let reboot = text.find("sudo systemctl reboot").unwrap();
    let blocks: Vec<&str> = text[reboot..].split("provisioner \"").skip(1).collect();
    let reconnect = blocks[0];
    assert!(reconnect.starts_with("shell\""), "{reconnect}");
    for must in [
        "pause_before        = \"60s\"",
        "start_retry_timeout = \"15m\"",
        "max_retries         = 5",
    ] {
        assert!(reconnect.contains(must), "{must} in {reconnect}");
    }
    let upload = blocks[1];
    assert!(upload.starts_with("file\""), "{upload}");
    assert!(upload.contains("max_retries = 5"), "{upload}");
    assert!(upload.contains("packer-build.log"), "{upload}");
}

/// A real build with the Session Manager interface stops before packer when the plugin is missing.
#[test]
fn session_manager_without_the_plugin_stops_before_packer() {
    let dir = tempfile::tempdir().unwrap();
    let agent = dir
        .path()
        .join("agent")
        .join(lava_build::packer::agent::host_arch());
    std::fs::create_dir_all(&agent).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_lava-rc"), agent.join("lava-rc")).unwrap();
    let out = ami(
        dir.path(),
        &[
            "--allow-imdsv1",
            "--no-sync",
            &format!("arch={}", lava_build::packer::agent::host_arch()),
            "ip=private",
            "ssh_interface=session_manager",
        ],
    )
    .env("PATH", "/usr/bin:/bin")
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("session-manager-plugin is not on PATH"),
        "{stderr}"
    );
    assert!(
        !dir.path().join("ami/test/lava.pkr.hcl").exists(),
        "packer never ran"
    );
}

#[test]
fn rendering_is_deterministic_apart_from_the_build_time() {
    let dir = tempfile::tempdir().unwrap();
    let first = validate(dir.path(), "x86_64,arm64", TIME, false);
    let second = validate(dir.path(), "x86_64,arm64", TIME, false);
    assert_eq!(first, second, "same inputs, same bytes");
    let later = validate(dir.path(), "x86_64,arm64", "2025-07-03T09:00:00Z", false);
    let changed: Vec<(&str, &str)> = first
        .lines()
        .zip(later.lines())
        .filter(|(a, b)| a != b)
        .collect();
    assert!(!changed.is_empty());
    for (a, b) in changed {
        assert!(
            a.contains("2025-07-02T08") || a.contains("20250702T084348Z"),
            "a line changed that does not carry the build time: {a:?} -> {b:?}"
        );
    }
}

/// Drops the provisioning section (needs SSH) and the emulator-only lines.
fn strip_differences(text: &str) -> (String, Vec<String>) {
    let mut kept = Vec::new();
    let mut removed = Vec::new();
    let mut in_provisioning = false;
    for line in text.lines() {
        if line.contains("# -- provisioning: needs SSH") {
            in_provisioning = true;
        }
        if in_provisioning || line.ends_with("# emulator only") {
            removed.push(line.to_string());
        } else {
            kept.push(line);
        }
        if line.contains("# -- end of provisioning --") {
            in_provisioning = false;
        }
    }
    (kept.join("\n"), removed)
}

#[test]
fn emulated_render_differs_from_the_real_one_only_in_emulator_lines_and_ssh_steps() {
    let dir = tempfile::tempdir().unwrap();
    let real = validate(dir.path(), "x86_64,arm64", TIME, false);
    let emulated = validate(dir.path(), "x86_64,arm64", TIME, true);
    let (real_kept, real_removed) = strip_differences(&real);
    let (emu_kept, emu_removed) = strip_differences(&emulated);
    // Blank lines around the removed parts are the only other difference.
    let squeeze = |s: &str| {
        s.lines()
            .filter(|l| !l.trim().is_empty())
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(squeeze(&real_kept), squeeze(&emu_kept));
    assert!(
        real_removed
            .iter()
            .any(|l| l.contains("provisioner \"file\""))
    );
    assert!(real_removed.iter().all(|l| !l.ends_with("# emulator only")));
    let emu_settings: Vec<_> = emu_removed
        .iter()
        .map(|l| l.split('=').next().unwrap().trim().to_string())
        .collect();
    assert_eq!(
        emu_settings,
        [
            "custom_endpoint_ec2",
            "skip_region_validation",
            "communicator",
            "custom_endpoint_ec2",
            "skip_region_validation",
            "communicator"
        ]
    );
    assert!(!emulated.contains("provisioner"));
}

/// The fixture's resource bucket (s3base test-bucket/base), shared by the tests that build.
async fn resource_bucket(sdk: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    let s3 = aws_sdk_s3::Client::new(sdk);
    // Another test may have made it already.
    let _ = s3.create_bucket().bucket("test-bucket").send().await;
    s3
}

fn tag_map(image: &aws_sdk_ec2::types::Image) -> BTreeMap<String, String> {
    image
        .tags()
        .iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().to_string(),
                t.value().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn emulated_build_of_both_arches_registers_tagged_amis() {
    let sdk = moto_sdk("us-east-1").await;
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let ssm = aws_sdk_ssm::Client::new(&sdk);
    let s3 = resource_bucket(&sdk).await;
    let (subnet, sg) = crate::worker_stack::network(&ec2).await;
    let dir = tempfile::tempdir().unwrap();
    let time = "2025-07-04T01:02:03Z";
    let out = ok(&mut ami(
        dir.path(),
        &[
            "--emulate",
            "--output",
            "json",
            "--build-time",
            time,
            "arch=x86_64,arm64",
            &format!("subnet={subnet}"),
            &format!("sg={sg}"),
        ],
    ));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("the steps that need SSH are left out"),
        "{stderr}"
    );
    // The first step synced ami/resources.s3/ to the emulator.
    assert!(
        stderr.contains("sync ami/resources.s3/ to s3://test-bucket/base/ami/8.3.0/"),
        "{stderr}"
    );
    s3.head_object()
        .bucket("test-bucket")
        .key("base/ami/8.3.0/README.md")
        .send()
        .await
        .expect("resources synced before packer ran");
    let amis = report["amis"].as_array().unwrap();
    assert_eq!(amis.len(), 2, "{report}");
    let name_re = |arch: &str| format!("lava-8.3.0-amzn2023-py3.11-{arch}-2025-07-04T01-02-03Z");
    for a in amis {
        let arch = a["arch"].as_str().unwrap();
        let id = a["ami_id"].as_str().unwrap();
        let images = ec2.describe_images().image_ids(id).send().await.unwrap();
        let image = &images.images()[0];
        assert_eq!(image.name(), Some(name_re(arch).as_str()));
        assert_eq!(a["name"].as_str(), image.name());
        let source = ssm
            .get_parameter()
            .name(format!(
                "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-{arch}"
            ))
            .send()
            .await
            .unwrap()
            .parameter()
            .unwrap()
            .value()
            .unwrap()
            .to_string();
        let tags = tag_map(image);
        let expect = |k: &str| tags.get(k).map(String::as_str);
        assert_eq!(expect("Name"), image.name());
        assert_eq!(expect("OS"), Some("amzn2023"));
        assert_eq!(expect("SourceAmi"), Some(source.as_str()));
        assert_eq!(expect("LavaVersion"), Some("8.3.0"));
        assert_eq!(expect("PythonVersion"), Some("3.11.12"));
        assert_eq!(expect("PYTHON_VERSION"), Some("3.11.12"));
        assert_eq!(expect("Arch"), Some(arch));
        assert_eq!(expect("BuildId"), Some("test-20250704T010203Z"));
        assert!(expect("Repo").is_some_and(|r| !r.is_empty()));
    }
    let log = report["log"].as_str().unwrap();
    assert!(Path::new(log).exists());
    let manifest = std::fs::read_to_string(report["manifest"].as_str().unwrap()).unwrap();
    assert!(
        manifest.contains("\"LavaVersion\": \"8.3.0\""),
        "{manifest}"
    );
}

#[tokio::test]
async fn a_failed_packer_run_exits_1_names_the_log_and_reports_no_ami() {
    let sdk = moto_sdk("us-east-1").await;
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    resource_bucket(&sdk).await;
    let (_, sg) = crate::worker_stack::network(&ec2).await;
    let dir = tempfile::tempdir().unwrap();
    // A successful earlier run in the same folder must not be reported.
    let (subnet, _) = crate::worker_stack::network(&ec2).await;
    ok(&mut ami(
        dir.path(),
        &[
            "--emulate",
            "--build-time",
            "2025-07-05T00:00:00Z",
            "arch=x86_64",
            &format!("subnet={subnet}"),
            &format!("sg={sg}"),
        ],
    ));
    let out = ami(
        dir.path(),
        &[
            "--emulate",
            "--output",
            "json",
            "--build-time",
            "2025-07-05T00:00:00Z",
            "arch=x86_64",
            "subnet=subnet-0000dead",
            &format!("sg={sg}"),
        ],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr.lines().last().unwrap();
    assert!(last.starts_with("error: "), "{stderr}");
    assert!(last.contains("no AMI was built by this run"), "{last}");
    let log = last
        .split_whitespace()
        .find(|w| w.ends_with(".log;") || w.ends_with(".log"))
        .expect("log file named")
        .trim_end_matches(';');
    assert!(Path::new(log).exists(), "{log}");
    assert!(
        out.stdout.is_empty(),
        "no AMI reported: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn a_real_build_without_the_foreign_agent_stops_before_packer() {
    let dir = tempfile::tempdir().unwrap();
    let out = ami(dir.path(), &["--allow-imdsv1", "arch=arm64", "--no-sync"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no boot agent for arm64"), "{stderr}");
    assert!(stderr.contains("make agent"), "{stderr}");
    assert!(
        !dir.path().join("ami/test/lava.pkr.hcl").exists(),
        "nothing rendered"
    );
    let logs: Vec<_> = std::fs::read_dir(dir.path().join("ami"))
        .map(|d| {
            d.flatten()
                .filter(|e| e.path().extension().is_some_and(|x| x == "log"))
                .collect()
        })
        .unwrap_or_default();
    assert!(logs.is_empty(), "packer did not start");
}

#[test]
fn a_real_build_with_packer_1_6_refuses_without_allow_imdsv1() {
    let dir = tempfile::tempdir().unwrap();
    let out = ami(dir.path(), &["--no-sync", "arch=x86_64"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot require IMDSv2"), "{stderr}");
    assert!(stderr.contains("--allow-imdsv1"), "{stderr}");
}

#[test]
fn emulate_without_an_endpoint_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = bin("lava-build")
        .args(ami_args(dir.path()))
        .arg("--emulate")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--emulate needs AWS_ENDPOINT_URL"));
}

#[test]
fn without_packer_on_path_the_error_says_how_to_install_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = ami(dir.path(), &["--validate"])
        .env("PATH", dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("packer is not installed"), "{stderr}");
    assert!(stderr.contains("apt-get install packer"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_stops_packer_cleanly_and_reports_no_ami() {
    use std::io::BufRead as _;
    use std::sync::Arc;
    // An EC2 endpoint that accepts connections and never answers, so packer is mid-request when the
    // interrupt comes. `accepted` fires at packer's first connection; once `release` fires the
    // endpoint drops every connection it holds, letting packer's cancellation finish.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let release = Arc::new(tokio::sync::Notify::new());
    let (accepted_tx, accepted_rx) = tokio::sync::oneshot::channel::<()>();
    let r = release.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        let mut accepted_tx = Some(accepted_tx);
        loop {
            tokio::select! {
                Ok((c, _)) = listener.accept() => {
                    held.push(c);
                    if let Some(tx) = accepted_tx.take() {
                        let _ = tx.send(());
                    }
                }
                _ = r.notified() => return, // dropping `held` resets every connection
            }
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_lava-build"))
        .args([
            "ami",
            "ami_id=ami-12345678",
            "ip=private",
            "python_version=3.11.12",
        ])
        .args([
            "s3bucket=bucket",
            "s3prefix=p/",
            "sg=sg-12345678",
            "subnet=subnet-12345678",
        ])
        .args(["tz=UTC", "region=us-east-1", "--emulate", "--no-sync"])
        // The bucket's key given: lava-build itself makes no AWS call, packer's is the first.
        .arg("s3_kms_key=arn:aws:kms:us-east-1:123456789012:key/0b1c2d3e-aaaa-bbbb-cccc-123456789012")
        .args(["--dist", &path_str(dir.path())])
        .args(["--agent-dir", &path_str(&dir.path().join("agent"))])
        .env("AWS_ENDPOINT_URL", &endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    // lava-build's stderr, line by line as it comes.
    let (line_tx, mut line_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let stderr_pipe = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr_pipe).lines() {
            let Ok(line) = line else { break };
            let _ = line_tx.send(line);
        }
    });
    // Packer is mid-request to the endpoint: the event, not a time.
    tokio::time::timeout(std::time::Duration::from_secs(60), accepted_rx)
        .await
        .expect("packer never connected to the EC2 endpoint")
        .unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    // Release the endpoint only once packer says it is cancelling.
    let mut lines = Vec::new();
    let cancelling = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        while let Some(line) = line_rx.recv().await {
            let hit = line.contains("Cancelling build after receiving interrupt");
            lines.push(line);
            if hit {
                return true;
            }
        }
        false
    })
    .await
    .unwrap_or(false);
    release.notify_one();
    let status = tokio::task::spawn_blocking(move || {
        let mut stdout = Vec::new();
        std::io::Read::read_to_end(&mut child.stdout.take().unwrap(), &mut stdout).unwrap();
        (child.wait().unwrap(), stdout)
    })
    .await
    .unwrap();
    reader.join().unwrap();
    while let Ok(line) = line_rx.try_recv() {
        lines.push(line);
    }
    let out = std::process::Output {
        status: status.0,
        stdout: status.1,
        stderr: lines.join("\n").into_bytes(),
    };
    assert!(
        cancelling,
        "packer never said it was cancelling: {}",
        lines.join("\n")
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("Cancelling build after receiving interrupt"),
        "packer got the interrupt: {stderr}"
    );
    assert!(stderr.contains("Cleanly cancelled builds"), "{stderr}");
    let last = stderr.lines().last().unwrap();
    assert!(
        last.starts_with("error: interrupted") && last.contains("no AMI was built"),
        "{last}"
    );
    assert!(out.stdout.is_empty());
    let template = path_str(&dir.path().join("ami/cli/lava.pkr.hcl"));
    let ps = std::process::Command::new("pgrep")
        .args(["-f", &template])
        .output()
        .unwrap();
    assert!(ps.stdout.is_empty(), "no packer process left");
}

/// A locally built agent that needs a glibc newer than AL2023's 2.34 (here: one calling
/// arc4random, GLIBC_2.36, compiled on this Debian 12) stops a real build before packer starts.
#[test]
fn a_real_build_with_an_agent_needing_a_newer_glibc_stops_before_packer() {
    let dir = tempfile::tempdir().unwrap();
    let host = lava_build::packer::agent::host_arch();
    let agent = dir.path().join("agent").join(host);
    std::fs::create_dir_all(&agent).unwrap();
    let src = dir.path().join("new.c");
    std::fs::write(
        &src,
        "#include <stdlib.h>\nint main(void) { return (int)(arc4random() & 0); }\n",
    )
    .unwrap();
    let cc = std::process::Command::new("cc")
        .arg("-o")
        .arg(agent.join("lava-rc"))
        .arg(&src)
        .output()
        .expect("a C compiler (Debian gcc)");
    assert!(
        cc.status.success(),
        "{}",
        String::from_utf8_lossy(&cc.stderr)
    );
    let out = ami(
        dir.path(),
        &["--allow-imdsv1", "--no-sync", &format!("arch={host}")],
    )
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("needs glibc 2.36 (GLIBC_2.36)"), "{stderr}");
    assert!(
        stderr.contains("newer than the 2.34 of Amazon Linux 2023"),
        "{stderr}"
    );
    assert!(
        !dir.path().join("ami/test/lava.pkr.hcl").exists(),
        "packer never ran"
    );
}
