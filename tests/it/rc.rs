//! `lava-rc` against a fake IMDSv2 server, with the real bash, mkswap, swapon and crontab, and the
//! AWS emulator's S3 for crontab objects and s3run.
use crate::common::{bin, bin_moto, each_field, moto_sdk, path_str};
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

/// A root of its own on xfs (the file system of Amazon Linux 2023) for the tests that make swap
/// for real: a sparse image under the target dir, loop-mounted. The agent's free-space rule sees
/// the image's size, and on xfs the swap file is allocated, not written, so the test needs little
/// real disk (a nearly full disk on a CI machine failed the swap tests that used the temp dir).
struct XfsRoot {
    mount: tempfile::TempDir,
    /// Removed when the root is dropped, after the unmount.
    _image: tempfile::TempPath,
}

impl XfsRoot {
    fn new(gib: u64) -> Self {
        let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let image = tempfile::Builder::new()
            .prefix("xfs-root-")
            .suffix(".img")
            .tempfile_in(base)
            .unwrap();
        image.as_file().set_len(gib << 30).unwrap();
        let image = image.into_temp_path();
        let run = |args: &[&str], what: &str| {
            let out = std::process::Command::new(args[0])
                .args(&args[1..])
                .output()
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            assert!(
                out.status.success(),
                "{what}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let img = path_str(&image);
        run(&["mkfs.xfs", "-q", &img], "mkfs.xfs (Debian's xfsprogs)");
        let mount = tempfile::tempdir_in(base).unwrap();
        run(
            &["mount", "-o", "loop", &img, &path_str(mount.path())],
            "mount -o loop (root and a loop device are needed)",
        );
        XfsRoot {
            mount,
            _image: image,
        }
    }

    fn path(&self) -> &Path {
        self.mount.path()
    }
}

impl Drop for XfsRoot {
    fn drop(&mut self) {
        let swaps = std::fs::read_to_string("/proc/swaps").unwrap_or_default();
        for line in swaps.lines().skip(1) {
            let file = line.split_whitespace().next().unwrap_or_default();
            if Path::new(file).starts_with(self.mount.path()) {
                swapoff(Path::new(file));
            }
        }
        let _ = std::process::Command::new("umount")
            .arg(self.mount.path())
            .output();
    }
}

#[tokio::test]
async fn the_full_example_runs_every_step_in_order() {
    let imds = FakeImds::start().await;
    let root = XfsRoot::new(4);
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

    // swap: made with the real mkswap and swapon (they work on the test machines: fail otherwise).
    let swap = step(&report, "swap");
    assert_eq!(
        swap["outcome"], "ok",
        "swapon must work where the tests run (root, xfs on a loop device): {}",
        swap["detail"]
    );
    let fstab = std::fs::read_to_string(root.path().join("etc/fstab")).unwrap();
    assert_eq!(fstab, "/swap_till_you_drop swap swap defaults 0 0\n");
    let mode = std::fs::metadata(&swap_file).unwrap().permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o600
    );
    assert!(err.contains("Setting up swapspace"), "mkswap ran: {err}");
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
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("lava-rc boot"), "final summary line: {err}");
    // The first record names the exact build (version and commit).
    let first = err.lines().next().unwrap_or_default();
    let build = format!("lava-rc {} (commit ", env!("CARGO_PKG_VERSION"));
    assert!(
        first.contains(&build) && first.ends_with("starting"),
        "first line: {first}"
    );
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
        let root = XfsRoot::new(4);
        imds.set_user_data(json!({"swap": {"size": size}}).to_string().as_bytes());
        let (_, first) = boot(&imds, root.path(), &[]).await;
        let file = root.path().join("swapfile");
        swapoff(&file);
        let s = step(&first, "swap");
        assert_eq!(
            s["outcome"], "ok",
            "swapon must work where the tests run: {}",
            s["detail"]
        );
        assert_eq!(std::fs::metadata(&file).unwrap().len(), 2 << 30);
        let mode = std::fs::metadata(&file).unwrap().permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o600
        );
        let inode = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&file).unwrap());
        let (_, second) = boot(&imds, root.path(), &[]).await;
        swapoff(&file);
        let s2 = step(&second, "swap");
        assert_eq!(s2["outcome"], "ok");
        assert!(s2["detail"].as_str().unwrap().contains("exists"), "{s2}");
        assert_eq!(
            std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&file).unwrap()),
            inode,
            "the second boot left the swap file alone"
        );
        let fstab = std::fs::read_to_string(root.path().join("etc/fstab")).unwrap();
        assert_eq!(fstab, "/swapfile swap swap defaults 0 0\n");
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

/// Runs boot against an IMDS that accepts and then does not answer for `delay`, and checks the
/// deadline contract: the run ends within `--deadline` + 1 s, exit 1, and no user command ran.
async fn deadline_holds(delay: Duration, deadline: u64) {
    let imds = FakeImds::start().await;
    imds.with(|s| s.delay = delay);
    let root = tempfile::tempdir().unwrap();
    let marker = root.path().join("ran");
    imds.set_user_data(format!("{{\"shell\": \"touch {}\"}}", path_str(&marker)).as_bytes());
    let started = Instant::now();
    let (out, _) = boot(&imds, root.path(), &["--deadline", &deadline.to_string()]).await;
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(deadline + 1),
        "--deadline {deadline} with answers after {delay:?}: the run took {took:?}"
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "no usable answer within {deadline}s; last attempt: "
        )),
        "{err}"
    );
    assert!(!marker.exists(), "no user command ran");
}

#[tokio::test]
async fn imds_never_answering_ends_the_run_at_the_deadline() {
    // Connections accepted, never answered: one request's own limit (3 s) is cut to the time left.
    deadline_holds(Duration::from_secs(3600), 1).await;
}

#[tokio::test]
async fn imds_answering_slowly_ends_the_run_at_the_deadline() {
    // The token comes after 1.5 s; the region would come after another 1.5 s, past the deadline.
    deadline_holds(Duration::from_millis(1500), 2).await;
}

