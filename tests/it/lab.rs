//! The lab OS (a real Debian 12 made by `scripts/test-services.sh lab` and imported into the test
//! engines as lava-lab/debian:12): the real image steps, a real lava from PyPI, the real checks.
//! Nothing here is a copy of a step: the step files are the repository's own.
use crate::common::{ok, root};
use crate::images::{check, docker_host, lava_build_images, unique};
use serde_json::Value;

/// The lab image in the test engine, or a panic naming what is missing.
pub(crate) fn lab_image() -> String {
    let image = std::env::var("LAVA_TEST_LAB_IMAGE").unwrap_or_else(|_| {
        panic!("lab OS image is not set up: LAVA_TEST_LAB_IMAGE is unset; run the tests through scripts/test-services.sh run -- cargo test (it imports lava-lab/debian:12)")
    });
    let out = std::process::Command::new("docker")
        .env("DOCKER_HOST", docker_host())
        .args(["image", "inspect", "--format", "{{.Id}}", &image])
        .output()
        .expect("docker CLI (Debian docker.io)");
    assert!(
        out.status.success(),
        "lab OS image {image} is not in the test engine ({}): `scripts/test-services.sh lab` makes it (debootstrap from the Debian mirror)",
        String::from_utf8_lossy(&out.stderr).trim()
    );
    image
}

/// The checks of images/checks.yaml that apply to a Debian 12 base built from the ubuntu24 steps:
/// all base checks except the Python 3.12 one (Debian 12 has 3.11) and the AWS CLI (its step
/// downloads from AWS's host, which this network does not reach).
const LAB_CHECKS: [&str; 11] = [
    "architecture",
    "lava-worker",
    "package manager",
    "openssl >= 3",
    "python ssl",
    "isql",
    "tsql",
    "tsql TLS",
    "ODBC driver FreeTDS",
    "lava database drivers",
    "make",
];

/// Copies the files of `from`, and of its folders, into `to` (which exists).
fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            std::fs::create_dir(&dest).unwrap();
            copy_tree(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), &dest).unwrap();
        }
    }
}

/// An images folder whose one os, `debian12`, is FROM the lab image and runs the real ubuntu24
/// base steps (10-packages.sh, 40-lava.sh) with the real Dockerfile, common/ and checks.
pub(crate) fn lab_definitions(from: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let src = root().join("images");
    std::fs::copy(src.join("Dockerfile"), d.path().join("Dockerfile")).unwrap();
    let common = d.path().join("common");
    std::fs::create_dir(&common).unwrap();
    copy_tree(&src.join("common"), &common);
    let base = d.path().join("os/debian12/base");
    std::fs::create_dir_all(&base).unwrap();
    std::fs::write(d.path().join("os/debian12/from.txt"), format!("{from}\n")).unwrap();
    for step in ["10-packages.sh", "40-lava.sh"] {
        std::fs::copy(src.join("os/ubuntu24/base").join(step), base.join(step)).unwrap();
    }
    let checks: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(src.join("checks.yaml")).unwrap()).unwrap();
    let kept: Vec<serde_yaml::Value> = checks["base"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter(|c| LAB_CHECKS.contains(&c["name"].as_str().unwrap()))
        .cloned()
        .collect();
    assert_eq!(
        kept.len(),
        LAB_CHECKS.len(),
        "images/checks.yaml names changed"
    );
    let mut file = serde_yaml::Mapping::new();
    file.insert("base".into(), serde_yaml::Value::Sequence(kept));
    std::fs::write(
        d.path().join("checks.yaml"),
        serde_yaml::to_string(&file).unwrap(),
    )
    .unwrap();
    d
}

/// The lab's one image: debian12's base for linux/amd64.
const LAB_BASE: [&str; 6] = [
    "--os",
    "debian12",
    "--type",
    "base",
    "--platform",
    "linux/amd64",
];

fn check_rows(out: &std::process::Output) -> Vec<(String, bool, String)> {
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["check"].as_str().unwrap().to_string(),
                r["passed"] == true,
                r.to_string(),
            )
        })
        .collect()
}

#[test]
fn the_real_ubuntu24_base_steps_build_lava_on_the_lab_os_and_pass_the_real_checks() {
    let from = lab_image();
    let defs = lab_definitions(&from);
    let tag = unique();
    let built = lava_build_images(defs.path())
        .args(LAB_BASE)
        .args(["--tag", &tag])
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&built.stderr);
    assert!(built.status.success(), "{log}");
    // Both real steps ran, in order, and lava came from PyPI at the default version.
    let steps: Vec<&str> = log.lines().filter(|l| l.contains("== step ")).collect();
    assert!(
        steps.len() == 2 && steps[0].contains("10-packages.sh") && steps[1].contains("40-lava.sh"),
        "{steps:?}"
    );
    assert!(
        log.contains(&format!("[40-lava.sh] {}", env!("CARGO_PKG_VERSION"))),
        "lava-worker --version in the build log: {log}"
    );

    let out = ok(check(
        defs.path(),
        &[&LAB_BASE[..], &["--tag", &tag, "--output", "json"]].concat(),
    ));
    let rows = check_rows(&out);
    assert_eq!(rows.len(), LAB_CHECKS.len(), "{rows:?}");
    for (name, passed, row) in &rows {
        assert!(*passed, "check {name} failed: {row}");
    }
}

