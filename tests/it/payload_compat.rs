//! Issue 33: `lava-build payload` builds as the job framework's `lava-docker` does, on the fixture
//! project with the real test engine and the AWS emulator: PIP_INDEX_URL from the caller's
//! environment, the framework's ENV, dot files and `.dockerignore` in the context, notebooks as
//! runnable Python, symlinks out of the project refused, any `linux/*` platform, and no ECR
//! repository or lifecycle policy unless a build succeeded or a policy is given.
use crate::common::{moto_sdk, with_moto};
use crate::images::registry;
use crate::payload::{
    base_image, build_dev, docker, inspect, json, ok, payload, project, row, run_in, set_config,
    text,
};
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

/// A notebook with a cell magic (its body is shell, not Python), an indented shell escape as a
/// block's only statement, and a print of what ran.
const MAGIC_NOTEBOOK: &str = r##"{"cells": [
  {"cell_type": "code", "metadata": {}, "outputs": [], "source": ["%%bash\n", "for f in *; do\n", "  echo $f\n", "done"]},
  {"cell_type": "code", "metadata": {}, "outputs": [], "source": ["import os\n", "if os.sep == '/':\n", "    !ls /\n", "print('ran', 6 * 7)"]}
 ], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}"##;

fn env_of(image: &str) -> Vec<String> {
    inspect(image)["Config"]["Env"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .map(String::from)
        .collect()
}

fn write(dir: &Path, rel: &str, text: &str, mode: u32) {
    let f = dir.join(rel);
    std::fs::create_dir_all(f.parent().unwrap()).unwrap();
    std::fs::write(&f, text).unwrap();
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A file of an image, as bytes.
fn cat(image: &str, path: &str) -> String {
    run_in(image, None, &["/bin/busybox", "cat", path])
}

/// Runs `code` with this machine's python3: its stdout (the test fails when it does not run).
fn python(code: &str) -> String {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("nb.py");
    std::fs::write(&f, code).unwrap();
    let out = Command::new("python3")
        .arg(&f)
        .output()
        .expect("python3 on this machine");
    assert!(
        out.status.success(),
        "not valid Python:\n{code}\n{}",
        text(&out)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_default_dockerfile_has_the_frameworks_env_dot_files_dockerignore_and_notebooks() {
    base_image();
    let (dir, repo) = project();
    let p = dir.path().join("lava-payloads/hello.docker");
    write(&p, ".dockerignore", "# not shipped\n*.tmp\n", 0o644);
    write(&p, "scratch.tmp", "left out by .dockerignore\n", 0o644);
    write(&p, ".hidden/conf", "kept\n", 0o600);
    write(&p, "magic.ipynb", MAGIC_NOTEBOOK, 0o644);
    std::fs::create_dir_all(p.join("empty")).unwrap();
    let index = "http://127.0.0.1:9/simple/";
    let out = payload(dir.path(), "build", &["hello"])
        .args(["--env", "dev", "--network", "none"])
        .env("PIP_INDEX_URL", index)
        .output()
        .unwrap();
    ok(out);
    let image = format!("{repo}/hello:latest");

    // The framework's ENV, PIP_INDEX_URL from the caller's environment.
    let env = env_of(&image);
    for want in [
        format!("PIP_INDEX_URL={index}"),
        "LANG=C.UTF-8".into(),
        "PYTHONUNBUFFERED=1".into(),
        "PYTHONDONTWRITEBYTECODE=1".into(),
    ] {
        assert!(env.contains(&want), "{want} not in {env:?}");
    }

    // Dot files and .dockerignore are copied; what it excludes is not; nothing lava-build adds
    // (its Dockerfile, its ignore file) lands in /lava; empty folders are kept.
    let listing = run_in(&image, None, &["/bin/busybox", "ls", "-A", "/lava"]);
    assert_eq!(
        listing.split_whitespace().collect::<Vec<_>>(),
        [
            ".dockerignore",
            ".hidden",
            ".secret",
            "data.txt",
            "empty",
            "env",
            "magic.py",
            "report.py",
            "run.sh",
            "sub"
        ]
    );
    assert_eq!(cat(&image, "/lava/.dockerignore"), "# not shipped\n*.tmp\n");
    assert_eq!(
        run_in(
            &image,
            Some("4242:4242"),
            &["/bin/busybox", "cat", "/lava/.hidden/conf"]
        ),
        "kept\n",
        "readable by a foreign uid"
    );

    // The notebook is runnable Python: a #! line, executable by all, the cell magic's body
    // commented out and the indented shell escape kept as a statement.
    let py = cat(&image, "/lava/magic.py");
    assert!(py.starts_with("#!/usr/bin/env python3\n"), "{py}");
    assert_eq!(python(&py), "ran 42\n");
    assert_eq!(
        run_in(
            &image,
            None,
            &["/bin/busybox", "stat", "-c", "%a", "/lava/magic.py"]
        ),
        "755\n"
    );

    // Without PIP_INDEX_URL in the caller's environment it is empty, as the framework's.
    let out = payload(dir.path(), "build", &["hello"])
        .args(["--env", "dev", "--network", "none"])
        .env_remove("PIP_INDEX_URL")
        .output()
        .unwrap();
    ok(out);
    assert!(
        env_of(&image).contains(&"PIP_INDEX_URL=".to_string()),
        "{:?}",
        env_of(&image)
    );
}

#[test]
fn an_own_dockerfile_gets_pip_index_url_its_dockerignore_and_executable_notebooks() {
    base_image();
    let (dir, repo) = project();
    let p = dir.path().join("lava-payloads/custom.docker");
    let dockerfile = std::fs::read_to_string(p.join("Dockerfile")).unwrap();
    write(
        &p,
        "Dockerfile",
        &format!(
            "{dockerfile}ARG PIP_INDEX_URL\nRUN echo \"index=$PIP_INDEX_URL\" > /pip.txt\nCOPY . /ctx/\n"
        ),
        0o644,
    );
    write(&p, ".dockerignore", "ignored.txt\n", 0o644);
    write(&p, "ignored.txt", "not in the context\n", 0o644);
    write(&p, "nb.ipynb", MAGIC_NOTEBOOK, 0o640);
    let out = payload(dir.path(), "build", &["custom"])
        .args(["--env", "dev", "--network", "none"])
        .env("PIP_INDEX_URL", "https://pypi.example/simple/")
        .output()
        .unwrap();
    ok(out);
    let image = format!("{repo}/custom:latest");
    assert_eq!(
        cat(&image, "/pip.txt"),
        "index=https://pypi.example/simple/\n"
    );
    let listing = run_in(&image, None, &["/bin/busybox", "ls", "-A", "/ctx"]);
    assert_eq!(
        listing.split_whitespace().collect::<Vec<_>>(),
        [".dockerignore", "Dockerfile", "app.txt", "nb.py"]
    );
    // The owner's exec bit added to the notebook's own mode (0640), as the framework's chmod u+x.
    assert_eq!(
        run_in(
            &image,
            None,
            &["/bin/busybox", "stat", "-c", "%a", "/ctx/nb.py"]
        ),
        "740\n"
    );
    assert_eq!(python(&cat(&image, "/ctx/nb.py")), "ran 42\n");
}

#[test]
fn symlinks_in_the_project_are_followed_and_links_out_of_it_refused_unless_asked() {
    base_image();
    let (dir, repo) = project();
    let p = dir.path().join("lava-payloads/hello.docker");
    std::fs::write(dir.path().join("shared.txt"), "shared in the project\n").unwrap();
    std::os::unix::fs::symlink("../../shared.txt", p.join("shared.txt")).unwrap();
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("credentials");
    std::fs::write(&secret, "aws_secret_access_key = x\n").unwrap();
    std::os::unix::fs::symlink(&secret, p.join("creds")).unwrap();

    let out = build_dev(dir.path(), &["hello"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let target = std::fs::canonicalize(&secret).unwrap();
    assert!(
        stderr.starts_with(&format!(
            "error: lava-payloads/hello.docker/creds: invalid value \"{}\": expected a symlink \
             to a file or folder inside the project",
            target.display()
        )),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    let image = format!("{repo}/hello:latest");
    assert!(
        !docker(&["image", "inspect", &image]).status.success(),
        "built despite the link"
    );

    // A link to a folder out of the project is refused the same way, named by its path.
    std::fs::remove_file(p.join("creds")).unwrap();
    std::os::unix::fs::symlink(outside.path(), p.join("sub/outdir")).unwrap();
    let out = build_dev(dir.path(), &["hello"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("lava-payloads/hello.docker/sub/outdir: invalid value"),
        "{}",
        text(&out)
    );

    // --follow-external-links ships what they point at; the link inside is followed either way.
    ok(build_dev(
        dir.path(),
        &["hello"],
        &["--follow-external-links"],
    ));
    assert_eq!(
        cat(&image, "/lava/sub/outdir/credentials"),
        "aws_secret_access_key = x\n"
    );
    assert_eq!(cat(&image, "/lava/shared.txt"), "shared in the project\n");
}

#[test]
fn linux_arm_is_32_bit_arm_not_arm64() {
    let (dir, repo) = project();
    set_config(dir.path(), "docker:\n", "docker:\n  platform: linux/arm\n");
    let out = ok(build_dev(dir.path(), &["copyonly"], &[]));
    let r = row(&json(&out), "copyonly").clone();
    assert_eq!(r["images"][0]["platform"], "linux/arm", "{r}");
    assert_eq!(
        r["images"][0]["local"],
        format!("{repo}/copyonly:latest-arm")
    );
    let i = inspect(&format!("{repo}/copyonly:latest"));
    assert_eq!(i["Architecture"], "arm", "{i}");
    assert_eq!(i["Os"], "linux");
}

#[tokio::test]
async fn a_failed_build_leaves_nothing_in_ecr_and_a_good_one_gets_no_lifecycle_policy() {
    base_image();
    let (dir, repo) = project();
    let reg = registry();
    let install = |names: &[&str]| {
        let mut c = payload(dir.path(), "install", names);
        c.args(["--env", "dev", "--network", "none", "--registry", &reg])
            .args(["--output", "json"]);
        with_moto(&mut c).env("AWS_REGION", "us-east-1");
        c.output().unwrap()
    };
    let ecr = aws_sdk_ecr::Client::new(&moto_sdk("us-east-1").await);
    let out = install(&["broken", "copyonly"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let rows = json(&out);
    assert!(row(&rows, "broken")["error"].is_string(), "{rows}");
    assert!(row(&rows, "broken").get("ecr").is_none(), "{rows}");
    assert_eq!(row(&rows, "copyonly")["ecr"], "created", "{rows}");
    assert_eq!(row(&rows, "copyonly")["push"], "pushed", "{rows}");
    let missing = ecr
        .describe_repositories()
        .repository_names(format!("{repo}/broken"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        aws_sdk_ecr::error::ProvideErrorMetadata::code(&missing),
        Some("RepositoryNotFoundException"),
        "the failed build's repository was made"
    );
    let none = ecr
        .get_lifecycle_policy()
        .repository_name(format!("{repo}/copyonly"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        aws_sdk_ecr::error::ProvideErrorMetadata::code(&none),
        Some("LifecyclePolicyNotFoundException")
    );
}
