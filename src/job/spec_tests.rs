//! Job, realm and connection specs: the seed's examples read, and every refusal names its field.
use super::*;
use crate::job::connection::{Connection, RegistryKind, connection};
use serde_json::json;
use std::time::Duration;

fn obj(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

/// The seed 001 examples: all three read, with the same meaning.
#[test]
fn the_seed_examples_are_valid() {
    let a = job("a", &obj(json!({
        "description": "Run a simple command in a container", "dispatcher": "Sydney",
        "enabled": true, "job_id": "demo/simple-docker", "owner": "demo@somewhere.com",
        "parameters": {"args": ["-c", "date"], "command": "/bin/sh", "docker": "ecr", "timeout": "10s"},
        "payload": "jin-gizmo/lava/amzn2023/base", "type": "docker", "worker": "core"
    }))).unwrap();
    assert_eq!(
        a.payload,
        Payload {
            repository: "jin-gizmo/lava/amzn2023/base".into(),
            tag: "latest".into()
        }
    );
    assert_eq!(a.args, ["-c", "date"]);
    assert_eq!(a.timeout, Some(10.0));
    assert_eq!(a.docker.as_deref(), Some("ecr"));
    assert!(a.jinja);
    let c = job("c", &obj(json!({
        "job_id": "demo/simple-docker", "owner": "demo@somewhere.com", "type": "docker", "worker": "core",
        "parameters": {"command": "/bin/sh -c {{vars.cmd}}", "docker": "ecr", "timeout": "10s", "vars": {"cmd": "date"}},
        "payload": "dist/lava/centos8/full:latest"
    }))).unwrap();
    assert_eq!(c.payload.tag, "latest");
    assert_eq!(c.vars["cmd"], "date");
}

#[test]
fn payloads_parse_with_registry_ports() {
    let p = |s| Payload::parse(s);
    assert_eq!(p("a/b").unwrap().reference(), "a/b:latest");
    assert_eq!(p("a/b:1.2").unwrap().reference(), "a/b:1.2");
    assert_eq!(
        p("127.0.0.1:5000/a/b").unwrap().reference(),
        "127.0.0.1:5000/a/b:latest"
    );
    assert_eq!(
        p("127.0.0.1:5000/a:t").unwrap().registry(),
        Some("127.0.0.1:5000")
    );
    assert_eq!(p("ghcr.io/x/y:t").unwrap().registry(), Some("ghcr.io"));
    assert_eq!(p("x/y:t").unwrap().registry(), None);
    for bad in [
        "a:b:c",
        "127.0.0.1:5000/a:b:c",
        "a b",
        "",
        "a:",
        "host:port/x",
        "a@sha256:00",
    ] {
        assert!(p(bad).is_err(), "{bad}");
    }
}

fn realm_with(config: Value) -> Realm {
    realm(
        "realm.json",
        "prod",
        &obj(json!({"s3_temp": "s3://bkt/t", "s3_payloads": "s3://bkt/p", "config": config})),
    )
    .unwrap()
}

/// The worker's order: the job's timeout, LAVA_DOCKER_TIMEOUT, the realm's config, 10m.
#[test]
fn timeouts_are_lava_durations_with_the_workers_defaults() {
    let j = |t: Option<Value>| {
        let mut b = base();
        if let Some(t) = t {
            b["parameters"]["timeout"] = t;
        }
        job("j", &obj(b)).unwrap()
    };
    let none = realm_with(json!({}));
    let cfg = realm_with(json!({"docker_timeout": "1.5m"}));
    let secs = |job: &Job, env: Option<&str>, r: &Realm| resolve_timeout(job, env, r).unwrap().0;
    assert_eq!(secs(&j(None), None, &none), 600.0);
    assert_eq!(secs(&j(None), None, &cfg), 90.0);
    assert_eq!(secs(&j(None), Some("2d"), &cfg), 172_800.0);
    assert_eq!(secs(&j(Some(json!("600"))), Some("2d"), &cfg), 600.0);
    assert_eq!(secs(&j(Some(json!(5))), None, &none), 5.0);
    assert_eq!(secs(&j(Some(json!("1w"))), None, &none), 604_800.0);
    assert_eq!(secs(&j(Some(json!("1e300"))), None, &none), 1e300);
    let e = resolve_timeout(&j(None), Some("soon"), &none)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("LAVA_DOCKER_TIMEOUT") && e.contains("\"soon\""),
        "{e}"
    );
    let e = resolve_timeout(&j(None), None, &realm_with(json!({"DOCKER_TIMEOUT": "x"})))
        .unwrap_err()
        .to_string();
    assert!(e.contains("config.docker_timeout"), "{e}");
    for bad in [json!("0"), json!(-5), json!("10x"), json!("inf")] {
        let mut b = base();
        b["parameters"]["timeout"] = bad.clone();
        let e = job("j", &obj(b)).unwrap_err().to_string();
        assert!(
            e.contains("parameters.timeout") && e.contains("lava duration"),
            "{bad}: {e}"
        );
    }
}

