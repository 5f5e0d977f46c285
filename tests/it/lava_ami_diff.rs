//! `lava-ami` against the real one: lava 8.3.0's Python `lava-ami` (LAVA_TEST_LAVA, the venv
//! test-services installs) and ours list the same emulator state — lava AMIs of several kinds, a
//! region copy of an old build made last, decoys, worker stacks from our template and from lava's
//! parameter sets (tests/fixtures/lava-worker-parameters.json), a pre-7.1 stack, a parasitic one.
//! They agree on the AMIs listed, the stacks found and each stack's AMI; where lava is wrong (its
//! newest is the newest CreationDate, which CopyImage resets) or FACTS §5 differs from lava (a stack
//! with no machine type is parasitic), the test shows the difference the README lists.
use crate::common::{root, succeeded, with_moto};
use crate::worker_stack::{Region, register_ami, topic_stack};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// The lava venv (LAVA_TEST_LAVA); a missing one fails naming it.
fn lava_ami_exe() -> PathBuf {
    let v = std::env::var("LAVA_TEST_LAVA").unwrap_or_else(|_| {
        panic!("LAVA_TEST_LAVA is not set: the lava-ami differential needs real lava 8.3.0 (a venv with jinlava==8.3.0; scripts/test-services.sh installs it)")
    });
    let exe = PathBuf::from(&v).join("bin/lava-ami");
    assert!(
        exe.is_file(),
        "LAVA_TEST_LAVA={v}: no bin/lava-ami there (pip install jinlava==8.3.0)"
    );
    exe
}

/// A lava AMI as `lava-build ami` names and tags it (BuildId from the build time).
async fn build(ec2: &aws_sdk_ec2::Client, arch: &str, py: &str, day: &str) -> String {
    let minor: String = py.splitn(3, '.').take(2).collect::<Vec<_>>().join(".");
    let name = format!("lava-8.3.0-amzn2023-py{minor}-{arch}-2025-{day}T00-00-00Z");
    let build_id = format!("prod-2025{}T000000Z", day.replace('-', ""));
    let tags = [
        ("Name", name.as_str()),
        ("OS", "amzn2023"),
        ("PythonVersion", py),
        ("Arch", arch),
        ("LavaVersion", "8.3.0"),
        ("BuildId", build_id.as_str()),
    ];
    register_ami(ec2, &name, None, &tags).await
}

/// Lava's worker template parameters at their defaults, then `set`.
fn lava_parameters(set: &[(&str, &str)]) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(root().join("tests/fixtures/lava-worker-parameters.json"))
        .expect("tests/fixtures/lava-worker-parameters.json");
    let v: Value = serde_json::from_str(&text).unwrap();
    let mut p: BTreeMap<String, String> = v["parameters"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect();
    for (k, v) in set {
        assert!(p.contains_key(*k), "lava's template has no parameter {k}");
        p.insert(k.to_string(), v.to_string());
    }
    p.into_iter().collect()
}

async fn lava_stack(cfn: &aws_sdk_cloudformation::Client, name: &str, set: &[(&str, &str)]) {
    let params = lava_parameters(set);
    let refs: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    topic_stack(cfn, name, &refs).await;
}

/// The rows of each titled fancy_grid table lava-ami prints, colour codes removed: title → rows
/// (each a cell list; the header first).
fn lava_tables(text: &str) -> BTreeMap<String, Vec<Vec<String>>> {
    let mut plain = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    let mut tables: BTreeMap<String, Vec<Vec<String>>> = BTreeMap::new();
    let mut title = String::new();
    for line in plain.lines() {
        if let Some(row) = line.strip_prefix('│') {
            let cells = row
                .trim_end_matches('│')
                .split('│')
                .map(|c| c.trim().to_string())
                .collect();
            tables.entry(title.clone()).or_default().push(cells);
        } else if line.starts_with("Lava ") {
            title = line.trim().to_string();
        }
    }
    tables
}

/// The column `name` of a table (header row first).
fn column(table: &[Vec<String>], name: &str) -> Vec<String> {
    let i = table[0]
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name} in {:?}", table[0]));
    table[1..].iter().map(|r| r[i].clone()).collect()
}

