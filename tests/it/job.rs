//! `lava-build job run` on the real engine and registries, with moto for DynamoDB, SSM, ECR and
//! S3: the seed 001 examples end to end and each point of the runtime contract (issue 13), plus a
//! job in the lab OS with lava from PyPI (issue 24).
pub(crate) use crate::common::engine::{docker, import_busybox, public_image};
use crate::common::{bin, moto_sdk, with_moto};
use crate::images::{docker_host, registry, unique};
use crate::images_registry::AuthRegistry;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub(crate) const REALM: &str = "lt";
pub(crate) const BUCKET: &str = "lava-job-tests";

/// The test's specs in a folder: realm, connections and job files.
pub(crate) struct Fx {
    dir: tempfile::TempDir,
    pub(crate) job_id: String,
}

impl Fx {
    pub(crate) fn new(conns: Value) -> Fx {
        let dir = tempfile::tempdir().unwrap();
        let realm = json!({"realm": REALM, "s3_temp": format!("s3://{BUCKET}/tmp"),
            "s3_payloads": format!("s3://{BUCKET}/payloads"), "s3_key": "alias/lava-lt-s3",
            "docker": "docker/public"});
        std::fs::write(dir.path().join("realm.json"), realm.to_string()).unwrap();
        std::fs::write(dir.path().join("conns.json"), conns.to_string()).unwrap();
        Fx {
            dir,
            job_id: format!("test/{}", unique()),
        }
    }

    pub(crate) fn public() -> Fx {
        Fx::new(json!([{"type": "docker", "conn_id": "docker/public", "enabled": true}]))
    }

    /// Writes a job of the busybox image with these parameters.
    pub(crate) fn job(&self, params: Value) -> &Self {
        self.job_of(public_image(), params)
    }

    pub(crate) fn job_of(&self, payload: &str, params: Value) -> &Self {
        let j = json!({"job_id": self.job_id, "type": "docker", "owner": "tester@example.com",
            "worker": "core", "payload": payload, "parameters": params, "globals": {"team": "data"},
            "enabled": true});
        std::fs::write(self.path("job.json"), j.to_string()).unwrap();
        self
    }

    pub(crate) fn path(&self, f: &str) -> PathBuf {
        self.dir.path().join(f)
    }

    pub(crate) fn cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_lava-build"));
        c.current_dir(crate::common::root());
        // The runner passes its own LAVA_* variables on, as the worker does: none from the tests.
        for (var, _) in std::env::vars().filter(|(k, _)| k.starts_with("LAVA_")) {
            c.env_remove(var);
        }
        for var in [
            "AWS_PROFILE",
            "AWS_SESSION_TOKEN",
            "RUST_LOG",
            "AWS_DEFAULT_REGION",
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
            .env("AWS_REGION", "us-east-1")
            .env("DOCKER_HOST", docker_host())
            .args(["job", "run", "--realm", REALM, "--network", "none"])
            .arg("--job")
            .arg(self.path("job.json"))
            .arg("--realm-file")
            .arg(self.path("realm.json"))
            .arg("--connections-file")
            .arg(self.path("conns.json"));
        c
    }

    pub(crate) fn run(&self, extra: &[&str]) -> Output {
        self.cmd().args(extra).output().unwrap()
    }
}

pub(crate) fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

pub(crate) fn json_of(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(o)))
}

/// The container's output lines shown by --dev (`[job_id] line`).
pub(crate) fn dev_lines(o: &Output, job_id: &str) -> Vec<String> {
    let prefix = format!("[{job_id}] ");
    String::from_utf8_lossy(&o.stderr)
        .lines()
        .filter_map(|l| l.strip_prefix(&prefix).map(String::from))
        .collect()
}

/// Containers of a run, stopped or not.
pub(crate) fn containers_labelled(label: &str, value: &str) -> String {
    docker(&[
        "ps",
        "-a",
        "-q",
        "--filter",
        &format!("label={label}={value}"),
    ])
}

pub(crate) async fn s3() -> aws_sdk_s3::Client {
    let c = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&moto_sdk("us-east-1").await)
            .force_path_style(true)
            .build(),
    );
    let _ = c.create_bucket().bucket(BUCKET).send().await;
    c
}

pub(crate) fn usage_error(o: &Output, needles: &[&str]) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    for n in needles {
        assert!(err.contains(n), "{n:?} in {err}");
    }
}

