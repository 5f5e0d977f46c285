//! The AMI lifecycle against the AWS emulator: `lava-ami publish` (SSM parameters per kind, their
//! history, the listing), `lava-ami copy` (two regions, idempotent, a failed region named and the
//! others kept), `lava-ami prune` (keeps the newest N and every AMI in use or published, deletes
//! the snapshots of what it deregisters, a dry run changes nothing), bad input, the worker
//! template's amiParameter, and `lava-build ami --emulate --publish regions=…`.
//!
//! Each test has regions of its own in the emulator. The emulator has no EnableImageDeprecation
//! (it answers 500 without an error code) and never returns DeprecationTime: the deprecation
//! request is checked as built, and prune's report of the emulator's failure is checked.
use crate::common::{bin_moto, moto_sdk};
use crate::worker_stack::{register_ami, topic_stack};
use aws_sdk_ec2::types::{LaunchTemplateVersion, RequestLaunchTemplateData};
use serde_json::Value;
use std::collections::BTreeMap;

struct Region {
    name: String,
    ec2: aws_sdk_ec2::Client,
    ssm: aws_sdk_ssm::Client,
    cfn: aws_sdk_cloudformation::Client,
}

impl Region {
    async fn new(name: &str) -> Self {
        let sdk = moto_sdk(name).await;
        Region {
            name: name.into(),
            ec2: aws_sdk_ec2::Client::new(&sdk),
            ssm: aws_sdk_ssm::Client::new(&sdk),
            cfn: aws_sdk_cloudformation::Client::new(&sdk),
        }
    }

    /// A lava AMI as `lava-build ami` names and tags it; `day` orders AMIs of a kind.
    async fn ami(&self, arch: &str, day: u32) -> String {
        let name = format!("lava-8.3.0-amzn2023-py3.11-{arch}-2025-01-{day:02}T00-00-00Z");
        let tags = [
            ("Name", name.as_str()),
            ("OS", "amzn2023"),
            ("PythonVersion", "3.11.12"),
            ("Arch", arch),
            ("LavaVersion", "8.3.0"),
            ("SourceAmi", "ami-0aaaabbbbccccdddd"),
        ];
        let description = format!("lava AMI for {arch}");
        register_ami(&self.ec2, &name, Some(&description), &tags).await
    }

    /// The account's AMIs here: id → tags.
    /// Every AMI the account owns here.
    async fn own_images(&self) -> Vec<aws_sdk_ec2::types::Image> {
        let out = self
            .ec2
            .describe_images()
            .owners("self")
            .send()
            .await
            .unwrap();
        out.images().to_vec()
    }

    async fn images(&self) -> BTreeMap<String, BTreeMap<String, String>> {
        self.own_images()
            .await
            .iter()
            .map(|i| {
                (
                    i.image_id().unwrap().to_string(),
                    i.tags()
                        .iter()
                        .map(|t| (t.key().unwrap().to_string(), t.value().unwrap().to_string()))
                        .collect(),
                )
            })
            .collect()
    }

    /// Snapshot ids of every AMI here, and every snapshot that exists.
    async fn snapshots(&self) -> (BTreeMap<String, Vec<String>>, Vec<String>) {
        let of_images = self
            .own_images()
            .await
            .iter()
            .map(|i| {
                (
                    i.image_id().unwrap().to_string(),
                    i.block_device_mappings()
                        .iter()
                        .filter_map(|m| m.ebs().and_then(|e| e.snapshot_id()))
                        .map(String::from)
                        .collect(),
                )
            })
            .collect();
        let all = self
            .ec2
            .describe_snapshots()
            .owner_ids("self")
            .send()
            .await
            .unwrap()
            .snapshots()
            .iter()
            .map(|s| s.snapshot_id().unwrap().to_string())
            .collect();
        (of_images, all)
    }

    async fn parameter(&self, name: &str) -> (String, i64, String) {
        let p = self.ssm.get_parameter().name(name).send().await.unwrap();
        let p = p.parameter().unwrap();
        (
            p.value().unwrap().to_string(),
            p.version(),
            p.data_type().unwrap_or_default().to_string(),
        )
    }

