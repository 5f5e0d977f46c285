//! `lava-build images` with a real Docker engine and OCI registry: the test image family of
//! tests/fixtures/images (FROM scratch with busybox-static), built for two platforms, pushed as an
//! OCI index, pushed again without uploads, checked, and inspected layer by layer.
use crate::common::{bin, path_str, root};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn docker_host() -> String {
    std::env::var("LAVA_TEST_DOCKER").unwrap_or_else(|_| {
        panic!("Docker engine is not running: LAVA_TEST_DOCKER is unset; run the tests through scripts/test-services.sh run -- cargo test")
    })
}

fn registry() -> String {
    std::env::var("LAVA_TEST_REGISTRY").unwrap_or_else(|_| {
        panic!("OCI registry (docker-registry) is not running: LAVA_TEST_REGISTRY is unset; run the tests through scripts/test-services.sh run -- cargo test")
    })
}

/// A copy of the fixture with busybox-static in its context.
fn fixture() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let src = root().join("tests/fixtures/images");
    for e in walkdir::WalkDir::new(&src) {
        let e = e.unwrap();
        let to = d.path().join(e.path().strip_prefix(&src).unwrap());
        if e.file_type().is_dir() {
            std::fs::create_dir_all(&to).unwrap();
        } else {
            std::fs::copy(e.path(), &to).unwrap();
        }
    }
    std::fs::create_dir_all(d.path().join("bin")).unwrap();
    std::fs::copy("/bin/busybox", d.path().join("bin/busybox"))
        .expect("busybox-static (Debian) at /bin/busybox");
    d
}

fn images(dir: &Path, args: &[&str]) -> std::process::Output {
    bin("lava-build")
        .env("DOCKER_HOST", docker_host())
        .args([
            "images",
            "--images-dir",
            &path_str(dir),
            "--network",
            "host",
        ])
        .args(args)
        .output()
        .unwrap()
}

fn check(dir: &Path, args: &[&str]) -> std::process::Output {
    bin("lava-build")
        .env("DOCKER_HOST", docker_host())
        .args(["images", "check", "--images-dir", &path_str(dir)])
        .args(args)
        .output()
        .unwrap()
}

fn ok(out: std::process::Output) -> std::process::Output {
    assert!(
        out.status.success(),
        "{:?}\n{}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn unique() -> String {
    format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..10])
}

fn skopeo_raw(reference: &str) -> (Value, String) {
    let out = std::process::Command::new("skopeo")
        .args([
            "inspect",
            "--tls-verify=false",
            "--raw",
            &format!("docker://{reference}"),
        ])
        .output()
        .expect("skopeo (Debian)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let digest = format!(
        "sha256:{}",
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&out.stdout))
    );
    (serde_json::from_slice(&out.stdout).unwrap(), digest)
}

fn registry_log() -> PathBuf {
    root().join("build/services/registry.log")
}

fn blob_uploads(prefix: &str) -> usize {
    let log = std::fs::read_to_string(registry_log()).unwrap_or_default();
    let needle = format!("\"POST /v2/{prefix}/");
    log.lines()
        .filter(|l| l.contains(&needle) && l.contains("/blobs/uploads/"))
        .count()
}

