//! `lava-rc` against a fake IMDSv2 server, with the real bash, mkswap, swapon and crontab, and the
//! AWS emulator's S3 for crontab objects and s3run.
use crate::common::{bin, bin_moto, moto_sdk, path_str};
use crate::imds::FakeImds;
use serde_json::{Value, json};
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

/// Runs `lava-rc boot --json` against `imds` with every file under `root`.
async fn boot(imds: &FakeImds, root: &Path, extra: &[&str]) -> (Output, Value) {
    let mut c = bin_moto("lava-rc");
    c.args(["boot", "--json", "--imds-endpoint", &imds.url])
        .args(["--root", &path_str(root)])
        .args(extra)
        .env("RUST_LOG", "lava_rc=info,lava_build=info");
    let out = tokio::task::spawn_blocking(move || c.output().unwrap())
        .await
        .unwrap();
    let report = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out, report)
}

fn step<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["steps"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["step"] == name))
        .unwrap_or_else(|| panic!("step {name} in {report}"))
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A real user for crontab tests, removed at the end.
struct TestUser(String);

impl TestUser {
    fn new() -> Self {
        let name = format!("lrc{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let st = std::process::Command::new("useradd")
            .args(["--no-create-home", "--shell", "/usr/sbin/nologin", &name])
            .status()
            .expect("useradd (the tests run as root)");
        assert!(st.success(), "useradd {name}");
        TestUser(name)
    }

    fn crontab(&self) -> String {
        let out = std::process::Command::new("crontab")
            .args(["-u", &self.0, "-l"])
            .output()
            .expect("crontab from Debian's cron package");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for TestUser {
    fn drop(&mut self) {
        let _ = std::process::Command::new("crontab")
            .args(["-u", &self.0, "-r"])
            .output();
        let _ = std::process::Command::new("userdel").arg(&self.0).status();
    }
}

async fn bucket_with(objects: &[(&str, &[u8])]) -> String {
    let s3 = aws_sdk_s3::Client::new(&moto_sdk("ap-southeast-2").await);
    let bucket = format!("rc-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    s3.create_bucket()
        .bucket(&bucket)
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::ApSoutheast2)
                .build(),
        )
        .send()
        .await
        .unwrap();
    for (k, body) in objects {
        s3.put_object()
            .bucket(&bucket)
            .key(*k)
            .body(body.to_vec().into())
            .send()
            .await
            .unwrap();
    }
    bucket
}

/// Turns swap off again if a test turned it on for real.
fn swapoff(path: &Path) {
    let _ = std::process::Command::new("swapoff").arg(path).output();
}

#[tokio::test]
async fn the_full_example_runs_every_step_in_order() {
    let imds = FakeImds::start().await;
    let root = tempfile::tempdir().unwrap();
    let marks = root.path().join("marks");
    let (u1, u2) = (TestUser::new(), TestUser::new());
    let bucket = bucket_with(&[
        ("ec2config/latest/u1.cron", b"17 * * * * /bin/true # u1\n"),
        ("ec2config/latest/u2.cron", b"42 3 * * * /bin/true # u2\n"),
    ])
    .await;
    // A site script, run after crontab and before shell.
    let rcd = root.path().join("usr/local/etc/rc.d");
    std::fs::create_dir_all(&rcd).unwrap();
    let site = rcd.join("50-site");
    std::fs::write(
        &site,
        format!("#!/bin/bash\ndate +%s%N > {}/site\n", path_str(&marks)),
    )
    .unwrap();
    std::fs::set_permissions(&site, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::write(rcd.join("60-not-executable"), "#!/bin/bash\nexit 1\n").unwrap();
    std::fs::create_dir_all(&marks).unwrap();
    let m = path_str(&marks);
    imds.set_user_data(
        json!({
            "shell0": format!("date +%s%N > {m}/shell0"),
            "swap": {"size": 2, "file": "/swap_till_you_drop"},
            "crontab": {
                u1.0.clone(): format!("s3://{bucket}/ec2config/latest/u1.cron"),
                u2.0.clone(): format!("s3://{bucket}/ec2config/latest/u2.cron"),
            },
            "shell": [
                format!("cd {m}"),
                "echo Hello world",
                "echo Resistance is futile > borg",
                "date +%s%N > shell",
            ],
            "import-users": {"someone": "elsewhere"},
        })
        .to_string()
        .as_bytes(),
    );
    let (out, report) = boot(&imds, root.path(), &[]).await;
    let swap_file = root.path().join("swap_till_you_drop");
    swapoff(&swap_file);
    let err = stderr(&out);

    // Region: from IMDS, written with mode 0644.
    let cfg = root.path().join("usr/local/etc/aws/config");
    let text = std::fs::read_to_string(&cfg).unwrap();
    assert!(
        text.starts_with("[default]\nregion = ap-southeast-2\n"),
        "{text}"
    );
    assert!(text.contains("signature_version = s3v4"));
    let mode = std::fs::metadata(&cfg).unwrap().permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o644
    );

    // Order proven by the times the commands wrote.
    let t = |f: &str| -> u128 {
        std::fs::read_to_string(marks.join(f))
            .unwrap_or_else(|_| panic!("{f} ran: {err}"))
            .trim()
            .parse()
            .unwrap()
    };
    assert!(t("shell0") < t("site") && t("site") < t("shell"));
    assert_eq!(
        std::fs::read_to_string(marks.join("borg")).unwrap(),
        "Resistance is futile\n",
        "the lines run as one script: the cd carried over"
    );
    assert!(err.contains("Hello world"), "command output logged: {err}");
    assert!(err.contains("import-users"), "unknown keys listed: {err}");

    // crontab installed for each user with Debian's crontab.
    assert!(u1.crontab().contains("# u1"), "{err}");
    assert!(u2.crontab().contains("# u2"));

    // swap: made with the real mkswap; swapon either worked or its exact error is the step's.
    let swap = step(&report, "swap");
    if swap["outcome"] == "ok" {
        let fstab = std::fs::read_to_string(root.path().join("etc/fstab")).unwrap();
        assert_eq!(fstab, "/swap_till_you_drop swap swap defaults 0 0\n");
        let mode = std::fs::metadata(&swap_file).unwrap().permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o600
        );
    } else {
        let detail = swap["detail"].as_str().unwrap();
        assert!(detail.starts_with("swapon "), "{detail}");
        assert!(err.contains("Setting up swapspace"), "mkswap ran: {err}");
        assert!(!swap_file.exists(), "nothing half done");
    }
    let ok_steps = [
        "region".to_string(),
        "shell0".to_string(),
        format!("crontab.{}", u1.0),
        format!("crontab.{}", u2.0),
        "rc.d/50-site".to_string(),
        "shell".to_string(),
    ];
    for s in &ok_steps {
        assert_eq!(step(&report, s)["outcome"], "ok", "{s}: {report}");
    }
    assert!(
        !report["steps"].to_string().contains("60-not-executable"),
        "only executables are site scripts"
    );
    let expect_ok = swap["outcome"] == "ok";
    assert_eq!(out.status.code(), Some(if expect_ok { 0 } else { 1 }));
    assert!(err.contains("lava-rc boot"), "final summary line: {err}");
}

#[tokio::test]
async fn swap_rules_and_a_second_run() {
    let imds = FakeImds::start().await;
    let cases: &[(Value, &str)] = &[
        (json!({"size": 0}), "ok"),
        (json!({}), "ok"),
        (json!({"size": -1}), "swap.size"),
        (json!({"size": "abc"}), "swap.size"),
        (json!({"size": 1.5}), "swap.size"),
        (json!({"size": 100000}), "less than 1 GiB free"),
        (json!({"size": 1, "file": "swapfile"}), "swap.file"),
        (json!({"size": 1, "file": "/etc/../x"}), "swap.file"),
        (json!({"size": 1, "file": "/dir/file"}), "swap.file"),
    ];
    for (swap, expect) in cases {
        let root = tempfile::tempdir().unwrap();
        imds.set_user_data(
            json!({"swap": swap, "shell": "true"})
                .to_string()
                .as_bytes(),
        );
        let (out, report) = boot(&imds, root.path(), &[]).await;
        let s = step(&report, "swap");
        if *expect == "ok" {
            assert_eq!(s["outcome"], "ok", "{swap}: {report}");
            assert_eq!(out.status.code(), Some(0));
        } else {
            assert_eq!(s["outcome"], "failed", "{swap}: {report}");
            assert!(
                s["detail"].as_str().unwrap().contains(expect),
                "{swap}: {}",
                s["detail"]
            );
            assert_eq!(
                step(&report, "shell")["outcome"],
                "ok",
                "the next step still ran"
            );
            assert_eq!(out.status.code(), Some(1));
        }
        assert!(!root.path().join("swapfile").exists() || *expect == "ok");
    }

    // "2" and 2, default file: made once; a second run does nothing and keeps one fstab line.
    for size in [json!("2"), json!(2)] {
        let root = tempfile::tempdir().unwrap();
        imds.set_user_data(json!({"swap": {"size": size}}).to_string().as_bytes());
        let (_, first) = boot(&imds, root.path(), &[]).await;
        let file = root.path().join("swapfile");
        swapoff(&file);
        let s = step(&first, "swap");
        if s["outcome"] == "ok" {
            assert_eq!(std::fs::metadata(&file).unwrap().len(), 2 << 30);
            let (_, second) = boot(&imds, root.path(), &[]).await;
            assert!(
                step(&second, "swap")["detail"]
                    .as_str()
                    .unwrap()
                    .contains("exists")
            );
            let fstab = std::fs::read_to_string(root.path().join("etc/fstab")).unwrap();
            assert_eq!(fstab.matches("/swapfile swap swap").count(), 1, "{fstab}");
        } else {
            // This kernel refuses swapon here: the exact error is reported for the step.
            assert!(s["detail"].as_str().unwrap().starts_with("swapon "), "{s}");
        }
    }
}

#[tokio::test]
async fn crontab_failures_are_per_user() {
    let imds = FakeImds::start().await;
    let root = tempfile::tempdir().unwrap();
    let good = TestUser::new();
    let bucket = bucket_with(&[("cron/good", b"5 4 * * * /bin/true # good\n")]).await;
    imds.set_user_data(
        json!({"crontab": {
            good.0.clone(): format!("s3://{bucket}/cron/good"),
            "no-such-user-lava": format!("s3://{bucket}/cron/good"),
            "root": "https://example.com/root.cron",
            "daemon": format!("s3://{bucket}/cron/missing"),
        }})
        .to_string()
        .as_bytes(),
    );
    let (out, report) = boot(&imds, root.path(), &[]).await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        step(&report, &format!("crontab.{}", good.0))["outcome"],
        "ok"
    );
    assert!(good.crontab().contains("# good"));
    let detail = |u: &str| {
        step(&report, &format!("crontab.{u}"))["detail"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(detail("no-such-user-lava").contains("no such user"));
    assert!(detail("root").contains("expected s3://bucket/key"));
    assert!(
        detail("daemon").contains("NoSuchKey"),
        "{}",
        detail("daemon")
    );
}

#[tokio::test]
async fn imds_down_at_first_then_up() {
    let imds = FakeImds::start().await;
    imds.with(|s| s.down_until = Some(Instant::now() + Duration::from_secs(10)));
    let root = tempfile::tempdir().unwrap();
    imds.set_user_data(br#"{"shell": "echo up"}"#);
    let started = Instant::now();
    let (out, report) = boot(&imds, root.path(), &[]).await;
    assert!(started.elapsed() >= Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(step(&report, "shell")["outcome"], "ok");
}

#[tokio::test]
async fn imds_never_up_gives_up_at_the_deadline_and_runs_nothing() {
    let imds = FakeImds::start().await;
    imds.with(|s| s.down_until = Some(Instant::now() + Duration::from_secs(3600)));
    let root = tempfile::tempdir().unwrap();
    let marker = root.path().join("ran");
    imds.set_user_data(format!("{{\"shell\": \"touch {}\"}}", path_str(&marker)).as_bytes());
    let started = Instant::now();
    let (out, _) = boot(&imds, root.path(), &["--deadline", "3"]).await;
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(3) && took < Duration::from_secs(15),
        "{took:?}"
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("did not answer within 3s"), "{err}");
    assert!(!marker.exists(), "no user command ran");
}

#[tokio::test]
async fn a_401_mid_run_refreshes_the_token_and_500s_are_retried() {
    let imds = FakeImds::start().await;
    imds.with(|s| {
        s.revoke_after_gets = Some(1);
        s.fail_500 = 2;
    });
    let root = tempfile::tempdir().unwrap();
    imds.set_user_data(br#"{"shell": "true"}"#);
    let (out, report) = boot(&imds, root.path(), &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(step(&report, "shell")["outcome"], "ok");
    let (puts, unauthorized) = imds.with(|s| (s.token_puts, s.unauthorized));
    assert!(
        unauthorized >= 1 && puts >= 2,
        "token refreshed after a 401: puts {puts}"
    );
}

#[tokio::test]
async fn bad_user_data_runs_nothing_and_says_why() {
    let imds = FakeImds::start().await;
    for (data, expect) in [
        (&b"{\"shell\": \"touch x\""[..], "user data is not JSON"),
        (b"[\"shell\"]", "must be a JSON object, got an array"),
    ] {
        let root = tempfile::tempdir().unwrap();
        imds.set_user_data(data);
        let (out, _) = boot(&imds, root.path(), &[]).await;
        assert_eq!(out.status.code(), Some(1));
        let err = stderr(&out);
        let last = err.lines().last().unwrap();
        assert!(
            last.starts_with("error: ") && last.contains(expect),
            "{err}"
        );
        assert!(last.contains("no user data step was run"));
    }
    // No user data at all: nothing to do, success.
    let root = tempfile::tempdir().unwrap();
    imds.with(|s| s.user_data = None);
    let (out, _) = boot(&imds, root.path(), &[]).await;
    assert_eq!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("no user data"));
}

#[tokio::test]
async fn gzip_big_user_data_and_masked_secrets() {
    let imds = FakeImds::start().await;
    let root = tempfile::tempdir().unwrap();
    let marker = root.path().join("gz");
    let pad = "x".repeat(1024 * 1024);
    let data = json!({
        "shell": format!("touch {}", path_str(&marker)),
        "db": {"password": "hunter2-secret-value", "user": "lava"},
        "pad": pad,
    })
    .to_string();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, data.as_bytes()).unwrap();
    imds.set_user_data(&gz.finish().unwrap());
    let (out, _) = boot(&imds, root.path(), &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(marker.exists());
    let err = stderr(&out);
    assert!(!err.contains("hunter2"), "secret not logged");
    assert!(err.contains("\"password\":\"********\""), "masked");
}

#[tokio::test]
async fn s3run_runs_an_object_with_args_and_caches_it() {
    let script = b"#!/bin/bash\necho \"$@\" > \"$OUT\"\nexit 3\n";
    let bucket = bucket_with(&[("bin/job.sh", script)]).await;
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("out");
    let cache = dir.path().join("cache");
    let run = |extra: &[&str], loc: &str| {
        let mut c = bin_moto("lava-rc");
        c.args(["s3run", "-r", "ap-southeast-2"])
            .args(extra)
            .args([loc, "a b", "--flag"])
            .env("OUT", &out_file);
        c.output().unwrap()
    };
    let url = format!("s3://{bucket}/bin/job.sh");
    let o = run(&["--cache-dir", &path_str(&cache)], &url);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&out_file).unwrap(), "a b --flag\n");
    let cached = cache.join(&bucket).join("bin/job.sh");
    assert!(cached.exists());
    let mtime = std::fs::metadata(&cached).unwrap().modified().unwrap();
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(
        run(&["--cache-dir", &path_str(&cache)], &url).status.code(),
        Some(3)
    );
    assert_eq!(
        std::fs::metadata(&cached).unwrap().modified().unwrap(),
        mtime,
        "unchanged object: cached copy reused"
    );

    // --no-cache leaves nothing behind; a relative key is found along S3PATH.
    let nocache = dir.path().join("never");
    let mut c = bin_moto("lava-rc");
    c.args(["s3run", "-r", "ap-southeast-2", "--no-cache", "job.sh", "x"])
        .env(
            "S3PATH",
            format!("s3://{bucket}/nothing-here:s3://{bucket}/bin"),
        )
        .env("OUT", &out_file)
        .env("HOME", &nocache);
    let o = c.output().unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&out_file).unwrap(), "x\n");
    assert!(!nocache.exists());

