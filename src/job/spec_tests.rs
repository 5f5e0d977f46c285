//! Job, realm and connection specs: the seed's examples read, and every refusal names its field.
use super::*;
use crate::job::connection::{Connection, RegistryKind, connection};
use serde_json::json;

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
    assert_eq!(a.timeout, Duration::from_secs(10));
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

#[test]
fn timeouts_are_nn_s_m_or_h() {
    assert_eq!(parse_timeout("30s"), Some(Duration::from_secs(30)));
    assert_eq!(parse_timeout("10m"), Some(Duration::from_secs(600)));
    assert_eq!(parse_timeout("2h"), Some(Duration::from_secs(7200)));
    for bad in ["10", "10x", "m", "0s", "-1m", "1.5m", "10 m"] {
        assert_eq!(parse_timeout(bad), None, "{bad}");
    }
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
            &["parameters.timeout", "\"10x\"", "nnX"],
        ),
        (
            with(&["parameters", "args"], json!("-c")),
            &["parameters.args", "a list of strings"],
        ),
        (
            with(&["parameters", "jinja"], json!("no")),
            &["parameters.jinja", "true or false"],
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
            with(&["parameters", "connections"], json!({"db": "pg"})),
            &["parameters.connections", "connection manager"],
        ),
        (
            with(&["colour"], json!(1)),
            &["unknown key \"colour\" under the job spec"],
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
        (
            json!({"type": "docker", "conn_id": "c", "enabled": true, "hostname": "x"}),
            &["unknown key \"hostname\""][..],
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
    let r = realm("realm.json", "prod", &obj(json!({"realm": "prod", "s3_temp": "s3://b/tmp/", "s3_payloads": "s3://b/payloads", "s3_key": "alias/k", "docker": "d", "other": 1}))).unwrap();
    assert_eq!(r.s3_temp, "s3://b/tmp");
    assert_eq!(r.s3_key.as_deref(), Some("alias/k"));
    let e = realm(
        "realm.json",
        "prod",
        &obj(json!({"s3_payloads": "s3://b/p"})),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("s3_temp"), "{e}");
    let e = realm(
        "realm.json",
        "prod",
        &obj(json!({"s3_temp": "/tmp", "s3_payloads": "s3://b/p"})),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("s3_temp") && e.contains("\"/tmp\""), "{e}");
    let e = realm(
        "realm.json",
        "prod",
        &obj(json!({"realm": "dev", "s3_temp": "s3://b", "s3_payloads": "s3://b"})),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("\"dev\""), "{e}");
}
