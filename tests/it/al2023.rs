//! The AMI as a real Amazon Linux 2023 instance runs it (issue 22): each way the provisioning steps,
//! the boot unit or the release workflow would break there has a check here, on the files we ship,
//! run for real where this machine can (systemd-analyze, systemd-tmpfiles, readelf, bash, curl).
use crate::common::{bin, root, succeeded};
use std::path::{Path, PathBuf};
use std::process::Command;

fn amzn() -> PathBuf {
    root().join("ami/os/amzn2023")
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(amzn().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// (name, text) of every conf.d step.
fn steps() -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = std::fs::read_dir(amzn().join("conf.d"))
        .unwrap()
        .flatten()
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read_to_string(e.path()).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

fn step(word: &str) -> (String, String) {
    steps()
        .into_iter()
        .find(|(n, _)| n.contains(word))
        .unwrap_or_else(|| panic!("a step named *{word}*"))
}

/// Lines that are not comments.
fn code(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect()
}

// 1. The system's OpenSSL 3 only (issue 30, point 8): no private OpenSSL in /usr/local.

#[test]
fn no_private_openssl_python_and_freetds_build_on_the_systems() {
    for (name, text) in steps() {
        for line in code(&text) {
            assert!(
                !line.contains("openssl-$OPENSSL_VERSION")
                    && !line.contains("--with-openssl=/usr/local"),
                "{name} builds or uses a private OpenSSL: {line}"
            );
            let writes_ld_conf = line.contains("ld.so.conf") && line.contains('>');
            assert!(
                !(writes_ld_conf && line.contains("/usr/local/lib")),
                "{name} registers /usr/local/lib with ldconfig: {line}"
            );
            assert!(
                !line.contains("LD_LIBRARY_PATH"),
                "{name} sets LD_LIBRARY_PATH: {line}"
            );
        }
    }
    assert!(
        !steps().iter().any(|(n, _)| n.contains("openssl")),
        "no OpenSSL step"
    );
    let names: Vec<String> = steps().into_iter().map(|(n, _)| n).collect();
    let pos = |w: &str| names.iter().position(|n| n.contains(w)).unwrap();
    let (_, tools) = step("tools");
    assert!(tools.contains("openssl-devel"), "the system's headers");
    assert!(pos("tools") < pos("python") && pos("tools") < pos("freetds"));
    let (_, python) = step("python");
    assert!(
        !python.contains("--with-openssl"),
        "configure finds the system's OpenSSL"
    );
    assert!(python.contains("rpm -q --qf '%{VERSION}' openssl-libs"));
    let (_, freetds) = step("freetds");
    assert!(freetds.contains("--with-openssl \\"), "{freetds}");
    assert!(
        freetds.contains("libssl\\.so\\.3 => /(usr/)?lib64/"),
        "{freetds}"
    );
    assert!(!read("versions.sh").contains("OPENSSL_VERSION"));
    assert!(!read("downloads.lock").contains("\nopenssl-"));
}

/// The parameters of an AMI build these tests do not vary (the Python version last: some tests
/// take it from elsewhere).
const BUILD_PARAMS: [&str; 8] = [
    "ip=private",
    "s3bucket=bucket",
    "s3prefix=p/",
    "sg=sg-12345678",
    "subnet=subnet-12345678",
    "tz=UTC",
    "region=us-east-1",
    "python_version=3.11.12",
];

/// Asserts that `text` (what `name` is) holds every one of `musts`.
fn assert_holds(name: &str, text: &str, musts: &[&str]) {
    for must in musts {
        assert!(text.contains(must), "{name} lacks {must}");
    }
}

#[test]
fn the_health_check_compares_ssh_and_the_system_openssl_with_the_systems_version() {
    let (_, hc) = step("health-check");
    assert_holds(
        "health check",
        &hc,
        &[
            "rpm -q --qf '%{VERSION}' openssl-libs",
            "grep \"OpenSSL $system_openssl \" <<<\"$(ssh -V 2>&1)\"",
            "grep \"^OpenSSL $system_openssl \" <<<\"$(/usr/bin/openssl version)\"",
            "grep \"OpenSSL $system_openssl \" <<<\"$(\"$py\" -c 'import ssl; print(ssl.OPENSSL_VERSION)')\"",
            "! ls /usr/local/lib/libssl.so*",
        ],
    );
}

// 2. The release agent must run on glibc 2.34.

#[test]
fn check_glibc_passes_our_agent_at_2_34_and_names_what_is_too_new() {
    let script = root().join("scripts/check-glibc.sh");
    let agent = env!("CARGO_BIN_EXE_lava-rc");
    let ok = Command::new("bash")
        .arg(&script)
        .args([agent, "2.34"])
        .output()
        .unwrap();
    succeeded(&ok);
    // The same binary against an older limit: refused, naming the versions above it.
    let low = Command::new("bash")
        .arg(&script)
        .args([agent, "2.17"])
        .output()
        .unwrap();
    assert_eq!(low.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&low.stderr);
    assert!(stderr.contains("newer than 2.17"), "{stderr}");
    assert!(stderr.contains("GLIBC_2.18"), "{stderr}");
}

#[test]
fn the_release_workflow_builds_the_agent_on_amazon_linux_2023_and_checks_its_glibc() {
    let text = std::fs::read_to_string(root().join(".github/workflows/release-ami.yml")).unwrap();
    let wf: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let agent = &wf["jobs"]["agent"];
    assert_eq!(agent["container"].as_str(), Some("amazonlinux:2023"));
    let runs: Vec<&str> = agent["steps"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(|s| s["run"].as_str())
        .collect();
    let build = runs.iter().position(|r| r.contains("make agent")).unwrap();
    let check = runs
        .iter()
        .position(|r| r.contains("scripts/check-glibc.sh") && r.contains("2.34"))
        .expect("a glibc check step");
    assert!(check > build, "checked after it is built");
    let ami_runs: Vec<&str> = wf["jobs"]["ami"]["steps"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(|s| s["run"].as_str())
        .collect();
    for arch in ["x86_64", "arm64"] {
        assert!(
            ami_runs.iter().any(|r| r.contains(&format!(
                "scripts/check-glibc.sh dist/agent/{arch}/lava-rc 2.34"
            ))),
            "the AMI job checks the {arch} artifact it packs"
        );
    }
    assert!(ami_runs.iter().any(|r| r.contains("make downloads")));
}

// 3. dnf follows the latest release on instances.

#[test]
fn latest_is_persisted_in_dnf_vars_before_the_upgrade() {
    assert_eq!(read("resources/dnf/releasever"), "latest\n");
    let (_, dnf) = step("dnf");
    let lines = code(&dnf);
    let persist = lines
        .iter()
        .position(|l| {
            l.contains(
                "install_file \"$LAVA_AMI_DIR/resources/dnf/releasever\" /etc/dnf/vars/releasever",
            )
        })
        .expect("the resource installed as /etc/dnf/vars/releasever");
    let upgrade = lines
        .iter()
        .position(|l| l.contains("dnf -y -q upgrade"))
        .unwrap();
    assert!(persist < upgrade, "persisted before the upgrade");
    for (name, text) in steps() {
        assert!(
            !code(&text).iter().any(|l| l.contains("--releasever")),
            "{name}: a one-command --releasever does not stick"
        );
    }
}

// 4. PATH under sudo.

#[test]
fn common_sh_sets_path_whatever_sudo_passed() {
    let out = Command::new("/bin/bash")
        .arg("-c")
        .arg(format!(
            ". {} && printf '%s' \"$PATH\"",
            amzn().join("lib/common.sh").display()
        ))
        .env_clear()
        .env("PATH", "/usr/bin:/bin") // what a secure_path without /usr/local looks like
        .output()
        .unwrap();
    succeeded(&out);
    let path = String::from_utf8_lossy(&out.stdout);
    let dirs: Vec<&str> = path.split(':').collect();
    assert_eq!(dirs[0], "/usr/local/bin", "{path}");
    for d in ["/usr/local/sbin", "/usr/bin", "/usr/sbin"] {
        assert!(dirs.contains(&d), "{path} lacks {d}");
    }
}

#[test]
fn the_health_check_runs_the_built_python_by_its_full_path() {
    let (_, hc) = step("health-check");
    assert!(hc.contains("py=/opt/python/$PYTHON_VERSION/bin/python${PYTHON_VERSION%.*}"));
    for line in code(&hc) {
        assert!(!line.contains("python3 -c"), "python by PATH: {line}");
    }
    assert!(hc.contains("readlink -f /usr/local/bin/python3"));
}

// 5. Private subnets: nothing from the internet, everything pinned.

#[test]
fn no_step_reaches_the_internet() {
    for (name, text) in steps() {
        for line in code(&text) {
            for bad in ["http://", "https://", "curl ", "wget "] {
                assert!(
                    !line.contains(bad),
                    "{name} fetches from the internet: {line}"
                );
            }
            assert!(
                !line.contains("config-manager") && !line.contains(".repo"),
                "{name} adds a dnf repository: {line}"
            );
        }
    }
    let common = read("lib/common.sh");
    assert!(common.contains("s3://$S3BUCKET/${S3PREFIX}downloads/$file"));
    assert!(common.contains("sha256sum --check"));
    let (_, env) = step("environment");
    assert!(
        !env.contains("sts "),
        "credentials checked through S3, not STS (no STS endpoint in a private subnet)"
    );
}

#[test]
fn the_lock_pins_every_version_of_versions_sh_and_only_real_sums() {
    use lava_build::packer::downloads::{Scope, load};
    let pins = load(&root().join("ami"), "amzn2023").unwrap();
    let versions = read("versions.sh");
    let v = |name: &str| {
        versions
            .lines()
            .find_map(|l| l.strip_prefix(&format!("export {name}=")))
            .unwrap_or_else(|| panic!("{name} in versions.sh"))
            .to_string()
    };
    let listed = |file: String| {
        assert!(
            pins.iter().any(|p| p.file == file),
            "{file} listed in downloads.lock"
        );
    };
    listed(format!("freetds-{}.tar.bz2", v("FREETDS_VERSION")));
    for arch in ["x86_64", "aarch64"] {
        for pkg in ["common", "client-plugins", "libs", "client"] {
            listed(format!(
                "mysql-community-{pkg}-{}-1.el9.{arch}.rpm",
                v("MYSQL_VERSION")
            ));
        }
    }
    // Neither a private OpenSSL nor packer (point 9: the AMI does not rebuild itself).
    assert!(
        !pins
            .iter()
            .any(|p| p.file.starts_with("openssl-") || p.file.starts_with("packer_")),
        "no OpenSSL tarball or packer zip"
    );
    for arch in ["x86_64", "aarch64"] {
        assert!(
            pins.iter().any(|p| p
                .file
                .starts_with(&format!("psutil-{}-", v("PSUTIL_VERSION")))
                && p.file.ends_with(&format!("_{arch}.whl"))
                && p.sha256.is_some()),
            "a pinned psutil wheel for {arch}"
        );
    }
    // Python is a parameter: pinned per version, the sample config's among them.
    let pythons: Vec<&str> = pins
        .iter()
        .filter_map(|p| match &p.scope {
            Scope::Param { name, value } if name == "python_version" => {
                assert_eq!(p.file, format!("Python-{value}.tar.xz"));
                assert!(p.sha256.is_some(), "{} pinned", p.file);
                Some(value.as_str())
            }
            _ => None,
        })
        .collect();
    assert!(pythons.contains(&"3.11.12"), "{pythons:?}");
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    for py in &pythons {
        assert!(
            readme.contains(&format!("`{py}`")),
            "README names the pinned Python {py}"
        );
    }
    for p in &pins {
        assert!(
            p.url.ends_with(&p.file)
                || p.file.starts_with("rds-")
                || p.file.starts_with("redshift-"),
            "{}: the URL names the file ({})",
            p.file,
            p.url
        );
    }
}

/// A stand-in AWS endpoint that only counts the connections made to it.
struct CountingEndpoint {
    listener: std::net::TcpListener,
}

impl CountingEndpoint {
    fn new() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        Self { listener }
    }
    fn url(&self) -> String {
        format!("http://{}", self.listener.local_addr().unwrap())
    }
    /// Connections made so far (queued ones included: the process has exited when this is called).
    fn count(&self) -> usize {
        std::iter::from_fn(|| self.listener.accept().ok()).count()
    }
}

/// An AMI folder with the real ami-build.yaml and the given lock and downloads.
fn ami_dir(lock: &str, files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::copy(
        root().join("ami/ami-build.yaml"),
        d.path().join("ami-build.yaml"),
    )
    .unwrap();
    std::fs::create_dir_all(d.path().join("os/amzn2023")).unwrap();
    std::fs::write(d.path().join("os/amzn2023/downloads.lock"), lock).unwrap();
    let dl = d.path().join("resources.s3/downloads");
    std::fs::create_dir_all(&dl).unwrap();
    for (name, bytes) in files {
        std::fs::write(dl.join(name), bytes).unwrap();
    }
    d
}

/// A real (not emulated) `lava-build ami` against `dir`, with every AWS call going to `endpoint`.
fn real_build(dir: &Path, endpoint: &CountingEndpoint, python: &str) -> std::process::Output {
    let agents = dir.join("agents/x86_64");
    std::fs::create_dir_all(&agents).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_lava-rc"), agents.join("lava-rc")).unwrap();
    bin("lava-build")
        .args(["ami", "--allow-imdsv1", "--ami-build"])
        .arg(dir.join("ami-build.yaml"))
        .arg("--agent-dir")
        .arg(dir.join("agents"))
        .arg("--dist")
        .arg(dir.join("dist"))
        .args(["ami_id=ami-12345678", "arch=x86_64"])
        .args(&BUILD_PARAMS[..7])
        .arg(format!("python_version={python}"))
        .env("AWS_ENDPOINT_URL", endpoint.url())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .output()
        .unwrap()
}

// sha256 of "hello\n" and of "py\n"
const HELLO: &str = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";
const PY: &str = "af087cfee913686b1c8f284690155cb0638c75cf827ddcf6407ec128610dbfee";

#[test]
fn a_real_build_with_a_missing_or_altered_download_stops_before_any_aws_call() {
    let lock = format!(
        "tool.tar.gz all {HELLO} https://example.org/tool.tar.gz\n\
         gone.tar.gz all {HELLO} https://example.org/gone.tar.gz\n\
         unpinned.pem all - https://example.org/unpinned.pem\n\
         Python-3.11.12.tar.xz python_version=3.11.12 {PY} https://example.org/Python-3.11.12.tar.xz\n"
    );
    let d = ami_dir(
        &lock,
        &[
            ("tool.tar.gz", b"tampered\n"),
            ("Python-3.11.12.tar.xz", b"py\n"),
        ],
    );
    let endpoint = CountingEndpoint::new();
    let out = real_build(d.path(), &endpoint, "3.11.12");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains("tool.tar.gz has SHA-256 "), "{stderr}");
    assert!(stderr.contains(&format!("pinned {HELLO}")), "{stderr}");
    assert!(stderr.contains("gone.tar.gz is missing"), "{stderr}");
    assert!(stderr.contains("unpinned.pem is not pinned"), "{stderr}");
    assert!(stderr.contains("make downloads"), "{stderr}");
    assert_eq!(endpoint.count(), 0, "no AWS request before the refusal");
    assert!(!d.path().join("dist/ami").exists(), "nothing packed");
}

#[test]
fn a_python_version_without_a_pinned_tarball_is_refused_naming_the_parameter() {
    let lock = format!(
        "Python-3.11.12.tar.xz python_version=3.11.12 {PY} https://example.org/Python-3.11.12.tar.xz\n"
    );
    let d = ami_dir(&lock, &[("Python-3.11.12.tar.xz", b"py\n")]);
    let endpoint = CountingEndpoint::new();
    let out = real_build(d.path(), &endpoint, "3.11.9");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("python_version: invalid value \"3.11.9\""),
        "{stderr}"
    );
    assert!(stderr.contains("(3.11.12)"), "{stderr}");
    assert!(
        stderr.contains("scripts/downloads.sh add python_version=3.11.9"),
        "{stderr}"
    );
    assert_eq!(endpoint.count(), 0, "no AWS request before the refusal");
}

#[test]
fn the_plan_names_the_check_and_says_what_a_build_would_refuse() {
    let d = ami_dir(
        &format!("gone.tar.gz all {HELLO} https://example.org/gone.tar.gz\n"),
        &[],
    );
    let out = bin("lava-build")
        .args(["ami", "--plan", "--offline", "--ami-build"])
        .arg(d.path().join("ami-build.yaml"))
        .arg("ami_id=ami-12345678")
        .args(BUILD_PARAMS)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains(&format!(
            "check {dir}/resources.s3/downloads/ against {dir}/os/amzn2023/downloads.lock",
            dir = d.path().display()
        )),
        "the check names the folders --ami-build gives: {stdout}"
    );
    assert!(
        stderr.contains("note: a real build would stop here")
            && stderr.contains("gone.tar.gz is missing"),
        "{stderr}"
    );
}

