//! `lava-build images` with a real Docker engine and OCI registry: the test image family of
//! tests/fixtures/images (FROM scratch with busybox-static), built for two platforms, pushed as an
//! OCI index, pushed again without uploads, checked, and inspected layer by layer.
use crate::common::{bin, ok, path_str, root};
use serde_json::Value;
use std::path::{Path, PathBuf};

pub(crate) use crate::common::engine::{
    blob_uploads, docker_host, docker2_host, registry, registry_log, unique,
};

/// A copy of the folder `src` in a temporary folder.
fn copy_of(src: &Path) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    for e in walkdir::WalkDir::new(src) {
        let e = e.unwrap();
        let to = d.path().join(e.path().strip_prefix(src).unwrap());
        if e.file_type().is_dir() {
            std::fs::create_dir_all(&to).unwrap();
        } else {
            std::fs::copy(e.path(), &to).unwrap();
        }
    }
    d
}

/// A copy of the fixture with busybox-static in its context.
pub(crate) fn fixture() -> tempfile::TempDir {
    let d = copy_of(&root().join("tests/fixtures/images"));
    std::fs::create_dir_all(d.path().join("bin")).unwrap();
    std::fs::copy("/bin/busybox", d.path().join("bin/busybox"))
        .expect("busybox-static (Debian) at /bin/busybox");
    d
}

/// Replaces the fixture's base step with one that forgets its marker (its check then fails).
fn break_the_base_marker(fx: &Path) {
    std::fs::write(
        fx.join("os/tiny/base/10-base.sh"),
        "#!/bin/sh\n# Broken: no marker.\ntrue\n",
    )
    .unwrap();
}

pub(crate) fn images(dir: &Path, args: &[&str]) -> std::process::Output {
    lava_build_images(dir).args(args).output().unwrap()
}

/// `images --images-dir DIR --network host`: the arguments every build here starts with.
fn images_args(dir: &Path) -> [String; 5] {
    [
        "images".into(),
        "--images-dir".into(),
        path_str(dir),
        "--network".into(),
        "host".into(),
    ]
}

/// `lava-build images --images-dir DIR --network host` on the test engine.
pub(crate) fn lava_build_images(dir: &Path) -> assert_cmd::Command {
    let mut c = bin("lava-build");
    c.env("DOCKER_HOST", docker_host()).args(images_args(dir));
    c
}

pub(crate) fn check(dir: &Path, args: &[&str]) -> std::process::Output {
    bin("lava-build")
        .env("DOCKER_HOST", docker_host())
        .args(["images", "check", "--images-dir", &path_str(dir)])
        .args(args)
        .output()
        .unwrap()
}

/// The fixture, built for linux/amd64 (with `extra` arguments) under a tag of its own.
fn built_for_amd64(extra: &[&str]) -> (tempfile::TempDir, String) {
    let (fx, tag) = (fixture(), unique());
    let args = [&["--tag", &tag, "--platform", "linux/amd64"][..], extra].concat();
    ok(images(fx.path(), &args));
    (fx, tag)
}

/// The architectures of an OCI index's manifests, in order.
pub(crate) fn index_archs(index: &Value) -> Vec<&str> {
    index["manifests"]
        .as_array()
        .expect("an index has manifests")
        .iter()
        .map(|m| m["platform"]["architecture"].as_str().unwrap())
        .collect()
}

pub(crate) fn skopeo_raw(reference: &str) -> (Value, String) {
    let out = std::process::Command::new("skopeo")
        .args([
            "inspect",
            "--tls-verify=false",
            "--raw",
            &format!("docker://{reference}"),
        ])
        .output()
        .expect("skopeo (Debian)");
    let out = ok(out);
    let digest = format!(
        "sha256:{}",
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&out.stdout))
    );
    (serde_json::from_slice(&out.stdout).unwrap(), digest)
}

/// Whether the registry has `reference` (`repo:tag`).
pub(crate) fn exists(reference: &str) -> bool {
    std::process::Command::new("skopeo")
        .args(["inspect", "--tls-verify=false", "--raw"])
        .arg(format!("docker://{reference}"))
        .output()
        .expect("skopeo (Debian)")
        .status
        .success()
}