    /// `lava-ami ARGS --region <this>`; prune without DescribeImageReferences, which the
    /// emulator lacks.
    fn cmd(&self, args: &[&str]) -> assert_cmd::Command {
        let mut c = bin_moto("lava-ami");
        c.args(args).args(["--region", &self.name]);
        if args.first() == Some(&"prune") {
            c.arg("--no-image-references");
        }
        c
    }
}

fn json(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn run(c: &mut assert_cmd::Command, code: i32) -> std::process::Output {
    let out = c.output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

const X86: &str = "/lava/ami/amzn2023/py3.11/x86_64/latest";
const ARM: &str = "/lava/ami/amzn2023/py3.11/arm64/latest";

#[tokio::test]
async fn publish_writes_one_parameter_per_kind_keeps_history_and_lists() {
    let r = Region::new("ap-south-1").await;
    let old = r.ami("x86_64", 1).await;
    let new = r.ami("x86_64", 2).await;
    let arm = r.ami("arm64", 1).await;

    let out = run(&mut r.cmd(&["publish", &old, &arm, "--output", "json"]), 0);
    let v = json(&out);
    assert_eq!(v[0]["parameter"], X86);
    assert_eq!(v[0]["status"], "published");
    assert_eq!(v[1]["parameter"], ARM);
    assert_eq!(
        r.parameter(X86).await,
        (old.clone(), 1, "aws:ec2:image".into())
    );
    assert_eq!(
        r.parameter(ARM).await,
        (arm.clone(), 1, "aws:ec2:image".into())
    );

    // A newer AMI replaces the value; the old one stays in the history.
    let out = run(&mut r.cmd(&["publish", &new, "--output", "json"]), 0);
    let v = json(&out);
    assert_eq!(v[0]["previous"], old.as_str());
    assert_eq!(v[0]["version"], 2);
    assert_eq!(r.parameter(X86).await.0, new);
    let history = r
        .ssm
        .get_parameter_history()
        .name(X86)
        .send()
        .await
        .unwrap();
    let values: Vec<&str> = history
        .parameters()
        .iter()
        .filter_map(|p| p.value())
        .collect();
    assert_eq!(values, [old.as_str(), new.as_str()]);

    // Publishing the current AMI again writes nothing.
    let out = run(&mut r.cmd(&["publish", &new, "--output", "json"]), 0);
    assert_eq!(json(&out)[0]["status"], "unchanged");
    assert_eq!(r.parameter(X86).await.1, 2);

    // lava-ami lists what is published, per kind.
    let out = run(&mut r.cmd(&["--output", "json"]), 0);
    let listed: Vec<(String, String)> = json(&out)["published"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["parameter"].as_str().unwrap().to_string(),
                e["ami"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [(ARM.to_string(), arm), (X86.to_string(), new.clone())]
    );
    let out = run(&mut r.cmd(&[]), 0);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Published AMIs (SSM /lava/ami/<kind>/latest)"),
        "{text}"
    );
    assert!(text.contains("amzn2023/py3.11/x86_64"), "{text}");

    // Under another prefix, and an AMI that is not lava's.
    run(
        &mut r.cmd(&["publish", &new, "--publish-prefix", "/team/images"]),
        0,
    );
    assert_eq!(
        r.parameter("/team/images/amzn2023/py3.11/x86_64/latest")
            .await
            .0,
        new
    );
    let other = register_ami(&r.ec2, "someone-else", None, &[]).await;
    let out = run(&mut r.cmd(&["publish", &other]), 1);
    assert!(
        stderr(&out).contains(&format!(
            "{other} (someone-else) in ap-south-1 is not a lava AMI"
        )),
        "{}",
        stderr(&out)
    );
    let out = run(&mut r.cmd(&["publish", "ami-0123456789abcdef0"]), 1);
    assert!(
        stderr(&out).contains("ami-0123456789abcdef0 in ap-south-1 is not an AMI of this account"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn copy_to_two_regions_tags_and_publishes_and_a_second_run_copies_nothing() {
    let src = Region::new("us-east-2").await;
    let (a, b) = (
        Region::new("ap-northeast-2").await,
        Region::new("ap-northeast-3").await,
    );
    let x86 = src.ami("x86_64", 3).await;
    let arm = src.ami("arm64", 3).await;
    let args = [
        "copy",
        &x86,
        &arm,
        "--to",
        "ap-northeast-2,ap-northeast-3,us-east-2",
        "--publish",
        "--output",
        "json",
    ];
    let first = json(&run(&mut src.cmd(&args), 0));
    let rows = first.as_array().unwrap();
    // The source region is left out: two regions × two arches.
    assert_eq!(rows.len(), 4, "{first}");
    let mut copies: BTreeMap<(String, String), String> = BTreeMap::new();
    for row in rows {
        assert_eq!(row["status"], "copied", "{row}");
        copies.insert(
            (
                row["region"].as_str().unwrap().into(),
                row["source"].as_str().unwrap().into(),
            ),
            row["ami"].as_str().unwrap().into(),
        );
    }
    for target in [&a, &b] {
        let images = target.images().await;
        assert_eq!(images.len(), 2, "{images:?}");
        for (source, param) in [(&x86, X86), (&arm, ARM)] {
            let id = &copies[&(target.name.clone(), source.clone())];
            let tags = &images[id];
            assert_eq!(tags["SourceRegion"], "us-east-2");
            assert_eq!(tags["SourceAmi"], *source);
            assert_eq!(tags["BaseAmi"], "ami-0aaaabbbbccccdddd");
            assert_eq!(tags["OS"], "amzn2023");
            assert_eq!(tags["PythonVersion"], "3.11.12");
            assert_eq!(target.parameter(param).await.0, *id);
        }
    }

    // The emulator ignores Encrypted and the tags of CopyImage: the request is checked as built.
    let source = lava_build::lifecycle::images::by_id(&src.ec2, "us-east-2", &x86)
        .await
        .unwrap();
    let req = lava_build::lifecycle::copy::copy_request(&a.ec2, &source);
    assert_eq!(req.get_encrypted(), &Some(true));
    assert_eq!(req.get_source_region().as_deref(), Some("us-east-2"));
    assert_eq!(req.get_name().as_deref(), Some(source.name.as_str()));
    let spec = &req.get_tag_specifications().as_ref().unwrap()[0];
    let tags: BTreeMap<&str, &str> = spec
        .tags()
        .iter()
        .map(|t| (t.key().unwrap(), t.value().unwrap()))
        .collect();
    assert_eq!(tags["SourceAmi"], x86);
    assert_eq!(tags["SourceRegion"], "us-east-2");

    let second = json(&run(&mut src.cmd(&args), 0));
    for row in second.as_array().unwrap() {
        assert_eq!(row["status"], "existing", "{row}");
        let key = (
            row["region"].as_str().unwrap().to_string(),
            row["source"].as_str().unwrap().to_string(),
        );
        assert_eq!(row["ami"].as_str().unwrap(), copies[&key]);
    }
    assert_eq!(a.images().await.len(), 2);
    assert_eq!(b.images().await.len(), 2);
}

#[tokio::test]
async fn a_failed_region_is_named_and_the_other_copies_stay() {
    let src = Region::new("us-west-1").await;
    let good = Region::new("ap-southeast-1").await;
    let bad = Region::new("ap-east-1").await;
    let ami = src.ami("x86_64", 4).await;
    // In the bad region the parameter has 100 versions and the oldest is labelled: SSM refuses a
    // new version (ParameterMaxVersionLimitExceeded), as it does in AWS.
    for i in 0..100 {
        bad.ssm
            .put_parameter()
            .name(X86)
            .value(format!("ami-{:017x}", i + 1))
            .r#type(aws_sdk_ssm::types::ParameterType::String)
            .overwrite(true)
            .send()
            .await
            .unwrap();
    }
    bad.ssm
        .label_parameter_version()
        .name(X86)
        .parameter_version(1)
        .labels("pinned")
        .send()
        .await
        .unwrap();
    let out = run(
        &mut src.cmd(&[
            "copy",
            &ami,
            "--to",
            "ap-southeast-1,ap-east-1",
            "--publish",
            "--output",
            "json",
        ]),
        1,
    );
    let rows = json(&out);
    let by_region: BTreeMap<&str, &Value> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["region"].as_str().unwrap(), r))
        .collect();
    assert_eq!(by_region["ap-southeast-1"]["status"], "copied");
    let failed = by_region["ap-east-1"];
    assert_eq!(failed["status"], "failed");
    let reason = failed["reason"].as_str().unwrap();
    assert!(
        reason.starts_with(&format!(
            "PutParameter {X86} in ap-east-1: ParameterMaxVersionLimitExceeded"
        )),
        "{reason}"
    );
    let copied = by_region["ap-southeast-1"]["ami"].as_str().unwrap();
    assert_eq!(good.parameter(X86).await.0, copied);
    assert!(good.images().await.contains_key(copied));
}

async fn launch_template(r: &Region, name: &str, images: &[&str]) -> Vec<LaunchTemplateVersion> {
    let mut it = images.iter();
    let first = it.next().unwrap();
    let lt = r
        .ec2
        .create_launch_template()
        .launch_template_name(name)
        .launch_template_data(
            RequestLaunchTemplateData::builder()
                .image_id(*first)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let id = lt.launch_template().unwrap().launch_template_id().unwrap();
    for image in it {
        r.ec2
            .create_launch_template_version()
            .launch_template_id(id)
            .launch_template_data(
                RequestLaunchTemplateData::builder()
                    .image_id(*image)
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }
    r.ec2
        .describe_launch_template_versions()
        .launch_template_id(id)
        .send()
        .await
        .unwrap()
        .launch_template_versions()
        .to_vec()
}

fn decisions(v: &Value) -> BTreeMap<String, (String, String)> {
    v["decisions"]
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
        .collect()
}

#[tokio::test]
async fn prune_keeps_the_newest_and_every_ami_in_use_and_deletes_the_snapshots_of_the_rest() {
    let r = Region::new("me-south-1").await;
    let mut x86 = Vec::new();
    for day in 1..=8 {
        x86.push(r.ami("x86_64", day).await);
    }
    let arm = r.ami("arm64", 1).await;
    // x86[0]: named by a stack parameter (not a worker stack's amiId).
    topic_stack(&r.cfn, "some-app", &[("baseImage", &x86[0])]).await;
    // x86[1]: a worker stack's amiId.
    let (subnet, sg) = crate::worker_stack::network(&r.ec2).await;
    crate::worker_stack::create_worker(
        &r.cfn,
        "lava-prod-life",
        &[
            ("realm", "prod"),
            ("worker", "life"),
            ("realmLambdasDeployed", "No"),
            ("amiId", &x86[1]),
            ("subnets", &subnet),
            ("secGroups", &sg),
            ("codeBucket", "lava-code"),
            ("s3Temp", "s3://lava-prod-tmp/lava/prod/tmp"),
            ("s3Payloads", "s3://lava-prod-payloads/lava/prod/payloads"),
        ],
    )
    .await;
    // x86[2]: the latest version of a launch template; x86[4] only in its first version (neither
    // latest nor default once the default moves).
    let versions = launch_template(&r, "lt-app", &[&x86[4], &x86[7], &x86[2]]).await;
    assert_eq!(versions.len(), 3);
    r.ec2
        .modify_launch_template()
        .launch_template_name("lt-app")
        .default_version("2")
        .send()
        .await
        .unwrap();
    // x86[3]: published.
    run(&mut r.cmd(&["publish", &x86[3]]), 0);

    let before_images = r.images().await;
    let before_snapshots = r.snapshots().await;
    // The worker stack's launch template names x86[1] too; the others are ours.
    // Deregistration without deprecation first: the emulator never reports a DeprecationTime.
    let args = [
        "prune",
        "--keep",
        "2",
        "--deregister",
        "--min-deprecated-days",
        "0",
        "--output",
        "json",
    ];

    // Not a terminal and no --yes: a dry run.
    let out = run(&mut r.cmd(&args), 0);
    assert!(
        stderr(&out).contains("not a terminal and no --yes: dry run"),
        "{}",
        stderr(&out)
    );
    let plan = json(&out);
    assert_eq!(plan["dry_run"], true);
    let d = decisions(&plan);
    let action = |id: &str| d[id].0.as_str();
    assert_eq!(action(&x86[7]), "keep");
    assert_eq!(d[&x86[7]].1, "newest 1 of 8");
    assert_eq!(action(&x86[6]), "keep");
    assert_eq!(d[&x86[0]].1, "in use: stack some-app parameter baseImage");
    assert!(
        d[&x86[1]]
            .1
            .contains("stack lava-prod-life parameter amiId"),
        "{:?}",
        d[&x86[1]]
    );
    assert_eq!(
        d[&x86[2]].1,
        "in use: launch template lt-app version 3 (latest)"
    );
    assert_eq!(d[&x86[3]].1, format!("in use: published in {X86}"));
    assert_eq!(action(&x86[4]), "deregister");
    assert_eq!(action(&x86[5]), "deregister");
    assert_eq!(d[&arm].1, "newest 1 of 1");
    assert_eq!(plan["freed_gib"], 30);
    // --dry-run changes nothing either, even with --yes.
    let mut dry = args.to_vec();
    dry.extend(["--dry-run", "--yes"]);
    run(&mut r.cmd(&dry), 0);
    assert_eq!(r.images().await, before_images);
    assert_eq!(r.snapshots().await, before_snapshots);

    let out = run(&mut r.cmd(&[&args[..], &["--yes"]].concat()), 0);
    let done = json(&out);
    assert_eq!(done["dry_run"], false);
    assert_eq!(done["freed_gib"], 30);
    let after = r.images().await;
    let gone: Vec<&String> = before_images
        .keys()
        .filter(|k| !after.contains_key(*k))
        .collect();
    assert_eq!(gone, {
        let mut g = vec![&x86[4], &x86[5]];
        g.sort();
        g
    });
    let (of_images, all) = r.snapshots().await;
    for id in [&x86[4], &x86[5]] {
        for s in &before_snapshots.0[id] {
            assert!(
                !all.contains(s),
                "snapshot {s} of deregistered {id} is still there"
            );
        }
    }
    for (id, snaps) in &of_images {
        for s in snaps {
            assert!(all.contains(s), "snapshot {s} of kept {id} was deleted");
        }
    }
}

#[tokio::test]
async fn prune_deprecates_without_deregister_and_reports_what_the_service_refused() {
    let r = Region::new("af-south-1").await;
    let old = r.ami("x86_64", 1).await;
    let new = r.ami("x86_64", 2).await;
    let at = chrono::Utc::now() + chrono::Duration::days(7);
    // The request as sent: the AMI and the time (7 days from now by default).
    let req = lava_build::lifecycle::prune::deprecate_request(&r.ec2, &old, at);
    assert_eq!(req.get_image_id().as_deref(), Some(old.as_str()));
    assert_eq!(req.get_deprecate_at().unwrap().secs(), at.timestamp());

    // The emulator has no EnableImageDeprecation: prune says so per AMI, exits 1, keeps the AMI.
    let out = run(
        &mut r.cmd(&["prune", "--keep", "1", "--yes", "--output", "json"]),
        1,
    );
    let v = json(&out);
    let rows = v["decisions"].as_array().unwrap();
    let row = rows.iter().find(|d| d["ami"] == old.as_str()).unwrap();
    assert_eq!(row["action"], "deprecate");
    let outcome = row["outcome"].as_str().unwrap();
    assert!(
        outcome.starts_with(&format!(
            "failed: EnableImageDeprecation {old} in af-south-1: "
        )),
        "{outcome}"
    );
    let kept = rows.iter().find(|d| d["ami"] == new.as_str()).unwrap();
    assert_eq!(kept["action"], "keep");
    assert_eq!(r.images().await.len(), 2);
}

#[tokio::test]
async fn bad_prune_and_publish_input_gets_one_line_errors() {
    let r = Region::new("il-central-1").await;
    let cases: &[(&[&str], &str)] = &[
        (
            &["prune", "--keep", "0"],
            "expected a whole number of at least 1 (the newest AMI of each kind is always kept)",
        ),
        (
            &["prune", "*"],
            "prune \"*\" matches every AMI of the account: pass --yes to mean it",
        ),
        (
            &["prune", "--deprecate-after", "0h"],
            "expected a duration such as 7d or 12h (at least 1h)",
        ),
        (
            &["prune", "--publish-prefix", "lava/ami/"],
            "--publish-prefix: invalid value \"lava/ami/\": expected an SSM parameter path",
        ),
        (
            &["publish", "ami-nothex"],
            "AMI_ID \"ami-nothex\": expected an AMI id",
        ),
        (
            &[
                "prune",
                "--dry-run",
                "--region",
                "il-central-1,xx-nowhere-9",
            ],
            "--region: invalid value \"xx-nowhere-9\": expected a region enabled for this account",
        ),
        (
            &["copy", "ami-0123456789abcdef0", "--to", "xx-nowhere-9"],
            "--to: invalid value \"xx-nowhere-9\": expected a region enabled for this account",
        ),
    ];
    for (args, expected) in cases {
        let mut c = bin_moto("lava-ami");
        c.args(*args);
        if !args.contains(&"--region") {
            c.args(["--region", &r.name]);
        }
        let out = run(&mut c, 2);
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(expected), "{args:?}: {err}");
    }
}

#[test]
fn build_settings_for_the_lifecycle_are_resolved_and_checked() {
    let base = [
        "ami",
        "--plan",
        "--offline",
        "--output",
        "json",
        "ami_id=ami-0123456789abcdef0",
        "ip=private",
        "python_version=3.11.12",
        "s3bucket=lava-bucket",
        "s3prefix=lava/ami/",
        "sg=sg-12345678",
        "subnet=subnet-12345678",
        "tz=UTC",
        "region=eu-west-1",
    ];
    let out = run(
        crate::common::bin("lava-build")
            .args(base)
            .args(["regions=us-east-1,eu-west-1", "publish_prefix=/team/ami"]),
        0,
    );
    let plan = json(&out);
    let rows: BTreeMap<&str, &str> = plan["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["name"].as_str().unwrap(), p["value"].as_str().unwrap()))
        .collect();
    assert_eq!(rows["regions"], "us-east-1,eu-west-1");
    assert_eq!(rows["publish_prefix"], "/team/ami");
    for (extra, expected) in [
        (
            "regions=us-east-1,us-east-1",
            "regions: invalid value \"us-east-1,us-east-1\": expected each region once (us-east-1 is listed twice)",
        ),
        (
            "regions=us-east-1,nowhere",
            "regions: invalid value \"us-east-1,nowhere\": expected region names separated by commas",
        ),
        (
            "publish_prefix=/aws/lava",
            "publish_prefix: invalid value \"/aws/lava\": expected a path outside /aws (reserved by AWS)",
        ),
    ] {
        let out = run(crate::common::bin("lava-build").args(base).arg(extra), 2);
        assert!(stderr(&out).contains(expected), "{extra}: {}", stderr(&out));
    }
}

#[tokio::test]
async fn the_worker_template_takes_its_ami_from_a_parameter_when_asked() {
    let r = Region::new("eu-central-2").await;
    let (subnet, sg) = crate::worker_stack::network(&r.ec2).await;
    let common = [
        ("realm", "prod"),
        ("subnets", subnet.as_str()),
        ("secGroups", sg.as_str()),
        ("codeBucket", "lava-code"),
        ("s3Temp", "s3://lava-prod-tmp/lava/prod/tmp"),
        ("s3Payloads", "s3://lava-prod-payloads/lava/prod/payloads"),
        ("realmLambdasDeployed", "No"),
    ];
    let ami = r.ami("x86_64", 5).await;
    let with_param = [&common[..], &[("worker", "bypar"), ("amiParameter", X86)]].concat();
    crate::worker_stack::create_worker(&r.cfn, "lava-prod-bypar", &with_param).await;
    let with_id = [&common[..], &[("worker", "byid"), ("amiId", ami.as_str())]].concat();
    crate::worker_stack::create_worker(&r.cfn, "lava-prod-byid", &with_id).await;

    let image_of = |stack: &'static str| {
        let cfn = r.cfn.clone();
        let ec2 = r.ec2.clone();
        async move {
            let res = cfn
                .describe_stack_resource()
                .stack_name(stack)
                .logical_resource_id("LaunchTemplate")
                .send()
                .await
                .unwrap();
            let id = res
                .stack_resource_detail()
                .unwrap()
                .physical_resource_id()
                .unwrap()
                .to_string();
            let v = ec2
                .describe_launch_template_versions()
                .launch_template_id(&id)
                .versions("$Latest")
                .send()
                .await
                .unwrap();
            v.launch_template_versions()[0]
                .launch_template_data()
                .unwrap()
                .image_id()
                .unwrap()
                .to_string()
        }
    };
    // CloudFormation resolves the dynamic reference when it creates or updates the stack; the
    // emulator does not resolve it and keeps the reference as written.
    assert_eq!(
        image_of("lava-prod-bypar").await,
        format!("{{{{resolve:ssm:{X86}}}}}")
    );
    assert_eq!(image_of("lava-prod-byid").await, ami);
}

#[tokio::test]
async fn an_emulated_build_publishes_and_copies_to_the_regions() {
    let home = Region::new("ca-west-1").await;
    let target = Region::new("sa-east-1").await;
    let (subnet, sg) = crate::worker_stack::network(&home.ec2).await;
    let dist = tempfile::tempdir().unwrap();
    let out = run(
        crate::packer::ami(dist.path(), &[])
            .args(["--emulate", "--no-sync", "--publish", "--output", "json"])
            .args(["--build-time", "2025-08-01T00:00:00Z"])
            .args(["region=ca-west-1", "regions=sa-east-1,ca-west-1"])
            .arg(format!("subnet={subnet}"))
            .arg(format!("sg={sg}")),
        0,
    );
    let report = json(&out);
    let built = report["amis"][0]["ami_id"].as_str().unwrap().to_string();
    assert_eq!(home.parameter(X86).await.0, built);
    let dist_v = &report["distribution"];
    assert_eq!(dist_v["published"][0]["ami"], built.as_str());
    let copies = dist_v["copies"].as_array().unwrap();
    assert_eq!(copies.len(), 1, "{dist_v}");
    assert_eq!(copies[0]["region"], "sa-east-1");
    assert_eq!(copies[0]["status"], "copied");
    let copy = copies[0]["ami"].as_str().unwrap();
    assert_eq!(target.images().await[copy]["SourceAmi"], built);
    assert_eq!(target.parameter(X86).await.0, copy);
}

#[tokio::test]
async fn prune_goes_through_each_region_of_the_list() {
    let one = Region::new("eu-south-2").await;
    let two = Region::new("ap-southeast-3").await;
    let mut old = Vec::new();
    let mut new = Vec::new();
    for r in [&one, &two] {
        old.push(r.ami("arm64", 1).await);
        new.push(r.ami("arm64", 2).await);
    }
    let mut c = bin_moto("lava-ami");
    c.args([
        "prune",
        "--keep",
        "1",
        "--deregister",
        "--min-deprecated-days",
        "0",
        "--no-image-references",
        "--yes",
        "--output",
        "json",
    ])
    .args(["--region", "eu-south-2,ap-southeast-3"]);
    let v = json(&run(&mut c, 0));
    let regions: Vec<&str> = v["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["region"].as_str().unwrap())
        .collect();
    assert_eq!(
        regions,
        [
            "eu-south-2",
            "eu-south-2",
            "ap-southeast-3",
            "ap-southeast-3"
        ]
    );
    for (i, r) in [&one, &two].into_iter().enumerate() {
        let left: Vec<String> = r.images().await.into_keys().collect();
        assert_eq!(left, [new[i].clone()], "{}", r.name);
    }
}
