//! `lava-build payload` on the fixture job framework project (tests/fixtures/payload-project), with
//! the real test engine, the local registry and the AWS emulator's ECR: the default and an own
//! Dockerfile, `<{ }>` rendering, notebooks, modes inside the container, unchanged rebuilds,
//! arm64 and two-platform images, install/re-install/uninstall, bad inputs, failing builds, and a
//! payload with requirements from PyPI on the lab's Debian image.
use crate::common::{bin, moto_sdk, path_str, root, with_moto};
use crate::images::{blob_uploads, docker_host, registry, registry_log, skopeo_raw, unique};
use serde_json::Value;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

const BASE: &str = "lava-test/payload-base:busybox";

pub(crate) fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

pub(crate) fn ok(out: Output) -> Output {
    assert!(
        out.status.success(),
        "{:?}\n{}",
        out.status.code(),
        text(&out)
    );
    out
}

/// `docker ARGS…` on the test engine.
pub(crate) fn docker(args: &[&str]) -> Output {
    Command::new("docker")
        .env("DOCKER_HOST", docker_host())
        .args(args)
        .output()
        .expect("the docker CLI (Debian's docker.io)")
}

/// The test base image: busybox-static FROM scratch (/bin/sh included), imported once.
pub(crate) fn base_image() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let busybox =
            std::fs::read("/bin/busybox").expect("busybox-static (Debian) at /bin/busybox");
        let mut t = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(busybox.len() as u64);
        h.set_mode(0o755);
        t.append_data(&mut h, "bin/busybox", busybox.as_slice())
            .unwrap();
        let mut l = tar::Header::new_gnu();
        l.set_entry_type(tar::EntryType::Symlink);
        l.set_size(0);
        l.set_mode(0o777);
        t.append_link(&mut l, "bin/sh", "busybox").unwrap();
        let bytes = t.into_inner().unwrap();
        let mut child = Command::new("docker")
            .env("DOCKER_HOST", docker_host())
            .args(["import", "-", BASE])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("the docker CLI (Debian's docker.io)");
        child.stdin.take().unwrap().write_all(&bytes).unwrap();
        assert!(child.wait().unwrap().success(), "docker import of {BASE}");
    });
}

/// A copy of the fixture project whose docker_repo is `lava/dev/<unique>`; (dir, repo).
pub(crate) fn project() -> (tempfile::TempDir, String) {
    let src = root().join("tests/fixtures/payload-project");
    let d = tempfile::tempdir().unwrap();
    for e in walkdir::WalkDir::new(&src) {
        let e = e.unwrap();
        let to = d.path().join(e.path().strip_prefix(&src).unwrap());
        if e.file_type().is_dir() {
            std::fs::create_dir_all(&to).unwrap();
        } else {
            std::fs::copy(e.path(), &to).unwrap();
        }
    }
    let repo = format!("lava/dev/{}", unique());
    for env in ["dev", "arm", "multi", "lab"] {
        let f = d.path().join(format!("config/{env}.yaml"));
        let s = std::fs::read_to_string(&f).unwrap();
        let s = s
            .replace("lava/dev/fixture", &repo)
            .replace("lava/lab/fixture", &repo);
        std::fs::write(&f, s).unwrap();
    }
    (d, repo)
}

/// `lava-build payload VERB --project DIR ARGS…` on the test engine.
pub(crate) fn payload(dir: &Path, verb: &str, args: &[&str]) -> assert_cmd::Command {
    let mut c = bin("lava-build");
    c.env("DOCKER_HOST", docker_host())
        .env_remove("LAVA_REGISTRY_USER")
        .env_remove("LAVA_REGISTRY_TOKEN")
        .args(["payload", verb, "--project", &path_str(dir)])
        .args(args);
    c
}

/// Manifests written to `repo` (`PUT /v2/<repo>/manifests/…` in the registry's log).
pub(crate) fn manifest_puts(repo: &str) -> usize {
    let log = std::fs::read_to_string(registry_log()).unwrap_or_default();
    let needle = format!("\"PUT /v2/{repo}/manifests/");
    log.lines().filter(|l| l.contains(&needle)).count()
}

pub(crate) fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(out)))
}

pub(crate) fn row<'a>(rows: &'a Value, name: &str) -> &'a Value {
    rows.as_array()
        .unwrap()
        .iter()
        .find(|r| r["payload"] == name)
        .unwrap_or_else(|| panic!("no row for {name}: {rows}"))
}