/// The tags of `repo` in the registry (Debian's registry answers 404 NAME_UNKNOWN for a
/// repository that has blobs and manifests but no tag).
pub(crate) fn tags(repo: &str) -> Vec<String> {
    let (host, path) = repo.split_once('/').unwrap();
    let out = std::process::Command::new("curl")
        .args(["-sS", "-w", "\n%{http_code}"])
        .arg(format!("http://{host}/v2/{path}/tags/list"))
        .output()
        .expect("curl");
    let text = String::from_utf8(ok(out).stdout).unwrap();
    let (body, status) = text.rsplit_once('\n').unwrap();
    let v: Value = serde_json::from_str(body).unwrap();
    match status {
        "200" => v["tags"]
            .as_array()
            .map(|t| t.iter().map(|t| t.as_str().unwrap().to_string()).collect())
            .unwrap_or_default(),
        "404" if v["errors"][0]["code"] == "NAME_UNKNOWN" => Vec::new(),
        _ => panic!("tags of {repo}: {status} {body}"),
    }
}

/// Digests files an index must refuse before pushing anything, written into `dir`, for `repo`
/// whose good digests (`amd`, `arm`) are in `good`; `refused` is called with each case: the files,
/// the exit status and the words its one-line error must hold. A platform missing (2), a digest
/// the registry does not have (1), the same platform with two digests in two files (2).
pub(crate) fn refused_digests(
    dir: &Path,
    repo: &str,
    (amd, arm): (&str, &str),
    good: &Path,
    refused: impl Fn(&[&Path], i32, &[String]),
) {
    let write = |name: &str, v: Value| {
        let path = dir.join(name);
        std::fs::write(&path, serde_json::to_string_pretty(&v).unwrap()).unwrap();
        path
    };
    let absent = format!("sha256:{}", "0".repeat(64));
    let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let cases = vec![
        (
            vec![write(
                "amd64.json",
                serde_json::json!({ repo: { "linux/amd64": amd } }),
            )],
            2,
            s(&[repo, "no digest for linux/arm64"]),
        ),
        (
            vec![write(
                "gone.json",
                serde_json::json!({ repo: { "linux/amd64": amd, "linux/arm64": absent } }),
            )],
            1,
            s(&[&format!("{repo}@{absent}"), "not in the registry"]),
        ),
        (
            vec![
                good.to_path_buf(),
                write(
                    "other-arm64.json",
                    serde_json::json!({ repo: { "linux/arm64": amd } }),
                ),
            ],
            2,
            s(&[
                "conflicting digests",
                arm,
                amd,
                "other-arm64.json",
                "linux/arm64",
            ]),
        ),
    ];
    for (files, code, needles) in cases {
        let files: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
        refused(&files, code, &needles);
    }
}

/// `out` failed with status `code` and one line of error holding each of `needles`; the line.
pub(crate) fn assert_refusal(out: &std::process::Output, code: i32, needles: &[String]) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(code), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    for n in needles {
        assert!(err.contains(n.as_str()), "{n:?} in {err}");
    }
    err
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
    // Sent to the engine again (its layer cache hits) and pushed again: still no blob.
    let again = ok(images(fx.path(), &[&args[..], &["--rebuild"]].concat()));
    let rows: Value = serde_json::from_slice(&again.stdout).unwrap();
    assert!(
        rows.as_array()
            .unwrap()
            .iter()
            .all(|r| r["rebuilt"] == true),
        "{rows}"
    );
    assert_eq!(
        blob_uploads(&prefix),
        before,
        "pushing a rebuilt unchanged image uploads no blob"
    );
}