#[test]
fn the_downloads_script_keeps_only_files_with_the_pinned_sum_and_pins_on_request() {
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("good"), "hello\n").unwrap();
    std::fs::write(src.join("bad"), "not hello\n").unwrap();
    std::fs::write(src.join("new"), "hello\n").unwrap();
    let url = |f: &str| format!("file://{}", src.join(f).display());
    let lock = d.path().join("downloads.lock");
    std::fs::write(
        &lock,
        format!(
            "# test\ngood all {HELLO} {}\nbad all {HELLO} {}\nnew all - {}\n",
            url("good"),
            url("bad"),
            url("new")
        ),
    )
    .unwrap();
    let out_dir = d.path().join("downloads");
    let run = |args: &[&str]| {
        Command::new("bash")
            .arg(root().join("scripts/downloads.sh"))
            .args(args)
            .env("DOWNLOADS_LOCK", &lock)
            .env("DOWNLOADS_DIR", &out_dir)
            .output()
            .unwrap()
    };
    let fetch = run(&["fetch"]);
    let stderr = String::from_utf8_lossy(&fetch.stderr);
    assert_eq!(fetch.status.code(), Some(1), "{stderr}");
    assert_eq!(std::fs::read(out_dir.join("good")).unwrap(), b"hello\n");
    assert!(
        !out_dir.join("bad").exists(),
        "a differing file is not kept"
    );
    assert!(stderr.contains("bad (SHA-256 "), "{stderr}");
    assert!(stderr.contains("not pinned yet"), "{stderr}");

    let pin = run(&["pin", "new"]);
    succeeded(&pin);
    let text = std::fs::read_to_string(&lock).unwrap();
    let sum_of = |file: &str| {
        text.lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .find(|c| c.first() == Some(&file))
            .map(|c| c[2].to_string())
            .unwrap()
    };
    assert_eq!(sum_of("new"), HELLO, "the real file's sum recorded");
    assert_eq!(sum_of("good"), HELLO, "other lines untouched");
    assert!(text.starts_with("# test\n"), "comments kept: {text}");
}