/// `docker run --rm --network none [--user U] IMAGE ARGS…`: its stdout.
pub(crate) fn run_in(image: &str, user: Option<&str>, args: &[&str]) -> String {
    let mut a = vec!["run", "--rm", "--network", "none"];
    if let Some(u) = user {
        a.extend(["--user", u]);
    }
    a.push(image);
    a.extend(args);
    String::from_utf8_lossy(&ok(docker(&a)).stdout).into_owned()
}

pub(crate) fn inspect(image: &str) -> Value {
    let v: Value =
        serde_json::from_slice(&ok(docker(&["image", "inspect", image])).stdout).unwrap();
    v[0].clone()
}

#[test]
fn builds_with_the_default_and_an_own_dockerfile_and_rebuilds_nothing_unchanged() {
    base_image();
    let (dir, repo) = project();
    let args = [
        "hello",
        "custom",
        "--env",
        "dev",
        "--network",
        "none",
        "--output",
        "json",
    ];
    let out = ok(payload(dir.path(), "build", &args).output().unwrap());
    let rows = json(&out);
    let hello = row(&rows, "hello");
    assert_eq!(hello["repository"], format!("{repo}/hello"));
    assert_eq!(
        hello["images"][0]["platform"], "linux/amd64",
        "unset platform"
    );
    assert_eq!(hello["images"][0]["status"], "built");
    let hello_id = hello["images"][0]["image_id"].as_str().unwrap().to_string();
    let custom_id = row(&rows, "custom")["images"][0]["image_id"]
        .as_str()
        .unwrap()
        .to_string();
    let image = format!("{repo}/hello:latest");
    assert_eq!(inspect(&image)["Id"], hello_id.as_str(), "tagged latest");

    // The default Dockerfile: /lava owned by root, readable by all, executables for all.
    let modes = run_in(
        &image,
        Some("4242:4242"),
        &[
            "/bin/busybox",
            "stat",
            "-c",
            "%a %u:%g %n",
            "/lava",
            "/lava/run.sh",
            "/lava/data.txt",
            "/lava/sub/dir/file.txt",
            "/lava/env/settings.cfg",
        ],
    );
    assert_eq!(
        modes.lines().collect::<Vec<_>>(),
        [
            "755 0:0 /lava",
            "755 0:0 /lava/run.sh",
            "644 0:0 /lava/data.txt",
            "644 0:0 /lava/sub/dir/file.txt",
            "644 0:0 /lava/env/settings.cfg",
        ]
    );
    assert_eq!(
        run_in(&image, Some("4242:4242"), &["/lava/run.sh"]),
        "hello from /lava\n",
        "runs as a foreign uid"
    );
    // env/ rendered with the framework's delimiters; {{ }} untouched.
    assert_eq!(
        run_in(
            &image,
            None,
            &["/bin/busybox", "cat", "/lava/env/settings.cfg"]
        ),
        "\nrealm=dev\nenv=dev\ngreeting=hello from dev\ndev-only=yes\nraw={{ untouched }}\n"
    );
    // The notebook became runnable Python (as the framework's: a python3 #! line, executable),
    // the notebook itself is gone; the dot file is copied as the framework copies it.
    assert_eq!(
        run_in(&image, None, &["/bin/busybox", "cat", "/lava/report.py"]),
        "#!/usr/bin/env python3\n\n# # Report\n# Counts things.\n\n# %load_ext autoreload\ntotal = 1 + 2\n# !ls /tmp\nprint(total)\n"
    );
    assert_eq!(
        run_in(
            &image,
            None,
            &["/bin/busybox", "stat", "-c", "%a %u:%g", "/lava/report.py"]
        ),
        "755 0:0\n"
    );
    let listing = run_in(&image, None, &["/bin/busybox", "ls", "-A", "/lava"]);
    assert_eq!(
        listing.split_whitespace().collect::<Vec<_>>(),
        [".secret", "data.txt", "env", "report.py", "run.sh", "sub"]
    );
    // Labels.
    let labels = &inspect(&image)["Config"]["Labels"];
    assert_eq!(labels["lava.payload"], "hello");
    assert_eq!(labels["lava.realm"], "dev");
    assert_eq!(labels["lava.env"], "dev");
    assert_eq!(
        labels["org.opencontainers.image.title"],
        format!("{repo}/hello")
    );
    assert!(labels["org.opencontainers.image.source"].is_string());
    assert!(labels["org.opencontainers.image.revision"].is_string());

    // The own Dockerfile was rendered: <{ prefix.docker_repo }> and <{ env }>.
    let env = &inspect(&format!("{repo}/custom:latest"))["Config"]["Env"];
    let env: Vec<&str> = env
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        env.contains(&format!("LAVA_REPO={repo}").as_str()),
        "{env:?}"
    );
    assert!(env.contains(&"LAVA_ENV=dev"), "{env:?}");

    // The source is untouched.
    let src = std::fs::read_to_string(
        dir.path()
            .join("lava-payloads/hello.docker/env/settings.cfg"),
    )
    .unwrap();
    assert!(src.contains("realm=<{ realm }>"));
    assert!(
        dir.path()
            .join("lava-payloads/hello.docker/report.ipynb")
            .is_file()
    );
    assert!(
        !dir.path()
            .join("lava-payloads/hello.docker/report.py")
            .exists()
    );

    // Again, unchanged: the same images, nothing sent to the engine; with --tag, one more name.
    let mut again: Vec<&str> = args.to_vec();
    again.extend(["--tag", "1.0.0"]);
    let out = ok(payload(dir.path(), "build", &again).output().unwrap());
    let rows = json(&out);
    assert_eq!(row(&rows, "hello")["images"][0]["status"], "unchanged");
    assert_eq!(
        row(&rows, "hello")["images"][0]["image_id"],
        hello_id.as_str()
    );
    assert_eq!(
        row(&rows, "custom")["images"][0]["image_id"],
        custom_id.as_str()
    );
    assert!(!text(&out).contains("building"), "{}", text(&out));
    assert_eq!(
        inspect(&format!("{repo}/hello:1.0.0"))["Id"],
        hello_id.as_str()
    );

    // A changed file makes a new image of that payload only.
    std::fs::write(
        dir.path().join("lava-payloads/hello.docker/data.txt"),
        "changed\n",
    )
    .unwrap();
    let rows = json(&ok(payload(dir.path(), "build", &args).output().unwrap()));
    assert_eq!(row(&rows, "hello")["images"][0]["status"], "built");
    assert_ne!(
        row(&rows, "hello")["images"][0]["image_id"],
        hello_id.as_str()
    );
    assert_eq!(row(&rows, "custom")["images"][0]["status"], "unchanged");
}

