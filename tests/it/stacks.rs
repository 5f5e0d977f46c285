//! `lava-ami` against the AWS emulator: stacks from the real worker template plus decoys, lava AMIs
//! of several kinds; listing, grouping, selection, updates (non-interactive and through a pty).
use crate::common::{moto, root, succeeded};
use crate::worker_stack::{REALM_AREAS, Region};
use serde_json::Value;
use std::collections::BTreeMap;

/// A region of the emulator of its own (listings do not see each other) with lava AMIs and stacks.
struct World {
    region: String,
    net: Region,
    cfn: aws_sdk_cloudformation::Client,
}

impl World {
    async fn new(region: &str) -> Self {
        let net = Region::new(region).await;
        World {
            region: region.into(),
            cfn: net.cfn.clone(),
            net,
        }
    }

    /// A lava AMI as `lava-build ami` names and tags it.
    async fn ami(&self, arch: &str, py: &str, time: &str) -> String {
        let minor: String = py.splitn(3, '.').take(2).collect::<Vec<_>>().join(".");
        let name = format!("lava-8.3.0-amzn2023-py{minor}-{arch}-{time}");
        let tags = [
            ("Name", name.as_str()),
            ("OS", "amzn2023"),
            ("PythonVersion", py),
            ("Arch", arch),
            ("LavaVersion", "8.3.0"),
        ];
        self.net.lava_ami(&name, &tags).await
    }

    async fn worker(&self, name: &str, ami: &str) {
        let mut extra = REALM_AREAS.to_vec();
        extra.push(("swapSize", "2"));
        self.net.prod_worker(name, ami, &extra).await;
    }

    /// A stack with the given parameters around a harmless resource.
    async fn other(&self, name: &str, params: &[(&str, &str)]) {
        crate::worker_stack::topic_stack(&self.cfn, name, params).await;
    }

    async fn params(&self, stack: &str) -> BTreeMap<String, String> {
        let out = self
            .cfn
            .describe_stacks()
            .stack_name(stack)
            .send()
            .await
            .unwrap();
        out.stacks()[0]
            .parameters()
            .iter()
            .map(|p| {
                (
                    p.parameter_key().unwrap().to_string(),
                    p.parameter_value().unwrap_or_default().to_string(),
                )
            })
            .collect()
    }

    fn cmd(&self, args: &[&str]) -> assert_cmd::Command {
        self.net.lava_ami_cmd(args)
    }

