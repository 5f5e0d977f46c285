//! Issue 33, the end of the payload path: a payload of a project made by the job framework's
//! `lava-new` is installed by `lava-build payload install` into the test registry, then run as a
//! lava docker job by the real `lava-worker` 8.3.0 and by `lava-build job run` through the
//! differential suite's case runner (the same container request, pulls, outcome, log object and
//! clean-up), and the log holds what the installed payload printed.
use crate::common::ok;
use crate::images::{docker_host, registry, unique};
use crate::job::public_image;
use crate::job_diff::{Bench, lava_venv, run_case};
use serde_json::{Value, json};
use std::process::Command;

#[test]
fn a_payload_installed_by_lava_build_runs_under_the_real_worker_as_under_job_run() {
    let venv = lava_venv();
    let work = tempfile::tempdir().unwrap();
    let proj = work.path().join("proj");
    let name = format!("p{}", unique().replace(['-', '_'], ""));
    ok(Command::new(venv.join("bin/lava-new"))
        .args(["--no-input", "-p", "realm=dev", "-p"])
        .arg(format!("project_name={name}"))
        .args([
            "-p",
            "description=payload to worker",
            "-p",
            "owner=lava-build",
        ])
        .args(["-p", "docker_platform=linux/amd64"])
        .arg(&proj)
        .output()
        .unwrap());
    // The framework's default base is not reachable here: the test registry's busybox instead.
    let cfg = proj.join("config/dev.yaml");
    let yaml = std::fs::read_to_string(&cfg).unwrap();
    let default_base = "base_img: ghcr.io/jin-gizmo/lava/amzn2023/base";
    assert!(yaml.contains(default_base), "{yaml}");
    std::fs::write(
        &cfg,
        yaml.replace(default_base, &format!("base_img: {}", public_image())),
    )
    .unwrap();
    let payload = proj.join("lava-payloads/hello.docker");
    std::fs::create_dir_all(payload.join("env")).unwrap();
    std::fs::write(
        payload.join("run.sh"),
        "#!/bin/sh\necho \"hello from the payload: $1 $(cat /lava/env/app.cfg)\"\n",
    )
    .unwrap();
    std::fs::set_permissions(
        payload.join("run.sh"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    std::fs::write(payload.join("env/app.cfg"), "realm=<{ realm }>\n").unwrap();

    let reg = registry();
    let installed = ok(Command::new(env!("CARGO_BIN_EXE_lava-build"))
        .args(["payload", "install", "--env", "dev", "--network", "host"])
        .arg("--project")
        .arg(&proj)
        .args(["--registry", &reg, "--registry-auth", "none"])
        .args(["--output", "json"])
        .env("DOCKER_HOST", docker_host())
        .output()
        .unwrap());
    let rows: Value = serde_json::from_slice(&installed.stdout).unwrap();
    let image = format!("{reg}/lava/dev/{name}/hello:latest");
    assert!(
        rows.to_string().contains(&format!("lava/dev/{name}/hello")),
        "{rows}"
    );

    let b = Bench::start();
    let case = json!({
        "name": "lava-new-payload",
        "job": {"payload": image, "parameters": {
            "docker": "docker/diff", "command": "/lava/run.sh installed", "timeout": "60s"}},
        "log_contains": ["hello from the payload: installed realm=dev"],
    });
    if let Err(e) = run_case(&b, &case) {
        panic!("{e}");
    }
}