fn bundle_cmd(out: &std::path::Path) -> assert_cmd::Command {
    let mut c = crate::common::bin("lava-build");
    c.env("DOCKER_HOST", docker_host())
        .args(["bundle", "--out", out.to_str().unwrap()]);
    c
}

fn one_line_usage_error(out: &std::process::Output, needles: &[&str]) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    for n in needles {
        assert!(err.contains(n), "{n:?} in {err}");
    }
}

#[test]
fn a_bundle_made_in_the_lab_builder_installs_with_the_network_off() {
    let lab = lab_image();
    let out = tempfile::tempdir().unwrap();
    let made = ok(bundle_cmd(out.path())
        .args(["--runtime", "debian12-py3.11", "--builder", &lab])
        .args(["--platform", "linux/amd64", "--output", "json"])
        .output()
        .unwrap());
    let v: Value = serde_json::from_slice(&made.stdout).unwrap();
    let b = &v["bundles"][0];
    let version = env!("CARGO_PKG_VERSION");
    let name = format!("lava-{version}-debian12-py3.11-x86_64.tar.bz2");
    assert_eq!(b["version"], version);
    assert_eq!(b["arch"], "x86_64");
    let bundle = out.path().join(&name);
    assert_eq!(b["bundle"], bundle.to_str().unwrap());
    // The .sha256 beside it is sha256sum's format and the file's real digest.
    let bytes = std::fs::read(&bundle).unwrap();
    let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
    assert_eq!(
        std::fs::read_to_string(out.path().join(format!("{name}.sha256"))).unwrap(),
        format!("{digest}  {name}\n")
    );
    assert_eq!(b["sha256"], digest.as_str());
    assert!(
        b["wheels"].as_u64().unwrap() > 1,
        "lava and its dependencies: {b}"
    );

    // Unpacked in a lab container with no network at all, installed as the worker would.
    let script = format!(
        "set -e; mkdir /tmp/x; \
         python3 -c 'import tarfile; tarfile.open(\"/b/{name}\").extractall(\"/tmp/x\")'; \
         /tmp/x/lava-{version}-debian12-py3.11-x86_64/install.sh /opt/lava; \
         /opt/lava/bin/lava-worker --version"
    );
    let run = std::process::Command::new("docker")
        .env("DOCKER_HOST", docker_host())
        .args(["run", "--rm", "--network", "none"])
        .args(["-v", &format!("{}:/b:ro", out.path().display())])
        .args([lab.as_str(), "sh", "-c", &script])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(run.status.success(), "{text}");
    assert!(
        text.contains(&format!("lava {version} installed in /opt/lava")),
        "{text}"
    );
    assert!(
        text.lines().last().unwrap().starts_with(version),
        "lava-worker --version: {text}"
    );
}

#[test]
fn bundle_refuses_bad_input_before_building_anything() {
    let out = tempfile::tempdir().unwrap();
    let dist = out.path().join("dist");
    let refused = |args: &[&str], needles: &[&str]| {
        let o = bundle_cmd(&dist).args(args).output().unwrap();
        one_line_usage_error(&o, needles);
    };
    refused(
        &["--runtime", "amzn2023-python3.11"],
        &["--runtime", "amzn2023-python3.11", "<os>-py<X.Y>"],
    );
    // A well-formed runtime without a builder definition.
    refused(
        &["--runtime", "debian12-py3.11"],
        &[
            "--runtime",
            "debian12-py3.11",
            "builders.yaml",
            "amzn2023-py3.11",
        ],
    );
    refused(
        &["--runtime", "amzn2023-py3.11", "--version", "latest"],
        &["--version", "latest"],
    );
    refused(
        &["--runtime", "amzn2023-py3.11", "--platform", "linux/386"],
        &["--platform", "linux/386"],
    );
    refused(
        &[
            "--runtime",
            "amzn2023-py3.11",
            "--upload",
            "s3://bucket/no-slash",
        ],
        &["--upload", "s3://bucket/no-slash"],
    );
    // A builder image the engine does not have.
    refused(
        &[
            "--runtime",
            "debian12-py3.11",
            "--builder",
            "lava-lab/no-such:1",
        ],
        &["--builder", "lava-lab/no-such:1"],
    );
    assert!(!dist.exists(), "nothing was written");
}

#[test]
fn an_unknown_lava_version_is_a_clear_error() {
    let lab = lab_image();
    let out = tempfile::tempdir().unwrap();
    let o = bundle_cmd(out.path())
        .args(["--runtime", "debian12-py3.11", "--builder", &lab])
        .args(["--platform", "linux/amd64", "--version", "999.0.0"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    let last = err.trim_end().lines().last().unwrap();
    assert!(
        last.starts_with("error: --version")
            && last.contains("999.0.0")
            && last.contains("jinlava"),
        "{last}"
    );
    let left: Vec<_> = std::fs::read_dir(out.path()).unwrap().flatten().collect();
    assert!(
        left.is_empty(),
        "no bundle and no work folder left: {left:?}"
    );
}