#[tokio::test]
async fn imds_down_until_the_deadline_runs_nothing() {
    let imds = FakeImds::start().await;
    imds.with(|s| s.down_until = Some(Instant::now() + Duration::from_secs(3600)));
    let root = tempfile::tempdir().unwrap();
    let (out, _) = boot(&imds, root.path(), &["--deadline", "2"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no usable answer within 2s"));
}

#[test]
fn deadline_and_step_timeout_are_bounded() {
    for (flag, value, expect) in [
        ("--deadline", "99999999999999999999", "number too large"),
        ("--deadline", "18446744073709551615", "is not in 1..=604800"),
        ("--deadline", "0", "is not in 1..=604800"),
        ("--step-timeout", "0", "is not in 1..=604800"),
        ("--step-timeout", "-5", "--step-timeout"),
    ] {
        let out = bin("lava-rc")
            .args(["boot", "--imds-endpoint", "http://127.0.0.1:9"])
            .arg(format!("{flag}={value}"))
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{flag} {value}: {err}");
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(
            err.starts_with("error: invalid value") && err.contains(flag) && err.contains(expect),
            "{err}"
        );
    }
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

/// Issue 30, point 6: user data that cannot be read fails the `log` step and says why, but the
/// site scripts of /usr/local/etc/rc.d still run, as they do without any user data (lava's rc.d
/// ran every script at every boot).
#[tokio::test]
async fn bad_or_no_user_data_still_runs_the_site_scripts() {
    let imds = FakeImds::start().await;
    let with_site = || {
        let root = tempfile::tempdir().unwrap();
        let rcd = root.path().join("usr/local/etc/rc.d");
        std::fs::create_dir_all(&rcd).unwrap();
        let site = rcd.join("50-site");
        let mark = root.path().join("site-ran");
        std::fs::write(&site, format!("#!/bin/bash\ntouch {}\n", path_str(&mark))).unwrap();
        std::fs::set_permissions(&site, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        (root, mark)
    };
    for (data, expect) in [
        (&b"{\"shell\": \"touch x\""[..], "user data is not JSON"),
        (b"[\"shell\"]", "must be a JSON object, got an array"),
    ] {
        let (root, mark) = with_site();
        imds.set_user_data(data);
        let (out, report) = boot(&imds, root.path(), &[]).await;
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert_eq!(step(&report, "log")["outcome"], "failed", "{report}");
        assert!(err.contains(expect), "{err}");
        assert!(mark.exists(), "the site script ran: {err}");
        assert_eq!(step(&report, "rc.d/50-site")["outcome"], "ok", "{report}");
    }
    // No user data at all: success, and the site script ran.
    let (root, mark) = with_site();
    imds.with(|s| s.user_data = None);
    let (out, _) = boot(&imds, root.path(), &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("no user data: only the site scripts run"));
    assert!(mark.exists(), "the site script ran without user data");
}

#[tokio::test]
async fn gzip_big_user_data_and_no_secret_in_the_log() {
    let imds = FakeImds::start().await;
    let root = tempfile::tempdir().unwrap();
    let marker = root.path().join("gz");
    let pad = "x".repeat(1024 * 1024);
    let shell = format!(
        "DB_PASSWORD=hunter2-in-shell-text touch {}",
        path_str(&marker)
    );
    let data = json!({
        "shell0": ["export API_KEY=k3y-in-shell0-text", "true"],
        "shell": shell,
        "db": {"password": "hunter2-secret-value", "user": "lava-user-value"},
        "pad": pad,
    })
    .to_string();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, data.as_bytes()).unwrap();
    imds.set_user_data(&gz.finish().unwrap());
    // The default level (info), as the unit runs it.
    let (out, _) = boot(&imds, root.path(), &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(marker.exists());
    let err = stderr(&out);
    for secret in [
        "hunter2-in-shell-text",
        "k3y-in-shell0-text",
        "hunter2-secret-value",
        "lava-user-value",
    ] {
        assert!(!err.contains(secret), "{secret} logged: {err}");
    }
    let digest = |text: &str| hex::encode(sha2::Sha256::digest(text.as_bytes()));
    use sha2::Digest;
    assert!(
        err.contains(&format!(
            "shell (script of {} bytes, sha256 {})",
            shell.len(),
            digest(&shell)
        )),
        "script size and digest logged: {err}"
    );
    assert!(
        err.contains(&format!(
            "shell0 (script of 38 bytes, sha256 {})",
            digest("export API_KEY=k3y-in-shell0-text\ntrue")
        )),
        "{err}"
    );
    assert!(
        err.contains("db (") && err.contains("pad (1048578 bytes)"),
        "{err}"
    );
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
    let exe = only_executable(&cache);
    let before = inodes(&cache);
    assert_eq!(
        run(&["--cache-dir", &path_str(&cache)], &url).status.code(),
        Some(3)
    );
    assert_eq!(
        inodes(&cache),
        before,
        "unchanged object: the cached copy and its index were reused, nothing written"
    );
    assert_eq!(std::fs::read(&exe).unwrap(), script);

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

/// The one executable (`sha256-…`) in an s3run cache folder.
fn only_executable(cache: &Path) -> std::path::PathBuf {
    let exes: Vec<_> = std::fs::read_dir(cache)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("sha256-")
        })
        .collect();
    assert_eq!(exes.len(), 1, "{exes:?}");
    exes[0].clone()
}

/// Name → inode of every file in a folder.
fn inodes(dir: &Path) -> std::collections::BTreeMap<String, u64> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::os::unix::fs::MetadataExt::ino(&e.metadata().unwrap()),
            )
        })
        .collect()
}

fn s3run(args: &[&str]) -> Output {
    bin_moto("lava-rc")
        .args(["s3run", "-r", "ap-southeast-2"])
        .args(args)
        .output()
        .unwrap()
}

fn mode_of(p: &Path) -> u32 {
    std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(p).unwrap().permissions()) & 0o7777
}