    // Called as `s3run` through a link.
    let link = dir.path().join("s3run");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_lava-rc"), &link).unwrap();
    let o = std::process::Command::new(&link)
        .args(["-r", "ap-southeast-2", "--no-cache", &url, "via-link"])
        .env("AWS_ENDPOINT_URL", crate::common::moto())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("OUT", &out_file)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&out_file).unwrap(), "via-link\n");

    let o = run(&["--no-cache"], &format!("s3://{bucket}/bin/missing.sh"));
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("NoSuchKey"), "{}", stderr(&o));
}

#[test]
fn the_agent_needs_no_glibc_newer_than_amazon_linux_2023() {
    // The test build links the same code and libraries as the release build.
    let out = std::process::Command::new("objdump")
        .args(["-T", env!("CARGO_BIN_EXE_lava-rc")])
        .output()
        .expect("objdump (binutils)");
    let text = String::from_utf8_lossy(&out.stdout);
    let newest = text
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
        .filter_map(|w| w.strip_prefix("GLIBC_"))
        .filter_map(|v| {
            let mut it = v.split('.').map(|n| n.parse::<u32>().ok());
            Some((it.next()??, it.next().flatten().unwrap_or(0)))
        })
        .max()
        .expect("GLIBC symbol versions");
    assert!(
        newest <= (2, 34),
        "lava-rc needs GLIBC_{}.{}",
        newest.0,
        newest.1
    );
}

