//! `lava-build ami --plan`: SSM resolution against the AWS emulator, and the JSON plan snapshot.
use crate::common::{bin, bin_moto, moto_sdk};
use serde_json::Value;

/// `lava-build ami --config <fixture> --env ENV --plan` on `cmd` (from `bin` or `bin_moto`).
fn plan_of(mut cmd: assert_cmd::Command, env: &str) -> assert_cmd::Command {
    cmd.args([
        "ami",
        "--config",
        "tests/fixtures/deploy/test.yaml",
        "--env",
        env,
        "--plan",
    ]);
    cmd
}

fn plan_json(cmd: &mut assert_cmd::Command) -> Value {
    crate::common::json_stdout(&cmd.output().unwrap())
}

#[tokio::test]
async fn ssm_resolves_base_ami_for_both_arches() {
    let plan = plan_json(plan_of(bin_moto("lava-build"), "both").args(["--output", "json"]));
    let sdk = moto_sdk("us-east-1").await;
    let ssm = aws_sdk_ssm::Client::new(&sdk);
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let targets = plan["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 2);
    let mut ids = Vec::new();
    for t in targets {
        let arch = t["arch"].as_str().unwrap();
        let id = t["ami_id"].as_str().expect("ami_id resolved");
        let param = t["ssm_parameter"].as_str().unwrap();
        assert_eq!(
            param,
            format!("/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-{arch}")
        );
        // The id is what the emulator's parameter holds …
        let stored = ssm.get_parameter().name(param).send().await.unwrap();
        assert_eq!(stored.parameter().unwrap().value(), Some(id));
        // … and the emulator knows it as an image.
        let images = ec2.describe_images().image_ids(id).send().await.unwrap();
        let image = &images.images()[0];
        assert_eq!(image.image_id(), Some(id));
        ids.push(id.to_string());
        // Its source is shown in the parameter rows.
        let row = plan["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == format!("ami_id[{arch}]"))
            .unwrap();
        assert_eq!(row["source"], format!("ssm {param}"));
    }
    assert_ne!(ids[0], ids[1], "x86_64 and arm64 resolve to different AMIs");
}

#[test]
fn ssm_parameter_not_found_names_parameter_os_and_arch() {
    let out = plan_of(bin_moto("lava-build"), "absolute")
        .args(["ami_ref=no-such-ami-{{ arch }}"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("SSM parameter /aws/service/ami-amazon-linux-latest/no-such-ami-arm64 not found (os amzn2023, arch arm64)"),
        "{stderr}"
    );
}

#[test]
fn plan_json_snapshot() {
    let out = plan_of(bin("lava-build"), "both")
        .args([
            "--offline",
            "--output",
            "json",
            "--build-time",
            "2025-07-02T08:43:48Z",
            "python_version=3.11.11",
        ])
        .output()
        .unwrap();
    crate::common::succeeded(&out);
    insta::assert_snapshot!(String::from_utf8_lossy(&out.stdout));
}

#[test]
fn plan_text_shows_sources_names_and_steps() {
    let out = plan_of(bin("lava-build"), "test")
        .args([
            "--offline",
            "--build-time",
            "2025-07-02T08:43:48Z",
            "ami_id=ami-0123456789abcdef0",
        ])
        .output()
        .unwrap();
    crate::common::succeeded(&out);
    insta::assert_snapshot!(String::from_utf8_lossy(&out.stdout));
}

#[test]
fn plan_steps_name_the_paths_given_by_dist_and_ami_build() {
    let tmp = tempfile::tempdir().unwrap();
    let ami = tmp.path().join("my-ami");
    std::fs::create_dir_all(ami.join("os/amzn2023")).unwrap();
    std::fs::copy("ami/ami-build.yaml", ami.join("ami-build.yaml")).unwrap();
    let dist = tmp.path().join("out");
    let agents = tmp.path().join("agents");
    let plan = plan_json(plan_of(bin("lava-build"), "test").args([
        "--offline",
        "--output",
        "json",
        "ami_id=ami-0123456789abcdef0",
        "--ami-build",
        ami.join("ami-build.yaml").to_str().unwrap(),
        "--dist",
        dist.to_str().unwrap(),
        "--agent-dir",
        agents.to_str().unwrap(),
    ]));
    let steps: Vec<&str> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    let text = steps.join("\n");
    let (ami, dist, agents) = (
        ami.to_str().unwrap(),
        dist.to_str().unwrap(),
        agents.to_str().unwrap(),
    );
    assert!(
        text.contains(&format!("sync {ami}/resources.s3/ to ")),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "pack {ami}/ami-build.sh, {ami}/os/amzn2023/, rc.d/ and {agents}/x86_64/lava-rc into {dist}/ami/test/provision-x86_64.tar.gz"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "render {ami}/lava.pkr.hcl.j2 into {dist}/ami/test/lava.pkr.hcl"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("read {dist}/ami/test-manifest.json")),
        "{text}"
    );
    for s in &steps {
        assert!(
            !s.contains(" dist/") && !s.contains(" ami/"),
            "a step names a default path: {s}"
        );
    }
}

#[test]
fn help_lists_every_parameter() {
    let out = bin("lava-build").args(["ami", "--help"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for p in lava_build::config::PARAMS {
        assert!(
            text.contains(&format!("  {} ", p.name)),
            "--help lacks {}",
            p.name
        );
    }
}