#[tokio::test]
async fn s3run_cache_is_private_and_refuses_a_folder_others_can_write() {
    let dir = tempfile::tempdir().unwrap();
    let mark = dir.path().join("ran");
    let script = format!("#!/bin/bash\ntouch {}\n", path_str(&mark));
    let bucket = bucket_with(&[("bin/job.sh", script.as_bytes())]).await;
    let url = format!("s3://{bucket}/bin/job.sh");

    // Created with mode 0700 exactly, even under a umask (0277) that would leave it 0500.
    let cache = dir.path().join("home/.s3run");
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_lava-rc"));
    c.args(["s3run", "-r", "ap-southeast-2", &url])
        .env("HOME", dir.path().join("home"))
        .env("AWS_ENDPOINT_URL", crate::common::moto())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    // SAFETY: umask is async-signal-safe and touches only the child.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut c, || {
            nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o277));
            Ok(())
        });
    }
    let o = c.output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(mark.exists());
    assert_eq!(
        mode_of(&cache),
        0o700,
        "the default cache is ~/.s3run, 0700"
    );
    let exe = only_executable(&cache);
    assert_eq!(mode_of(&exe), 0o700);

    // A cache folder others can write into is refused before anything is fetched or run.
    std::fs::remove_file(&mark).unwrap();
    for mode in [0o777, 0o755, 0o1777] {
        std::fs::set_permissions(&cache, std::os::unix::fs::PermissionsExt::from_mode(mode))
            .unwrap();
        let o = s3run(&["--cache-dir", &path_str(&cache), &url]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{mode:o}: {err}");
        assert!(
            err.contains(&format!(
                "mode {mode:04o} lets other users in: expected 0700"
            )),
            "{err}"
        );
        assert!(!mark.exists(), "nothing ran from a {mode:o} cache");
    }

    // Owned by someone else (nobody): refused too, even with mode 0700.
    std::fs::set_permissions(&cache, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    nix::unistd::chown(&cache, Some(nix::unistd::Uid::from_raw(65534)), None).unwrap();
    let o = s3run(&["--cache-dir", &path_str(&cache), &url]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("owned by uid 65534, not by uid 0 who runs s3run"),
        "{err}"
    );
    assert!(!mark.exists());

    // A symlink to a folder of someone else's is refused like the folder.
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&cache, &link).unwrap();
    let o = s3run(&["--cache-dir", &path_str(&link), &url]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(!mark.exists());
}

#[tokio::test]
async fn s3run_never_runs_a_planted_or_altered_cached_file() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good");
    let evil = dir.path().join("evil");
    let script = format!("#!/bin/bash\necho ok >> {}\n", path_str(&good));
    let bucket = bucket_with(&[("bin/job.sh", script.as_bytes())]).await;
    let url = format!("s3://{bucket}/bin/job.sh");
    let cache = dir.path().join("cache");
    let planted = format!("#!/bin/bash\ntouch {}\n", path_str(&evil));

    // The old layout's attack: an executable at <cache>/<bucket>/<key> with a matching .etag.
    std::fs::create_dir_all(cache.join(&bucket).join("bin")).unwrap();
    std::fs::set_permissions(&cache, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let s3 = aws_sdk_s3::Client::new(&moto_sdk("ap-southeast-2").await);
    let etag = s3
        .head_object()
        .bucket(&bucket)
        .key("bin/job.sh")
        .send()
        .await
        .unwrap()
        .e_tag()
        .unwrap()
        .trim_matches('"')
        .to_string();
    let old = cache.join(&bucket).join("bin/job.sh");
    std::fs::write(&old, &planted).unwrap();
    std::fs::set_permissions(&old, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::write(cache.join(&bucket).join("bin/job.sh.etag"), &etag).unwrap();
    let o = s3run(&["--cache-dir", &path_str(&cache), &url]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        !evil.exists(),
        "the planted file beside its .etag was not run"
    );
    assert_eq!(std::fs::read_to_string(&good).unwrap(), "ok\n");

    // The cached copy altered in place (same name, same index): its digest no longer matches, so
    // the object is fetched again (a new inode) and the real script runs.
    let exe = only_executable(&cache);
    std::fs::write(&exe, &planted).unwrap();
    let before = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&exe).unwrap());
    let o = s3run(&["--cache-dir", &path_str(&cache), &url]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!evil.exists(), "the altered copy was not run");
    assert_eq!(std::fs::read_to_string(&good).unwrap(), "ok\nok\n");
    assert_ne!(
        std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&exe).unwrap()),
        before,
        "fetched again"
    );
    assert_eq!(std::fs::read_to_string(&exe).unwrap(), script);

    // A new version of the object (new ETag) replaces the cached one.
    let v2 = format!("#!/bin/bash\necho v2 >> {}\n", path_str(&good));
    s3.put_object()
        .bucket(&bucket)
        .key("bin/job.sh")
        .body(v2.clone().into_bytes().into())
        .send()
        .await
        .unwrap();
    let o = s3run(&["--cache-dir", &path_str(&cache), &url]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(std::fs::read_to_string(&good).unwrap().ends_with("v2\n"));
}

#[tokio::test]
async fn s3run_refuses_absolute_and_dot_dot_keys() {
    let dir = tempfile::tempdir().unwrap();
    let proof = format!("/tmp/lava-rc-proof-{}", uuid::Uuid::new_v4().simple());
    let payload: &[u8] = b"#!/bin/bash\nexit 0\n";
    let bucket = bucket_with(&[
        (proof.as_str(), payload),
        ("a/../../escape.sh", payload),
        ("bin/../../../escape.sh", payload),
    ])
    .await;
    let cache = dir.path().join("cache");
    for (location, expect) in [
        (format!("s3://{bucket}/{proof}"), "is absolute"),
        (
            format!("s3://{bucket}/a/../../escape.sh"),
            "has a .. segment",
        ),
        ("../../escape.sh".to_string(), "has a .. segment"),
    ] {
        for cache_args in [
            vec!["--cache-dir", cache.to_str().unwrap()],
            vec!["--no-cache"],
        ] {
            let o = bin_moto("lava-rc")
                .args(["s3run", "-r", "ap-southeast-2"])
                .args(&cache_args)
                .arg(&location)
                .env("S3PATH", format!("s3://{bucket}/bin"))
                .output()
                .unwrap();
            let err = stderr(&o);
            assert_eq!(o.status.code(), Some(2), "{location}: {err}");
            assert!(err.contains(expect) && err.contains("refused"), "{err}");
        }
    }
    assert!(
        !Path::new(&proof).exists(),
        "nothing written at the key's path"
    );
    assert!(!dir.path().join("escape.sh").exists());
    assert!(!cache.exists(), "refused before the cache was touched");
}

#[tokio::test]
async fn s3run_logs_its_arguments_at_debug_only() {
    let bucket = bucket_with(&[("bin/t.sh", b"#!/bin/bash\nexit 0\n")]).await;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("s3://{bucket}/bin/t.sh");
    let secret = "--token=s3cr3t-argument-value";
    // The default level (warn), and info, on stderr and to a file: no argument.
    for level in [None, Some("info")] {
        let log = dir.path().join(format!("{level:?}.log"));
        for to_file in [false, true] {
            let mut c = bin_moto("lava-rc");
            c.args(["s3run", "-r", "ap-southeast-2", "--no-cache"]);
            if let Some(l) = level {
                c.args(["--log-level", l]);
            }
            if to_file {
                c.args(["--log", &path_str(&log)]);
            }
            let o = c.args([url.as_str(), secret]).output().unwrap();
            assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
            assert!(!stderr(&o).contains("s3cr3t"), "{}", stderr(&o));
        }
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        assert!(!text.contains("s3cr3t"), "{text}");
        if level == Some("info") {
            assert!(
                text.contains("running") && text.contains("args=1"),
                "{text}"
            );
        }
    }
    // At debug they are there (the check above can see them).
    let log = dir.path().join("debug.log");
    let o = s3run(&[
        "--no-cache",
        "--log-level",
        "debug",
        "--log",
        &path_str(&log),
        &url,
        secret,
    ]);
    assert_eq!(o.status.code(), Some(0));
    assert!(std::fs::read_to_string(&log).unwrap().contains("s3cr3t"));
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
        help.contains(
            "05_shell (shell0), 20_swap (swap), 60_crontab (crontab) and 99_shell (shell)"
        ) && help.contains("/usr/local/etc/rc.d"),
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

/// Whether process `pid` is gone (or a zombie nobody reaped yet: it runs no more).
fn dead(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z')),
    }
}

