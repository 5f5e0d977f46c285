//! `lava-build job run` against the lava 8.3.0 worker's behaviour (issue 31), on the real engine
//! and registries with moto: credentials only to their own registry, what the worker skips, the
//! dispatch-time parameters, globals and run_id, the environment's order, Python's command
//! splitting, signals, huge timeouts and the log object's encryption.
use crate::images::unique;
use crate::images_registry::AuthRegistry;
use crate::job::{
    BUCKET, Fx, REALM, containers_labelled, dev_lines, docker, import_busybox, json_of, s3,
    ssm_put, text,
};
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

/// Pushes `image` to the registry at `addr` with a login of its own (a throw-away docker config).
fn push_with_login(addr: &str, user: &str, password: &str, image: &str) {
    import_busybox(image);
    let config = tempfile::tempdir().unwrap();
    let cli = |args: &[&str], input: Option<&str>| {
        let mut c = Command::new("docker")
            .env("DOCKER_HOST", crate::images::docker_host())
            .env("DOCKER_CONFIG", config.path())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        if let Some(i) = input {
            std::io::Write::write_all(&mut c.stdin.take().unwrap(), i.as_bytes()).unwrap();
        }
        drop(c.stdin.take());
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "docker {args:?}: {}", text(&o));
    };
    cli(
        &["login", "-u", user, "--password-stdin", addr],
        Some(password),
    );
    cli(&["push", "-q", image], None);
    docker(&["rmi", image]);
}

/// Requests the registry served to an authenticated user, from its log.
fn authenticated(reg: &AuthRegistry) -> usize {
    reg.log().matches("msg=\"authorized request\"").count()
}

