//! AMI provisioning content: the tarball the packer step uploads, the conf.d steps in it, and
//! `ami-build.sh` run for real against a fake step folder.
use crate::common::root;
use lava_build::packer::tarball::{TarballSpec, build_tarball};
use std::io::Read;
use std::path::Path;
use std::process::Command;

/// (path, mode, text) of every entry of the provisioning tarball built exactly as `lava-build ami` does.
fn tarball_entries() -> Vec<(String, u32, String)> {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("provision.tar.gz");
    let spec = TarballSpec {
        ami_dir: root().join("ami"),
        os: "amzn2023".into(),
        agent: None,
        rc_dir: Some(root().join("rc.d")),
    };
    build_tarball(&spec, &out).unwrap();
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(
        std::fs::File::open(&out).unwrap(),
    ));
    ar.entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let path = e.path().unwrap().to_string_lossy().into_owned();
            let mode = e.header().mode().unwrap();
            let mut text = String::new();
            let _ = e.read_to_string(&mut text);
            (path, mode, text)
        })
        .collect()
}

#[test]
fn every_step_is_an_executable_numbered_script_with_a_purpose_line() {
    let entries = tarball_entries();
    assert_eq!(entries[0].0, "ami-build.sh");
    assert_eq!(entries[0].1, 0o755);
    let steps: Vec<_> = entries
        .iter()
        .filter(|(p, _, _)| p.starts_with("conf.d/"))
        .collect();
    assert!(
        steps.len() >= 20,
        "one step per line of FACTS §3: {}",
        steps.len()
    );
    for (path, mode, text) in &steps {
        let name = path.trim_start_matches("conf.d/");
        let (num, rest) = name.split_at(2);
        assert!(
            num.bytes().all(|b| b.is_ascii_digit()),
            "{name}: NN- prefix"
        );
        assert!(
            rest.starts_with('-') && rest.ends_with(".sh"),
            "{name}: NN-name.sh"
        );
        assert_eq!(*mode, 0o755, "{name} executable");
        let mut lines = text.lines();
        assert!(lines.next().unwrap().starts_with("#!"), "{name}: shebang");
        let purpose = lines.next().unwrap_or_default();
        assert!(
            purpose.starts_with("# ") && purpose.len() > 12,
            "{name}: one-line purpose comment, got {purpose:?}"
        );
    }
    for must in ["lib/common.sh", "versions.sh"] {
        assert!(entries.iter().any(|(p, _, _)| p == must), "{must} packed");
    }
    assert!(
        !entries
            .iter()
            .any(|(p, _, _)| p.contains("/.") || p.starts_with('.')),
        "no dot files"
    );
}

#[test]
fn steps_run_in_the_required_order() {
    let entries = tarball_entries();
    let names: Vec<String> = entries
        .iter()
        .filter_map(|(p, _, _)| p.strip_prefix("conf.d/").map(String::from))
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(
        names, sorted,
        "packed in name order, the order ami-build.sh runs them"
    );
    let pos = |word: &str| {
        names
            .iter()
            .position(|n| n.contains(word))
            .unwrap_or_else(|| panic!("a step named *{word}*: {names:?}"))
    };
    assert_eq!(pos("environment"), 0, "environment check first");
    // The boot agent early: one that cannot start here fails the build before the long builds.
    for long in ["tools", "python", "freetds"] {
        assert!(pos("boot-agent") < pos(long), "boot agent before {long}");
    }
    assert_eq!(
        pos("health-check"),
        names.len() - 2,
        "health check second to last"
    );
    assert_eq!(pos("cleanup"), names.len() - 1, "cleanup last");
}

