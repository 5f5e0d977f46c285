//! `lava-ami prune` against the AWS emulator: what counts as in use beyond stacks and the latest
//! and default launch template versions — a version an auto scaling group pins, a launch
//! configuration, running and stopped instances — and AMIs shared with another account or public.
//! Each AMI here is protected by one rule only, so each rule fails the test without it.
use crate::common::{bin_moto, json_stdout, moto_sdk};
use crate::worker_stack::register_ami;
use aws_sdk_ec2::types::{
    LaunchPermission, LaunchPermissionModifications, PermissionGroup, RequestLaunchTemplateData,
};
use std::collections::BTreeMap;

async fn ami(ec2: &aws_sdk_ec2::Client, day: u32) -> String {
    let name = format!("lava-8.3.0-amzn2023-py3.11-x86_64-2025-01-{day:02}T00-00-00Z");
    let tags = [
        ("OS", "amzn2023"),
        ("PythonVersion", "3.11.12"),
        ("Arch", "x86_64"),
    ];
    register_ami(ec2, &name, None, &tags).await
}

#[tokio::test]
async fn prune_keeps_pinned_versions_launch_configurations_instances_and_shared_amis() {
    let region = "ap-south-2";
    let sdk = moto_sdk(region).await;
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let asg = aws_sdk_autoscaling::Client::new(&sdk);
    let mut a = Vec::new();
    for day in 1..=9 {
        a.push(ami(&ec2, day).await);
    }
    // a[0] runs, a[1] is stopped.
    for (i, stop) in [(0, false), (1, true)] {
        let out = ec2
            .run_instances()
            .image_id(&a[i])
            .min_count(1)
            .max_count(1)
            .send()
            .await
            .unwrap();
        let id = out.instances()[0].instance_id().unwrap().to_string();
        if stop {
            ec2.stop_instances().instance_ids(&id).send().await.unwrap();
        }
    }
    // a[2]: a launch configuration.
    asg.create_launch_configuration()
        .launch_configuration_name("old-style")
        .image_id(&a[2])
        .instance_type("t3.small")
        .send()
        .await
        .unwrap();
    // a[3]: version 1 of a template whose latest and default are version 2 (a[7]); a group pins 1.
    let lt = ec2
        .create_launch_template()
        .launch_template_name("pinned")
        .launch_template_data(RequestLaunchTemplateData::builder().image_id(&a[3]).build())
        .send()
        .await
        .unwrap();
    let lt_id = lt
        .launch_template()
        .unwrap()
        .launch_template_id()
        .unwrap()
        .to_string();
    ec2.create_launch_template_version()
        .launch_template_id(&lt_id)
        .launch_template_data(RequestLaunchTemplateData::builder().image_id(&a[7]).build())
        .send()
        .await
        .unwrap();
    ec2.modify_launch_template()
        .launch_template_id(&lt_id)
        .default_version("2")
        .send()
        .await
        .unwrap();
    asg.create_auto_scaling_group()
        .auto_scaling_group_name("pins-one")
        .availability_zones(format!("{region}a"))
        .launch_template(
            aws_sdk_autoscaling::types::LaunchTemplateSpecification::builder()
                .launch_template_id(&lt_id)
                .version("1")
                .build(),
        )
        .min_size(0)
        .max_size(0)
        .send()
        .await
        .unwrap();
    // a[4] shared with another account, a[5] public.
    let share = |id: &str, p: LaunchPermission| {
        ec2.modify_image_attribute()
            .image_id(id)
            .launch_permission(LaunchPermissionModifications::builder().add(p).build())
            .send()
    };
    share(
        &a[4],
        LaunchPermission::builder().user_id("111122223333").build(),
    )
    .await
    .unwrap();
    share(
        &a[5],
        LaunchPermission::builder()
            .group(PermissionGroup::All)
            .build(),
    )
    .await
    .unwrap();
    // a[6]: nothing uses it. a[8]: the newest.

    let mut c = bin_moto("lava-ami");
    c.args([
        "prune",
        "--keep",
        "1",
        "--deregister",
        "--min-deprecated-days",
        "0",
    ])
    .args(["--no-image-references", "--dry-run", "--output", "json"])
    .args(["--region", region]);
    let v = json_stdout(&c.output().unwrap());
    let d: BTreeMap<String, (String, String)> = v["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["ami"].as_str().unwrap().to_string(),
                (
                    d["action"].as_str().unwrap().to_string(),
                    d["reason"].as_str().unwrap().to_string(),
                ),
            )
        })
        .collect();
    let reason = |i: usize| {
        assert_eq!(d[&a[i]].0, "keep", "a[{i}]: {:?}", d[&a[i]]);
        d[&a[i]].1.clone()
    };
    assert!(reason(0).contains("(running)"), "{}", reason(0));
    assert!(
        reason(1).contains("(stopped)") || reason(1).contains("(stopping)"),
        "{}",
        reason(1)
    );
    assert_eq!(reason(2), "in use: launch configuration old-style");
    assert_eq!(
        reason(3),
        "in use: launch template pinned version 1 (pinned by group pins-one)"
    );
    assert!(
        reason(4).starts_with("shared with 111122223333"),
        "{}",
        reason(4)
    );
    assert!(reason(5).starts_with("public"), "{}", reason(5));
    assert!(
        reason(7).contains("launch template pinned version 2"),
        "{}",
        reason(7)
    );
    assert_eq!(reason(8), "newest 1 of 9");
    assert_eq!(d[&a[6]].0, "deregister", "{:?}", d[&a[6]]);
}