// 6. Boot never hangs.

fn unit() -> String {
    std::fs::read_to_string(root().join("rc.d/lava-rc.service")).unwrap()
}

fn unit_value(key: &str) -> Vec<String> {
    unit()
        .lines()
        .filter_map(|l| l.strip_prefix(&format!("{key}=")))
        .map(String::from)
        .collect()
}

#[test]
fn the_unit_passes_systemd_analyze_verify() {
    let d = tempfile::tempdir().unwrap();
    let text = unit().replace("/usr/local/bin/lava-rc", env!("CARGO_BIN_EXE_lava-rc"));
    let path = d.path().join("lava-rc.service");
    std::fs::write(&path, text).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .expect("systemd-analyze (Debian package systemd) is needed");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_unit_has_a_finite_start_timeout() {
    let values = unit_value("TimeoutStartSec");
    assert_eq!(values.len(), 1, "{values:?}");
    let out = Command::new("systemd-analyze")
        .args(["timespan", &values[0]])
        .output()
        .expect("systemd-analyze (Debian package systemd) is needed");
    let text = String::from_utf8_lossy(&out.stdout);
    let micros: u64 = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("μs: "))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("systemd reads {:?} as no finite time: {text}", values[0]));
    let minutes = micros / 60_000_000;
    assert!(
        (5..=120).contains(&minutes),
        "between 5 minutes and 2 hours: {minutes} min"
    );
}