/// What the worker only warns about runs here too, with the warning.
#[test]
fn unknown_job_keys_and_a_missing_owner_are_warnings() {
    let mut b = base();
    b.as_object_mut().unwrap().remove("owner");
    b["colour"] = json!(1);
    let j = job("job.json", &obj(b)).unwrap();
    assert_eq!(j.owner, "");
    assert_eq!(j.warnings.len(), 2, "{:?}", j.warnings);
    assert!(j.warnings[0].contains("colour"), "{:?}", j.warnings);
    assert!(j.warnings[1].contains("no owner"), "{:?}", j.warnings);
}

#[test]
fn enabled_args_and_jinja_read_as_the_worker_reads_them() {
    let j = |k: &str, v: Value| {
        let mut b = base();
        b[k] = v;
        job("j", &obj(b)).unwrap()
    };
    assert_eq!(
        job("j", &obj(base())).unwrap().enabled,
        Enabled::Static(false)
    );
    assert_eq!(j("enabled", json!(true)).enabled, Enabled::Static(true));
    assert_eq!(
        j("enabled", json!("{{ 1 }}")).enabled,
        Enabled::Template("{{ 1 }}".into())
    );
    assert_eq!(j("enabled", json!(1)).enabled, Enabled::Other);
    let p = |params: Value| {
        let mut b = base();
        b["parameters"] = params;
        job("j", &obj(b)).unwrap()
    };
    assert_eq!(
        p(json!({"command": "x", "args": ["a", 1, 1.5, true, null]})).args,
        ["a", "1", "1.5", "True", "None"]
    );
    assert!(
        p(json!({"jinja": "false"})).jinja,
        "a non-empty string is true in Python"
    );
    assert!(!p(json!({"jinja": false})).jinja);
    assert_eq!(p(json!({"command": ""})).command, None);
    assert_eq!(
        Payload::parse(&format!("127.0.0.1:5000/a@sha256:{}", "0".repeat(64)))
            .unwrap()
            .reference(),
        format!("127.0.0.1:5000/a@sha256:{}", "0".repeat(64))
    );
}

fn base() -> Value {
    json!({"job_id": "j", "owner": "o", "type": "docker", "worker": "w", "payload": "a/b", "parameters": {}})
}

fn with(path: &[&str], v: Value) -> Map<String, Value> {
    let mut b = base();
    let mut at = &mut b;
    for p in &path[..path.len() - 1] {
        at = at.get_mut(*p).unwrap();
    }
    at.as_object_mut()
        .unwrap()
        .insert(path[path.len() - 1].to_string(), v);
    obj(b)
}

#[test]
fn bad_jobs_are_refused_naming_the_field() {
    let cases: Vec<(Map<String, Value>, &[&str])> = vec![
        (
            with(&["type"], json!("exe")),
            &["job.json: type", "\"exe\"", "docker"],
        ),
        (
            with(&["parameters", "cmd"], json!("x")),
            &["unknown key \"cmd\" under parameters"],
        ),
        (
            with(&["parameters", "timeout"], json!("10x")),
            &["parameters.timeout", "\"10x\"", "lava duration"],
        ),
        (
            with(&["parameters", "args"], json!("-c")),
            &["parameters.args", "a list of strings"],
        ),
        (
            with(&["parameters", "env"], json!({"N": 5})),
            &["parameters.env.N", "a string"],
        ),
        (
            with(&["globals"], json!({"lava_x": 1})),
            &["globals", "lava_x", "reserved"],
        ),
        (
            with(&["parameters", "env"], json!({"A": {"x": 1}})),
            &["parameters.env.A"],
        ),
        (
            with(&["parameters", "host_config"], json!({"privileged": true})),
            &["\"privileged\"", "parameters.host_config"],
        ),
        (
            with(&["payload"], json!("a:b:c")),
            &["payload", "\"a:b:c\"", "repository[:tag]"],
        ),
        (
            with(&["parameters", "connections"], json!({"a-b": "pg"})),
            &["parameters.connections", "\"a-b\"", "labels"],
        ),
        (
            with(&["parameters", "connections"], json!(["pg"])),
            &["parameters.connections", "a map"],
        ),
        (
            with(&["parameters", "connections"], json!({"db": 3})),
            &["parameters.connections.db", "conn_id"],
        ),
    ];
    for (spec, needles) in cases {
        let e = job("job.json", &spec).unwrap_err().to_string();
        for n in needles {
            assert!(e.contains(n), "{n:?} in {e}");
        }
        assert!(!e.contains('\n'), "{e}");
    }
    assert!(
        job("j", &with(&["x-team"], json!("data"))).is_ok(),
        "x- keys are the user's"
    );
}