#[test]
fn builds_two_platforms_pushes_an_index_and_pushes_again_without_uploads() {
    let fx = fixture();
    let (tag, prefix) = (unique(), unique());
    let reg = registry();
    let args = [
        "--tag",
        &tag,
        "--version",
        "8.3.0",
        "--push",
        "--registry",
        &reg,
        "--prefix",
        &prefix,
        "--output",
        "json",
    ];
    let out = ok(images(fx.path(), &args));
    let built: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        built.as_array().unwrap().len(),
        4,
        "base and full for two platforms"
    );

    for kind in ["base", "full"] {
        let repo = format!("{reg}/{prefix}/lava/tiny/{kind}");
        let (index, digest) = skopeo_raw(&format!("{repo}:{tag}"));
        let (_, latest_digest) = skopeo_raw(&format!("{repo}:latest"));
        assert_eq!(
            digest, latest_digest,
            "{kind}: both tags point at the index"
        );
        assert_eq!(
            index["mediaType"],
            "application/vnd.oci.image.index.v1+json"
        );
        let platforms: Vec<String> = index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                format!(
                    "{}/{}",
                    m["platform"]["os"].as_str().unwrap(),
                    m["platform"]["architecture"].as_str().unwrap()
                )
            })
            .collect();
        assert_eq!(platforms, ["linux/amd64", "linux/arm64"]);
        for key in [
            "title",
            "description",
            "url",
            "source",
            "documentation",
            "licenses",
            "version",
        ] {
            assert!(
                index["annotations"][format!("org.opencontainers.image.{key}")].is_string(),
                "index annotation {key}"
            );
        }
        assert_eq!(
            index["annotations"]["org.opencontainers.image.licenses"],
            "BSD-3-Clause"
        );
        // Each child is the platform's image, with its architecture and our labels.
        for m in index["manifests"].as_array().unwrap() {
            let arch = m["platform"]["architecture"].as_str().unwrap();
            let child = format!("{repo}@{}", m["digest"].as_str().unwrap());
            let out = std::process::Command::new("skopeo")
                .args([
                    "inspect",
                    "--tls-verify=false",
                    "--config",
                    &format!("docker://{child}"),
                ])
                .output()
                .unwrap();
            let config: Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(config["architecture"], arch);
            assert_eq!(
                config["config"]["Labels"]["org.opencontainers.image.version"],
                "8.3.0"
            );
            assert_eq!(
                config["config"]["Labels"]["org.opencontainers.image.title"],
                format!("lava/tiny/{kind}")
            );
        }
    }

    let before = blob_uploads(&prefix);
    assert!(
        before > 0,
        "the first push uploaded blobs (registry log {})",
        registry_log().display()
    );
    ok(images(fx.path(), &args));
    assert_eq!(
        blob_uploads(&prefix),
        before,
        "pushing an unchanged image uploads no blob"
    );
}

#[test]
fn checks_pass_on_the_image_and_name_what_fails_on_a_broken_one() {
    let fx = fixture();
    let tag = unique();
    ok(images(
        fx.path(),
        &["--tag", &tag, "--platform", "linux/amd64"],
    ));
    let out = ok(check(
        fx.path(),
        &[
            "--tag",
            &tag,
            "--platform",
            "linux/amd64",
            "--output",
            "json",
        ],
    ));
    let results: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(results.as_array().unwrap().len(), 5);
    assert!(
        results
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["passed"] == true)
    );

    // A base that forgets its marker: its check fails, named, exit 1.
    std::fs::write(
        fx.path().join("os/tiny/base/10-base.sh"),
        "#!/bin/sh\n# Broken: no marker.\ntrue\n",
    )
    .unwrap();
    let broken = unique();
    ok(images(
        fx.path(),
        &[
            "--tag",
            &broken,
            "--platform",
            "linux/amd64",
            "--type",
            "base",
        ],
    ));
    let out = check(
        fx.path(),
        &[
            "--tag",
            &broken,
            "--platform",
            "linux/amd64",
            "--type",
            "base",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("1 image check(s) failed") && err.contains("base marker"),
        "{err}"
    );
}