#[tokio::test]
async fn a_step_past_its_timeout_is_killed_with_its_process_group() {
    let imds = FakeImds::start().await;
    let root = tempfile::tempdir().unwrap();
    let m = path_str(root.path());
    imds.set_user_data(
        json!({
            "shell0": [format!("sleep 300 & echo $! > {m}/bg.pid"), "sleep 300"],
            "shell": format!("touch {m}/after"),
        })
        .to_string()
        .as_bytes(),
    );
    let (out, report) = boot(&imds, root.path(), &["--step-timeout", "1"]).await;
    let err = stderr(&out);
    let s = step(&report, "shell0");
    assert_eq!(s["outcome"], "failed", "{report}");
    assert_eq!(s["detail"], "timed out after 1s (process group killed)");
    assert!(
        err.contains("timed out after 1s: process group"),
        "the timeout is logged: {err}"
    );
    let pid: i32 = std::fs::read_to_string(root.path().join("bg.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        dead(pid),
        "the step's background process {pid} was killed too"
    );
    assert_eq!(step(&report, "shell")["outcome"], "ok", "the next step ran");
    assert!(root.path().join("after").exists());
    assert_eq!(out.status.code(), Some(1));
}

#[tokio::test]
async fn a_background_process_holding_the_output_does_not_hold_the_boot() {
    let imds = FakeImds::start().await;
    let root = tempfile::tempdir().unwrap();
    let m = path_str(root.path());
    // The daemon inherits the step's stdout and keeps it open far longer than the step.
    imds.set_user_data(
        json!({"shell": [format!("sleep 120 & echo $! > {m}/bg.pid"), "echo started"]})
            .to_string()
            .as_bytes(),
    );
    let (out, report) = boot(&imds, root.path(), &[]).await;
    let pid: i32 = std::fs::read_to_string(root.path().join("bg.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let still_running = !dead(pid);
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    );
    let err = stderr(&out);
    assert_eq!(step(&report, "shell")["outcome"], "ok", "{report}");
    assert!(
        err.contains("started"),
        "the output so far is logged: {err}"
    );
    assert!(
        err.contains("a background process keeps the step's output open"),
        "{err}"
    );
    assert!(
        still_running,
        "a step's background process is left running on success"
    );
    assert_eq!(out.status.code(), Some(0));
}

#[tokio::test]
async fn built_in_steps_run_at_the_old_rc_d_positions_among_site_scripts() {
    let imds = FakeImds::start().await;
    let root = tempfile::tempdir().unwrap();
    let order = root.path().join("order");
    let rcd = root.path().join("usr/local/etc/rc.d");
    std::fs::create_dir_all(&rcd).unwrap();
    for (name, status) in [("03", 0), ("10", 0), ("50", 3), ("70", 0), ("99a", 0)] {
        let p = rcd.join(name);
        std::fs::write(
            &p,
            format!(
                "#!/bin/bash\necho {name} >> {}\necho site {name} says hi\nexit {status}\n",
                path_str(&order)
            ),
        )
        .unwrap();
        std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    }
    let o = path_str(&order);
    imds.set_user_data(
        json!({
            "shell0": format!("echo shell0 >> {o}"),
            "swap": {"size": 0},
            "crontab": {"no-such-user-lava": "s3://bkt/k"},
            "shell": format!("echo shell >> {o}"),
        })
        .to_string()
        .as_bytes(),
    );
    let (out, report) = boot(&imds, root.path(), &[]).await;
    let err = stderr(&out);
    assert_eq!(
        std::fs::read_to_string(&order).unwrap(),
        "03\nshell0\n10\n50\n70\nshell\n99a\n",
        "{err}"
    );
    let names = each_field(&report["steps"], "step");
    assert_eq!(
        names,
        [
            "region",
            "rc.d/03",
            "shell0",
            "rc.d/10",
            "swap",
            "rc.d/50",
            "crontab.no-such-user-lava",
            "rc.d/70",
            "shell",
            "rc.d/99a"
        ]
    );
    // The failing site script is one failed step; every later step still ran.
    let s = step(&report, "rc.d/50");
    assert_eq!(s["outcome"], "failed");
    assert_eq!(s["detail"], "exit status 3");
    assert!(err.contains("site 50 says hi"), "{err}");
    for later in ["rc.d/70", "shell", "rc.d/99a"] {
        assert_eq!(step(&report, later)["outcome"], "ok", "{later}");
    }
    assert_eq!(out.status.code(), Some(1));
}

/// A syslog socket read while the agent writes (the kernel queues only a few datagrams: an unread
/// socket would hold the sender).
struct SyslogSink {
    path: std::path::PathBuf,
    reader: std::thread::JoinHandle<Vec<String>>,
}

const SINK_END: &str = "<end of test>";

impl SyslogSink {
    fn bind(path: &Path) -> Self {
        let sock = std::os::unix::net::UnixDatagram::bind(path).unwrap();
        let reader = std::thread::spawn(move || {
            let mut out = Vec::new();
            let mut buf = vec![0u8; 65536];
            loop {
                let n = sock.recv(&mut buf).unwrap();
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                if text == SINK_END {
                    return out;
                }
                out.push(text);
            }
        });
        SyslogSink {
            path: path.to_path_buf(),
            reader,
        }
    }

    /// (priority, identifier, message) of each datagram received, once every writer has ended:
    /// `<PRI>Mmm dd hh:mm:ss TAG[PID]: MESSAGE`, or `TAG: MESSAGE` as logger sends it.
    fn records(self) -> Vec<(u32, String, String)> {
        // Datagrams on one socket arrive in order: this one comes after all the others.
        let me = std::os::unix::net::UnixDatagram::unbound().unwrap();
        me.send_to(SINK_END.as_bytes(), &self.path).unwrap();
        let texts = self.reader.join().unwrap();
        texts
            .iter()
            .map(|text| {
                let (pri, rest) = text
                    .strip_prefix('<')
                    .and_then(|t| t.split_once('>'))
                    .unwrap_or_else(|| panic!("syslog format: {text}"));
                let after_time = rest
                    .get(16..)
                    .unwrap_or_else(|| panic!("timestamp: {text}"));
                let (head, message) = after_time.split_once(": ").expect("TAG: ");
                let tag = head.split('[').next().unwrap();
                (pri.parse().unwrap(), tag.to_string(), message.to_string())
            })
            .collect()
    }
}

#[tokio::test]
async fn each_step_logs_to_syslog_as_rclocal_step_on_local0() {
    let imds = FakeImds::start().await;
    let root = tempfile::tempdir().unwrap();
    let sock_path = root.path().join("log.sock");
    let sink = SyslogSink::bind(&sock_path);
    let rcd = root.path().join("usr/local/etc/rc.d");
    std::fs::create_dir_all(&rcd).unwrap();
    let site = rcd.join("30-mount-data");
    std::fs::write(&site, "#!/bin/bash\necho data mounted\n").unwrap();
    std::fs::set_permissions(&site, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    imds.set_user_data(
        json!({
            "shell0": "echo from shell0",
            "crontab": {"no-such-user-lava": "s3://bkt/k"},
            "shell": ["echo from shell", "exit 4"],
        })
        .to_string()
        .as_bytes(),
    );
    let (out, _) = boot(
        &imds,
        root.path(),
        &["--syslog-socket", &path_str(&sock_path)],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    let records = sink.records();
    let has = |pri: u32, tag: &str, message: &str| {
        records
            .iter()
            .any(|(p, t, m)| *p == pri && t == tag && m.contains(message))
    };
    // local0 = 16: info is <134>, error <131>.
    assert!(
        has(134, "rclocal.region", "ok: ap-southeast-2"),
        "{records:?}"
    );
    assert!(
        has(134, "rclocal.log", "user data: crontab ("),
        "{records:?}"
    );
    assert!(has(134, "rclocal.shell0", "from shell0"), "{records:?}");
    assert!(
        has(134, "rclocal.30-mount-data", "data mounted"),
        "{records:?}"
    );
    assert!(has(131, "rclocal.crontab", "no such user"), "{records:?}");
    // Output is logged as it comes (before the step's end is known): stdout at info.
    assert!(has(134, "rclocal.shell", "from shell"), "{records:?}");
    assert!(
        has(131, "rclocal.shell", "failed: exit status 4"),
        "{records:?}"
    );
    assert!(
        records
            .iter()
            .all(|(p, t, _)| p / 8 == 16 && t.starts_with("rclocal.")),
        "every record on local0 under rclocal.<step>: {records:?}"
    );
    // The same lines still go to the agent's own log.
    assert!(stderr(&out).contains("from shell0"));
}

#[test]
fn s3run_without_home_uses_no_shared_folder() {
    let tmp_cache = Path::new("/tmp/.s3run");
    let existed = tmp_cache.exists();
    // nobody (uid 65534) has /nonexistent as home: no cache folder, and no /tmp fallback.
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_lava-rc"));
    c.args(["s3run", "-r", "ap-southeast-2", "s3://bkt/k.sh"])
        .env_remove("HOME")
        .current_dir("/");
    // SAFETY: setgid/setuid are async-signal-safe and touch only the child.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut c, || {
            nix::unistd::setgid(nix::unistd::Gid::from_raw(65534))?;
            nix::unistd::setuid(nix::unistd::Uid::from_raw(65534))?;
            Ok(())
        });
    }
    let o = c.output().unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_eq!(
        err.trim(),
        "s3run: error: s3run cache: HOME is not set and uid 65534 has no home directory (password database): pass --cache-dir DIR or --no-cache"
    );
    assert_eq!(tmp_cache.exists(), existed, "no cache made in /tmp");
}

#[tokio::test]
async fn s3run_stops_the_s3path_search_at_an_entry_it_may_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let mark = dir.path().join("ran");
    let script = format!("#!/bin/bash\ntouch {}\n", path_str(&mark));
    let bucket = bucket_with(&[
        ("denied/job.sh", script.as_bytes()),
        ("bin/job.sh", script.as_bytes()),
    ])
    .await;
    // The first entry answers 403: the object may be there, so the later entry must not stand in.
    let s3 = aws_sdk_s3::Client::new(&moto_sdk("ap-southeast-2").await);
    let policy = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Deny",
            "Principal": "*",
            "Action": ["s3:GetObject", "s3:HeadObject"],
            "Resource": format!("arn:aws:s3:::{bucket}/denied/*"),
        }],
    });
    s3.put_bucket_policy()
        .bucket(&bucket)
        .policy(policy.to_string())
        .send()
        .await
        .unwrap();
    let o = bin_moto("lava-rc")
        .args(["s3run", "-r", "ap-southeast-2", "--no-cache", "job.sh"])
        .env(
            "S3PATH",
            format!("s3://{bucket}/nothing-here:s3://{bucket}/denied:s3://{bucket}/bin"),
        )
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.starts_with("s3run: error: job.sh: S3PATH search stopped")
            && err.contains(&format!("s3://{bucket}/denied/job.sh"))
            && err.contains("403"),
        "{err}"
    );
    assert!(!err.contains("not found along S3PATH"), "{err}");
    assert!(!mark.exists(), "the later entry's job.sh did not run");
}

