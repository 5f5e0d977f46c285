//! The differential suite (issue 31): each case of `tests/fixtures/jobs/cases.json` is run by the
//! real lava 8.3.0 worker (`lava-worker --batch`, the run_id pinned by a raw SQS message) and by
//! `lava-build job run`, against the same tables (moto), engine and registry, each through a
//! recording proxy in front of the engine. Compared: the container-create request (Image, Cmd,
//! Entrypoint, Env as a set, User, GroupAdd, WorkingDir, Hostname, Labels, HostConfig), the pulls
//! and the credentials each carried, the outcome (status, error text, exit status), the log
//! object (content, encryption) and the clean-up. Real lava comes from LAVA_TEST_LAVA (the venv
//! test-services installs).
use crate::common::{moto, root};
use crate::images::{docker_host, registry, unique};
use crate::job::public_image;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};

const REALM: &str = "ld";
const WORKER: &str = "core";
const BUCKET: &str = "lava-diff-tests";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/jobs")
}

/// The lava venv (LAVA_TEST_LAVA); a missing one fails naming it.
pub(crate) fn lava_venv() -> PathBuf {
    let v = std::env::var("LAVA_TEST_LAVA").unwrap_or_else(|_| {
        panic!("LAVA_TEST_LAVA is not set: the differential suite needs real lava 8.3.0 (a venv with jinlava==8.3.0; scripts/test-services.sh installs it)")
    });
    let venv = PathBuf::from(v);
    assert!(
        venv.join("bin/lava-worker").is_file(),
        "LAVA_TEST_LAVA={}: no bin/lava-worker there (pip install jinlava==8.3.0)",
        venv.display()
    );
    venv
}

/// The engine's unix socket path from DOCKER_HOST.
fn engine_socket() -> String {
    docker_host()
        .strip_prefix("unix://")
        .unwrap_or_else(|| {
            panic!(
                "the differential suite needs a unix:// engine, not {}",
                docker_host()
            )
        })
        .to_string()
}

pub(crate) struct Bench {
    venv: PathBuf,
    dir: tempfile::TempDir,
    proxy: Child,
    record: PathBuf,
    _one: std::sync::MutexGuard<'static, ()>,
}

impl Drop for Bench {
    fn drop(&mut self) {
        let _ = self.proxy.kill();
        let _ = self.proxy.wait();
    }
}

fn out_text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The suite's tests share moto's tables and the worker's queue: one at a time.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