#[tokio::test]
async fn the_seed_examples_run_end_to_end_and_their_logs_go_to_s3_with_the_kms_key() {
    let s3 = s3().await;
    let fx = Fx::public();
    for params in [
        json!({"args": ["-c", "date -u +%Y"], "command": "/bin/sh", "docker": "docker/public", "timeout": "10s"}),
        json!({"command": "/bin/sh -c 'date -u +%Y'", "docker": "docker/public", "timeout": "10s"}),
        json!({"command": "/bin/sh -c {{vars.cmd}}", "docker": "docker/public", "timeout": "10s",
            "vars": {"cmd": "date -u +%Y"}}),
    ] {
        fx.job(params.clone());
        let o = fx.run(&["--output", "json"]);
        assert!(o.status.success(), "{params}: {}", text(&o));
        let v = json_of(&o);
        assert_eq!(v["exit_status"], 0);
        assert_eq!(v["timed_out"], false);
        let run_id = v["run_id"].as_str().unwrap();
        let key = format!("tmp/{}/{run_id}/logs", fx.job_id);
        assert_eq!(v["logs"], format!("s3://{BUCKET}/{key}"));
        let obj = s3
            .get_object()
            .bucket(BUCKET)
            .key(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(
            obj.ssekms_key_id(),
            Some("alias/lava-lt-s3"),
            "SSE-KMS with the realm's s3_key"
        );
        let body = obj.body.collect().await.unwrap().into_bytes();
        let year = chrono::Utc::now().format("%Y").to_string();
        assert_eq!(String::from_utf8_lossy(&body).trim(), year, "{params}");
        assert_eq!(
            containers_labelled("lava.run_id", run_id),
            "",
            "container removed"
        );
    }
}

#[test]
fn the_container_runs_under_the_workers_contract() {
    let fx = Fx::public();
    fx.job(json!({"command": "/bin/sh -c", "args": [
        "id -u; id -G; hostname; pwd; env | grep ^LAVA_ | sort; echo from-container > $LAVA_TMP/out.txt; echo {{ globals.team }}-{{ vars.v }}-{{ job.worker }}; echo {{ ustart }}"
    ], "vars": {"v": 7}}));
    let o = fx.run(&["--dev", "--keep-tmp", "--output", "json"]);
    assert!(o.status.success(), "{}", text(&o));
    let v = json_of(&o);
    let run_id = v["run_id"].as_str().unwrap();
    let tmp = v["tmp"].as_str().unwrap();
    let lines = dev_lines(&o, &fx.job_id);
    let euid = nix::unistd::geteuid().as_raw().to_string();
    let egid = nix::unistd::getegid().as_raw().to_string();
    // The image says USER 1000:1000; the worker's euid wins and its egid is added.
    assert_eq!(lines[0], euid, "{lines:?}");
    assert!(lines[1].split(' ').any(|g| g == egid), "{lines:?}");
    assert_eq!(lines[2], format!("lava-{REALM}-core-{run_id}"));
    assert_eq!(lines[3], tmp, "LAVA_TMP is the working directory");
    let env: Vec<&str> = lines[4..13].iter().map(String::as_str).collect();
    assert_eq!(
        env,
        [
            format!("LAVA_JOB_ID={}", fx.job_id),
            "LAVA_OWNER=tester@example.com".into(),
            format!("LAVA_REALM={REALM}"),
            format!("LAVA_RUN_ID={run_id}"),
            "LAVA_S3_KEY=alias/lava-lt-s3".into(),
            format!("LAVA_S3_PAYLOAD=s3://{BUCKET}/payloads/{}", public_image()),
            format!("LAVA_S3_TMP=s3://{BUCKET}/tmp/{}/{run_id}", fx.job_id),
            format!("LAVA_TMP={tmp}"),
            "LAVA_WORKER=core".into(),
        ]
    );
    assert_eq!(lines[13], "data-7-core", "globals, vars and job rendered");
    // As lava prints it: aware, whole seconds.
    let ustart = chrono::DateTime::parse_from_str(&lines[14], "%Y-%m-%d %H:%M:%S%:z")
        .unwrap_or_else(|e| panic!("ustart {:?}: {e}", lines[14]));
    assert!(lines[14].ends_with("+00:00"), "{}", lines[14]);
    assert!((chrono::Utc::now() - ustart.to_utc()).num_minutes().abs() < 10);
    // The file written in the container is on the host, in the kept folder.
    assert_eq!(
        std::fs::read_to_string(Path::new(tmp).join("out.txt")).unwrap(),
        "from-container\n"
    );
    assert_eq!(
        v["logs"],
        Value::Null,
        "--dev shows the logs instead of uploading them"
    );
    std::fs::remove_dir_all(tmp).unwrap();
}

#[test]
fn without_keep_tmp_the_folder_is_removed_jinja_false_renders_nothing_and_worker_overrides() {
    let fx = Fx::public();
    fx.job(
        json!({"command": "/bin/sh -c 'echo $LAVA_TMP; echo {{vars.v}}; echo $E; echo $LAVA_WORKER; hostname'", "jinja": false,
        "vars": {"v": 1}, "env": {"E": "{{vars.v}}"}}),
    );
    let o = fx.run(&["--dev", "--worker", "other"]);
    assert!(o.status.success(), "{}", text(&o));
    let lines = dev_lines(&o, &fx.job_id);
    assert!(!Path::new(&lines[0]).exists(), "{} removed", lines[0]);
    assert_eq!(
        lines[1..4],
        ["{{vars.v}}", "", "other"],
        "jinja false drops env (as the worker); --worker wins over the job's"
    );
    assert!(
        lines[4].starts_with(&format!("lava-{REALM}-other-")),
        "{lines:?}"
    );
}

#[test]
fn labels_are_on_the_running_container_and_ctrl_c_removes_it() {
    let fx = Fx::public();
    fx.job(json!({"command": "/bin/sh -c 'echo ready; while true; do sleep 1; done'"}));
    let mut child = fx
        .cmd()
        .arg("--dev")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let ready = format!("[{}] ready", fx.job_id);
    let mut seen = String::new();
    loop {
        let mut l = String::new();
        assert!(
            err.read_line(&mut l).unwrap() > 0,
            "the run ended before its container was ready: {seen}"
        );
        seen.push_str(&l);
        if l.trim_end() == ready {
            break;
        }
    }
    let id = containers_labelled("lava.job_id", &fx.job_id);
    let labels: Value = serde_json::from_str(&docker(&[
        "inspect",
        "--format",
        "{{json .Config.Labels}}",
        &id,
    ]))
    .unwrap();
    assert_eq!(labels["lava.realm"], REALM);
    assert_eq!(labels["lava.worker"], "core");
    assert_eq!(labels["lava.owner"], "tester@example.com");
    assert_eq!(labels["lava.job_id"], fx.job_id.as_str());
    assert_eq!(
        labels["lava.run_id"].as_str().unwrap().len(),
        36,
        "a UUID: {labels}"
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let status = child.wait().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut err, &mut rest).unwrap();
    assert_eq!(status.code(), Some(1), "{rest}");
    assert!(rest.contains("interrupted (SIGINT)"), "{rest}");
    assert_eq!(
        containers_labelled("lava.job_id", &fx.job_id),
        "",
        "container removed"
    );
}

#[test]
fn the_timeout_kills_and_removes_the_container() {
    let fx = Fx::public();
    fx.job(json!({"command": "/bin/sh -c 'echo started; sleep 300'", "timeout": "2s"}));
    let o = fx.run(&["--output", "json"]);
    let v = json_of(&o);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_eq!(v["timed_out"], true);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("Timed out after 2.0 seconds"), "{err}");
    assert_eq!(v["exit_status"], 28, "the worker's status at the timeout");
    assert_eq!(v["error"], "Timed out after 2.0 seconds");
    assert_eq!(
        containers_labelled("lava.run_id", v["run_id"].as_str().unwrap()),
        ""
    );
    assert!(v["duration_secs"].as_f64().unwrap() < 300.0);
}