#[test]
fn the_unit_orders_the_worker_after_itself_and_documents_no_block() {
    assert_eq!(unit_value("Before"), ["lava-worker.service"]);
    for key in ["After", "Requires", "Wants", "BindsTo", "Requisite"] {
        for v in unit_value(key) {
            assert!(
                !v.contains("lava-worker"),
                "{key}={v}: an ordering cycle with the worker"
            );
        }
    }
    assert!(
        unit().contains("systemctl --no-block start lava-worker"),
        "the unit tells user data how to start the worker"
    );
}

// 7. The smaller ones.

/// Lava's contract (issue 30, point 5): local0 as %rawmsg% in /var/log/lava, not stopped there
/// (also in /var/log/messages); UDP from the docker bridge; the CloudWatch agent's config where
/// lava's worker boot script expects it; every /var/log/lava* rotated. The lab runs the real
/// rsyslogd and logrotate on these files (amicontent.rs).
#[test]
fn the_logging_resources_keep_lavas_contract() {
    let conf = read("resources/rsyslog.d/lava.conf");
    let lines = code(&conf);
    assert!(
        lines.iter().any(|l| l.contains("string=\"%rawmsg%\\n\"")),
        "{conf}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("local0.info") && l.contains("file=\"/var/log/lava\"")),
        "{conf}"
    );
    assert!(
        !lines.iter().any(|l| l.contains("stop")),
        "local0 goes on to /var/log/messages"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("$AllowedSender UDP") && l.contains("172.17.0.0/16"))
    );
    assert!(
        !conf.contains("address=\"127.0.0.1\""),
        "not the loopback only"
    );
    let (_, cw) = step("cloudwatch");
    assert!(cw.contains("\"$cw/etc/config.json\""), "{cw}");
    assert!(
        cw.contains("amazon-cloudwatch-agent-ctl\" -a fetch-config -m ec2"),
        "{cw}"
    );
    let agent: serde_json::Value =
        serde_json::from_str(&read("resources/cloudwatch/agent.json")).unwrap();
    let files: Vec<&str> = agent["logs"]["logs_collected"]["files"]["collect_list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["file_path"].as_str().unwrap())
        .collect();
    // As lava's AMI: /var/log/messages only. Lava's worker boot script (misc/boot/20-cloudwatch.sh)
    // adds /var/log/lava with the realm's group, /var/log/lava/<realm>, which the worker stack's
    // heartbeat alarm watches; a second entry here would ship the file twice.
    assert_eq!(files, ["/var/log/messages"]);
    let rotate = read("resources/logrotate.d/lava");
    assert!(
        rotate
            .lines()
            .next()
            .is_some_and(|l| l.starts_with("/var/log/lava "))
            || rotate.contains("\n/var/log/lava ")
    );
    let (_, rs) = step("rsyslog");
    assert!(
        rs.contains("/etc/logrotate.d/lava") && rs.contains("rsyslogd -N1"),
        "{rs}"
    );
}