#[test]
fn help_teaches_the_steps() {
    let out = bin("lava-rc").arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("shell0, swap") && help.contains("/usr/local/etc/rc.d"),
        "{help}"
    );
}

#[test]
fn install_sh_puts_the_agent_link_and_unit_in_place() {
    let dest = tempfile::tempdir().unwrap();
    let out = std::process::Command::new("bash")
        .arg(crate::common::root().join("rc.d/install.sh"))
        .arg(env!("CARGO_BIN_EXE_lava-rc"))
        .arg(dest.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let d = dest.path();
    assert!(d.join("usr/local/bin/lava-rc").is_file());
    assert_eq!(
        std::fs::read_link(d.join("usr/local/bin/s3run")).unwrap(),
        Path::new("lava-rc")
    );
    assert!(d.join("usr/local/etc/rc.d").is_dir());
    let unit = std::fs::read_to_string(d.join("etc/systemd/system/lava-rc.service")).unwrap();
    for line in [
        "Type=oneshot",
        "RemainAfterExit=yes",
        "After=network-online.target",
        "Before=lava-worker.service",
        "ExecStart=/usr/local/bin/lava-rc boot",
    ] {
        assert!(unit.contains(line), "{line}");
    }
    assert!(
        d.join("etc/systemd/system/multi-user.target.wants/lava-rc.service")
            .symlink_metadata()
            .is_ok()
    );
}

#[tokio::test]
async fn show_prints_the_plan_and_changes_nothing() {
    let imds = FakeImds::start().await;
    let root = tempfile::tempdir().unwrap();
    imds.set_user_data(
        br#"{"shell0": "echo first", "swap": {"size": "2"}, "crontab": {"root": "ftp://x"}, "shell": ["a", "b"], "extra": 1}"#,
    );
    let mut cmd = bin("lava-rc");
    cmd.args([
        "show",
        "--imds-endpoint",
        &imds.url,
        "--root",
        &path_str(root.path()),
    ]);
    // The fake IMDS runs on this test's runtime: wait for the agent off it.
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("shell0: run as one bash script:\necho first"),
        "{text}"
    );
    assert!(text.contains("swap: 2 GiB at /swapfile"), "{text}");
    assert!(
        text.contains("crontab.root: ERROR: crontab.root: invalid value \"ftp://x\""),
        "{text}"
    );
    assert!(text.contains("ignored keys: extra"), "{text}");
    assert_eq!(out.status.code(), Some(1), "a bad entry makes show fail");
    assert!(
        std::fs::read_dir(root.path()).unwrap().next().is_none(),
        "show wrote nothing"
    );
}

#[tokio::test]
async fn s3run_changes_directory_and_logs_to_a_file() {
    let bucket = bucket_with(&[("bin/pwd.sh", b"#!/bin/bash\npwd > \"$OUT\"\n")]).await;
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("out");
    let log = dir.path().join("s3run.log");
    let o = bin_moto("lava-rc")
        .args([
            "s3run",
            "-r",
            "ap-southeast-2",
            "--no-cache",
            "--log-level",
            "info",
        ])
        .args(["--log", &path_str(&log), "-d", &path_str(dir.path())])
        .arg(format!("s3://{bucket}/bin/pwd.sh"))
        .env("OUT", &out_file)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(&out_file).unwrap().trim(),
        path_str(&std::fs::canonicalize(dir.path()).unwrap())
    );
    assert!(
        std::fs::read_to_string(&log).unwrap().contains("running"),
        "logged to the file"
    );
}