#[test]
fn a_non_zero_exit_fails_the_run_with_1_or_the_containers_status() {
    let fx = Fx::public();
    fx.job(json!({"command": "/bin/sh -c 'echo failing >&2; exit 3'"}));
    let o = fx.run(&["--dev"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!("[{} stderr] failing", fx.job_id)),
        "{err}"
    );
    assert!(err.contains("Failed with exit status 3"), "{err}");
    let o = fx.run(&["--dev", "--exit-status", "container", "--output", "json"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert_eq!(json_of(&o)["exit_status"], 3);
}

#[test]
fn no_command_runs_the_entry_point_and_says_args_are_ignored() {
    let fx = Fx::public();
    fx.job(json!({"args": ["ignored"], "host_config": {"user": "1234"}}));
    let o = fx.run(&["--dev"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(dev_lines(&o, &fx.job_id), ["entry point ran as 1234"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("parameters.args are ignored"));
}

#[test]
fn a_public_pull_fetches_the_image_from_its_registry() {
    let fx = Fx::public();
    // An image of this test's own, pushed, then forgotten by the engine: only the pull can bring
    // it back.
    let image = &format!("{}/lava-test/job-pull:{}", registry(), unique());
    import_busybox(image);
    docker(&["push", "-q", image]);
    docker(&["rmi", image]);
    fx.job_of(image, json!({"command": "true"}));
    let o = fx.run(&[]);
    assert!(o.status.success(), "{}", text(&o));
    docker(&["image", "inspect", image]);
    // --pull never on an image the engine does not have is a pull error naming it.
    fx.job_of(
        &format!("{}/lava-test/none:{}", registry(), unique()),
        json!({"command": "true"}),
    );
    let o = fx.run(&["--pull", "never"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("lava-test/none"),
        "{}",
        text(&o)
    );
}

pub(crate) fn ssm_put(name: &str, value: &str) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        aws_sdk_ssm::Client::new(&moto_sdk("us-east-1").await)
            .put_parameter()
            .name(name)
            .value(value)
            .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
            .overwrite(true)
            .send()
            .await
            .unwrap();
    });
}

#[test]
fn a_private_registry_is_pulled_with_the_password_from_ssm_under_the_realm() {
    let password = format!("pw-{}", unique());
    let reg = AuthRegistry::start("lava", &password);
    let image = format!("{}/lava-test/private:{}", reg.addr, unique());
    import_busybox(&image);
    let config = tempfile::tempdir().unwrap();
    let login = Command::new("docker")
        .env("DOCKER_HOST", docker_host())
        .env("DOCKER_CONFIG", config.path())
        .args(["login", "-u", "lava", "--password-stdin", &reg.addr])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .and_then(|mut c| {
            std::io::Write::write_all(&mut c.stdin.take().unwrap(), password.as_bytes())?;
            c.wait()
        })
        .unwrap();
    assert!(login.success());
    let push = Command::new("docker")
        .env("DOCKER_HOST", docker_host())
        .env("DOCKER_CONFIG", config.path())
        .args(["push", "-q", &image])
        .output()
        .unwrap();
    assert!(push.status.success(), "{}", text(&push));
    docker(&["rmi", &image]);
    let ssm_name = format!("/lava/{REALM}/registry/{}", unique());
    ssm_put(&ssm_name, &password);
    let conn = |password: &str| {
        json!([{"type": "docker", "conn_id": "docker/private", "enabled": true,
        "registry": reg.addr, "user": "lava", "password": password}])
    };
    let fx = Fx::new(conn(&ssm_name));
    fx.job_of(
        &image,
        json!({"command": "/bin/sh -c 'echo pulled'", "docker": "docker/private"}),
    );
    let o = fx.run(&["--dev"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(dev_lines(&o, &fx.job_id), ["pulled"]);
    assert!(!text(&o).contains(&password), "the password is never shown");

    // A wrong password in SSM: the registry refuses, exit 1 naming the image and registry.
    let wrong = format!("/lava/{REALM}/registry/{}", unique());
    ssm_put(&wrong, "not-the-password");
    docker(&["rmi", &image]);
    let fx = Fx::new(conn(&wrong));
    fx.job_of(
        &image,
        json!({"command": "true", "docker": "docker/private"}),
    );
    let o = fx.run(&[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!("pulling {image} from {}", reg.addr)),
        "{err}"
    );

    // An SSM name outside /lava/<realm>/ is refused before anything is asked of SSM or pulled.
    let fx = Fx::new(conn("/lava/other-realm/token"));
    fx.job_of(
        &image,
        json!({"command": "true", "docker": "docker/private"}),
    );
    usage_error(
        &fx.run(&[]),
        &[
            "password",
            "/lava/other-realm/token",
            &format!("/lava/{REALM}/"),
        ],
    );
}

#[test]
fn bad_specs_exit_2_naming_the_field_before_anything_is_pulled() {
    // A payload no registry has: a pull would fail with exit 1, not 2.
    let missing = format!("{}/lava-test/never-pulled:{}", registry(), unique());
    let fx = Fx::public();
    for (params, needles) in [
        (
            json!({"host_config": {"privileged": true}}),
            &["\"privileged\"", "parameters.host_config"][..],
        ),
        (
            json!({"host_config": {"mem_limit": "lots"}}),
            &["parameters.host_config.mem_limit", "\"lots\""][..],
        ),
        (
            json!({"connections": {"db": "pg/main"}}),
            &[
                "parameters.connections.db",
                "\"pg/main\"",
                "--connections-file",
            ][..],
        ),
        (
            json!({"connections": {"db": "docker/public"}}),
            &["type", "\"docker\"", "postgres", "label db"][..],
        ),
        (
            json!({"timeout": "10x"}),
            &["parameters.timeout", "\"10x\""][..],
        ),
        (
            json!({"comand": "x"}),
            &["\"comand\"", "did you mean \"command\""][..],
        ),
        (
            json!({"docker": "docker/nowhere"}),
            &["parameters.docker", "docker/nowhere", "docker/public"][..],
        ),
        (
            json!({"command": "echo {{ vars.x"}),
            &["word 1 of the command", "template"][..],
        ),
    ] {
        fx.job_of(&missing, params.clone());
        usage_error(&fx.run(&[]), needles);
    }
    // A disabled connection, and a job whose realm names no connection.
    let fx = Fx::new(json!([{"type": "docker", "conn_id": "docker/public", "enabled": false}]));
    fx.job_of(&missing, json!({}));
    usage_error(&fx.run(&[]), &["enabled", "disabled"]);
    // The worker ignores connection keys it does not use: a framework-deployed record runs.
    let fx = Fx::new(
        json!([{"type": "docker", "conn_id": "docker/public", "enabled": true,
        "owner": "data@example.com", "description": "public", "secret_id": "s", "x-lava-chk": "0f"}]),
    );
    fx.job(json!({"command": "true"}));
    let o = fx.run(&[]);
    assert!(o.status.success(), "{}", text(&o));
    let fx = Fx::public();
    std::fs::write(
        fx.path("realm.json"),
        json!({"realm": REALM, "s3_temp": "s3://bkt/t", "s3_payloads": "s3://bkt/p"}).to_string(),
    )
    .unwrap();
    fx.job_of(&missing, json!({}));
    usage_error(&fx.run(&[]), &["parameters.docker", "no docker connection"]);
    // Another job type.
    std::fs::write(
        fx.path("job.json"),
        json!({"job_id": "x", "type": "exe", "owner": "o", "worker": "w", "payload": "p"})
            .to_string(),
    )
    .unwrap();
    usage_error(&fx.run(&[]), &["type", "\"exe\"", "docker"]);
    assert!(
        Command::new("docker")
            .env("DOCKER_HOST", docker_host())
            .args(["image", "inspect", &missing])
            .output()
            .unwrap()
            .status
            .code()
            != Some(0),
        "nothing was pulled"
    );
}

#[test]
fn ecr_connections_exchange_a_token_and_pull_from_the_accounts_registry() {
    let fx = Fx::new(json!([
        {"type": "docker", "conn_id": "docker/ecr", "enabled": true, "registry": "ecr"},
        {"type": "docker", "conn_id": "docker/ecr-other", "enabled": true, "registry": "ecr:210987654321"}
    ]));
    // moto answers GetAuthorizationToken for account 123456789012; the pull itself cannot reach
    // AWS from here, and its error names the image, pulled exactly as written, and registry.
    for (conn, account) in [
        ("docker/ecr", "123456789012"),
        ("docker/ecr-other", "210987654321"),
    ] {
        let host = format!("{account}.dkr.ecr.us-east-1.amazonaws.com");
        fx.job_of(
            &format!("{host}/lava/lt/demo:1"),
            json!({"command": "true", "docker": conn}),
        );
        let o = fx.run(&[]);
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains(&format!("pulling {host}/lava/lt/demo:1 from {host}")),
            "{err}"
        );
        assert!(!err.contains("are not sent"), "{err}");
    }
    // A payload on another registry is pulled as written, without the ECR token.
    fx.job_of(
        &format!("{}/lava-test/not-there:{}", registry(), unique()),
        json!({"command": "true", "docker": "docker/ecr"}),
    );
    let o = fx.run(&[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("credentials of connection docker/ecr (for 123456789012.dkr.ecr.us-east-1.amazonaws.com) are not sent"),
        "{err}"
    );
    assert!(
        err.contains(&format!("pulling {}/lava-test/not-there", registry())),
        "{err}"
    );
}

/// `--region` and `--profile` reach the ECR login (issue 36: one AWS configuration per command).
/// moto names the registry of the region a GetAuthorizationToken was signed for; the payload is
/// in eu-west-1, so the token goes with the pull only when the login was made there.
#[test]
fn region_and_profile_of_job_run_are_those_of_the_ecr_login() {
    let fx = Fx::new(json!([
        {"type": "docker", "conn_id": "docker/ecr", "enabled": true, "registry": "ecr"}
    ]));
    let host = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";
    fx.job_of(
        &format!("{host}/lava/lt/demo:1"),
        json!({"command": "true", "docker": "docker/ecr"}),
    );
    let withheld = "credentials of connection docker/ecr (for 123456789012.dkr.ecr.us-east-1.amazonaws.com) are not sent";
    let profiles = fx.path("aws-config");
    std::fs::write(
        &profiles,
        "[default]\nregion = us-east-1\n\n[profile irish]\nregion = eu-west-1\n",
    )
    .unwrap();
    // (arguments, the profiles file, AWS_REGION) → whether the login was made in eu-west-1.
    let cases: [(&[&str], bool, bool); 4] = [
        (&[], false, true),
        (&["--region", "eu-west-1"], false, true),
        (&[], true, false),
        (&["--profile", "irish"], true, false),
    ];
    for (args, with_profiles, aws_region) in cases {
        let mut c = fx.cmd();
        if with_profiles {
            c.env("AWS_CONFIG_FILE", &profiles);
        }
        if !aws_region {
            c.env_remove("AWS_REGION");
        }
        let o = c.args(args).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", text(&o));
        assert!(
            err.contains(&format!("pulling {host}/lava/lt/demo:1 from {host}")),
            "{args:?}: {err}"
        );
        let in_eu = !args.is_empty();
        assert_eq!(!err.contains(withheld), in_eu, "{args:?}: {err}");
    }
}

#[tokio::test]
async fn specs_come_from_the_lava_tables_in_dynamodb_with_state() {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, AttributeValue as A, BillingMode, KeySchemaElement, KeyType,
        ScalarAttributeType,
    };
    let realm = format!("r{}", &unique()[1..8]);
    let db = aws_sdk_dynamodb::Client::new(&moto_sdk("us-east-1").await);
    for (table, key) in [
        ("lava.realms".to_string(), "realm"),
        (format!("lava.{realm}.jobs"), "job_id"),
        (format!("lava.{realm}.connections"), "conn_id"),
        (format!("lava.{realm}.state"), "state_id"),
    ] {
        let _ = db
            .create_table()
            .table_name(&table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(key)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .unwrap(),
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name(key)
                    .key_type(KeyType::Hash)
                    .build()
                    .unwrap(),
            )
            .send()
            .await;
    }
    let s = |v: &str| A::S(v.to_string());
    let rows: [(String, Vec<(&str, A)>); 4] = [
        (
            "lava.realms".into(),
            vec![
                ("realm", s(&realm)),
                ("s3_temp", s("s3://bkt/t")),
                ("s3_payloads", s("s3://bkt/p")),
                ("docker", s("docker/public")),
            ],
        ),
        (
            format!("lava.{realm}.connections"),
            vec![
                ("conn_id", s("docker/public")),
                ("type", s("docker")),
                ("enabled", A::Bool(true)),
            ],
        ),
        (
            format!("lava.{realm}.state"),
            vec![
                ("state_id", s("watermark")),
                ("type", s("json")),
                ("value", s("\"from-the-table\"")),
                ("timestamp", s("2026-01-01T00:00:00+00:00")),
                ("ttl", A::N("0".into())),
            ],
        ),
        (
            format!("lava.{realm}.jobs"),
            vec![
                ("job_id", s("demo/db")),
                ("type", s("docker")),
                ("enabled", A::Bool(true)),
                ("owner", s("o@x")),
                ("worker", s("core")),
                ("payload", s(public_image())),
                (
                    "state",
                    A::M(
                        [
                            ("watermark".to_string(), s("default")),
                            ("other".to_string(), s("its-default")),
                        ]
                        .into(),
                    ),
                ),
                (
                    "parameters",
                    A::M(
                        [
                            (
                                "command".to_string(),
                                s("/bin/sh -c 'echo {{state.watermark}} {{state.other}} $N'"),
                            ),
                            ("env".to_string(), A::M([("N".to_string(), s("42"))].into())),
                            ("timeout".to_string(), s("30s")),
                        ]
                        .into(),
                    ),
                ),
            ],
        ),
    ];
    for (table, item) in rows {
        db.put_item()
            .table_name(table)
            .set_item(Some(
                item.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
            ))
            .send()
            .await
            .unwrap();
    }
    let mut c = bin("lava-build");
    with_moto(&mut c)
        .env("AWS_REGION", "us-east-1")
        .env("DOCKER_HOST", docker_host())
        .args([
            "job",
            "run",
            "demo/db",
            "--realm",
            &realm,
            "--network",
            "none",
            "--dev",
        ]);
    let o = c.output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(dev_lines(&o, "demo/db"), ["from-the-table its-default 42"]);
    // A job_id the table does not hold: exit 2 naming it and the table.
    // `job run JOB_ID --realm REALM` against the emulator's tables.
    let from_tables = |job: &str, realm: &str| {
        let mut c = bin("lava-build");
        with_moto(&mut c)
            .env("AWS_REGION", "us-east-1")
            .args(["job", "run", job, "--realm", realm]);
        c.output().unwrap()
    };
    let o = from_tables("demo/none", &realm);
    usage_error(&o, &["JOB_ID", "demo/none", &format!("lava.{realm}.jobs")]);
    // A realm without tables.
    let o = from_tables("demo/db", "no-such-realm");
    usage_error(&o, &["--realm", "no-such-realm", "lava.no-such-realm.jobs"]);
}

#[tokio::test]
async fn host_config_keys_reach_the_created_container() {
    use lava_build::job::{container, hostconfig};
    let d = lava_build::engine::connect(Some(&docker_host()))
        .await
        .unwrap();
    let image = public_image();
    docker(&["pull", "-q", image]);
    let cases = [
        json!({"cap_add": ["NET_ADMIN"], "cap_drop": ["CHOWN"], "cpu_shares": 512, "cpu_period": 100000,
            "cpu_quota": 50000, "cpuset_cpus": "0", "cpuset_mems": "0", "dns": ["10.0.0.2"], "dns_opt": ["ndots:2"],
            "dns_search": ["example.com"], "domainname": "example.com", "extra_hosts": {"db": "10.1.2.3"},
            "hostname": "box", "group_add": ["4343"], "mem_limit": "64m", "memswap_limit": "128m", "shm_size": "32m",
            "user": "4242", "working_dir": "/work", "network_mode": "none", "network_disabled": true,
            "mem_swappiness": 10}),
        json!({"nano_cpus": 500000000, "network_mode": "host", "publish_all_ports": true, "ports": {"8080/tcp": 18080}}),
    ];
    for hc in cases {
        let settings = hostconfig::parse("test", hc.as_object().unwrap()).unwrap();
        let contract = container::Contract {
            image,
            command: Some(vec!["true".into()]),
            env: Default::default(),
            proxy_env: Vec::new(),
            tmp: "/tmp",
            uid: 0,
            gid: 0,
            realm: REALM,
            worker: "core",
            owner: "o",
            job_id: "j",
            run_id: "r",
            network: None,
        };
        let name = format!("lava-hc-{}", unique());
        d.create_container(
            Some(
                bollard::query_parameters::CreateContainerOptionsBuilder::default()
                    .name(&name)
                    .build(),
            ),
            container::body(&contract, &settings),
        )
        .await
        .unwrap();
        let got = d.inspect_container(&name, None).await.unwrap();
        lava_build::job::run::remove(&d, &name).await;
        let (c, h) = (got.config.unwrap(), got.host_config.unwrap());
        let v = |k: &str| hc.get(k);
        if v("cap_add").is_some() {
            assert!(
                h.cap_add.as_ref().unwrap()[0].ends_with("NET_ADMIN"),
                "{:?}",
                h.cap_add
            );
            assert!(
                h.cap_drop.as_ref().unwrap()[0].ends_with("CHOWN"),
                "{:?}",
                h.cap_drop
            );
            assert_eq!(
                (h.cpu_shares, h.cpu_period, h.cpu_quota),
                (Some(512), Some(100000), Some(50000))
            );
            assert_eq!(
                (h.cpuset_cpus.as_deref(), h.cpuset_mems.as_deref()),
                (Some("0"), Some("0"))
            );
            assert_eq!(h.dns, Some(vec!["10.0.0.2".to_string()]));
            assert_eq!(h.dns_options, Some(vec!["ndots:2".to_string()]));
            assert_eq!(h.dns_search, Some(vec!["example.com".to_string()]));
            assert_eq!(c.domainname.as_deref(), Some("example.com"));
            assert_eq!(h.extra_hosts, Some(vec!["db:10.1.2.3".to_string()]));
            assert_eq!(c.hostname.as_deref(), Some("box"));
            assert_eq!(h.group_add, Some(vec!["4343".to_string()]));
            assert_eq!(
                (h.memory, h.memory_swap, h.shm_size),
                (Some(64 << 20), Some(128 << 20), Some(32 << 20))
            );
            assert_eq!(c.user.as_deref(), Some("4242"));
            assert_eq!(c.working_dir.as_deref(), Some("/work"));
            assert_eq!(h.network_mode.as_deref(), Some("none"));
            assert_eq!(c.network_disabled, Some(true));
            assert_eq!(h.memory_swappiness, Some(10));
        } else {
            assert_eq!(h.nano_cpus, Some(500000000));
            assert_eq!(h.network_mode.as_deref(), Some("host"));
            assert_eq!(h.publish_all_ports, Some(true));
            let b = h.port_bindings.unwrap();
            assert_eq!(
                b["8080/tcp"].as_ref().unwrap()[0].host_port.as_deref(),
                Some("18080")
            );
            assert!(c.exposed_ports.unwrap().contains(&"8080/tcp".to_string()));
        }
    }
}

/// Issue 24: a job in the lab OS with lava installed from PyPI, run as uid 4242 through
/// `job run`, runs `lava-worker --version` and imports `lava` with PYTHONPATH=/usr/local/lib/lava.
#[test]
fn a_job_in_the_lab_lava_image_runs_lava_as_a_foreign_uid() {
    let lab = crate::lab::lab_image();
    let version = env!("CARGO_PKG_VERSION");
    let maker = format!("lava-job-lab-{}", unique());
    // pip reaches PyPI through the host network (the lab engines have no bridge); lava and its
    // dependencies exactly as scripts/deps/lava.txt pins them, read from standard input.
    let lock = std::fs::File::open(crate::common::root().join("scripts/deps/lava.txt")).unwrap();
    let install = Command::new("docker")
        .env("DOCKER_HOST", docker_host())
        .args([
            "run",
            "-i",
            "--name",
            &maker,
            "--network",
            "host",
            &lab,
            "sh",
            "-c",
            "python3 -m pip install -q --no-cache-dir --break-system-packages --no-deps --require-hashes -r /dev/stdin",
        ])
        .stdin(lock)
        .output()
        .unwrap();
    let image = format!("{}/lava-test/lab-lava:{}", registry(), unique());
    let committed = install
        .status
        .success()
        .then(|| docker(&["commit", &maker, &image]));
    docker(&["rm", "-f", &maker]);
    assert!(
        committed.is_some(),
        "pip install scripts/deps/lava.txt (jinlava=={version}) in {lab}: {}",
        text(&install)
    );
    docker(&["push", "-q", &image]);

    let fx = Fx::public();
    fx.job_of(&image, json!({
        "command": "/bin/sh -c",
        "args": ["lava-worker --version && python3 -c 'import lava, os; print(\"imported\", lava.__name__, os.getuid(), os.getgid(), os.environ[\"PYTHONPATH\"])'"],
        "env": {"PYTHONPATH": "/usr/local/lib/lava"},
        "host_config": {"user": "4242:4242", "working_dir": "/"},
        "timeout": "2m",
    }));
    let o = fx.run(&["--dev"]);
    docker(&["rmi", &image]);
    assert!(o.status.success(), "{}", text(&o));
    let lines = dev_lines(&o, &fx.job_id);
    assert!(
        lines.len() == 2 && lines[0].starts_with(&format!("{version} ")),
        "lava-worker --version: {lines:?}"
    );
    assert_eq!(lines[1], "imported lava 4242 4242 /usr/local/lib/lava");
}

/// The connection's `server` on an engine behind TLS (--tlsverify): tcp:// with `tls` (the default)
/// is TLS with DOCKER_CERT_PATH's client certificate; `tls: false` on the same engine fails.
#[test]
fn a_connection_server_behind_tls_runs_the_job_there() {
    let engine = crate::images_engine::TlsEngine::start();
    let conns = |tls: bool| {
        json!([{"type": "docker", "conn_id": "docker/tls", "enabled": true,
        "server": engine.endpoint, "tls": tls}])
    };
    let fx = Fx::new(conns(true));
    fx.job(json!({"command": "/bin/sh -c 'echo on the tls engine'", "docker": "docker/tls"}));
    let run = |fx: &Fx| {
        fx.cmd()
            .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
            .env("DOCKER_CERT_PATH", &engine.client)
            .arg("--dev")
            .output()
            .unwrap()
    };
    let o = run(&fx);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(dev_lines(&o, &fx.job_id), ["on the tls engine"]);
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains(&engine.endpoint.replacen("tcp://", "https://", 1))
    );
    let fx = Fx::new(conns(false));
    fx.job(json!({"command": "true", "docker": "docker/tls"}));
    let o = run(&fx);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("docker connection docker/tls"),
        "{}",
        text(&o)
    );
}

/// `images check --as-job`: each check runs as a docker job (LAVA_TMP shared with the host as the
/// working directory, the worker's uid); the same check without --as-job fails, as it runs in /.
#[test]
fn image_checks_run_as_a_docker_job_with_as_job() {
    let fx = crate::images::fixture();
    std::fs::write(
        fx.path().join("checks.yaml"),
        "base:\n  - name: as a job\n    run: 'test -n \"$LAVA_TMP\" && test \"$(pwd)\" = \"$LAVA_TMP\" && touch \"$LAVA_TMP/w\" && echo \"job uid $(id -u)\"'\n    expect: job uid\n",
    )
    .unwrap();
    let tag = unique();
    let args = [
        "--os",
        "tiny",
        "--type",
        "base",
        "--platform",
        "linux/amd64",
        "--tag",
        &tag,
    ];
    crate::common::ok(crate::images::images(fx.path(), &args));
    let check = |extra: &[&str]| {
        let mut all: Vec<&str> = args.to_vec();
        all.extend_from_slice(&["--output", "json"]);
        all.extend_from_slice(extra);
        let o = crate::images::check(fx.path(), &all);
        let v: Value =
            serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o)));
        (o, v[0].clone())
    };
    let (o, row) = check(&["--as-job"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(row["passed"], true, "{row}");
    let euid = nix::unistd::geteuid().as_raw();
    assert_eq!(row["output"], format!("job uid {euid}"));
    let (o, row) = check(&[]);
    assert_eq!(row["passed"], false, "{row} {}", text(&o));
}

/// The connection's `timeout` bounds the engine's API calls: an engine that accepts the
/// connection and never answers fails the run naming the timeout.
#[test]
fn the_connection_timeout_bounds_api_calls() {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    let fx = Fx::new(
        json!([{"type": "docker", "conn_id": "docker/slow", "enabled": true,
        "server": format!("tcp://{addr}"), "tls": false, "timeout": 1}]),
    );
    fx.job(json!({"command": "true", "docker": "docker/slow"}));
    let o = fx.run(&[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("docker connection docker/slow") && err.contains("timeout (1s)"),
        "{err}"
    );
    drop(silent);
}