/// cron's PATH is /usr/bin:/bin: sqlplus and tsql are linked there (issue 30, point 7).
#[test]
fn db_clients_are_on_crons_path() {
    let (_, oracle) = step("oracle");
    assert!(
        oracle.contains("ln -sf \"$dir/sqlplus\" /usr/bin/sqlplus"),
        "{oracle}"
    );
    let (_, freetds) = step("freetds");
    assert!(
        freetds.contains("ln -sf /usr/local/bin/tsql /usr/bin/tsql"),
        "{freetds}"
    );
    let (_, hc) = step("health-check");
    assert!(hc.contains("PATH=/usr/bin:/bin command -v"), "{hc}");
    for c in ["sqlplus", "psql", "mysql", "isql", "tsql"] {
        assert!(hc.contains(&format!(" {c} ")), "{c} checked on cron's PATH");
    }
}

#[test]
fn machine_id_is_emptied_by_the_last_step_and_after_the_reboot() {
    let (_, cleanup) = step("cleanup");
    assert!(code(&cleanup).contains(&"truncate -s 0 /etc/machine-id"));
    let template = std::fs::read_to_string(root().join("ami/lava.pkr.hcl.j2")).unwrap();
    let reboot = template.find("sudo systemctl reboot").unwrap();
    let last = template.rfind("provisioner \"").unwrap();
    assert!(last > reboot);
    let block = &template[last..template[last..].find("\n  }").unwrap() + last];
    assert!(
        block.contains("sudo truncate -s 0 /etc/machine-id"),
        "the last provisioner empties it: {block}"
    );
}