    fn json(&self, args: &[&str]) -> Value {
        let out = self.cmd(args).args(["--output", "json"]).output().unwrap();
        assert!(
            out.status.success(),
            "{:?}: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

#[tokio::test]
async fn lists_amis_by_kind_and_worker_stacks_only() {
    let w = World::new("eu-west-2").await;
    let mut x86 = Vec::new();
    for d in 1..=7 {
        x86.push(
            w.ami("x86_64", "3.11.12", &format!("2025-0{d}-01T00-00-00Z"))
                .await,
        );
    }
    let arm_old = w.ami("arm64", "3.11.12", "2025-01-01T00-00-00Z").await;
    let arm_new = w.ami("arm64", "3.11.12", "2025-02-01T00-00-00Z").await;
    let py312 = w.ami("x86_64", "3.12.4", "2025-03-01T00-00-00Z").await;
    w.worker("lava-prod-main", &x86[6]).await;
    w.worker("lava-prod-bulk", &x86[2]).await;
    w.worker("lava-prod-arm", "ami-0123456789abcdef0").await;
    w.other(
        "lava-prod-old",
        &[
            ("realm", "prod"),
            ("worker", "old"),
            ("sakAmiId", &arm_old),
            ("InstanceType", "t4g.large"),
        ],
    )
    .await;
    w.other("not-a-worker", &[("bucket", "x")]).await;
    w.other(
        "parasite",
        &[("realm", "prod"), ("worker", "p"), ("amiId", &x86[0])],
    )
    .await;

    let v = w.json(&["-n", "5"]);
    let amis = v["amis"].as_array().unwrap();
    let x86_shown: Vec<&str> = amis
        .iter()
        .filter(|a| a["kind"]["arch"] == "x86_64" && a["kind"]["python"] == "3.11")
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    let mut newest_five: Vec<&str> = x86.iter().rev().take(5).map(String::as_str).collect();
    assert_eq!(x86_shown, newest_five, "at most 5 per kind, newest first");
    let newest: Vec<&str> = amis
        .iter()
        .filter(|a| a["newest"] == true)
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(newest.len(), 3, "one newest per kind: {newest:?}");
    for id in [x86[6].as_str(), arm_new.as_str(), py312.as_str()] {
        assert!(newest.contains(&id));
    }
    assert_eq!(
        amis.iter().find(|a| a["id"] == x86[6]).unwrap()["python"],
        "3.11.12",
        "Python from the tag"
    );
    newest_five.clear();

    let stacks: BTreeMap<String, Value> = v["stacks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].as_str().unwrap().to_string(), s.clone()))
        .collect();
    assert_eq!(
        stacks.keys().collect::<Vec<_>>(),
        [
            "lava-prod-arm",
            "lava-prod-bulk",
            "lava-prod-main",
            "lava-prod-old"
        ],
        "decoys and parasitic workers are left out"
    );
    assert_eq!(stacks["lava-prod-main"]["ami_state"], "newest");
    assert_eq!(stacks["lava-prod-bulk"]["ami_state"], "older");
    assert_eq!(stacks["lava-prod-arm"]["ami_state"], "unknown");
    assert_eq!(stacks["lava-prod-old"]["ami_parameter"], "sakAmiId");
    assert_eq!(stacks["lava-prod-old"]["realm"], "prod");

    // Glob selection, and the text tables.
    let v = w.json(&["lava-prod-b*"]);
    assert_eq!(v["stacks"].as_array().unwrap().len(), 1);
    let out = w.cmd(&["-n", "1"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Lava AMIs") && text.contains("Worker stacks"),
        "{text}"
    );
    assert!(text.contains("older lava AMI"));
}

#[tokio::test]
async fn updates_to_latest_or_an_id_keeping_other_parameters() {
    let w = World::new("eu-west-3").await;
    let old = w.ami("x86_64", "3.11.12", "2025-01-01T00-00-00Z").await;
    let new = w.ami("x86_64", "3.11.12", "2025-02-01T00-00-00Z").await;
    let arm = w.ami("arm64", "3.11.12", "2025-02-01T00-00-00Z").await;
    w.worker("lava-prod-etl", &old).await;
    w.worker("lava-prod-batch", &new).await;
    w.worker("lava-dev-devw", &old).await;
    w.other(
        "lava-prod-old",
        &[
            ("realm", "prod"),
            ("worker", "old"),
            ("sakAmiId", &old),
            ("InstanceType", "t3.large"),
        ],
    )
    .await;
    let before = w.params("lava-prod-etl").await;

    let text = succeeded(&w.net.roll_to_latest("lava-prod-*", &[]));
    assert!(
        text.contains(&format!("lava-prod-etl: {old} -> {new} UPDATE_COMPLETE")),
        "{text}"
    );
    assert!(
        text.contains("lava-prod-batch") && text.contains("ALREADY_CURRENT"),
        "{text}"
    );
    let after = w.params("lava-prod-etl").await;
    assert_eq!(after["amiId"], new);
    for (k, v) in &before {
        if k != "amiId" {
            assert_eq!(&after[k], v, "{k} kept its previous value");
        }
    }
    assert_eq!(
        w.params("lava-prod-old").await["sakAmiId"],
        new,
        "pre-7.1 stacks too"
    );
    assert_eq!(
        w.params("lava-dev-devw").await["amiId"],
        old,
        "not selected: untouched"
    );

    // An AMI of another arch: refused before any update, exit 2, naming both kinds.
    let args = [
        "-U",
        "lava-dev-devw",
        "--ami",
        &arm,
        "--yes",
        "--output",
        "json",
        "--poll-seconds",
        "1",
    ];
    let out = w.cmd(&args).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "stack lava-dev-devw runs {old} of kind amzn2023/py3.11/x86_64; {arm} is amzn2023/py3.11/arm64: another kind or architecture needs --force (nothing was updated)"
        )),
        "{err}"
    );
    assert_eq!(w.params("lava-dev-devw").await["amiId"], old);
    // `--kind` of another arch with latest: the same.
    let out = w
        .cmd(&[
            "-U",
            "lava-dev-devw",
            "--ami",
            "latest",
            "--kind",
            "amzn2023/py3.11/arm64",
            "--yes",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(w.params("lava-dev-devw").await["amiId"], old);

    // With --force: an explicit id, as JSON.
    let out = w.cmd(&args).arg("--force").output().unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["to"], arm.as_str());
    assert_eq!(v[0]["status"], "UPDATE_COMPLETE");
    assert_eq!(w.params("lava-dev-devw").await["amiId"], arm);

    // Not a lava AMI: refused, nothing touched, exit 1.
    let out = w
        .cmd(&[
            "-U",
            "lava-dev-devw",
            "--ami",
            "ami-0123456789abcdef0",
            "--yes",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("not an available lava AMI"));
}

#[tokio::test]
async fn usage_errors_exit_2() {
    let w = World::new("eu-central-1").await;
    for (args, expect) in [
        (vec!["-U"], "at least one stack pattern"),
        (vec!["-U", "*"], "refuses the pattern '*'"),
        (vec!["-U", "x", "--ami", "ami-XYZ", "--yes"], "--ami"),
        (
            vec!["-U", "x", "--ami", "latest", "--kind", "amzn2023"],
            "--kind",
        ),
        (vec!["-U", "x", "--ami", "latest"], "needs --yes"),
        (vec!["--ami", "latest"], "go with -U"),
        (vec!["-U", "x"], "needs a terminal"),
    ] {
        let out = w.cmd(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.starts_with("error: ") && err.contains(expect),
            "{args:?}: {err}"
        );
    }
}

#[tokio::test]
async fn interactive_update_through_a_terminal() {
    let w = World::new("ap-northeast-1").await;
    let old = w.ami("x86_64", "3.11.12", "2025-01-01T00-00-00Z").await;
    let new = w.ami("x86_64", "3.11.12", "2025-02-01T00-00-00Z").await;
    w.worker("lava-prod-aaa", &old).await;
    w.worker("lava-prod-bbb", &old).await;
    w.worker("lava-prod-ccc", &old).await;

    let region = w.region.clone();
    let endpoint = moto();
    tokio::task::spawn_blocking(move || {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_lava-ami"));
        cmd.args([
            "--region",
            &region,
            "-U",
            "lava-prod-*",
            "--poll-seconds",
            "1",
        ])
        .env("AWS_ENDPOINT_URL", &endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("NO_COLOR", "1");
        let mut p = rexpect::session::spawn_command(cmd, Some(30_000)).unwrap();
        // a: pick the newest (listed first, number 1).
        p.exp_string("lava-prod-aaa (realm prod, worker aaa)")
            .unwrap();
        p.exp_string("s to skip this stack, q to quit").unwrap();
        p.send_line("1").unwrap();
        p.exp_string("UPDATE_COMPLETE").unwrap();
        // b: skip.
        p.exp_string("lava-prod-bbb (realm prod, worker bbb)")
            .unwrap();
        p.exp_string("q to quit").unwrap();
        p.send_line("s").unwrap();
        p.exp_string("SKIPPED").unwrap();
        // c: quit.
        p.exp_string("lava-prod-ccc (realm prod, worker ccc)")
            .unwrap();
        p.exp_string("q to quit").unwrap();
        p.send_line("q").unwrap();
        p.exp_string("quit").unwrap();
        p.exp_eof().unwrap();
    })
    .await
    .unwrap();
    assert_eq!(w.params("lava-prod-aaa").await["amiId"], new);
    assert_eq!(w.params("lava-prod-bbb").await["amiId"], old);
    assert_eq!(w.params("lava-prod-ccc").await["amiId"], old);
}

#[test]
fn the_worker_template_passes_cfn_lint() {
    let lint = root().join("build/venv/bin/cfn-lint");
    let out = std::process::Command::new(&lint)
        .arg(root().join("cloudformation/lava-worker.cfn.yaml"))
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cfn-lint ({}) is missing: run scripts/test-services.sh install: {e}",
                lint.display()
            )
        });
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let text = std::fs::read_to_string(root().join("cloudformation/lava-worker.cfn.yaml")).unwrap();
    for needle in [
        "HttpTokens: required",
        "HttpPutResponseHopLimit: 2",
        "Encrypted: true",
        "VolumeType: gp3",
        "root.boot0.sh",
        "root.boot.sh",
        "\"swap\": {\"size\": ${swapSize}}",
    ] {
        assert!(text.contains(needle), "{needle}");
    }
}

#[tokio::test]
async fn a_failed_stack_stops_the_run_unless_keep_going() {
    let w = World::new("ca-central-1").await;
    let old = w.ami("x86_64", "3.11.12", "2025-01-01T00-00-00Z").await;
    let new = w.ami("x86_64", "3.11.12", "2025-02-01T00-00-00Z").await;
    // lava-prod-one runs an AMI that is not a lava AMI: `latest` cannot be chosen for it.
    w.worker("lava-prod-one", "ami-0123456789abcdef0").await;
    w.worker("lava-prod-two", &old).await;
    let out = w.net.roll_to_latest("lava-prod-*", &[]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("lava-prod-one") && text.contains("FAILED") && text.contains("pass --kind"),
        "{text}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("remaining stacks were not touched"));
    assert_eq!(
        w.params("lava-prod-two").await["amiId"],
        old,
        "stopped before b"
    );

    let out = w.net.roll_to_latest("lava-prod-*", &["--keep-going"]);
    assert_eq!(out.status.code(), Some(1), "a failure still fails the run");
    assert_eq!(
        w.params("lava-prod-two").await["amiId"],
        new,
        "--keep-going went on to b"
    );
}

/// A pseudo-terminal: the master side, and the path of the slave side.
fn open_pty() -> (std::fs::File, String) {
    use nix::libc;
    use std::os::fd::FromRawFd;
    // SAFETY: plain libc calls on a descriptor we own; the name buffer outlives ptsname_r. The
    // master is close-on-exec: the program must not hold the terminal it is to lose.
    unsafe {
        let fd = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC);
        assert!(fd >= 0, "posix_openpt: {}", std::io::Error::last_os_error());
        let master = std::fs::File::from_raw_fd(fd);
        assert_eq!(libc::grantpt(fd), 0);
        assert_eq!(libc::unlockpt(fd), 0);
        let mut name = [0 as libc::c_char; 128];
        assert_eq!(libc::ptsname_r(fd, name.as_mut_ptr(), name.len()), 0);
        let path = std::ffi::CStr::from_ptr(name.as_ptr())
            .to_string_lossy()
            .into_owned();
        (master, path)
    }
}

#[tokio::test]
async fn a_terminal_gone_at_the_prompt_fails_the_run() {
    let w = World::new("sa-east-1").await;
    let old = w.ami("x86_64", "3.11.12", "2025-01-01T00-00-00Z").await;
    w.ami("x86_64", "3.11.12", "2025-02-01T00-00-00Z").await;
    w.worker("lava-prod-tty", &old).await;
    let (region, endpoint) = (w.region.clone(), moto());
    let code = tokio::task::spawn_blocking(move || {
        use std::io::Read;
        use std::os::unix::fs::OpenOptionsExt;
        use std::os::unix::process::CommandExt;
        let (mut master, slave_path) = open_pty();
        let slave = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(nix::libc::O_NOCTTY)
            .open(&slave_path)
            .unwrap();
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_lava-ami"));
        cmd.args(["--region", &region, "-U", "lava-prod-*"])
            .env("AWS_ENDPOINT_URL", &endpoint)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("NO_COLOR", "1")
            .stdin(slave.try_clone().unwrap())
            .stdout(slave.try_clone().unwrap())
            .stderr(slave);
        // SAFETY: setsid is async-signal-safe and touches only the child. In a session of its
        // own without a controlling terminal, the terminal's end is no hangup signal: the
        // program sees it as a failed read, as with a terminal that breaks.
        unsafe {
            cmd.pre_exec(|| {
                nix::unistd::setsid()?;
                Ok(())
            });
        }
        let mut child = cmd.spawn().unwrap();
        drop(cmd);
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        while !String::from_utf8_lossy(&seen).contains("q to quit") {
            let n = master
                .read(&mut buf)
                .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&seen)));
            seen.extend_from_slice(&buf[..n]);
        }
        drop(master);
        child.wait().unwrap().code()
    })
    .await
    .unwrap();
    assert_eq!(
        code,
        Some(1),
        "a prompt that cannot be answered is a failure"
    );
    assert_eq!(w.params("lava-prod-tty").await["amiId"], old);
}