#[tokio::test]
async fn the_rc_local_shim_puts_each_line_in_syslog_once() {
    let imds = FakeImds::start().await;
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("dest");
    let install = std::process::Command::new("bash")
        .arg(crate::common::root().join("rc.d/install.sh"))
        .arg(env!("CARGO_BIN_EXE_lava-rc"))
        .arg(&dest)
        .output()
        .unwrap();
    assert!(install.status.success(), "{}", stderr(&install));
    let sock_path = dir.path().join("log.sock");
    let sink = SyslogSink::bind(&sock_path);
    let root = dir.path().join("root");
    std::fs::create_dir_all(&root).unwrap();
    imds.set_user_data(br#"{"shell0": "echo from shell0", "shell": "echo from shell"}"#);
    // Run through a link, as /etc/rc.d/rc.local pointing at the installed shim would be: the
    // shim still finds the agent installed beside it.
    let link = dir.path().join("etc-rc.d/rc.local");
    std::fs::create_dir_all(link.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(dest.join("usr/local/libexec/lava-rc/rc.local"), &link).unwrap();
    let mut shim = std::process::Command::new("bash");
    shim.arg(&link)
        .env("LAVA_RC_IMDS_ENDPOINT", &imds.url)
        .env("LAVA_RC_ROOT", &root)
        .env("LAVA_RC_SYSLOG_SOCKET", &sock_path)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG");
    let out = tokio::task::spawn_blocking(move || shim.output().unwrap())
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let records = sink.records();
    let with = |text: &str| -> Vec<&String> {
        records
            .iter()
            .filter(|(p, _, m)| p / 8 == 16 && m.contains(text))
            .map(|(_, t, _)| t)
            .collect()
    };
    assert_eq!(with("from shell0"), ["rclocal.shell0"], "{records:?}");
    assert_eq!(
        with("from shell"),
        ["rclocal.shell0", "rclocal.shell"],
        "{records:?}"
    );
    assert_eq!(with("lava-rc boot done"), ["lava-rc"], "{records:?}");
    assert_eq!(
        with("ap-southeast-2"),
        ["rclocal.region"],
        "the region step once, from the agent: {records:?}"
    );
}

/// Runs `lava-rc boot --json` like `boot`, with more environment (e.g. another S3 endpoint).
async fn boot_env(
    imds: &FakeImds,
    root: &Path,
    extra: &[&str],
    env: &[(&str, String)],
) -> (Output, Value) {
    let mut c = bin_moto("lava-rc");
    c.args(["boot", "--json", "--imds-endpoint", &imds.url])
        .args(["--root", &path_str(root)])
        .args(extra)
        .env("RUST_LOG", "lava_rc=info,lava_build=info");
    for (k, v) in env {
        c.env(k, v);
    }
    let out = tokio::task::spawn_blocking(move || c.output().unwrap())
        .await
        .unwrap();
    let report = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out, report)
}

/// `lava-rc` as a plain process (to spawn and read while it runs), with the clean AWS environment of
/// `bin_moto`.
fn rc_process() -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_lava-rc"));
    for var in [
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_PROFILE",
        "RUST_LOG",
    ] {
        c.env_remove(var);
    }
    c.env("NO_COLOR", "1")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ENDPOINT_URL", crate::common::moto())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_SESSION_TOKEN", "testing");
    c
}