/// Two registries with the same user and password: the connection's credentials, sent with a
/// pull from the other one, would open it. They must not: the worker's docker client sends a
/// registry's credentials only with a pull from that registry.
#[test]
fn registry_credentials_go_only_to_the_connections_registry() {
    let password = format!("pw-{}", unique());
    let a = AuthRegistry::start("lava", &password);
    let b = AuthRegistry::start("lava", &password);
    let on_a = format!("{}/lava-test/on-a:{}", a.addr, unique());
    let on_b = format!("{}/lava-test/on-b:{}", b.addr, unique());
    push_with_login(&a.addr, "lava", &password, &on_a);
    push_with_login(&b.addr, "lava", &password, &on_b);
    let ssm_name = format!("/lava/{REALM}/registry/{}", unique());
    ssm_put(&ssm_name, &password);
    let fx = Fx::new(
        json!([{"type": "docker", "conn_id": "docker/a", "enabled": true,
        "registry": a.addr, "user": "lava", "password": ssm_name}]),
    );

    let (before_a, before_b) = (authenticated(&a), authenticated(&b));
    fx.job_of(&on_b, json!({"command": "true", "docker": "docker/a"}));
    let o = fx.run(&[]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "B refuses a pull without credentials: {}",
        text(&o)
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!("pulling {on_b} from {}", b.addr)),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "credentials of connection docker/a (for {}) are not sent",
            a.addr
        )),
        "{err}"
    );
    assert_eq!(
        authenticated(&b),
        before_b,
        "B got no credentials: {}",
        b.log()
    );
    assert_eq!(authenticated(&a), before_a, "A was not asked");

    fx.job_of(
        &on_a,
        json!({"command": "/bin/sh -c 'echo from-a'", "docker": "docker/a"}),
    );
    let o = fx.run(&["--dev"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(dev_lines(&o, &fx.job_id), ["from-a"]);
    assert!(authenticated(&a) > before_a, "A got the credentials");
    assert_eq!(authenticated(&b), before_b);
}

/// `enabled` false or missing: skipped as the worker reports it ("Job not enabled (static)"),
/// nothing run; text is rendered and must read true; `--run-disabled` runs it anyway.
#[test]
fn a_job_the_worker_skips_is_reported_skipped_unless_run_disabled() {
    let fx = Fx::public();
    let write = |enabled: Option<serde_json::Value>| {
        let mut j = json!({"job_id": fx.job_id, "type": "docker", "owner": "o@x", "worker": "core",
            "payload": crate::job::public_image(), "parameters": {"command": "/bin/sh -c 'echo ran'"}});
        if let Some(e) = enabled {
            j["enabled"] = e;
        }
        std::fs::write(fx.path("job.json"), j.to_string()).unwrap();
    };
    for enabled in [Some(json!(false)), None] {
        write(enabled.clone());
        let o = fx.run(&["--dev", "--output", "json"]);
        assert!(o.status.success(), "{}", text(&o));
        let v = json_of(&o);
        assert_eq!(v["status"], "skipped", "{enabled:?}");
        assert_eq!(v["error"], "Job not enabled (static)");
        assert!(
            dev_lines(&o, &fx.job_id).is_empty(),
            "nothing ran: {}",
            text(&o)
        );
        let o = fx.run(&["--dev", "--run-disabled"]);
        assert!(o.status.success(), "{}", text(&o));
        assert_eq!(dev_lines(&o, &fx.job_id), ["ran"]);
    }
    write(Some(json!("{{ globals.go }}")));
    let o = fx.run(&["--dev", "--output", "json"]);
    assert_eq!(json_of(&o)["error"], "Job not enabled (enabled=\"\")");
    let o = fx.run(&["--dev", "--global", "go= True "]);
    assert_eq!(dev_lines(&o, &fx.job_id), ["ran"], "{}", text(&o));
}

/// lava-dispatcher's `-p`/`-g` replace the job's parameters and globals shallowly (`env.B=2`
/// replaces the whole env); `--run-id` pins the run's id, hostname and S3 area.
#[test]
fn dispatch_parameters_globals_and_the_run_id() {
    let fx = Fx::public();
    fx.job(
        json!({"command": "/bin/sh -c 'echo \"$A|$B|$LAVA_RUN_ID|$(hostname)\"'",
        "env": {"A": "{{ globals.team }}"}}),
    );
    let o = fx.run(&["--dev", "--run-id", "fixed-1"]);
    assert_eq!(
        dev_lines(&o, &fx.job_id),
        ["data||fixed-1|lava-lt-core-fixed-1"],
        "{}",
        text(&o)
    );
    let o = fx.run(&["--dev", "-g", "team=ops"]);
    assert!(
        dev_lines(&o, &fx.job_id)[0].starts_with("ops||"),
        "{}",
        text(&o)
    );
    let o = fx.run(&["--dev", "-p", "env.B={{ globals.team }}", "-g", "team=ops"]);
    assert!(
        dev_lines(&o, &fx.job_id)[0].starts_with("|ops|"),
        "{}",
        text(&o)
    );
    let o = fx.run(&["--dev", "-p", "timeout=x"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = fx.run(&["--dev", "-p", "env=1", "-p", "env.B=2"]);
    assert_eq!(o.status.code(), Some(2), "path conflict: {}", text(&o));
}

/// The job's `env` first, the LAVA_* values over it; the runner's own LAVA_* variables under
/// both; `jinja: false` drops `env`; the command is split as Python's shlex.split splits.
#[test]
fn the_environment_in_the_workers_order_and_pythons_command_splitting() {
    let fx = Fx::public();
    let cmd =
        "/bin/sh -c 'echo \"$LAVA_JOB_ID|$MINE|$LAVA_EXTRA|$LAVA_TMP\"; echo $0 $1' #x \"a\\$b\"";
    fx.job(
        json!({"command": cmd, "env": {"LAVA_JOB_ID": "spoofed", "LAVA_TMP": "/elsewhere",
        "MINE": "{{ job.owner }}"}}),
    );
    let o = fx
        .cmd()
        .env("LAVA_EXTRA", "runner")
        .arg("--dev")
        .output()
        .unwrap();
    let lines = dev_lines(&o, &fx.job_id);
    assert_eq!(lines.len(), 2, "{}", text(&o));
    let f: Vec<&str> = lines[0].split('|').collect();
    assert_eq!(
        f[..3],
        [fx.job_id.as_str(), "tester@example.com", "runner"],
        "{}",
        lines[0]
    );
    assert!(
        f[3].starts_with('/') && f[3] != "/elsewhere",
        "{}",
        lines[0]
    );
    assert_eq!(lines[1], "#x a\\$b");
    fx.job(json!({"command": cmd, "jinja": false, "env": {"MINE": "x"}}));
    let o = fx.run(&["--dev"]);
    assert!(
        dev_lines(&o, &fx.job_id)[0].starts_with(&format!("{}||", fx.job_id)),
        "{}",
        text(&o)
    );
}

/// SIGTERM and SIGHUP are Ctrl-C: the container is killed and removed, the temporary folder
/// removed, the run fails.
#[test]
fn sigterm_and_sighup_remove_the_container_and_the_temporary_folder() {
    for sig in [
        nix::sys::signal::Signal::SIGTERM,
        nix::sys::signal::Signal::SIGHUP,
    ] {
        let fx = Fx::public();
        fx.job(
            json!({"command": "/bin/sh -c 'echo ready $LAVA_TMP; while true; do sleep 1; done'"}),
        );
        let mut child = fx
            .cmd()
            .arg("--dev")
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let mut err = BufReader::new(child.stderr.take().unwrap());
        let ready = format!("[{}] ready ", fx.job_id);
        let tmp = loop {
            let mut l = String::new();
            assert!(err.read_line(&mut l).unwrap() > 0, "the run ended early");
            if let Some(t) = l.trim_end().strip_prefix(&ready) {
                break t.to_string();
            }
        };
        assert!(std::path::Path::new(&tmp).is_dir());
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), sig).unwrap();
        let status = child.wait().unwrap();
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut err, &mut rest).unwrap();
        assert_eq!(status.code(), Some(1), "{sig}: {rest}");
        assert!(rest.contains(&format!("interrupted ({sig})")), "{rest}");
        assert_eq!(
            containers_labelled("lava.job_id", &fx.job_id),
            "",
            "container removed"
        );
        assert!(!std::path::Path::new(&tmp).exists(), "{tmp} removed");
    }
}