#[test]
fn a_failing_step_fails_the_build_with_its_name() {
    let fx = fixture();
    std::fs::write(
        fx.path().join("os/tiny/base/20-broken.sh"),
        "#!/bin/sh\n# Fails on purpose.\necho about to fail\nexit 3\n",
    )
    .unwrap();
    let out = images(
        fx.path(),
        &[
            "--tag",
            &unique(),
            "--platform",
            "linux/amd64",
            "--type",
            "base",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let last = err.lines().last().unwrap();
    assert!(last.starts_with("error: [tiny/base linux/amd64]"), "{err}");
    assert!(
        last.contains("run-steps.sh"),
        "the failed step is named: {last}"
    );
    assert!(
        err.contains("step 20-broken.sh failed with exit status 3"),
        "{err}"
    );
}

#[tokio::test]
async fn no_build_file_is_left_in_any_layer() {
    let fx = fixture();
    let tag = unique();
    ok(images(
        fx.path(),
        &["--tag", &tag, "--platform", "linux/amd64"],
    ));
    let docker = lava_build::images::engine::connect(Some(&docker_host()))
        .await
        .unwrap();
    let files =
        lava_build::images::engine::layer_files(&docker, &format!("lava/tiny/full:{tag}-amd64"))
            .await
            .unwrap();
    assert!(
        files.iter().any(|f| f.ends_with("etc/lava-full")),
        "layers read: {files:?}"
    );
    // The bind mount's empty mount point may remain; nothing under it may.
    for f in &files {
        assert!(
            !(f.contains("run-steps.sh")
                || f.contains("10-base.sh")
                || f.contains("checks.yaml")
                || (f.starts_with("build/") && f != "build/")),
            "build file {f} in a layer"
        );
    }
}

#[test]
fn the_real_definitions_render_a_context_for_every_os_and_type() {
    let dir = root().join("images");
    let tar = lava_build::images::context::build(&dir, &[]).unwrap();
    let names: Vec<String> = lava_build::images::context::entries(&tar)
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    for os in ["amzn2023", "ubuntu24"] {
        assert!(names.contains(&format!("os/{os}/from.txt")), "{os}");
        for kind in ["base", "full"] {
            let steps: Vec<&String> = names
                .iter()
                .filter(|n| n.starts_with(&format!("os/{os}/{kind}/")) && n.ends_with(".sh"))
                .collect();
            assert!(!steps.is_empty(), "{os}/{kind} has steps");
        }
    }
    for f in [
        "Dockerfile",
        "checks.yaml",
        "lifecycle.json",
        "common/run-steps.sh",
    ] {
        assert!(names.contains(&f.to_string()), "{f}");
    }
    let policy: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("lifecycle.json")).unwrap())
            .unwrap();
    let rules = policy["rules"].as_array().unwrap();
    assert_eq!(rules[0]["selection"]["tagStatus"], "untagged");
    assert_eq!(rules[0]["selection"]["countNumber"], 1);
    assert_eq!(rules[1]["selection"]["countType"], "imageCountMoreThan");
    assert_eq!(rules[1]["selection"]["countNumber"], 4);
}

#[tokio::test]
async fn ecr_repositories_are_created_once_with_the_lifecycle_policy() {
    let prefix = unique();
    for _ in 0..2 {
        let out = crate::common::bin_moto("lava-build")
            .env("AWS_REGION", "us-west-2")
            .args(["images", "ecr-repo", "--prefix", &prefix])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let ecr = aws_sdk_ecr::Client::new(&crate::common::moto_sdk("us-west-2").await);
    for os in ["amzn2023", "ubuntu24"] {
        for kind in ["base", "full"] {
            let name = format!("{prefix}/lava/{os}/{kind}");
            let p = ecr
                .get_lifecycle_policy()
                .repository_name(&name)
                .send()
                .await
                .unwrap_or_else(|e| panic!("{name}: {e:?}"));
            let policy: Value = serde_json::from_str(p.lifecycle_policy_text().unwrap()).unwrap();
            assert_eq!(policy["rules"].as_array().unwrap().len(), 2);
        }
    }
}

#[test]
fn engine_sends_a_platform_to_another_engine() {
    let fx = fixture();
    let tag = unique();
    // The default engine does not exist; only the --engine one does: arm64 must go there.
    let out = bin("lava-build")
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .args([
            "images",
            "--images-dir",
            &path_str(fx.path()),
            "--network",
            "host",
        ])
        .args(["--tag", &tag, "--platform", "linux/arm64", "--type", "base"])
        .args(["--engine", &format!("linux/arm64={}", docker_host())])
        .output()
        .unwrap();
    ok(out);
    // Without --engine the same build names the unreachable default engine.
    let out = bin("lava-build")
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .args([
            "images",
            "--images-dir",
            &path_str(fx.path()),
            "--network",
            "host",
        ])
        .args(["--tag", &tag, "--platform", "linux/arm64", "--type", "base"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Docker engine"), "{err}");
    let bad = images(fx.path(), &["--engine", "linux/arm64=ftp://x"]);
    assert_eq!(
        bad.status.code(),
        Some(2),
        "a bad endpoint is a usage error"
    );
}