/// The SHA-256 of `data` in hex.
fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}

#[tokio::test]
async fn s3run_never_runs_a_script_swapped_in_by_flipping_the_cache_path() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good");
    let evil_mark = dir.path().join("evil-ran");
    let script = format!("#!/bin/bash\necho ok >> {}\n", path_str(&good));
    let bucket = bucket_with(&[("bin/job.sh", script.as_bytes())]).await;
    let url = format!("s3://{bucket}/bin/job.sh");
    // A folder another user may write: the cache folder's name in it can be flipped.
    let shared = dir.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let cache = shared.join("cache");
    let o = s3run(&["--cache-dir", &path_str(&cache), &url]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // The other user's folder (uid 65534) holds the same names: the index entry for the object and
    // an executable named by the real script's digest, with other content.
    let evil = dir.path().join("evil");
    std::fs::create_dir(&evil).unwrap();
    let s3 = aws_sdk_s3::Client::new(&moto_sdk("ap-southeast-2").await);
    let etag = s3
        .head_object()
        .bucket(&bucket)
        .key("bin/job.sh")
        .send()
        .await
        .unwrap()
        .e_tag()
        .unwrap()
        .trim_matches('"')
        .to_string();
    let digest = sha256_hex(script.as_bytes());
    let index = format!(
        "obj-{}",
        sha256_hex(format!("{bucket}/bin/job.sh").as_bytes())
    );
    std::fs::write(evil.join(&index), format!("{etag}\n{digest}\n")).unwrap();
    let planted = evil.join(format!("sha256-{digest}"));
    std::fs::write(
        &planted,
        format!("#!/bin/bash\ntouch {}\n", path_str(&evil_mark)),
    )
    .unwrap();
    std::fs::set_permissions(
        &planted,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    for p in [&evil, &planted, &evil.join(&index)] {
        nix::unistd::chown(p, Some(nix::unistd::Uid::from_raw(65534)), None).unwrap();
    }
    let flip = shared.join("flip");
    std::os::unix::fs::symlink(&evil, &flip).unwrap();
    // The attacker: swaps the cache folder's name and the symlink to its own folder, atomically,
    // as fast as it can, until told to stop; now and then it plants its script again (a run may
    // have written the real one into its folder).
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let evil_script = std::fs::read(&planted).unwrap();
    let attacker = {
        let (stop, a, b) = (stop.clone(), cache.clone(), flip.clone());
        let (planted, tmp) = (planted.clone(), evil.join("replant"));
        std::thread::spawn(move || {
            let mut flips = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if flips.is_multiple_of(64)
                    && std::fs::read(&planted).ok().as_ref() != Some(&evil_script)
                {
                    std::fs::write(&tmp, &evil_script).unwrap();
                    std::fs::set_permissions(
                        &tmp,
                        std::os::unix::fs::PermissionsExt::from_mode(0o755),
                    )
                    .unwrap();
                    std::fs::rename(&tmp, &planted).unwrap();
                }
                nix::fcntl::renameat2(
                    nix::fcntl::AT_FDCWD,
                    &a,
                    nix::fcntl::AT_FDCWD,
                    &b,
                    nix::fcntl::RenameFlags::RENAME_EXCHANGE,
                )
                .unwrap();
                flips += 1;
            }
            flips
        })
    };
    let (mut ran, mut refusals) = (0, Vec::new());
    for _ in 0..60 {
        let o = s3run(&["--cache-dir", &path_str(&cache), &url]);
        match o.status.code() {
            Some(0) => ran += 1,
            Some(2) => refusals.push(stderr(&o)),
            other => refusals.push(format!("exit {other:?}: {}", stderr(&o))),
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let flips = attacker.join().unwrap();
    let refused = refusals.len();
    assert!(
        !evil_mark.exists(),
        "root ran the other user's script ({ran} runs of the real one, {refused} refused, {flips} flips)"
    );
    for r in &refusals {
        assert!(
            r.contains("not a directory (a symbolic link is not followed"),
            "a run found the path a symbolic link and said so ({ran} ran, {flips} flips): {r}"
        );
    }
    assert!(flips > 60, "the attacker flipped the path ({flips} times)");
    assert!(
        ran >= 1,
        "some runs found the real folder and ran the real script (refused {refused})"
    );
    assert_eq!(
        std::fs::read_to_string(&good).unwrap().lines().count(),
        ran + 1,
        "each run that succeeded ran the real script once"
    );
}

#[tokio::test]
async fn concurrent_s3run_of_a_new_object_never_finds_it_busy() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let bucket = bucket_with(&[]).await;
    let s3 = aws_sdk_s3::Client::new(&moto_sdk("ap-southeast-2").await);
    let url = format!("s3://{bucket}/bin/new.sh");
    let mut failures = Vec::new();
    // Each round puts a new version (new content, never cached) and runs it many times at once.
    for round in 0..8 {
        let script = format!(
            "#!/bin/bash\n# round {round}\n{}\nexit 0\n",
            "#".repeat(64 << 10)
        );
        s3.put_object()
            .bucket(&bucket)
            .key("bin/new.sh")
            .body(script.into_bytes().into())
            .send()
            .await
            .unwrap();
        let children: Vec<_> = (0..16)
            .map(|_| {
                rc_process()
                    .args([
                        "s3run",
                        "-r",
                        "ap-southeast-2",
                        "--cache-dir",
                        &path_str(&cache),
                    ])
                    .arg(&url)
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for c in children {
            let o = c.wait_with_output().unwrap();
            if o.status.code() != Some(0) {
                failures.push(format!(
                    "round {round}: {:?} {}",
                    o.status.code(),
                    stderr(&o)
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of 128 runs failed: {failures:#?}",
        failures.len()
    );
    let leftovers: Vec<_> = std::fs::read_dir(&cache)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(
        leftovers.is_empty(),
        "no temporary file left: {leftovers:?}"
    );
}

/// A server that answers every request with a 200 announcing 100 kB and then sends one byte every
/// 200 ms (for 60 s at most): an S3 object that drips.
async fn drip_server() -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut raw = Vec::new();
                let mut buf = [0u8; 4096];
                while !raw.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => raw.extend_from_slice(&buf[..n]),
                    }
                }
                let head = "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\nETag: \"drip\"\r\nContent-Type: text/plain\r\n\r\n";
                if sock.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                for _ in 0..300 {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    if sock.write_all(b"#").await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    url
}

#[tokio::test]
async fn a_dripping_crontab_object_ends_at_the_step_timeout() {
    let imds = FakeImds::start().await;
    let root = tempfile::tempdir().unwrap();
    let user = TestUser::new();
    let s3 = drip_server().await;
    let after = root.path().join("after");
    imds.set_user_data(
        json!({
            "crontab": {user.0.clone(): "s3://drip-bucket/cron/slow"},
            "shell": format!("touch {}", path_str(&after)),
        })
        .to_string()
        .as_bytes(),
    );
    let started = Instant::now();
    let (out, report) = boot_env(
        &imds,
        root.path(),
        &["--step-timeout", "3"],
        &[("AWS_ENDPOINT_URL", s3)],
    )
    .await;
    let took = started.elapsed();
    let s = step(&report, &format!("crontab.{}", user.0));
    assert_eq!(s["outcome"], "failed", "{report}");
    assert_eq!(
        s["detail"], "timed out after 3s (--step-timeout)",
        "{report}"
    );
    assert!(
        took < Duration::from_secs(10),
        "boot ended {took:?} after it started, with --step-timeout 3"
    );
    assert!(after.exists(), "the next step ran: {}", stderr(&out));
    assert_eq!(out.status.code(), Some(1));
}

#[tokio::test]
async fn a_crontab_object_over_the_cap_is_refused_naming_it() {
    let imds = FakeImds::start().await;
    let root = tempfile::tempdir().unwrap();
    let user = TestUser::new();
    let mut big = b"5 4 * * * /bin/true # big\n".to_vec();
    big.resize(300 * 1024, b'#');
    let bucket = bucket_with(&[("cron/big", big.as_slice())]).await;
    imds.set_user_data(
        json!({"crontab": {user.0.clone(): format!("s3://{bucket}/cron/big")}})
            .to_string()
            .as_bytes(),
    );
    let (out, report) = boot(&imds, root.path(), &[]).await;
    let s = step(&report, &format!("crontab.{}", user.0));
    assert_eq!(s["outcome"], "failed", "{report}");
    assert_eq!(
        s["detail"],
        format!(
            "s3://{bucket}/cron/big is 307200 bytes or more: a crontab may be at most 262144 bytes"
        ),
        "{report}"
    );
    assert!(!user.crontab().contains("# big"), "nothing installed");
    assert_eq!(out.status.code(), Some(1));
}

#[tokio::test]
async fn s3run_streams_a_large_object_to_disk() {
    // The script reports the peak memory of its parent (s3run) and exits before its padding.
    let mut script = b"#!/bin/bash\ngrep VmHWM /proc/$PPID/status > \"$OUT\"\nexit 0\n#".to_vec();
    script.resize(script.len() + (64 << 20), b'x');
    script.push(b'\n');
    let bucket = bucket_with(&[("bin/big.sh", script.as_slice())]).await;
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("hwm");
    let url = format!("s3://{bucket}/bin/big.sh");
    let cache = dir.path().join("cache");
    for args in [
        vec!["--no-cache"],
        vec!["--cache-dir", cache.to_str().unwrap()],
    ] {
        let o = bin_moto("lava-rc")
            .args(["s3run", "-r", "ap-southeast-2"])
            .args(&args)
            .arg(&url)
            .env("OUT", &out_file)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
        let line = std::fs::read_to_string(&out_file).unwrap();
        let kib: u64 = line
            .split_whitespace()
            .nth(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("VmHWM line: {line:?}"));
        assert!(
            kib < 40 * 1024,
            "{args:?}: s3run peaked at {kib} KiB for a 64 MiB object"
        );
    }
    assert_eq!(std::fs::read(only_executable(&cache)).unwrap(), script);
}

/// Whether `path` is an active swap area.
fn swapping(path: &Path) -> bool {
    std::fs::read_to_string("/proc/swaps")
        .unwrap()
        .lines()
        .skip(1)
        .any(|l| l.split_whitespace().next() == Some(&path_str(path)))
}

#[tokio::test]
async fn swap_checks_what_is_already_at_the_path() {
    let imds = FakeImds::start().await;
    imds.set_user_data(br#"{"swap": {"size": 1}, "shell": "true"}"#);
    let run = |root: &Path| {
        let (imds, root) = (imds.clone(), root.to_path_buf());
        async move {
            let (out, report) = boot(&imds, &root, &[]).await;
            swapoff(&root.join("swapfile"));
            (out, step(&report, "swap").clone())
        }
    };
    // A directory and a dangling symbolic link: refused, left where they are.
    let root = XfsRoot::new(3);
    let file = root.path().join("swapfile");
    std::fs::create_dir(&file).unwrap();
    let (_, s) = run(root.path()).await;
    assert_eq!(s["outcome"], "failed", "{s}");
    assert_eq!(
        s["detail"],
        "/swapfile is a directory, not a swap file: left as it is"
    );
    assert!(file.is_dir());
    std::fs::remove_dir(&file).unwrap();
    std::os::unix::fs::symlink("/nowhere/swap", &file).unwrap();
    let (_, s) = run(root.path()).await;
    assert_eq!(s["outcome"], "failed", "{s}");
    assert!(
        s["detail"]
            .as_str()
            .unwrap()
            .contains("is a symbolic link (to \"/nowhere/swap\")"),
        "{s}"
    );
    assert!(
        file.symlink_metadata().unwrap().file_type().is_symlink(),
        "not deleted"
    );
    std::fs::remove_file(&file).unwrap();

    // Someone's file (mode 0644): refused, content kept.
    std::fs::write(&file, "keep me").unwrap();
    std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let (_, s) = run(root.path()).await;
    assert_eq!(s["outcome"], "failed", "{s}");
    assert!(
        s["detail"]
            .as_str()
            .unwrap()
            .contains("7 bytes without a swap signature")
            && s["detail"]
                .as_str()
                .unwrap()
                .contains("refusing to replace it"),
        "{s}"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");
    std::fs::remove_file(&file).unwrap();

    // What a crash leaves (root's, 0600, part written): made again, whole, and enabled.
    std::fs::write(&file, vec![0u8; 10 << 20]).unwrap();
    std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let (out, s) = run(root.path()).await;
    assert_eq!(s["outcome"], "ok", "{s}: {}", stderr(&out));
    assert!(
        s["detail"]
            .as_str()
            .unwrap()
            .contains("(repaired: was 10485760 bytes without a swap signature)"),
        "{s}"
    );
    assert_eq!(std::fs::metadata(&file).unwrap().len(), 1 << 30);
    let head = std::fs::read(&file).unwrap();
    assert_eq!(&head[4096 - 10..4096], b"SWAPSPACE2");
    drop(head);

    // A whole swap file that is not in use (as after swapoff): enabled again, not made again.
    let inode = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&file).unwrap());
    let (_, s) = {
        let (out, report) = boot(&imds, root.path(), &[]).await;
        let active = swapping(&file);
        swapoff(&file);
        assert!(active, "swapon ran on the existing file");
        (out, step(&report, "swap").clone())
    };
    assert_eq!(s["outcome"], "ok", "{s}");
    assert_eq!(s["detail"], "/swapfile exists (swap of 1.0 GiB): enabled");
    assert_eq!(
        std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&file).unwrap()),
        inode
    );
    let fstab = std::fs::read_to_string(root.path().join("etc/fstab")).unwrap();
    assert_eq!(fstab, "/swapfile swap swap defaults 0 0\n");
}

#[tokio::test]
async fn step_output_reaches_the_log_as_it_comes() {
    let imds = FakeImds::start().await;
    let root = tempfile::tempdir().unwrap();
    imds.set_user_data(
        json!({"shell": ["echo early-line", "sleep 3", "echo late-line"]})
            .to_string()
            .as_bytes(),
    );
    let mut c = rc_process();
    c.args(["boot", "--imds-endpoint", &imds.url])
        .args(["--root", &path_str(root.path())])
        .env("RUST_LOG", "lava_rc=info")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let lines = tokio::task::spawn_blocking(move || {
        use std::io::BufRead;
        let mut child = c.spawn().unwrap();
        let err = std::io::BufReader::new(child.stderr.take().unwrap());
        let lines: Vec<(Instant, String)> =
            err.lines().map(|l| (Instant::now(), l.unwrap())).collect();
        child.wait().unwrap();
        lines
    })
    .await
    .unwrap();
    let when = |text: &str| {
        lines
            .iter()
            .find(|(_, l)| l.contains(text))
            .unwrap_or_else(|| panic!("{text} in {lines:?}"))
            .0
    };
    let gap = when("late-line") - when("early-line");
    assert!(
        gap >= Duration::from_millis(2500),
        "the first line was logged {gap:?} before the second (the step sleeps 3 s between)"
    );
}

#[tokio::test]
async fn user_data_values_and_keys_cannot_leak_or_forge_log_lines() {
    let imds = FakeImds::start().await;
    let root = tempfile::tempdir().unwrap();
    imds.set_user_data(
        json!({
            "crontab": {
                "root": "https://lava:hunter2-in-url@example.com/root.cron",
                "x\nFORGED: lava-rc boot done": "s3://bkt/k",
            },
            "y\rFORGED2\n": 1,
        })
        .to_string()
        .as_bytes(),
    );
    let (out, report) = boot(&imds, root.path(), &[]).await;
    let err = stderr(&out);
    assert!(!err.contains("hunter2-in-url"), "{err}");
    assert!(
        err.contains("\"https://lava:***@example.com/root.cron\": expected s3://bucket/key"),
        "{err}"
    );
    for line in err.split(['\n', '\r']) {
        assert!(
            !line.starts_with("FORGED"),
            "a forged line: {line:?} in {err}"
        );
    }
    assert!(err.contains("crontab.x\\nFORGED"), "{err}");
    assert_eq!(
        step(&report, "crontab.x\\nFORGED: lava-rc boot done")["outcome"],
        "failed"
    );
    assert!(!report.to_string().contains("hunter2-in-url"));
}

#[tokio::test]
async fn imds_failures_say_what_the_service_answered() {
    // A refused token (IMDS disabled for the instance): at once, not after the deadline.
    let imds = FakeImds::start().await;
    imds.with(|s| s.token_status = Some(403));
    let root = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let (out, _) = boot(&imds, root.path(), &["--deadline", "30"]).await;
    let err = stderr(&out);
    assert!(started.elapsed() < Duration::from_secs(10), "{err}");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        err.contains("refused the session token (PUT /latest/api/token) with 403 Forbidden"),
        "{err}"
    );
    // 500s until the deadline: the last answer is named.
    let imds = FakeImds::start().await;
    imds.with(|s| s.fail_500 = usize::MAX);
    let (out, _) = boot(&imds, root.path(), &["--deadline", "2"]).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        err.contains("no usable answer within 2s; last attempt: /latest/meta-data/placement/region: token request (PUT /latest/api/token) answered 500"),
        "{err}"
    );
    assert!(!err.contains("the deadline was reached"), "{err}");
}