#[test]
fn tmp_is_cleaned_by_systemd_tmpfiles_keeping_private_tmp_folders() {
    let cron = read("resources/cron.d/lava");
    for line in code(&cron) {
        assert!(!line.contains("/tmp"), "no cron /tmp cleaner: {line}");
    }
    let (_, tmp) = step("tmp");
    assert!(tmp.contains("resources/tmpfiles.d/tmp.conf\" /etc/tmpfiles.d/tmp.conf"));
    // The shipped rule, applied by the real systemd-tmpfiles to a fake root.
    let r = tempfile::tempdir().unwrap();
    let t = r.path().join("tmp");
    let boot_id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .unwrap()
        .trim()
        .replace('-', "");
    let private = t.join(format!(
        "systemd-private-{boot_id}-lava-worker.service-Ab12Cd"
    ));
    std::fs::create_dir_all(private.join("tmp")).unwrap();
    std::fs::write(t.join("old"), "x").unwrap();
    std::fs::write(t.join("new"), "x").unwrap();
    // /var/tmp keeps the distribution's 30 days (the override replaces its whole tmp.conf).
    let vt = r.path().join("var/tmp");
    std::fs::create_dir_all(&vt).unwrap();
    std::fs::write(vt.join("recent"), "x").unwrap();
    let ten_days_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(10 * 86400);
    std::fs::File::options()
        .write(true)
        .open(vt.join("recent"))
        .unwrap()
        .set_times(
            std::fs::FileTimes::new()
                .set_modified(ten_days_ago)
                .set_accessed(ten_days_ago),
        )
        .unwrap();
    std::fs::write(private.join("tmp/old"), "x").unwrap();
    let month_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(30 * 86400);
    for p in [
        t.join("old"),
        private.join("tmp/old"),
        private.join("tmp"),
        private.clone(),
    ] {
        std::fs::File::options()
            .write(p.is_file())
            .read(true)
            .open(&p)
            .unwrap()
            .set_times(
                std::fs::FileTimes::new()
                    .set_modified(month_ago)
                    .set_accessed(month_ago),
            )
            .unwrap();
    }
    let out = Command::new("systemd-tmpfiles")
        .arg("--clean")
        .arg(format!("--root={}", r.path().display()))
        .arg(amzn().join("resources/tmpfiles.d/tmp.conf"))
        .output()
        .expect("systemd-tmpfiles (Debian package systemd) is needed");
    succeeded(&out);
    assert!(!t.join("old").exists(), "a file untouched for 30 days goes");
    assert!(t.join("new").exists(), "a new file stays");
    assert!(
        private.join("tmp/old").exists(),
        "a service's PrivateTmp folder is never cleaned"
    );
    // The distribution's /var/tmp age (30d) counts the change time too, which a test cannot set
    // back: what is checked is that the rule is read (the folder is made 1777) and that a file
    // untouched for 10 days stays, where /tmp's rule would have removed it.
    assert!(
        vt.join("recent").exists(),
        "/var/tmp: 10 days old stays (30 days there)"
    );
    let _ = std::fs::remove_dir_all(&vt);
    let made = Command::new("systemd-tmpfiles")
        .arg("--create")
        .arg(format!("--root={}", r.path().display()))
        .arg(amzn().join("resources/tmpfiles.d/tmp.conf"))
        .output()
        .unwrap();
    succeeded(&made);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&vt).unwrap().permissions().mode() & 0o7777,
        0o1777,
        "/var/tmp made by our tmp.conf"
    );
}

#[test]
fn selinux_is_switched_off_after_the_upgrade() {
    let names: Vec<String> = steps().into_iter().map(|(n, _)| n).collect();
    let pos = |w: &str| names.iter().position(|n| n.contains(w)).unwrap();
    assert!(pos("selinux") > pos("dnf"), "{names:?}");
    let (_, selinux) = step("selinux");
    assert!(selinux.contains("grubby --update-kernel ALL --args selinux=0"));
    for (name, text) in steps().into_iter().skip(pos("selinux") + 1) {
        for line in code(&text) {
            assert!(
                !(line.contains("dnf") && line.contains("kernel")),
                "{name} installs a kernel after selinux=0 was set: {line}"
            );
        }
    }
}