#[test]
fn builds_for_arm64_without_emulation() {
    let (dir, repo) = project();
    let out = ok(payload(
        dir.path(),
        "build",
        &[
            "copyonly",
            "--env",
            "arm",
            "--network",
            "none",
            "--output",
            "json",
        ],
    )
    .output()
    .unwrap());
    let rows = json(&out);
    assert_eq!(
        row(&rows, "copyonly")["images"][0]["platform"],
        "linux/arm64"
    );
    let i = inspect(&format!("{repo}/copyonly:latest"));
    assert_eq!(i["Architecture"], "arm64");
    assert_eq!(i["Os"], "linux");

    // docker.platform: host is the engine's own platform.
    let engine_arch =
        String::from_utf8(ok(docker(&["version", "-f", "{{.Server.Arch}}"])).stdout).unwrap();
    set_config(dir.path(), "docker:\n", "docker:\n  platform: host\n");
    let out = ok(build_dev(dir.path(), &["copyonly"], &[]));
    assert_eq!(
        row(&json(&out), "copyonly")["images"][0]["platform"],
        format!("linux/{}", engine_arch.trim())
    );

    // The realm's info (--realm-file) is lava.realm in templates; without it, the name is undefined.
    realm_payload(dir.path());
    let realm_file = dir.path().join("realm-dev.json");
    std::fs::write(
        &realm_file,
        r#"{"realm": "dev", "s3_temp": "s3://dev-tmp/lava"}"#,
    )
    .unwrap();
    let build = |extra: &[&str]| {
        payload(
            dir.path(),
            "build",
            &["copyonly", "--env", "dev", "--network", "none"],
        )
        .args(extra)
        .output()
        .unwrap()
    };
    let out = build(&[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("lava-payloads/copyonly.docker/env/realm.txt:1: undefined name \"lava"),
        "{}",
        text(&out)
    );
    ok(build(&["--realm-file", &path_str(&realm_file)]));
    assert_eq!(
        file_in_image(&format!("{repo}/copyonly:latest"), "/realm.txt"),
        "s3://dev-tmp/lava dev\n"
    );
}

#[tokio::test]
async fn installs_two_platforms_to_ecr_and_a_registry_reinstalls_nothing_and_uninstalls() {
    let (dir, repo) = project();
    let reg = registry();
    let ecr = aws_sdk_ecr::Client::new(&moto_sdk("us-east-1").await);
    let install = |extra: &[&str]| {
        let mut c = payload(
            dir.path(),
            "install",
            &[
                "copyonly",
                "--env",
                "multi",
                "--network",
                "none",
                "--registry",
                &reg,
                "--output",
                "json",
            ],
        );
        with_moto(&mut c).env("AWS_REGION", "us-east-1").args(extra);
        c.output().unwrap()
    };

    // Dry run: says what it would do, creates and pushes nothing.
    let out = ok(install(&["--dry-run"]));
    let r = row(&json(&out), "copyonly").clone();
    assert_eq!(r["ecr"], "would create");
    assert_eq!(r["push"], "would push");
    let name = format!("{repo}/copyonly");
    let missing = ecr
        .describe_repositories()
        .repository_names(&name)
        .send()
        .await;
    assert!(missing.is_err(), "the dry run created the repository");

    let out = ok(install(&[]));
    let r = row(&json(&out), "copyonly").clone();
    assert_eq!(r["ecr"], "created");
    assert_eq!(r["push"], "pushed");
    // The repository in ECR: scan on push, no lifecycle policy (the framework sets none).
    let d = ecr
        .describe_repositories()
        .repository_names(&name)
        .send()
        .await
        .unwrap();
    let scan = d.repositories()[0]
        .image_scanning_configuration()
        .unwrap()
        .scan_on_push();
    assert!(scan, "scan on push");
    let none = ecr
        .get_lifecycle_policy()
        .repository_name(&name)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        aws_sdk_ecr::error::ProvideErrorMetadata::code(&none),
        Some("LifecyclePolicyNotFoundException")
    );
    // One index with both platforms, tagged latest.
    let (index, digest) = skopeo_raw(&format!("{reg}/{name}:latest"));
    assert_eq!(
        index["mediaType"],
        "application/vnd.oci.image.index.v1+json"
    );
    assert_eq!(crate::images::index_archs(&index), ["amd64", "arm64"]);
    assert_eq!(r["pushed"]["digest"], digest.as_str());
    assert_eq!(index["annotations"]["lava.payload"], "copyonly");

    // Installed again: the repository is there, no blob is uploaded, nothing is rebuilt.
    let before = blob_uploads(&name);
    assert!(before > 0, "the first install uploaded blobs");
    let manifests_before = manifest_puts(&name);
    assert_eq!(manifests_before, 3, "two images and the index");
    let out = ok(install(&[]));
    let r = row(&json(&out), "copyonly").clone();
    assert_eq!(r["ecr"], "exists");
    assert_eq!(r["push"], "unchanged");
    assert_eq!(r["images"][0]["status"], "unchanged");
    assert_eq!(r["images"][1]["status"], "unchanged");
    assert_eq!(blob_uploads(&name), before, "no blob uploaded again");
    assert_eq!(
        manifest_puts(&name),
        manifests_before,
        "no manifest sent again"
    );

    // Uninstall: --yes is needed off a terminal; the dry run lists; then the repository goes.
    let uninstall = |extra: &[&str]| {
        let mut c = payload(dir.path(), "uninstall", &["copyonly", "--env", "multi"]);
        with_moto(&mut c).env("AWS_REGION", "us-east-1").args(extra);
        c.output().unwrap()
    };
    let out = uninstall(&[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("--yes"), "{}", text(&out));
    let out = ok(uninstall(&["--dry-run"]));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!("would delete {name}")),
        "{}",
        text(&out)
    );
    assert!(
        ecr.describe_repositories()
            .repository_names(&name)
            .send()
            .await
            .is_ok()
    );
    let out = ok(uninstall(&["--yes"]));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!("deleted {name}")),
        "{}",
        text(&out)
    );
    let gone = ecr
        .describe_repositories()
        .repository_names(&name)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        aws_sdk_ecr::error::ProvideErrorMetadata::code(&gone),
        Some("RepositoryNotFoundException")
    );
}