#[tokio::test]
async fn real_lava_ami_and_ours_agree_but_on_newest_and_parasites() {
    let exe = lava_ami_exe();
    let here = "ap-southeast-2";
    let r = Region::new(here).await;
    let away = Region::new("us-west-2").await;
    // The old x86 build, made in another region; copied here last (below).
    let old_away = build(&away.ec2, "x86_64", "3.11.12", "01-01").await;
    let x86_feb = build(&r.ec2, "x86_64", "3.11.12", "02-01").await;
    let arm_jan = build(&r.ec2, "arm64", "3.11.12", "01-01").await;
    let py312 = build(&r.ec2, "x86_64", "3.12.11", "02-15").await;
    let sak = register_ami(&r.ec2, "sak-2024-amzn2", None, &[]).await;
    let other = register_ami(&r.ec2, "other-image", None, &[]).await;

    // Worker stacks: ours (instance type), lava's parameter sets (instance type; attributes),
    // pre-7.1, parasitic (no AMI), and realm/worker/amiId with no machine type at all.
    let mut ours = crate::worker_stack::REALM_AREAS.to_vec();
    ours.push(("workerInstanceType", "t3.small"));
    r.prod_worker("lava-prod-ours", &x86_feb, &ours).await;
    let common = [
        ("realm", "prod"),
        ("secGroups", r.sg.as_str()),
        ("subnets", r.subnet.as_str()),
    ];
    let with = |extra: &[(&'static str, &str)]| {
        let mut v: Vec<(&str, String)> = common.iter().map(|(k, v)| (*k, v.to_string())).collect();
        v.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
        v
    };
    let sets = [
        (
            "lava-prod-typed",
            with(&[
                ("worker", "typed"),
                ("amiId", &arm_jan),
                ("workerInstanceType", "t4g.large"),
            ]),
        ),
        (
            "lava-prod-attrs",
            with(&[
                ("worker", "attrs"),
                ("amiId", &py312),
                ("workerVCpuMin", "2"),
            ]),
        ),
        (
            "lava-prod-parasite",
            with(&[("worker", "parasite"), ("amiId", "")]),
        ),
    ];
    for (name, set) in &sets {
        let set: Vec<(&str, &str)> = set.iter().map(|(k, v)| (*k, v.as_str())).collect();
        lava_stack(&r.cfn, name, &set).await;
    }
    // The later builds after the stacks above: the emulator's CreationDate has second resolution,
    // and lava orders by it (checked below, where it matters).
    past_the_newest_creation_date(&r.ec2).await;
    let x86_mar = build(&r.ec2, "x86_64", "3.11.12", "03-01").await;
    let arm_feb = build(&r.ec2, "arm64", "3.11.12", "02-01").await;
    topic_stack(
        &r.cfn,
        "lava-prod-old",
        &[
            ("realm", "prod"),
            ("worker", "old"),
            ("sakAmiId", &x86_mar),
            ("InstanceType", "t3.large"),
        ],
    )
    .await;
    topic_stack(
        &r.cfn,
        "lava-prod-notype",
        &[("realm", "prod"), ("worker", "notype"), ("amiId", &arm_feb)],
    )
    .await;
    topic_stack(&r.cfn, "some-app", &[("bucket", "b")]).await;

    // Last: a region copy of the January build, by our own `lava-ami copy` (tags kept).
    past_the_newest_creation_date(&r.ec2).await;
    let out = crate::common::bin_moto("lava-ami")
        .args([
            "copy",
            &old_away,
            "--region",
            "us-west-2",
            "--to",
            here,
            "--output",
            "json",
        ])
        .output()
        .unwrap();
    let copied: Value = serde_json::from_str(&succeeded(&out)).unwrap();
    assert_eq!(copied[0]["status"], "copied", "{copied}");
    let copy = copied[0]["ami"].as_str().unwrap().to_string();
    // The copy's CreationDate is the newest here: what makes CreationDate the wrong order.
    let created: BTreeMap<String, String> = r
        .ec2
        .describe_images()
        .owners("self")
        .send()
        .await
        .unwrap()
        .images()
        .iter()
        .map(|i| {
            (
                i.image_id().unwrap().to_string(),
                i.creation_date().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        created[&arm_feb] > created[&arm_jan],
        "the later arm64 build must have the later CreationDate: {created:?}"
    );
    for (id, t) in &created {
        if *id != copy {
            assert!(
                created[&copy] > *t,
                "the copy must be made after {id}: {created:?}"
            );
        }
    }

    // Real lava-ami.
    let mut lava = assert_cmd::Command::new(&exe);
    with_moto(&mut lava)
        .args(["-n", "100"])
        .env_remove("AWS_PROFILE")
        .env("AWS_DEFAULT_REGION", here)
        .env("AWS_REGION", here)
        .env("HTTP_PROXY", "http://127.0.0.1:9")
        .env("NO_PROXY", "127.0.0.1,localhost");
    let lava_out = lava.output().unwrap();
    let lava_text = succeeded(&lava_out);
    let t = lava_tables(&lava_text);
    let stacks_t = &t["Lava Worker Stacks"];
    let amis_t = &t["Lava Compatible AMIs"];
    let lava_stacks: BTreeMap<String, String> = column(stacks_t, "Stack Name")
        .into_iter()
        .zip(column(stacks_t, "AMI ID"))
        .collect();
    let lava_amis = column(amis_t, "AMI ID");

    // Ours.
    let v = crate::common::json_stdout(
        &r.lava_ami_cmd(&["-n", "100", "--output", "json"])
            .output()
            .unwrap(),
    );
    let our_stacks: BTreeMap<String, String> = v["stacks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().into(),
                s["ami_id"].as_str().unwrap().into(),
            )
        })
        .collect();
    let our_amis: Vec<&Value> = v["amis"].as_array().unwrap().iter().collect();

    // The same AMIs: every available lava-* AMI, no sak-* (no --sak), no other.
    let expect: BTreeSet<&str> = [&old_away, &x86_feb, &x86_mar, &arm_jan, &arm_feb, &py312]
        .iter()
        .map(|s| s.as_str())
        .collect();
    let mut expect: BTreeSet<String> = expect.into_iter().map(String::from).collect();
    expect.remove(&old_away);
    expect.insert(copy.clone());
    let lava_set: BTreeSet<String> = lava_amis.iter().cloned().collect();
    let our_set: BTreeSet<String> = our_amis
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(lava_set, expect, "lava lists every lava-* AMI\n{lava_text}");
    assert_eq!(our_set, expect, "ours too");
    assert!(!our_set.contains(&sak) && !our_set.contains(&other));

    // The same stacks and the same AMI per stack, but for the stack with no machine type.
    let mut lava_common = lava_stacks.clone();
    assert_eq!(
        lava_common.remove("lava-prod-notype").as_deref(),
        Some(arm_feb.as_str()),
        "{lava_text}"
    );
    assert!(
        !our_stacks.contains_key("lava-prod-notype"),
        "FACTS §5: no machine type, parasitic"
    );
    assert_eq!(
        our_stacks, lava_common,
        "same stacks, same AMI each\n{lava_text}"
    );
    let expected_stacks: BTreeSet<&str> = [
        "lava-prod-ours",
        "lava-prod-typed",
        "lava-prod-attrs",
        "lava-prod-old",
    ]
    .into();
    assert_eq!(
        our_stacks
            .keys()
            .map(String::as_str)
            .collect::<BTreeSet<_>>(),
        expected_stacks
    );

    // Newest. Lava's table is by CreationDate, newest first, all kinds together: its first row is
    // the copy of the January build. Ours is by build time per kind: March is x86's newest.
    assert_eq!(
        lava_amis[0], copy,
        "lava's newest is the latest CreationDate\n{lava_text}"
    );
    let newest: BTreeMap<String, String> = our_amis
        .iter()
        .filter(|a| a["newest"] == true)
        .map(|a| {
            let k = &a["kind"];
            (
                format!(
                    "{}/{}",
                    k["python"].as_str().unwrap(),
                    k["arch"].as_str().unwrap()
                ),
                a["id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        newest["3.11/x86_64"], x86_mar,
        "by build time: the copy is January's"
    );
    let copy_row = our_amis.iter().find(|a| a["id"] == copy.as_str()).unwrap();
    assert_eq!(copy_row["built"], "2025-01-01T00:00:00Z");
    assert_eq!(copy_row["built_from"], "build_id");
    // Kinds with no copy: lava's first of each kind in its order is ours.
    let lava_first = |needle: &str| -> String {
        let names = column(amis_t, "AMI Name");
        let i = names.iter().position(|n| n.contains(needle)).unwrap();
        lava_amis[i].clone()
    };
    assert_eq!(lava_first("py3.11-arm64"), newest["3.11/arm64"]);
    assert_eq!(newest["3.11/arm64"], arm_feb);
    assert_eq!(lava_first("py3.12-x86_64"), newest["3.12/x86_64"]);
    assert_eq!(
        lava_first("py3.11-x86_64"),
        copy,
        "lava would roll x86 stacks back to January"
    );

    // And `--ami latest` rolls the x86 stack forward to March, not to the copy.
    let out = r.roll_to_latest("lava-prod-ours", &[]);
    let text = succeeded(&out);
    assert!(
        text.contains(&format!(
            "lava-prod-ours: {x86_feb} -> {x86_mar} UPDATE_COMPLETE"
        )),
        "{text}"
    );
}

/// Waits until the clock is in a later second than the newest CreationDate of this account's AMIs
/// (the emulator's resolution), so that what is registered next is newer by CreationDate too.
async fn past_the_newest_creation_date(ec2: &aws_sdk_ec2::Client) {
    let images = ec2.describe_images().owners("self").send().await.unwrap();
    let newest = images
        .images()
        .iter()
        .filter_map(|i| i.creation_date())
        .filter_map(|d| chrono::DateTime::parse_from_rfc3339(d).ok())
        .map(|d| d.timestamp())
        .max()
        .unwrap_or(0);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while chrono::Utc::now().timestamp() <= newest {
        assert!(
            std::time::Instant::now() < deadline,
            "the clock never passed the newest CreationDate ({newest})"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