/// A huge timeout runs (no overflow); without the realm's s3_key the logs are SSE AES256.
#[tokio::test]
async fn huge_timeouts_run_and_logs_without_s3_key_are_aes256() {
    let s3 = s3().await;
    let fx = Fx::public();
    std::fs::write(
        fx.path("realm.json"),
        json!({"realm": REALM, "s3_temp": format!("s3://{BUCKET}/tmp"),
            "s3_payloads": format!("s3://{BUCKET}/payloads"), "docker": "docker/public"})
        .to_string(),
    )
    .unwrap();
    fx.job(json!({"command": "/bin/sh -c 'echo logged'", "timeout": "1e300"}));
    let o = fx.run(&["--output", "json"]);
    assert!(o.status.success(), "{}", text(&o));
    let v = json_of(&o);
    assert_eq!(v["timeout"], "1e+300");
    let key = format!("tmp/{}/{}/logs", fx.job_id, v["run_id"].as_str().unwrap());
    let obj = s3
        .get_object()
        .bucket(BUCKET)
        .key(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(
        obj.server_side_encryption(),
        Some(&aws_sdk_s3::types::ServerSideEncryption::Aes256)
    );
    let body = obj.body.collect().await.unwrap().into_bytes();
    assert_eq!(&body[..], b"logged\n");
}

/// A connection from --connections-file (seed 000): the container runs the executable written
/// into LAVA_TMP and gets what it serves; the folder is the worker's (`conn.XXXXXXXX`, 0700, the
/// script 0700) and goes with the temporary area.
#[test]
fn a_generic_connection_from_a_file_is_used_inside_the_container() {
    use std::os::unix::fs::PermissionsExt;
    let fx = Fx::new(
        json!([{"type": "docker", "conn_id": "docker/public", "enabled": true},
        {"type": "generic", "conn_id": "cfg/app", "enabled": true, "owner": "o",
         "attributes": {"user": "alice", "port": 5432}}]),
    );
    fx.job(json!({"command": "/bin/sh -c 'echo $LAVA_CONNID_CFG $(sh $LAVA_CONN_CFG user):$(sh $LAVA_CONN_CFG port)'",
        "connections": {"cfg": "cfg/app"}}));
    let o = fx.run(&["--dev", "--keep-tmp", "--output", "json"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(dev_lines(&o, &fx.job_id), vec!["cfg/app alice:5432"]);
    let tmp = std::path::PathBuf::from(json_of(&o)["tmp"].as_str().unwrap());
    let dirs: Vec<_> = std::fs::read_dir(&tmp)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("conn.")
        })
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(dirs[0].file_name().unwrap().len(), "conn.".len() + 8);
    assert_eq!(mode(&dirs[0]), 0o700);
    assert_eq!(mode(&dirs[0].join("get-attr-value")), 0o700);
    assert_eq!(
        std::fs::read_to_string(dirs[0].join("values/port")).unwrap(),
        "5432"
    );
    let _ = std::fs::remove_dir_all(tmp.parent().unwrap());
}