fn conn(v: Value) -> Result<Connection, ConfigError> {
    connection("conns.json", "prod", &obj(v))
}

#[test]
fn connections_follow_seed_003() {
    let c = conn(
        json!({"type": "docker", "conn_id": "docker/ecr", "enabled": true, "registry": "ecr"}),
    )
    .unwrap();
    assert_eq!(c.registry, RegistryKind::Ecr { account: None });
    assert!(c.tls, "tls defaults to true");
    let c = conn(json!({"type": "docker", "conn_id": "e", "enabled": true, "registry": "ecr:123456789012", "user": "ignored"})).unwrap();
    assert_eq!(
        c.registry,
        RegistryKind::Ecr {
            account: Some("123456789012".into())
        }
    );
    let c = conn(json!({"type": "docker", "conn_id": "docker/public", "enabled": true})).unwrap();
    assert_eq!(c.registry, RegistryKind::Public);
    // What the job framework deploys: keys the connector does not use are ignored, as lava does.
    let c = conn(json!({"type": "DOCKER", "conn_id": "docker/ecr", "enabled": true, "registry": "ecr",
        "owner": "data@example.com", "description": "ECR", "secret_id": "x", "x-lava-chk": "abc", "timeout": "30"}))
    .unwrap();
    assert_eq!(c.registry, RegistryKind::Ecr { account: None });
    assert_eq!(c.timeout, Some(Duration::from_secs(30)));
    let c = conn(
        json!({"type": "docker", "conn_id": "g", "enabled": true, "registry": "ghcr.io",
        "user": "u", "password": "/lava/prod/ghcr/token", "timeout": 30, "tls": false}),
    )
    .unwrap();
    assert_eq!(
        c.registry,
        RegistryKind::Private {
            host: "ghcr.io".into(),
            user: "u".into(),
            password_ssm: "/lava/prod/ghcr/token".into()
        }
    );
    assert_eq!(c.timeout, Some(Duration::from_secs(30)));
    assert!(!c.tls);
}

#[test]
fn bad_connections_are_refused_naming_the_field() {
    for (v, needles) in [
        (
            json!({"type": "docker", "conn_id": "c", "enabled": false}),
            &["conns.json: enabled", "disabled"][..],
        ),
        (json!({"type": "docker", "conn_id": "c"}), &["enabled"][..]),
        (
            json!({"type": "postgres", "conn_id": "c", "enabled": true}),
            &["type", "\"postgres\""][..],
        ),
        (
            json!({"type": "docker", "conn_id": "c", "enabled": true, "registry": "r.io", "user": "u", "password": "/lava/other/p"}),
            &["password", "/lava/other/p", "/lava/prod/"][..],
        ),
        (
            json!({"type": "docker", "conn_id": "c", "enabled": true, "registry": "r.io", "user": "u", "password": "plain-text"}),
            &["password", "\"plain-text\""][..],
        ),
        (
            json!({"type": "docker", "conn_id": "c", "enabled": true, "registry": "r.io", "password": "/lava/prod/p"}),
            &["user"][..],
        ),
        (
            json!({"type": "docker", "conn_id": "c", "enabled": true, "registry": "ecr:12"}),
            &["registry", "ecr:12"][..],
        ),
        (
            json!({"type": "docker", "conn_id": "c", "enabled": true, "timeout": "30s"}),
            &["timeout", "seconds"][..],
        ),
        (
            json!({"type": "docker", "conn_id": "c", "enabled": true, "server": "docker:2375"}),
            &["server", "tcp://"][..],
        ),
    ] {
        let e = conn(v).unwrap_err().to_string();
        for n in needles {
            assert!(e.contains(n), "{n:?} in {e}");
        }
    }
}

#[test]
fn realms_need_their_s3_areas() {
    let r = realm("realm.json", "prod", &obj(json!({"realm": "prod", "s3_temp": "s3://bkt/tmp/", "s3_payloads": "s3://bkt/payloads", "s3_key": "alias/k", "docker": "d", "other": 1}))).unwrap();
    assert_eq!(r.s3_temp, "s3://bkt/tmp");
    assert_eq!(r.s3_key.as_deref(), Some("alias/k"));
    let e = realm(
        "realm.json",
        "prod",
        &obj(json!({"s3_payloads": "s3://bkt/p"})),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("s3_temp"), "{e}");
    let e = realm(
        "realm.json",
        "prod",
        &obj(json!({"s3_temp": "/tmp", "s3_payloads": "s3://bkt/p"})),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("s3_temp") && e.contains("\"/tmp\""), "{e}");
    let e = realm(
        "realm.json",
        "prod",
        &obj(json!({"realm": "dev", "s3_temp": "s3://bkt", "s3_payloads": "s3://bkt"})),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("\"dev\""), "{e}");
}