#[test]
fn the_health_check_covers_every_component() {
    let entries = tarball_entries();
    let (_, _, text) = entries
        .iter()
        .find(|(p, _, _)| p.contains("health-check"))
        .unwrap();
    for component in [
        "openssl-libs",
        "PYTHON_VERSION",
        "sqlite3",
        "import ssl",
        "aws --version",
        "aws credentials (S3)",
        "docker info",
        "psql",
        "mysql",
        "sqlplus",
        "isql",
        "tsql",
        "lava-rc",
        "import psutil",
        // What a running worker relies on (issue 30).
        "rsyslogd -N1",
        "logrotate -d /etc/logrotate.d/lava",
        "amazon-cloudwatch-agent-ctl\" -a fetch-config",
        "systemd-analyze verify /etc/systemd/system/lava-rc.service",
        "systemctl is-enabled",
        "PATH=/usr/bin:/bin command -v",
    ] {
        assert!(
            text.contains(component),
            "health check mentions {component}"
        );
    }
    assert!(
        text.contains("die \"health check failed"),
        "fails the build"
    );
}

struct Run {
    status: i32,
    stdout: String,
    stderr: String,
}

/// Runs the real ami-build.sh with a fake step folder and os-release.
fn ami_build(dir: &Path, os_release: &str, os: &str) -> Run {
    std::fs::write(dir.join("os-release"), os_release).unwrap();
    std::fs::create_dir_all(dir.join("home")).unwrap();
    std::fs::create_dir_all(dir.join("skel")).unwrap();
    std::fs::write(dir.join("skel/.profile-lava"), "x\n").unwrap();
    let out = Command::new("bash")
        .arg(root().join("ami/ami-build.sh"))
        .env("OS", os)
        .env("AMI_BUILD_OS_RELEASE", dir.join("os-release"))
        .env("AMI_BUILD_CONF_DIR", dir.join("conf.d"))
        .env("AMI_BUILD_SKEL", dir.join("skel"))
        .env("AMI_BUILD_HOME", dir.join("home"))
        .env("AMI_BUILD_USER", "lava-build-test-nobody")
        .env("STEP_LOG", dir.join("steps.log"))
        .output()
        .unwrap();
    Run {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn step(dir: &Path, name: &str, status: i32) {
    let conf = dir.join("conf.d");
    std::fs::create_dir_all(&conf).unwrap();
    let p = conf.join(name);
    std::fs::write(
        &p,
        format!("#!/usr/bin/env bash\n# test step\necho {name} >>\"$STEP_LOG\"\nexit {status}\n"),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

const AL2023: &str = "NAME=\"Amazon Linux\"\nID=\"amzn\"\nVERSION_ID=\"2023\"\n";

fn steps_run(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("steps.log"))
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn ami_build_refuses_another_os() {
    let d = tempfile::tempdir().unwrap();
    step(d.path(), "10-a.sh", 0);
    let r = ami_build(d.path(), "ID=debian\nVERSION_ID=\"12\"\n", "amzn2023");
    assert_eq!(r.status, 2, "{}", r.stderr);
    assert!(r.stderr.contains("runs 'debian12'"), "{}", r.stderr);
    assert!(r.stderr.contains("OS=amzn2023"), "{}", r.stderr);
    assert!(steps_run(d.path()).is_empty(), "no step ran");
}

#[test]
fn ami_build_runs_steps_in_order_and_stops_at_the_first_failure() {
    let d = tempfile::tempdir().unwrap();
    for (name, status) in [
        ("20-b.sh", 0),
        ("10-a.sh", 0),
        ("30-broken.sh", 3),
        ("40-c.sh", 0),
    ] {
        step(d.path(), name, status);
    }
    step(d.path(), "README", 0); // not numbered: never run
    let r = ami_build(d.path(), AL2023, "amzn2023");
    assert_eq!(r.status, 3, "exit status of the failed step: {}", r.stderr);
    assert_eq!(steps_run(d.path()), ["10-a.sh", "20-b.sh", "30-broken.sh"]);
    assert!(
        r.stderr
            .contains("step 30-broken.sh failed with exit status 3"),
        "{}",
        r.stderr
    );
    for name in ["10-a.sh", "20-b.sh"] {
        let line = r
            .stdout
            .lines()
            .find(|l| l.contains(&format!("step {name}: ok in ")))
            .unwrap_or_else(|| panic!("timing line for {name}: {}", r.stdout));
        let secs = line.rsplit(' ').next().unwrap().trim_end_matches('s');
        assert!(secs.parse::<f64>().is_ok(), "{line}");
    }
    assert!(
        !d.path().join("home/.profile-lava").exists(),
        "no skeleton after a failure"
    );
}

#[test]
fn ami_build_completes_and_installs_the_skeleton() {
    let d = tempfile::tempdir().unwrap();
    step(d.path(), "10-a.sh", 0);
    step(d.path(), "99-z.sh", 0);
    let r = ami_build(d.path(), AL2023, "amzn2023");
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(steps_run(d.path()), ["10-a.sh", "99-z.sh"]);
    assert!(d.path().join("home/.profile-lava").exists());
    assert!(r.stdout.contains("all 2 steps done in "), "{}", r.stdout);
}

#[test]
fn the_readme_lists_the_pinned_versions() {
    let versions = std::fs::read_to_string(root().join("ami/os/amzn2023/versions.sh")).unwrap();
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let section = readme
        .split("## What is on the AMI")
        .nth(1)
        .expect("README section \"What is on the AMI\"");
    let section = section.split("\n## ").next().unwrap();
    let pins: Vec<(&str, &str)> = versions
        .lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .collect();
    assert!(pins.len() >= 4, "{pins:?}");
    for (name, value) in pins {
        assert!(
            section.contains(&format!("`{value}`")),
            "README \"What is on the AMI\" must show {name}={value}"
        );
    }
}

// Issue 30, point 5: lava's logging contract, run by the real rsyslogd and logrotate of the lab OS.

fn docker(args: &[&str]) -> std::process::Output {
    Command::new("docker")
        .env("DOCKER_HOST", crate::images::docker_host())
        .args(args)
        .output()
        .expect("docker CLI (Debian docker.io)")
}

/// The lab OS, which carries Debian's rsyslog and logrotate (scripts/test-services.sh puts them in
/// the lab's package set, pinned in scripts/deps/lab.lock).
fn lab_with_rsyslog() -> String {
    let lab = crate::lab::lab_image();
    let found = docker(&[
        "run",
        "--rm",
        "--network",
        "none",
        &lab,
        "sh",
        "-c",
        "command -v rsyslogd logrotate",
    ]);
    assert!(
        found.status.success(),
        "rsyslogd and logrotate in the lab OS {lab} (scripts/test-services.sh lab makes it with them): {}",
        String::from_utf8_lossy(&found.stdout)
    );
    lab
}

/// Runs `script` with bash in a fresh lab container (no network: the loopback only) holding the
/// AMI's rsyslog.d/lava.conf and logrotate.d/lava at their installed paths; (status, output).
fn in_logging_lab(script: &str) -> (i32, String) {
    let image = lab_with_rsyslog();
    let name = format!("ami-logging-run-{}", crate::images::unique());
    let created = docker(&[
        "create",
        "--name",
        &name,
        "--network",
        "none",
        &image,
        "bash",
        "-c",
        script,
    ]);
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let res = root().join("ami/os/amzn2023/resources");
    for (src, dest) in [
        ("rsyslog.d/lava.conf", "/etc/rsyslog.d/lava.conf"),
        ("logrotate.d/lava", "/etc/logrotate.d/lava"),
    ] {
        let cp = docker(&[
            "cp",
            res.join(src).to_str().unwrap(),
            &format!("{name}:{dest}"),
        ]);
        assert!(
            cp.status.success(),
            "{}",
            String::from_utf8_lossy(&cp.stderr)
        );
    }
    let run = docker(&["start", "-a", &name]);
    docker(&["rm", "-f", &name]);
    (
        run.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&run.stdout),
            String::from_utf8_lossy(&run.stderr)
        ),
    )
}

/// Amazon Linux 2023's /etc/rsyslog.conf in the part that matters here: the local socket, the
/// drop-ins first, then the distribution's rule for /var/log/messages.
const AL2023_RSYSLOG_CONF: &str = r#"module(load="imuxsock")
include(file="/etc/rsyslog.d/*.conf" mode="optional")
*.info;mail.none;authpriv.none;cron.none                /var/log/messages
"#;

/// Waits (bounded) until FILE has at least N lines, or fails naming it.
const WAIT_LINES: &str = r#"wait_lines() { for _ in $(seq 100); do [ "$(wc -l <"$1" 2>/dev/null || echo 0)" -ge "$2" ] && return 0; sleep 0.1; done; echo "timeout waiting for $2 line(s) in $1"; cat "$1" 2>/dev/null; exit 9; }"#;

#[test]
fn rsyslog_writes_local0_as_raw_json_lines_to_var_log_lava_and_to_messages() {
    let script = format!(
        r#"set -eu
cat >/etc/rsyslog.conf <<'CONF'
{AL2023_RSYSLOG_CONF}CONF
{WAIT_LINES}
rsyslogd -N1 -f /etc/rsyslog.conf
rsyslogd -f /etc/rsyslog.conf -i /run/rsyslogd.pid
# Bound wait until the UDP input is up, then lava's JSON from a "container" (UDP) and from the
# worker (local socket); a debug line that /var/log/lava must not get.
for _ in $(seq 100); do grep -q ':0202 ' /proc/net/udp && break; sleep 0.1; done
printf '%s' '<134>{{"event": "heartbeat", "worker": "w1"}}' >/dev/udp/127.0.0.1/514
logger -p local0.debug -t lava 'debug: not for /var/log/lava'
logger -p local0.info -t lava '{{"event": "job", "id": 7}}'
wait_lines /var/log/lava 2
wait_lines /var/log/messages 2
echo "== lava"; cat /var/log/lava
echo "== messages"; cat /var/log/messages
"#
    );
    let (status, out) = in_logging_lab(&script);
    assert_eq!(status, 0, "{out}");
    let lava: Vec<&str> = out
        .split("== lava\n")
        .nth(1)
        .unwrap()
        .split("== messages\n")
        .next()
        .unwrap()
        .lines()
        .collect();
    // %rawmsg%: the message exactly as it arrived, one per line, info and above only.
    assert_eq!(
        lava[0], r#"<134>{"event": "heartbeat", "worker": "w1"}"#,
        "{out}"
    );
    assert!(
        lava[1].ends_with(r#"lava: {"event": "job", "id": 7}"#),
        "{out}"
    );
    assert_eq!(lava.len(), 2, "no debug line: {out}");
    let messages = out.split("== messages\n").nth(1).unwrap();
    assert!(
        messages.contains(r#"{"event": "heartbeat", "worker": "w1"}"#),
        "{out}"
    );
    assert!(messages.contains(r#"{"event": "job", "id": 7}"#), "{out}");
}

#[test]
fn logrotate_reads_the_lava_config_and_rotates_var_log_lava() {
    let script = r#"set -eu
logrotate -d /etc/logrotate.d/lava
printf '{"event": "x"}\n' >/var/log/lava
printf 'old\n' >/var/log/lava-worker.log
logrotate -f -s /tmp/logrotate.state /etc/logrotate.d/lava
ls /var/log | grep '^lava' | sort
"#;
    let (status, out) = in_logging_lab(script);
    assert_eq!(status, 0, "{out}");
    let files: Vec<&str> = out.lines().filter(|l| l.starts_with("lava")).collect();
    assert!(files.contains(&"lava.1"), "{out}");
    assert!(files.contains(&"lava-worker.log.1"), "{out}");
}