/// `config/dev.yaml` of a fresh project copy replaced by `yaml`; the run's output.
fn bad(edit: impl FnOnce(&Path), args: &[&str]) -> Output {
    let (dir, _) = project();
    edit(dir.path());
    let mut c = payload(dir.path(), "build", args);
    // An engine that does not exist: reaching it would be exit 1, not 2.
    c.env("DOCKER_HOST", "unix:///nonexistent/docker.sock");
    c.output().unwrap()
}

fn assert_usage(out: &Output, expected: &str) {
    assert_eq!(out.status.code(), Some(2), "{}", text(out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    assert!(
        lines[0].contains(expected),
        "{stderr}\nexpected: {expected}"
    );
}

/// The copyonly payload made to copy one rendered file using lava.realm: `env/realm.txt`.
fn realm_payload(dir: &Path) {
    let payload_dir = dir.join("lava-payloads/copyonly.docker");
    std::fs::create_dir_all(payload_dir.join("env")).unwrap();
    std::fs::write(
        payload_dir.join("env/realm.txt"),
        "<{ lava.realm.s3_temp }> <{ realm }>\n",
    )
    .unwrap();
    std::fs::write(
        payload_dir.join("Dockerfile"),
        "FROM scratch\nCOPY env/realm.txt /realm.txt\n",
    )
    .unwrap();
}

/// The text of `path` in `image` (copied out of a created, never started, container).
fn file_in_image(image: &str, path: &str) -> String {
    let out = tempfile::tempdir().unwrap();
    let created = ok(docker(&["create", image, "none"]));
    let id = String::from_utf8(created.stdout)
        .unwrap()
        .trim()
        .to_string();
    let copied = docker(&["cp", &format!("{id}:{path}"), &path_str(out.path())]);
    docker(&["rm", &id]);
    ok(copied);
    let name = Path::new(path).file_name().unwrap();
    std::fs::read_to_string(out.path().join(name)).unwrap()
}

pub(crate) fn set_config(dir: &Path, from: &str, to: &str) {
    let f = dir.join("config/dev.yaml");
    let s = std::fs::read_to_string(&f).unwrap();
    assert!(s.contains(from));
    std::fs::write(&f, s.replace(from, to)).unwrap();
}

#[test]
fn bad_inputs_are_one_line_exit_2_and_nothing_is_built() {
    let env = ["--env", "dev"];
    assert_usage(
        &bad(|d| set_config(d, "realm: dev\n", ""), &env),
        "config/dev.yaml: realm: required parameter is missing",
    );
    assert_usage(
        &bad(|d| set_config(d, "  docker_repo: ", "  other: "), &env),
        "config/dev.yaml: prefix.docker_repo: required parameter is missing",
    );
    assert_usage(
        &bad(
            |d| set_config(d, "docker:\n", "docker:\n  platform: darwin/arm64\n"),
            &env,
        ),
        "config/dev.yaml: docker.platform: invalid value \"darwin/arm64\": expected host, or linux/ARCH[/VARIANT]",
    );
    assert_usage(
        &bad(
            |d| {
                std::fs::write(
                    d.join("lava-payloads/hello.docker/env/settings.cfg"),
                    "ok=<{ realm }>\nbad=<{ no_such_key }>\n",
                )
                .unwrap()
            },
            &env,
        ),
        "lava-payloads/hello.docker/env/settings.cfg:2: undefined name \"no_such_key\"",
    );
    assert_usage(
        &bad(
            |d| std::fs::write(d.join("lava-payloads/stray.docker"), "a file").unwrap(),
            &env,
        ),
        "lava-payloads/stray.docker: invalid value \"a file\": expected a folder",
    );
    assert_usage(
        &bad(|_| {}, &["nope", "--env", "dev"]),
        "payload: invalid value \"nope\": expected a payload of the project (broken, copyonly, custom, hello, pyreq)",
    );
    assert_usage(
        &bad(|_| {}, &["--env", "prod"]),
        "--env: invalid value \"prod\": expected an environment with a file in",
    );
}

#[test]
fn a_staging_copy_that_cannot_be_made_is_a_run_time_failure() {
    // The payload is fine; this machine cannot stage its copy (no temporary folder): exit 1, not
    // the exit 2 of bad input.
    let (dir, _) = project();
    let out = payload(dir.path(), "build", &["copyonly", "--env", "dev"])
        .env("TMPDIR", "/nonexistent/tmp")
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: staging /nonexistent/tmp: "),
        "{stderr}"
    );
}

/// Builds payloads `names` for env dev (JSON on stdout, network none), with `extra` arguments.
pub(crate) fn build_dev(dir: &Path, names: &[&str], extra: &[&str]) -> Output {
    payload(dir, "build", names)
        .args(["--env", "dev", "--network", "none", "--output", "json"])
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn a_failed_build_names_payload_step_and_output_and_the_others_still_build() {
    base_image();
    let (dir, repo) = project();
    let out = build_dev(dir.path(), &["broken", "copyonly"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("error: 1 of 2 payloads failed (broken)"),
        "{last}"
    );
    assert!(
        last.contains("[broken linux/amd64] build failed: building "),
        "{last}"
    );
    assert!(last.contains(": step \"[2/2] RUN "), "{last}");
    assert!(last.contains("exit code: 3"), "{last}");
    assert!(last.contains("about to fail: step output line"), "{last}");
    let rows = json(&out);
    assert_eq!(
        row(&rows, "copyonly")["images"][0]["status"],
        "built",
        "the other payload built"
    );
    assert_eq!(
        docker(&["image", "inspect", &format!("{repo}/copyonly:latest")])
            .status
            .code(),
        Some(0)
    );

    // --fail-fast: the first failure stops the run.
    let (dir, repo) = project();
    let out = build_dev(dir.path(), &["broken", "copyonly"], &["--fail-fast"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(json(&out).as_array().unwrap().len(), 1, "{}", text(&out));
    assert_ne!(
        docker(&["image", "inspect", &format!("{repo}/copyonly:latest")])
            .status
            .code(),
        Some(0)
    );
}

#[test]
fn an_engine_without_a_bridge_network_needs_network_host_or_none() {
    // The test engines run with --bridge=none: RUN steps on the default network would fail.
    let (dir, _) = project();
    let out = payload(dir.path(), "build", &["copyonly", "--env", "dev"])
        .output()
        .unwrap();
    assert_usage(
        &out,
        "--network: invalid value \"default\": expected host or none: Docker engine",
    );
}

/// Issue 24: requirements from PyPI on the lab's real Debian, importable by a foreign uid.
#[test]
fn requirements_install_from_pypi_on_the_lab_image_and_import_as_a_foreign_uid() {
    let lab = std::env::var("LAVA_TEST_LAB_IMAGE").unwrap_or_else(|_| {
        panic!("the lab image (lava-lab/debian:12) is not set up: LAVA_TEST_LAB_IMAGE is unset; run through scripts/test-services.sh")
    });
    assert_eq!(
        docker(&["image", "inspect", &lab]).status.code(),
        Some(0),
        "the lab image {lab} is not in the test engine (scripts/test-services.sh lab makes it)"
    );
    let (dir, repo) = project();
    ok(payload(
        dir.path(),
        "build",
        &["pyreq", "--env", "lab", "--network", "host"],
    )
    .output()
    .unwrap());
    let image = format!("{repo}/pyreq:latest");
    // requirements.txt with its dependency (six), requirements-nodeps.txt without (slugify's
    // text-unidecode is not installed).
    assert_eq!(
        run_in(&image, Some("4242:4242"), &["python3", "/lava/job.py"]),
        "2026 True\n"
    );
    let probe = "import importlib.util as u; print([u.find_spec(m) is not None for m in \
                 ('dateutil', 'six', 'slugify', 'text_unidecode')])";
    assert_eq!(
        run_in(&image, Some("4242:4242"), &["python3", "-c", probe]),
        "[True, True, True, False]\n"
    );
}

#[tokio::test]
async fn realm_info_comes_from_the_lava_realms_table() {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
        ScalarAttributeType,
    };
    let (dir, repo) = project();
    let realm = format!("r{}", &unique()[1..8]);
    set_config(dir.path(), "realm: dev\n", &format!("realm: {realm}\n"));
    let db = aws_sdk_dynamodb::Client::new(&moto_sdk("us-east-1").await);
    let created = db
        .create_table()
        .table_name("lava.realms")
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("realm")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("realm")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .send()
        .await;
    // Other tests share the emulator: the table may be there already, nothing else is accepted.
    if let Err(e) = created {
        use aws_sdk_dynamodb::error::ProvideErrorMetadata;
        assert_eq!(e.code(), Some("ResourceInUseException"), "{e:?}");
    }
    realm_payload(dir.path());
    let build = || {
        let mut c = payload(
            dir.path(),
            "build",
            &[
                "copyonly",
                "--env",
                "dev",
                "--network",
                "none",
                "--realm-info",
                "dynamodb",
            ],
        );
        with_moto(&mut c).env("AWS_REGION", "us-east-1");
        c.output().unwrap()
    };
    // No item for the realm yet: a configuration error naming it, nothing built.
    let out = build();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains(&format!("{realm:?}")), "{}", text(&out));

    db.put_item()
        .table_name("lava.realms")
        .item("realm", AttributeValue::S(realm.clone()))
        .item("s3_temp", AttributeValue::S("s3://table-tmp/lava".into()))
        .send()
        .await
        .unwrap();
    ok(build());
    assert_eq!(
        file_in_image(&format!("{repo}/copyonly:latest"), "/realm.txt"),
        format!("s3://table-tmp/lava {realm}\n")
    );
}

#[tokio::test]
async fn a_build_dry_run_builds_nothing_and_a_lifecycle_file_becomes_the_policy() {
    let (dir, repo) = project();
    // Build --dry-run: says what it would build, and the engine has no such image afterwards.
    let out = ok(build_dev(dir.path(), &["copyonly"], &["--dry-run"]));
    let r = row(&json(&out), "copyonly").clone();
    assert_eq!(r["images"][0]["status"], "would build", "{r}");
    let inspected = docker(&["image", "inspect", &format!("{repo}/copyonly:latest")]);
    assert!(!inspected.status.success(), "the dry run built the image");

    // Install with --lifecycle FILE: the repository's policy is that file's, not ours.
    let reg = registry();
    let policy_file = dir.path().join("keep-2.json");
    let policy = serde_json::json!({"rules": [{"rulePriority": 1,
        "description": "keep two images (test policy)",
        "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 2},
        "action": {"type": "expire"}}]});
    std::fs::write(&policy_file, policy.to_string()).unwrap();
    let install = || {
        let mut c = payload(dir.path(), "install", &["copyonly", "--env", "dev"]);
        c.args(["--network", "none", "--registry", &reg])
            .args(["--lifecycle", &path_str(&policy_file)]);
        with_moto(&mut c).env("AWS_REGION", "us-east-1");
        c.output().unwrap()
    };
    ok(install());
    let ecr = aws_sdk_ecr::Client::new(&moto_sdk("us-east-1").await);
    let got = ecr
        .get_lifecycle_policy()
        .repository_name(format!("{repo}/copyonly"))
        .send()
        .await
        .unwrap();
    let got: Value = serde_json::from_str(got.lifecycle_policy_text().unwrap()).unwrap();
    assert_eq!(got, policy);

    // A --lifecycle file that is not JSON is a usage error naming it.
    std::fs::write(&policy_file, "rules: [").unwrap();
    let out = install();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("--lifecycle"), "{}", text(&out));
}

/// Two runners of a release (one per platform) may both find no repository and both create it:
/// the second creation is answered RepositoryAlreadyExistsException and must find the first's.
#[tokio::test]
async fn a_repository_created_meanwhile_is_found_not_an_error() {
    use lava_build::aws::ecr::{Created, create_or_find_repository, find_repository};
    let ecr = aws_sdk_ecr::Client::new(&moto_sdk("us-east-1").await);
    let name = format!("race/{}", unique());
    let policy = Some(r#"{"rules": []}"#);
    assert_eq!(find_repository(&ecr, &name).await.unwrap(), None);
    let (first, made) = create_or_find_repository(&ecr, &name, policy)
        .await
        .unwrap();
    assert_eq!(made, Created::New);
    assert!(first.ends_with(&format!("/{name}")), "{first}");
    // The other runner, which also saw no repository, now creates it.
    let (second, made) = create_or_find_repository(&ecr, &name, policy)
        .await
        .unwrap();
    assert_eq!((second, made), (first, Created::Existed));
}
