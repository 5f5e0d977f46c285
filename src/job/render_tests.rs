//! Command lexing, jinja on and off, the context's names, and the LAVA_* environment.
use super::*;
use crate::job::spec;
use serde_json::json;

fn job(params: Value) -> Job {
    let v = json!({"job_id": "demo/j", "owner": "me@x", "type": "docker", "worker": "core",
        "payload": "lava/demo:1", "globals": {"g": "G"}, "parameters": params});
    spec::job("job.json", v.as_object().unwrap()).unwrap()
}

fn time(text: &str) -> crate::job::time::TemplateTime {
    crate::job::time::TemplateTime(
        chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").unwrap(),
    )
}

fn ctx() -> RunContext {
    let realm = json!({"realm": "prod", "s3_temp": "s3://t/tmp", "s3_payloads": "s3://p/pl", "s3_key": "alias/k"});
    RunContext {
        realm: spec::realm("realm.json", "prod", realm.as_object().unwrap()).unwrap(),
        worker: "core".into(),
        run_id: "r-1".into(),
        start: time("2026-01-02 03:04:05"),
        ustart: time("2026-01-01 16:04:05"),
        state: serde_json::Map::from_iter([("s1".to_string(), json!("current"))]),
    }
}

#[test]
fn command_is_lexed_then_args_appended_then_each_rendered() {
    let j = job(
        json!({"command": "/bin/sh -c 'echo \"{{vars.a}} b\"'", "args": ["{{ job.run_id }}", "{{realm.realm}}"],
        "vars": {"a": "A"}}),
    );
    let (cmd, _) = command_and_env(&j, &ctx(), "job.json").unwrap();
    assert_eq!(
        cmd.unwrap(),
        ["/bin/sh", "-c", "echo \"A b\"", "r-1", "prod"]
    );
}

#[test]
fn every_context_name_renders() {
    let j = job(json!({"command": "x", "env": {
        "G": "{{globals.g}}", "J": "{{job.job_id}} {{job.worker}} {{job.realm}}", "R": "{{realm.s3_temp}}",
        "S": "{{start}}", "U": "{{ustart}}", "D": "{{ ustart.strftime('%Y/%m/%d') }}", "T": "{{state.s1}}", "V": "{{vars.v}}"}, "vars": {"v": 5}}));
    let (_, env) = command_and_env(&j, &ctx(), "job.json").unwrap();
    assert_eq!(env["G"], "G");
    assert_eq!(env["J"], "demo/j core prod");
    assert_eq!(env["R"], "s3://t/tmp");
    assert_eq!(env["S"], "2026-01-02 03:04:05.000000");
    assert_eq!(env["U"], "2026-01-01 16:04:05.000000");
    assert_eq!(env["D"], "2026/01/01");
    assert_eq!(env["T"], "current");
    assert_eq!(env["V"], "5");
}

#[test]
fn jinja_false_leaves_the_text_alone() {
    let j = job(
        json!({"command": "echo {{vars.a}}", "jinja": false, "env": {"E": "{{vars.a}}"}, "vars": {"a": "A"}}),
    );
    let (cmd, env) = command_and_env(&j, &ctx(), "job.json").unwrap();
    assert_eq!(cmd.unwrap(), ["echo", "{{vars.a}}"]);
    assert_eq!(env["E"], "{{vars.a}}");
}

#[test]
fn no_command_is_the_entry_point() {
    let j = job(json!({"args": ["ignored"]}));
    assert_eq!(command_and_env(&j, &ctx(), "job.json").unwrap().0, None);
}

#[test]
fn template_and_lexing_errors_name_the_argument_or_variable() {
    let e = command_and_env(
        &job(json!({"command": "echo {{vars.a"})),
        &ctx(),
        "job.json",
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.starts_with("job.json: argument 1 of the command: invalid value \"{{vars.a\""),
        "{e}"
    );
    let e = command_and_env(
        &job(json!({"command": "x", "env": {"E": "{% if %}"}})),
        &ctx(),
        "job.json",
    )
    .unwrap_err()
    .to_string();
    assert!(e.starts_with("job.json: parameters.env.E"), "{e}");
    let e = command_and_env(&job(json!({"command": "echo 'open"})), &ctx(), "job.json")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("parameters.command") && e.contains("balanced quotes"),
        "{e}"
    );
}

#[test]
fn the_lava_environment_is_seed_001s() {
    let j = job(json!({"command": "x", "env": {"MINE": "1"}}));
    let e = environment(&j, &ctx(), "/tmp/lava-job-x", &j.env);
    let want = [
        ("LAVA_JOB_ID", "demo/j"),
        ("LAVA_OWNER", "me@x"),
        ("LAVA_REALM", "prod"),
        ("LAVA_RUN_ID", "r-1"),
        ("LAVA_S3_KEY", "alias/k"),
        ("LAVA_S3_PAYLOAD", "s3://p/pl/lava/demo:1"),
        ("LAVA_S3_TMP", "s3://t/tmp/demo/j/r-1"),
        ("LAVA_TMP", "/tmp/lava-job-x"),
        ("LAVA_WORKER", "core"),
        ("MINE", "1"),
    ];
    assert_eq!(e.len(), want.len(), "{e:?}");
    for (k, v) in want {
        assert_eq!(e[k], v, "{k}");
    }
}