#[test]
fn mysql_key_is_imported_explicitly_and_the_client_version_pinned() {
    let (_, mysql) = step("mysql");
    assert_holds(
        "60-mysql",
        &mysql,
        &[
            "gpg --show-keys --with-colons",
            "\"$MYSQL_KEY_ID\"",
            "rpm --import",
            "rpm -K",
            "mysql-community-$pkg-$MYSQL_VERSION-1.el9.$arch.rpm",
            "rpm -q --qf '%{VERSION}' mysql-community-client",
        ],
    );
    assert!(!mysql.contains("release"), "no MySQL repository package");
    let versions = read("versions.sh");
    assert!(versions.contains("export MYSQL_KEY_ID=B7B3B788A8D3785C"));
}

// Issue 15, the AMI: os=amzn2 refused, ami/Makefile delegating.

#[test]
fn os_amzn2_is_refused_before_any_aws_call() {
    let endpoint = CountingEndpoint::new();
    let d = tempfile::tempdir().unwrap();
    let out = bin("lava-build")
        .args(["ami", "--allow-imdsv1", "--dist"])
        .arg(d.path())
        .arg("os=amzn2")
        .args(BUILD_PARAMS)
        .env("AWS_ENDPOINT_URL", endpoint.url())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "os: invalid value \"amzn2\": expected amzn2023 (an os with a provisioning tree"
        ),
        "{stderr}"
    );
    assert_eq!(endpoint.count(), 0, "no SSM lookup, no sync");
}

#[test]
fn ami_makefile_delegates_to_the_top_level_targets_with_the_same_parameters() {
    let out = Command::new("make")
        .args([
            "-C",
            "ami",
            "-n",
            "plan",
            "config=deploy/sample.yaml",
            "env=dev",
        ])
        .arg("python_version=3.13.5")
        .current_dir(root())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    succeeded(&out);
    let line = stdout
        .lines()
        .find(|l| l.contains("lava-build ami --plan"))
        .unwrap_or_else(|| panic!("the top-level plan command: {stdout}"));
    for p in [
        "'config=deploy/sample.yaml'",
        "'env=dev'",
        "'python_version=3.13.5'",
    ] {
        assert!(line.contains(p), "{line}");
    }
}

/// `fetch_download` of lib/common.sh, run by bash with the AWS CLI against the S3 emulator: what a
/// build instance in a private subnet does for every third-party file.
fn fetch_download(lock_dir: &Path, file: &str, dest: &Path) -> std::process::Output {
    let aws_bin = root().join("build/venv/bin");
    assert!(
        aws_bin.join("aws").exists(),
        "the AWS CLI (build/venv/bin/aws) is needed: scripts/test-services.sh install"
    );
    Command::new("/bin/bash")
        .arg("-c")
        .arg(format!(
            ". {} && PATH={}:$PATH && LAVA_AMI_DIR={} && fetch_download {file} {}",
            amzn().join("lib/common.sh").display(),
            aws_bin.display(),
            lock_dir.display(),
            dest.display()
        ))
        .env("S3BUCKET", "lava-fetch-test")
        .env("S3PREFIX", "ami/")
        .env("AWS_ENDPOINT_URL", crate::common::moto())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .output()
        .unwrap()
}

#[tokio::test]
async fn steps_fetch_downloads_from_the_bucket_and_check_the_pinned_sum() {
    let sdk = crate::common::moto_sdk("us-east-1").await;
    let s3 = aws_sdk_s3::Client::new(&sdk);
    let _ = s3.create_bucket().bucket("lava-fetch-test").send().await;
    for (key, body) in [("good", "hello\n"), ("bad", "tampered\n")] {
        s3.put_object()
            .bucket("lava-fetch-test")
            .key(format!("ami/downloads/{key}"))
            .body(body.as_bytes().to_vec().into())
            .send()
            .await
            .unwrap();
    }
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("downloads.lock"),
        format!(
            "good all {HELLO} https://x/good\nbad all {HELLO} https://x/bad\nnew all - https://x/new\n"
        ),
    )
    .unwrap();
    let dest = d.path().join("out");
    let good = fetch_download(d.path(), "good", &dest);
    succeeded(&good);
    assert_eq!(std::fs::read(dest.join("good")).unwrap(), b"hello\n");

    let bad = fetch_download(d.path(), "bad", &dest);
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(bad.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("bad does not have its pinned SHA-256 {HELLO}")),
        "{stderr}"
    );
    for (file, why) in [
        ("new", "new is not pinned in downloads.lock"),
        ("other", "other is not listed in downloads.lock"),
    ] {
        let out = fetch_download(d.path(), file, &dest);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(why), "{stderr}");
    }
}

// Issue 30, point 2: a release path that runs from a fresh repository.