impl Bench {
    pub(crate) fn start() -> Bench {
        let guard = ONE_AT_A_TIME
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let venv = lava_venv();
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("engine.sock");
        let record = dir.path().join("requests.jsonl");
        let proxy = Command::new(venv.join("bin/python"))
            .arg(fixtures().join("api_proxy.py"))
            .arg(&sock)
            .arg(engine_socket())
            .arg(&record)
            .spawn()
            .expect("the lava venv's python");
        let up = (0..100).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(50));
            std::os::unix::net::UnixStream::connect(&sock).is_ok()
        });
        assert!(
            up,
            "the recording proxy did not start on {}",
            sock.display()
        );
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        let b = Bench {
            venv,
            dir,
            proxy,
            record,
            _one: guard,
        };
        b.aws(&["setup", REALM, WORKER, BUCKET]);
        b
    }

    fn sock(&self) -> String {
        format!("unix://{}", self.dir.path().join("engine.sock").display())
    }

    /// The environment both runners get: moto, a dead proxy for anything else, the recording
    /// engine socket, a fresh HOME (the worker's `docker login` writes there).
    fn env(&self, c: &mut Command) {
        for (k, _) in
            std::env::vars().filter(|(k, _)| k.starts_with("LAVA_") || k.starts_with("AWS_"))
        {
            c.env_remove(k);
        }
        c.env("AWS_ENDPOINT_URL", moto())
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("HTTP_PROXY", "http://127.0.0.1:9")
            .env("HTTPS_PROXY", "http://127.0.0.1:9")
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env("HOME", self.dir.path().join("home"))
            .env_remove("DOCKER_CONFIG")
            .env("DOCKER_HOST", self.sock())
            .env("LAVA_TMPDIR", self.dir.path().join("lava"));
    }

    fn aws(&self, args: &[&str]) -> String {
        let mut c = Command::new(self.venv.join("bin/python"));
        c.arg(fixtures().join("lava_aws.py")).args(args);
        self.env(&mut c);
        let o = c.output().unwrap();
        assert!(o.status.success(), "lava_aws.py {args:?}: {}", out_text(&o));
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    }

    fn put(&self, table: &str, item: &Value) {
        self.aws(&["put", table, &item.to_string()]);
    }

    /// The requests recorded since the last call.
    fn take_requests(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(&self.record).unwrap_or_default();
        let _ = std::fs::remove_file(&self.record);
        text.lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

/// What one runner did, in comparable form.
#[derive(Debug, PartialEq)]
struct Seen {
    create: Option<Value>,
    pulls: Vec<Value>,
    status: String,
    error: Option<String>,
    exit_status: Option<i64>,
    log: Value,
    left_containers: String,
}

/// The create body's compared fields, with the run's temporary folder written `<TMP>`.
fn create_of(requests: &[Value]) -> Option<Value> {
    let body = requests.iter().find(|r| {
        r["method"] == "POST"
            && r["path"]
                .as_str()
                .is_some_and(|p| p.contains("/containers/create"))
    })?["body"]
        .clone();
    let tmp = body["Env"]
        .as_array()?
        .iter()
        .filter_map(Value::as_str)
        .find_map(|e| e.strip_prefix("LAVA_TMP="))
        .map(String::from)
        .unwrap_or_else(|| "\u{0}".into());
    let text = crate::job_diff_conn::normalise(&body.to_string().replace(&tmp, "<TMP>"));
    let body: Value = serde_json::from_str(&text).unwrap();
    let mut env: Vec<String> = body["Env"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    env.sort();
    let mut host = body["HostConfig"].as_object().cloned().unwrap_or_default();
    // Empty and null HostConfig fields mean the same to the engine.
    host.retain(|_, v| !(v.is_null() || v == &json!([]) || v == &json!({}) || v == &json!("")));
    Some(json!({
        "Image": body["Image"], "Cmd": body["Cmd"], "Entrypoint": body["Entrypoint"], "Env": env,
        "User": body["User"], "WorkingDir": body["WorkingDir"], "Hostname": body["Hostname"],
        "Domainname": body["Domainname"], "Labels": body["Labels"], "HostConfig": Value::Object(host),
        "Volumes": body["Volumes"], "NetworkDisabled": body["NetworkDisabled"],
    }))
}

/// Each pull: the image asked for and the registry its credentials were for (null: none).
fn pulls_of(requests: &[Value]) -> Vec<Value> {
    requests
        .iter()
        .filter(|r| {
            r["method"] == "POST"
                && r["path"]
                    .as_str()
                    .is_some_and(|p| p.contains("/images/create"))
        })
        .map(|r| {
            let path = r["path"].as_str().unwrap_or_default();
            let query = path.split_once('?').map(|x| x.1).unwrap_or_default();
            let mut q: Vec<String> = query
                .split('&')
                .filter(|p| p.starts_with("fromImage=") || p.starts_with("tag="))
                .map(|p| p.replace("%2F", "/").replace("%3A", ":"))
                .collect();
            q.sort();
            json!({"query": q, "auth": r["auth"]["serveraddress"]})
        })
        .collect()
}

/// The log object with the run's LAVA_TMP (from its create request) written `<TMP>`.
fn log_of(b: &Bench, key: &str, requests: &[Value]) -> Value {
    let mut log: Value = serde_json::from_str(&b.aws(&["take", BUCKET, key])).unwrap();
    let tmp = requests
        .iter()
        .find(|r| {
            r["path"]
                .as_str()
                .is_some_and(|p| p.contains("/containers/create"))
        })
        .and_then(|r| r["body"]["Env"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(Value::as_str)
        .find_map(|e| e.strip_prefix("LAVA_TMP=").map(String::from));
    if let (Some(t), Some(body)) = (tmp, log["body"].as_str().map(String::from)) {
        log["body"] = Value::String(crate::job_diff_conn::normalise(&body.replace(&t, "<TMP>")));
    }
    log
}

fn containers_of(run_id: &str) -> String {
    let o = Command::new("docker")
        .env("DOCKER_HOST", docker_host())
        .args([
            "ps",
            "-aq",
            "--filter",
            &format!("label=lava.run_id={run_id}"),
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// `{{PUBLIC}}` (the busybox image in the test registry) and `{{REGISTRY}}` in a case.
fn substitute(v: &Value) -> Value {
    let text = v
        .to_string()
        .replace("@PUBLIC@", public_image())
        .replace("@REGISTRY@", &registry());
    serde_json::from_str(&text).unwrap()
}

fn pairs(v: &Value) -> Vec<(String, String)> {
    v.as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) fn run_case(b: &Bench, case: &Value) -> Result<(), String> {
    let name = case["name"].as_str().unwrap();
    let job_id = format!("diff/{name}-{}", unique());
    let run_id = uuid::Uuid::new_v4().to_string();
    let mut job = json!({"job_id": job_id, "type": "docker", "worker": WORKER, "owner": "diff@example.com",
        "enabled": true, "payload": "@PUBLIC@", "parameters": {"docker": "docker/diff"}});
    for (k, v) in case["job"].as_object().cloned().unwrap_or_default() {
        if v.is_null() {
            job.as_object_mut().unwrap().remove(&k);
        } else {
            job[k] = v;
        }
    }
    if let Some(labels) = case["dump"].as_array() {
        let labels: Vec<&str> = labels.iter().filter_map(Value::as_str).collect();
        job["parameters"]["command"] = json!(crate::job_diff_conn::dump_command(&labels));
    }
    let job = substitute(&job);
    crate::job_diff_conn::prepare(
        case,
        &fixtures(),
        &|c| b.put(&format!("lava.{REALM}.connections"), c),
        &|a| {
            b.aws(a);
        },
    );
    let path = match case["mysql_client"].as_str() {
        Some(f) => crate::job_diff_conn::mysql_stub(b.dir.path(), f),
        None => std::env::var("PATH").unwrap_or_default(),
    };
    b.put(&format!("lava.{REALM}.jobs"), &job);
    let mut conn = json!({"conn_id": "docker/diff", "type": "docker", "enabled": true});
    for (k, v) in case["connection"].as_object().cloned().unwrap_or_default() {
        conn[k] = v;
    }
    b.put(&format!("lava.{REALM}.connections"), &substitute(&conn));
    let mut realm = json!({"realm": REALM, "s3_temp": format!("s3://{BUCKET}/tmp"),
        "s3_payloads": format!("s3://{BUCKET}/payloads")});
    for (k, v) in case["realm"].as_object().cloned().unwrap_or_default() {
        realm[k] = v;
    }
    b.put("lava.realms", &realm);
    crate::job_diff_conn::put_state(case, REALM, &|a| {
        b.aws(a);
    });
    let params = pairs(&case["params"]);
    let globals = pairs(&case["globals"]);

    // The worker.
    let mut msg = json!({"realm": REALM, "worker": WORKER, "job_id": job_id, "run_id": run_id,
        "ts_dispatch": chrono::Utc::now().to_rfc3339()});
    if !params.is_empty() {
        msg["parameters"] = Value::Object(lava_build::job::expand_dotted("-p", &params).unwrap());
    }
    if !globals.is_empty() {
        msg["globals"] = Value::Object(lava_build::job::expand_dotted("-g", &globals).unwrap());
    }
    b.take_requests();
    // The worker's `docker login` state lives in HOME: each case starts without one.
    let _ = std::fs::remove_dir_all(b.dir.path().join("home/.docker"));
    b.aws(&["send", &format!("lava-{REALM}-{WORKER}"), &msg.to_string()]);
    let mut w = Command::new(b.venv.join("bin/python"));
    w.arg(fixtures().join("launch.py"))
        .arg(b.venv.join("bin/lava-worker"))
        .args([
            "-r", REALM, "-w", WORKER, "--batch", "--wait", "1", "--root",
        ]);
    b.env(&mut w);
    w.env("PATH", &path);
    let wo = w.output().unwrap();
    let worker_requests = b.take_requests();
    let event: Value =
        serde_json::from_str(&b.aws(&["events", REALM, &job_id, &run_id])).unwrap_or(Value::Null);
    let info = event["log"]
        .as_array()
        .and_then(|l| l.last())
        .map(|e| e["info"].clone())
        .unwrap_or(Value::Null);
    let log_key = format!("tmp/{job_id}/{run_id}/logs");
    let worker = Seen {
        create: create_of(&worker_requests),
        pulls: pulls_of(&worker_requests),
        status: event["status"].as_str().unwrap_or("none").to_string(),
        // A timeout's own words are in error_data ("Timed out after N seconds").
        error: info["error_data"]["error"]
            .as_str()
            .or(info["error"].as_str())
            .map(String::from)
            .or_else(|| match &info {
                Value::String(s) => Some(s.clone()),
                _ => None,
            }),
        exit_status: info["exit_status"]
            .as_i64()
            .or_else(|| info["error_data"]["exit_status"].as_i64()),
        log: Value::Null,
        left_containers: containers_of(&run_id),
    };
    let (log, worker_masked) =
        crate::job_diff_conn::mask(case, log_of(b, &log_key, &worker_requests));
    let worker = Seen { log, ..worker };

    // lava-build.
    let mut c = Command::new(env!("CARGO_BIN_EXE_lava-build"));
    c.current_dir(root());
    b.env(&mut c);
    c.env("PATH", &path);
    c.args([
        "job", "run", &job_id, "--realm", REALM, "--run-id", &run_id, "--output", "json",
    ]);
    for (k, v) in &params {
        c.arg("--param").arg(format!("{k}={v}"));
    }
    for (k, v) in &globals {
        c.arg("--global").arg(format!("{k}={v}"));
    }
    let o = c.output().unwrap();
    let ours_requests = b.take_requests();
    let v: Value = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
    let ours = Seen {
        create: create_of(&ours_requests),
        pulls: pulls_of(&ours_requests),
        status: v["status"].as_str().unwrap_or("none").to_string(),
        error: v["error"].as_str().map(String::from),
        exit_status: v["exit_status"].as_i64(),
        log: Value::Null,
        left_containers: containers_of(&run_id),
    };
    let (log, ours_masked) = crate::job_diff_conn::mask(case, log_of(b, &log_key, &ours_requests));
    let ours = Seen { log, ..ours };
    let masked = crate::job_diff_conn::masked_diffs(case, &worker_masked, &ours_masked, &|k| {
        b.aws(&[&["whoami"], k].concat())
    });
    let expect_refused = case["refused"].as_bool().unwrap_or(false);
    let mut diffs = Vec::new();
    if let Some(d) = crate::job_diff_conn::deviation_diffs(
        case,
        (
            &worker.status,
            worker.error.as_deref(),
            &worker.pulls,
            &worker_requests,
        ),
        (
            &ours.status,
            ours.error.as_deref(),
            &ours.pulls,
            &ours_requests,
        ),
    ) {
        diffs = d;
        diffs.extend(crate::job_diff_conn::missing_in_log(case, &ours.log));
    } else if expect_refused {
        // A spec the worker fails before creating anything: refused here with exit 2.
        if worker.status != "failed" || worker.create.is_some() {
            diffs.push(format!(
                "the worker did not fail it before creating a container: {worker:?}"
            ));
        }
        if o.status.code() != Some(2)
            || ours_requests.iter().any(|r| {
                r["path"]
                    .as_str()
                    .is_some_and(|p| p.contains("/images/create"))
            })
        {
            diffs.push(format!(
                "not refused with exit 2 before pulling: {}",
                out_text(&o)
            ));
        }
    } else {
        for (what, a, b) in [
            (
                "create",
                format!("{:#}", worker.create.clone().unwrap_or(Value::Null)),
                format!("{:#}", ours.create.clone().unwrap_or(Value::Null)),
            ),
            (
                "pulls",
                format!("{:?}", worker.pulls),
                format!("{:?}", ours.pulls),
            ),
            ("status", worker.status.clone(), ours.status.clone()),
            (
                "error",
                format!("{:?}", worker.error),
                format!("{:?}", ours.error),
            ),
            (
                "exit_status",
                format!("{:?}", worker.exit_status),
                format!("{:?}", ours.exit_status),
            ),
            ("log", worker.log.to_string(), ours.log.to_string()),
            (
                "left containers",
                worker.left_containers.clone(),
                ours.left_containers.clone(),
            ),
        ] {
            if a != b {
                diffs.push(format!("{what}:\n  worker: {a}\n  ours:   {b}"));
            }
        }
        diffs.extend(crate::job_diff_conn::missing_in_log(case, &ours.log));
        diffs.extend(masked);
        if worker.status == "none" {
            diffs.push(format!("the worker recorded no event: {}", out_text(&wo)));
        }
    }
    if diffs.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "case {name}:\n{}\n(lava-build: {})",
            diffs.join("\n"),
            out_text(&o).trim()
        ))
    }
}

#[test]
fn lava_build_runs_every_corpus_case_as_the_lava_worker_does() {
    let b = Bench::start();
    let ssm = format!("/lava/{REALM}/diff/password");
    b.aws(&["ssm", &ssm, "not-used-by-an-open-registry"]);
    let cases: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("cases.json")).unwrap())
            .unwrap();
    assert!(cases.len() >= 25, "the corpus has {} cases", cases.len());
    let only = std::env::var("LAVA_DIFF_CASE").ok();
    let mut failures = Vec::new();
    let picked = |c: &&Value| {
        only.as_deref()
            .is_none_or(|o| o.split(',').any(|n| c["name"] == n))
    };
    let mut ran = 0;
    for case in cases.iter().filter(picked) {
        ran += 1;
        if let Err(e) = run_case(&b, case) {
            failures.push(e);
        }
    }
    assert!(
        ran > 0,
        "LAVA_DIFF_CASE={only:?} names no case of the corpus"
    );
    eprintln!("job_diff: {ran} cases compared");
    assert!(
        failures.is_empty(),
        "{} differences:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// The registry login (README, deliberate deviations): with a registry that wants credentials,
/// the worker logs in through the engine (`POST /auth`) before its pull; `job run` makes no
/// login, and its one pull carries the connection's credentials for that registry only.
#[test]
fn the_worker_logs_in_through_the_engine_and_job_run_sends_credentials_with_its_pull() {
    let b = Bench::start();
    let reg = crate::images_registry::AuthRegistry::start("racer", "race-pw");
    let image = format!("{}/lava-test/job-busybox-auth:{}", reg.addr, unique());
    crate::job::import_busybox(&image);
    let config = tempfile::tempdir().unwrap();
    let cli = |args: &[&str], input: Option<&str>| {
        let mut c = Command::new("docker");
        c.env("DOCKER_HOST", docker_host())
            .arg("--config")
            .arg(config.path())
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null());
        let mut child = c.spawn().expect("docker CLI");
        if let Some(i) = input {
            std::io::Write::write_all(&mut child.stdin.take().unwrap(), i.as_bytes()).unwrap();
        }
        drop(child.stdin.take());
        assert!(child.wait().unwrap().success(), "docker {args:?}");
    };
    cli(
        &["login", "-u", "racer", "--password-stdin", &reg.addr],
        Some("race-pw"),
    );
    cli(&["push", "-q", &image], None);
    b.aws(&["ssm", "/lava/ld/diff/race-pw", "race-pw"]);
    let case = json!({"name": "deviation-login-race",
        "job": {"payload": image, "parameters": {"docker": "docker/diff", "command": "true"}},
        "connection": {"registry": reg.addr, "user": "racer", "password": "/lava/ld/diff/race-pw"},
        "deviation": {"worker_status": "complete", "ours_status": "complete",
            "worker_pulls_at_least": 1, "ours_pulls": 1, "ours_auth": reg.addr, "logins": [1, 0]}});
    if let Err(e) = run_case(&b, &case) {
        panic!("{e}\n(registry log: {})", reg.log());
    }
}

/// The README's deliberate deviations, each shown: the worker's failure and our run
/// (`tests/fixtures/jobs/deviations.json`).
#[test]
fn the_deliberate_deviations_differ_from_the_worker_as_the_readme_says() {
    let b = Bench::start();
    let cases: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("deviations.json")).unwrap())
            .unwrap();
    let failures: Vec<String> = cases.iter().filter_map(|c| run_case(&b, c).err()).collect();
    assert!(!cases.is_empty());
    assert!(
        failures.is_empty(),
        "{} differences:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