#[test]
fn checks_pass_on_the_image_and_name_what_fails_on_a_broken_one() {
    let (fx, tag) = built_for_amd64(&[]);
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
    break_the_base_marker(fx.path());
    let broken = unique();
    let only_base = [
        "--tag",
        &broken,
        "--platform",
        "linux/amd64",
        "--type",
        "base",
    ];
    ok(images(fx.path(), &only_base));
    let out = check(fx.path(), &only_base);
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
    let (_fx, tag) = built_for_amd64(&[]);
    let docker = lava_build::engine::connect(Some(&docker_host()))
        .await
        .unwrap();
    let files = lava_build::engine::layer_files(&docker, &format!("lava/tiny/full:{tag}-amd64"))
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
    let tar = lava_build::engine::context::build(&dir, &[]).unwrap();
    let names: Vec<String> = lava_build::engine::context::entries(&tar)
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
        ok(crate::common::bin_moto("lava-build")
            .env("AWS_REGION", "us-west-2")
            .args(["images", "ecr-repo", "--prefix", &prefix])
            .output()
            .unwrap());
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

/// A build time of its own, so that this test's images have inputs no other test shares.
fn fresh_time() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

fn rows(out: &std::process::Output) -> Vec<Value> {
    serde_json::from_slice::<Value>(&out.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

async fn id_on(engine: &str, image: &str) -> Option<String> {
    let d = lava_build::engine::connect(Some(engine)).await.unwrap();
    lava_build::engine::image_id(&d, image).await.unwrap()
}

#[tokio::test]
async fn an_unchanged_image_is_not_rebuilt_and_a_changed_input_is() {
    let fx = fixture();
    let (tag, time) = (unique(), fresh_time());
    let run = |tag: &str, extra: &[&str]| {
        let out = lava_build_images(fx.path())
            .env("LAVA_BUILD_TIME", &time)
            .args([
                "--tag",
                tag,
                "--platform",
                "linux/amd64",
                "--output",
                "json",
            ])
            .args(extra)
            .output()
            .unwrap();
        ok(out)
    };
    let rebuilt = |out: &std::process::Output| -> Vec<bool> {
        rows(out).iter().map(|r| r["rebuilt"] == true).collect()
    };
    assert_eq!(rebuilt(&run(&tag, &[])), [true, true], "first build");
    let base_id = id_on(&docker_host(), &format!("lava/tiny/base:{tag}-amd64")).await;
    let full_id = id_on(&docker_host(), &format!("lava/tiny/full:{tag}-amd64")).await;
    assert!(base_id.is_some() && full_id.is_some());

    let second = run(&tag, &[]);
    assert_eq!(rebuilt(&second), [false, false], "nothing changed");
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(
        err.contains(&format!(
            "[tiny/base linux/amd64] unchanged: lava/tiny/base:{tag}-amd64 is"
        )),
        "{err}"
    );

    // What no build reads: the checks, and another os's steps (only os/<os>/ is in its context).
    let checks = fx.path().join("checks.yaml");
    let mut text = std::fs::read_to_string(&checks).unwrap();
    text.push_str("# edited: the checks are not an input of any image\n");
    std::fs::write(&checks, text).unwrap();
    std::fs::create_dir_all(fx.path().join("os/other/base")).unwrap();
    std::fs::write(
        fx.path().join("os/other/base/10-other.sh"),
        "#!/bin/sh\necho other\n",
    )
    .unwrap();
    std::fs::write(fx.path().join("os/other/from.txt"), "scratch\n").unwrap();
    assert_eq!(
        rebuilt(&run(&tag, &["--os", "tiny"])),
        [false, false],
        "an edited checks.yaml or another os's step rebuilds nothing"
    );
    std::fs::remove_dir_all(fx.path().join("os/other")).unwrap();

    // Another tag of the same inputs: the same images get the new tag.
    let other = unique();
    assert_eq!(rebuilt(&run(&other, &[])), [false, false]);
    assert_eq!(
        id_on(&docker_host(), &format!("lava/tiny/full:{other}-amd64")).await,
        full_id
    );

    assert_eq!(
        rebuilt(&run(&tag, &["--rebuild"])),
        [true, true],
        "--rebuild sends the builds"
    );

    // A changed step of full: a new full; the base step is unchanged, but the context it was
    // built from is not, so base is built again too (BuildKit's cache decides what really runs).
    std::fs::write(
        fx.path().join("os/tiny/full/10-full.sh"),
        "#!/bin/sh\n# Marks the full image, differently.\necho full > /etc/lava-full\necho v2 >> /etc/lava-full\n",
    )
    .unwrap();
    assert_eq!(rebuilt(&run(&tag, &[])), [true, true]);
    assert_ne!(
        id_on(&docker_host(), &format!("lava/tiny/full:{tag}-amd64")).await,
        full_id,
        "the changed full is a new image"
    );
}

/// The test fixture with another Dockerfile: `amd64` and `arm64` are the RUN lines of each
/// platform's stage (the amd64 busybox runs natively in both: no emulation needed).
fn fixture_with_stages(amd64: &str, arm64: &str) -> tempfile::TempDir {
    let fx = fixture();
    std::fs::write(
        fx.path().join("Dockerfile"),
        format!(
            "ARG base=scratch\n\
             FROM ${{base}} AS build-amd64\n\
             COPY bin/busybox /bin/busybox\n\
             {amd64}\n\
             FROM ${{base}} AS build-arm64\n\
             COPY bin/busybox /bin/busybox\n\
             {arm64}\n\
             FROM build-${{TARGETARCH}}\n"
        ),
    )
    .unwrap();
    fx
}

/// Processes on this machine whose command line is exactly `words`.
fn processes(words: &[&str]) -> usize {
    let want: Vec<u8> = words
        .iter()
        .flat_map(|w| [w.as_bytes(), b"\0"].concat())
        .collect();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| {
            std::fs::read(e.path().join("cmdline"))
                .map(|c| c == want)
                .unwrap_or(false)
        })
        .count()
}

#[test]
fn a_failing_platform_cancels_the_other_platforms_build() {
    // A number no other process uses: arm64's build sleeps that long unless it is cancelled.
    let secs = format!("{}", 3000 + (uuid::Uuid::new_v4().as_u128() % 5000));
    let fx = fixture_with_stages(
        r#"RUN ["/bin/busybox", "sh", "-c", "/bin/busybox sleep 3; echo giving up; exit 3"]"#,
        &format!(r#"RUN ["/bin/busybox", "sleep", "{secs}"]"#),
    );
    let started = std::time::Instant::now();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_lava-build"))
        .env("DOCKER_HOST", docker_host())
        .env("LAVA_BUILD_TIME", fresh_time())
        .env("NO_COLOR", "1")
        .args(images_args(fx.path()))
        .args(["--tag", &unique(), "--type", "base"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The arm64 build really runs before amd64 fails.
    let mut seen = false;
    while child.try_wait().unwrap().is_none() && started.elapsed().as_secs() < 120 {
        seen |= processes(&["/bin/busybox", "sleep", &secs]) > 0;
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(seen, "the arm64 build's sleep never ran: {err}");
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        started.elapsed().as_secs() < 120,
        "lava-build waited for the arm64 build"
    );
    assert!(
        err.contains("[tiny linux/arm64] cancelled: the linux/amd64 build failed"),
        "{err}"
    );
    let last = err.lines().last().unwrap();
    assert!(
        last.starts_with("error: [tiny/base linux/amd64]") && last.contains("exit code: 3"),
        "{last}"
    );
    // The engine stops the cancelled build: its process goes away.
    let gone = (0..300).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(100));
        processes(&["/bin/busybox", "sleep", &secs]) == 0
    });
    assert!(gone, "the cancelled arm64 build still runs");
}

#[test]
fn a_failed_check_stops_the_push() {
    let fx = fixture();
    break_the_base_marker(fx.path());
    let (tag, prefix, reg) = (unique(), unique(), registry());
    let out = lava_build_images(fx.path())
        .env("LAVA_BUILD_TIME", fresh_time())
        .args(["--tag", &tag, "--platform", "linux/amd64", "--type", "base"])
        .args(["--check", "--push", "--registry", &reg, "--prefix", &prefix])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let last = err.lines().last().unwrap();
    assert!(
        last.contains("nothing was pushed") && last.contains("base marker"),
        "{last}"
    );
    let probe = std::process::Command::new("skopeo")
        .args(["inspect", "--tls-verify=false", "--raw"])
        .arg(format!("docker://{reg}/{prefix}/lava/tiny/base:{tag}"))
        .output()
        .expect("skopeo (Debian)");
    assert!(!probe.status.success(), "the image was pushed");
    assert_eq!(blob_uploads(&prefix), 0, "no blob was uploaded");
}

#[tokio::test]
async fn engine_sends_a_platform_to_another_engine_and_builds_side_by_side() {
    // amd64 takes longer than arm64: built one after the other (amd64 first), amd64 would be done
    // first; side by side, arm64 is.
    // The tag in the commands: no layer cache from an earlier run can skip the sleeps.
    let (tag, prefix, reg) = (unique(), unique(), registry());
    let fx = fixture_with_stages(
        &format!(
            r#"RUN ["/bin/busybox", "sh", "-c", "/bin/busybox sleep 4; echo {tag} > /etc/which"]"#
        ),
        &format!(
            r#"RUN ["/bin/busybox", "sh", "-c", "/bin/busybox sleep 1; echo {tag} > /etc/which"]"#
        ),
    );
    let out = ok(lava_build_images(fx.path())
        .env("LAVA_BUILD_TIME", fresh_time())
        .args(["--tag", &tag, "--type", "base", "--output", "json"])
        .args(["--engine", &format!("linux/arm64={}", docker2_host())])
        .args(["--push", "--registry", &reg, "--prefix", &prefix])
        .output()
        .unwrap());
    let err = String::from_utf8_lossy(&out.stderr);
    let pos = |p: &str| {
        err.find(&format!("[tiny/base {p}] built"))
            .unwrap_or_else(|| panic!("{p} built: {err}"))
    };
    assert!(pos("linux/arm64") < pos("linux/amd64"), "{err}");

    let (amd, arm) = (
        format!("lava/tiny/base:{tag}-amd64"),
        format!("lava/tiny/base:{tag}-arm64"),
    );
    assert!(id_on(&docker_host(), &amd).await.is_some());
    assert!(
        id_on(&docker_host(), &arm).await.is_none(),
        "arm64 is not on the default engine"
    );
    assert!(
        id_on(&docker2_host(), &arm).await.is_some(),
        "arm64 is on the --engine one"
    );
    assert!(id_on(&docker2_host(), &amd).await.is_none());

    // One index over the images of both engines.
    let (index, _) = skopeo_raw(&format!("{reg}/{prefix}/lava/tiny/base:{tag}"));
    assert_eq!(crate::images::index_archs(&index), ["amd64", "arm64"]);

    // Without --engine and without a default engine, the error names the engine.
    let out = bin("lava-build")
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .args(images_args(fx.path()))
        .args(["--tag", &tag, "--platform", "linux/arm64", "--type", "base"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("error: Docker engine unix:///nonexistent/docker.sock"),
        "{err}"
    );
    let bad = images(fx.path(), &["--engine", "linux/arm64=ftp://x"]);
    assert_eq!(
        bad.status.code(),
        Some(2),
        "a bad endpoint is a usage error"
    );
}

/// A copy of the real images/ folder with one more os, `probe`, whose FROM image is the busybox
/// base of the test family and whose steps record what the real Dockerfile and run-steps.sh
/// hand them.
fn real_definitions_with_a_probe_os(from: &str) -> tempfile::TempDir {
    let d = copy_of(&root().join("images"));
    let probe = d.path().join("os/probe");
    std::fs::create_dir_all(probe.join("base")).unwrap();
    std::fs::write(probe.join("from.txt"), format!("{from}\n")).unwrap();
    std::fs::write(
        probe.join("base/10-probe.sh"),
        "#!/bin/sh\n# Records what the build hands the steps.\nset -eu\n\
         . \"$BUILD_DIR/common/lib.sh\"\n\
         echo \"$LAVA_VERSION $ARCH_ORACLE\" > /etc/probe\n",
    )
    .unwrap();
    d
}

#[tokio::test]
async fn the_real_dockerfile_builds_through_lava_build_and_plain_docker_build() {
    // A FROM image with a shell: the test family's base.
    let (_fx, tag) = built_for_amd64(&["--type", "base"]);
    let from = format!("lava/tiny/base:{tag}-amd64");
    let defs = real_definitions_with_a_probe_os(&from);

    ok(lava_build_images(defs.path())
        .env("LAVA_BUILD_TIME", fresh_time())
        .args([
            "--os",
            "probe",
            "--type",
            "base",
            "--platform",
            "linux/amd64",
        ])
        .args(["--version", "9.9.9", "--tag", &tag])
        .output()
        .unwrap());
    let image = format!("lava/probe/base:{tag}-amd64");
    let docker = lava_build::engine::connect(Some(&docker_host()))
        .await
        .unwrap();
    let (status, out) =
        lava_build::engine::run_in(&docker, &image, "linux/amd64", "cat /etc/probe")
            .await
            .unwrap();
    assert_eq!((status, out.trim()), (0, "9.9.9 x64"));
    let config = docker.inspect_image(&image).await.unwrap().config.unwrap();
    let env = config.env.unwrap_or_default();
    for want in [
        "LANG=C.UTF-8",
        "PYTHONDONTWRITEBYTECODE=1",
        "PYTHONUNBUFFERED=1",
        "PYTHONPATH=/usr/local/lib/lava",
    ] {
        assert!(env.iter().any(|e| e == want), "{want} in {env:?}");
    }
    assert_eq!(config.cmd.unwrap_or_default(), ["/bin/bash"]);
    let files = lava_build::engine::layer_files(&docker, &image)
        .await
        .unwrap();
    assert!(files.iter().any(|f| f == "etc/probe"), "{files:?}");
    assert!(
        !files
            .iter()
            .any(|f| f.starts_with("build/") && f != "build/"),
        "a build file in a layer: {files:?}"
    );

    // The same Dockerfile with Debian's docker CLI (BuildKit built in), as a user would.
    let plain = format!("plain/probe:{tag}");
    let out = std::process::Command::new("/usr/bin/docker")
        .env("DOCKER_HOST", docker_host())
        .env("DOCKER_BUILDKIT", "1")
        .args(["build", "-q", "--network", "host", "-t", &plain])
        .args(["--build-arg", &format!("base={from}")])
        .args(["--build-arg", "os=probe", "--build-arg", "type=base"])
        .args(["--build-arg", "version=9.9.8"])
        .arg(defs.path())
        .output()
        .expect("Debian's docker CLI (docker.io) at /usr/bin/docker");
    ok(out);
    let (status, out) =
        lava_build::engine::run_in(&docker, &plain, "linux/amd64", "cat /etc/probe")
            .await
            .unwrap();
    assert_eq!((status, out.trim()), (0, "9.9.8 x64"));
}

#[tokio::test]
async fn pull_fetches_a_newer_from_image() {
    let (prefix, reg) = (unique(), registry());
    let from = format!("{reg}/{prefix}/lava/tiny/base:src");
    // Publishes a FROM image whose /etc/origin says `which`, under the same tag each time.
    let publish = |which: &str| {
        let fx = fixture();
        std::fs::write(
            fx.path().join("os/tiny/base/10-base.sh"),
            format!("#!/bin/sh\n# A FROM image.\necho {which} > /etc/origin\n"),
        )
        .unwrap();
        ok(lava_build_images(fx.path())
            .env("LAVA_BUILD_TIME", fresh_time())
            .args([
                "--tag",
                "src",
                "--platform",
                "linux/amd64",
                "--type",
                "base",
            ])
            .args(["--push", "--registry", &reg, "--prefix", &prefix])
            .output()
            .unwrap());
    };
    publish("one");
    // An image family whose base is FROM that image and copies what it finds there.
    let fx = fixture();
    let os = fx.path().join("os/fromreg");
    std::fs::create_dir_all(os.join("base")).unwrap();
    std::fs::write(os.join("from.txt"), format!("{from}\n")).unwrap();
    std::fs::write(
        os.join("base/10-seen.sh"),
        "#!/bin/sh\n# What the FROM image holds.\ncp /etc/origin /etc/seen\n",
    )
    .unwrap();
    let (tag, time) = (unique(), fresh_time());
    let build = |extra: &[&str]| {
        ok(lava_build_images(fx.path())
            .env("LAVA_BUILD_TIME", &time)
            .args([
                "--os",
                "fromreg",
                "--type",
                "base",
                "--platform",
                "linux/amd64",
            ])
            .args(["--tag", &tag, "--output", "json"])
            .args(extra)
            .output()
            .unwrap())
    };
    let docker = lava_build::engine::connect(Some(&docker_host()))
        .await
        .unwrap();
    let image = format!("lava/fromreg/base:{tag}-amd64");
    let seen = || async {
        let (status, out) =
            lava_build::engine::run_in(&docker, &image, "linux/amd64", "cat /etc/seen")
                .await
                .unwrap();
        assert_eq!(status, 0, "{out}");
        out.trim().to_string()
    };
    build(&[]);
    assert_eq!(seen().await, "one");

    publish("two");
    build(&[]);
    assert_eq!(
        seen().await,
        "one",
        "without --pull the engine's copy is used"
    );
    let out = build(&["--pull"]);
    assert_eq!(rows(&out)[0]["rebuilt"], true);
    assert_eq!(seen().await, "two", "--pull fetched the newer FROM image");
}

/// A lava-build code bundle (a .tar.bz2 of wheels) or any other file pip cannot install is refused
/// before anything is built: exit 2, one line naming the option, the file and what is expected.
#[test]
fn a_lava_bundle_pip_cannot_install_is_a_usage_error() {
    let fx = fixture();
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("lava-8.3.0-amzn2023-py3.12-x86_64.tar.bz2");
    std::fs::write(&bundle, b"not a wheel").unwrap();
    let out = lava_build_images(fx.path())
        .args([
            "--platform",
            "linux/amd64",
            "--lava-bundle",
            &path_str(&bundle),
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!("--lava-bundle {}", bundle.display()))
            && err.contains("expected a jinlava wheel"),
        "{err}"
    );
}