/// CA bundles AWS rotates carry `ca-bundle` instead of a sum: `make downloads` takes the current
/// one each time (a bundle that gained a CA is still fine), keeps it only when openssl reads every
/// certificate in it, and lava-build's own check agrees; `check` names what is left to pin.
#[test]
fn rotating_ca_bundles_are_fetched_fresh_and_check_names_what_is_unpinned() {
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    // Real certificates: Debian's CA bundle, cut to two certificates, then "rotated" to three.
    let system = std::fs::read_to_string("/etc/ssl/certs/ca-certificates.crt")
        .expect("Debian's ca-certificates bundle");
    let certs: Vec<String> = system
        .split_inclusive("-----END CERTIFICATE-----\n")
        .filter(|c| c.contains("-----BEGIN CERTIFICATE-----"))
        .map(String::from)
        .collect();
    std::fs::write(src.join("rds.pem"), certs[..2].concat()).unwrap();
    std::fs::write(
        src.join("broken.pem"),
        "<html>503 Service Unavailable</html>\n",
    )
    .unwrap();
    std::fs::write(src.join("new"), "hello\n").unwrap();
    let url = |f: &str| format!("file://{}", src.join(f).display());
    let lock = d.path().join("downloads.lock");
    std::fs::write(
        &lock,
        format!(
            "rds.pem all ca-bundle {}\nbroken.pem all ca-bundle {}\nnew all - {}\n",
            url("rds.pem"),
            url("broken.pem"),
            url("new")
        ),
    )
    .unwrap();
    let out_dir = d.path().join("downloads");
    let run = |args: &[&str]| {
        Command::new("bash")
            .arg(root().join("scripts/downloads.sh"))
            .args(args)
            .env("DOWNLOADS_LOCK", &lock)
            .env("DOWNLOADS_DIR", &out_dir)
            .output()
            .unwrap()
    };
    let check = run(&["check"]);
    let stderr = String::from_utf8_lossy(&check.stderr);
    assert_eq!(check.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("1 file(s)") && stderr.contains("have no pinned SHA-256 yet: new"),
        "{stderr}"
    );
    assert!(stderr.contains("make downloads-pin"), "{stderr}");

    let fetch = run(&["fetch"]);
    let stderr = String::from_utf8_lossy(&fetch.stderr);
    assert_eq!(fetch.status.code(), Some(1), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(out_dir.join("rds.pem")).unwrap(),
        certs[..2].concat()
    );
    assert!(!out_dir.join("broken.pem").exists(), "{stderr}");
    assert!(
        stderr.contains("broken.pem (not a CA bundle: no PEM certificate in it)"),
        "{stderr}"
    );
    // AWS adds a CA: the next fetch takes the new bundle; no lock change is needed.
    std::fs::write(src.join("rds.pem"), certs[..3].concat()).unwrap();
    std::fs::write(&lock, format!("rds.pem all ca-bundle {}\n", url("rds.pem"))).unwrap();
    let again = run(&["fetch"]);
    succeeded(&again);
    let fetched = std::fs::read(out_dir.join("rds.pem")).unwrap();
    assert_eq!(fetched, certs[..3].concat().as_bytes());
    assert_eq!(
        lava_build::packer::downloads::not_a_ca_bundle(&fetched),
        None
    );
    assert_eq!(
        lava_build::packer::downloads::not_a_ca_bundle(b"<html>503</html>").as_deref(),
        Some("no PEM certificate in it")
    );
    succeeded(&run(&["check"]));
}

/// The shipped lock: the AWS CA bundles rotate (ca-bundle), and a new region's RDS bundle is added
/// as one; the release workflow runs the pin check before any build.
#[test]
fn the_lock_treats_aws_ca_bundles_as_rotating_and_the_release_checks_pins_first() {
    let lock = read("downloads.lock");
    for file in [
        "rds-global-bundle.pem",
        "redshift-amazon-trust-ca-bundle.crt",
    ] {
        let cols: Vec<&str> = lock
            .lines()
            .find(|l| l.starts_with(file))
            .unwrap_or_else(|| panic!("{file} listed"))
            .split_whitespace()
            .collect();
        assert_eq!(cols[2], "ca-bundle", "{file}");
    }
    let text = std::fs::read_to_string(root().join(".github/workflows/release-ami.yml")).unwrap();
    let wf: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let first_job = &wf["jobs"]["pins"];
    let runs: Vec<&str> = first_job["steps"]
        .as_sequence()
        .expect("a pins job")
        .iter()
        .filter_map(|s| s["run"].as_str())
        .collect();
    assert!(
        runs.iter()
            .any(|r| r.contains("scripts/downloads.sh check")),
        "{runs:?}"
    );
    let needs = |job: &str| -> Vec<String> {
        match &wf["jobs"][job]["needs"] {
            serde_yaml::Value::String(s) => vec![s.clone()],
            serde_yaml::Value::Sequence(v) => {
                v.iter().map(|x| x.as_str().unwrap().to_string()).collect()
            }
            _ => Vec::new(),
        }
    };
    assert!(
        needs("agent").contains(&"pins".to_string()),
        "agents wait for the pin check"
    );
}
