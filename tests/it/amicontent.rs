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
    assert!(pos("openssl") < pos("python"), "OpenSSL before Python");
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
        "openssl",
        "OPENSSL_VERSION",
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
        "packer version",
        "import psutil",
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
