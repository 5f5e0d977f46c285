//! Command splitting before rendering, jinja on and off, lava's context names and Python's way of
//! printing, unsupported names refused by name, and the LAVA_* environment winning.
use super::*;
use crate::job::spec;
use serde_json::json;

fn job(params: Value) -> Job {
    let v = json!({"job_id": "demo/j", "owner": "me@x", "type": "docker", "worker": "core",
        "payload": "lava/demo:1", "globals": {"g": "G"}, "parameters": params, "enabled": true});
    spec::job("job.json", v.as_object().unwrap()).unwrap()
}

fn ctx() -> RunContext {
    let realm = json!({"realm": "prod", "s3_temp": "s3://tbk/tmp", "s3_payloads": "s3://pbk/pl", "s3_key": "alias/k"});
    let start =
        TemplateTime(chrono::DateTime::parse_from_rfc3339("2026-01-02T03:04:05+11:00").unwrap());
    RunContext {
        realm: spec::realm("realm.json", "prod", realm.as_object().unwrap()).unwrap(),
        worker: "core".into(),
        run_id: "r-1".into(),
        start,
        dispatch: start,
        state: serde_json::Map::from_iter([
            ("s1".to_string(), json!("current")),
            ("s2".to_string(), json!({"n": [1, 2]})),
        ]),
    }
}

fn env_of(params: Value) -> Result<BTreeMap<String, String>, ConfigError> {
    command_and_env(&job(params), &ctx(), "job.json").map(|(_, e)| e)
}

fn one(template: &str) -> Result<String, ConfigError> {
    env_of(json!({"env": {"E": template}, "vars": {"v": 5, "f": 1.5, "b": true, "l": ["a", 1], "s": "a b"}}))
        .map(|e| e["E"].clone())
}

#[test]
fn the_command_is_split_before_each_word_is_rendered() {
    let j = job(
        json!({"command": "/bin/sh -c 'echo \"{{vars.a}} b\"' #x", "args": ["{{ job.run_id }}", "{{realm.realm}}"],
        "vars": {"a": "A"}}),
    );
    let (cmd, _) = command_and_env(&j, &ctx(), "job.json").unwrap();
    assert_eq!(
        cmd.unwrap(),
        ["/bin/sh", "-c", "echo \"A b\"", "#x", "r-1", "prod"]
    );
    // As on the worker: a template with spaces is cut in pieces before rendering, and fails.
    let e = command_and_env(
        &job(json!({"command": "echo {{ job.job_id }}"})),
        &ctx(),
        "job.json",
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("word 1 of the command") && e.contains("\"{{\""),
        "{e}"
    );
}

#[test]
fn every_context_name_renders_as_lava_renders_it() {
    let j = job(json!({"command": "x", "env": {
        "G": "{{globals.g}}", "J": "{{job.job_id}} {{job.worker}} {{job.realm}} {{job.run_id}}",
        "R": "{{realm.s3_temp}}", "S": "{{start}}", "U": "{{ustart}}",
        "D": "{{ ustart.strftime('%Y/%m/%d') }}", "T": "{{state.s1}} {{state.s2.n[1]}} {{job.state.s1}}",
        "V": "{{vars.v}}", "L": "{{globals.lava.master_job_id}} {{globals.lava.iteration}} {{globals.lava.parent_ustart}}",
        "TS": "{{job.ts_start}} {{job.ts_dispatch.isoformat()}}", "O": "{{job.max_tries}} {{job.enabled}}"}, "vars": {"v": 5}}));
    let (_, env) = command_and_env(&j, &ctx(), "job.json").unwrap();
    assert_eq!(env["G"], "G");
    assert_eq!(env["J"], "demo/j core prod r-1");
    assert_eq!(env["R"], "s3://tbk/tmp");
    assert_eq!(env["S"], "2026-01-02 03:04:05+11:00");
    assert_eq!(env["U"], "2026-01-01 16:04:05+00:00");
    assert_eq!(env["D"], "2026/01/01");
    assert_eq!(env["T"], "current 2 current");
    assert_eq!(env["V"], "5");
    assert_eq!(env["L"], "demo/j 1 2026-01-01 16:04:05+00:00");
    assert_eq!(
        env["TS"],
        "2026-01-02 03:04:05+11:00 2026-01-02T03:04:05+11:00"
    );
    assert_eq!(env["O"], "0 True");
}

/// Each expectation is what Jinja2 under Python prints for the same template and values.
#[test]
fn python_methods_and_printing() {
    assert_eq!(one("{{ vars.s.upper() }}").unwrap(), "A B");
    assert_eq!(one("{{ vars.s.split() }}").unwrap(), "['a', 'b']");
    assert_eq!(one("{{ vars.s.split()[1] }}").unwrap(), "b");
    assert_eq!(
        one("{{ vars.get('v') }} {{ vars.get('nope', 'd') }}").unwrap(),
        "5 d"
    );
    assert_eq!(
        one("{{ vars.b }} {{ vars.f }} {{ none }} {{ 1.0 }}").unwrap(),
        "True 1.5 None 1.0"
    );
    assert_eq!(one("{{ {'a': 1} }}").unwrap(), "{'a': 1}");
    assert_eq!(one("{{ vars.l }}").unwrap(), "['a', 1]");
    assert_eq!(one("{{ vars.l | tojson }}").unwrap(), "[\"a\", 1]");
    assert_eq!(
        one("{{ utils.s3bucket(realm.s3_temp) }}/{{ utils.s3key(realm.s3_temp) }}").unwrap(),
        "tbk/tmp"
    );
    assert_eq!(one("{{ utils.tojson(vars.l) }}").unwrap(), "[\"a\", 1]");
    assert_eq!(one("{{ utils.uuid() | length }}").unwrap(), "36");
    assert_eq!(
        one("{{ nope }}").unwrap(),
        "",
        "undefined prints empty, as in Jinja2"
    );
}

#[test]
fn what_lava_can_call_and_this_cannot_is_an_error_naming_it() {
    for (t, needle) in [
        ("{{ utils.timedelta(days=1) }}", "utils.timedelta"),
        ("{{ utils.path.join('a', 'b') }}", "utils.path.join"),
        ("{{ utils.re }}", "utils.re"),
        ("{{ start.astimezone() }}", "datetime.astimezone()"),
        ("{{ '%05d' % vars.v }}", "E"),
    ] {
        let e = one(t).unwrap_err().to_string();
        assert!(
            e.contains(needle) && e.contains("parameters.env.E"),
            "{t}: {e}"
        );
        assert!(!e.contains('\n'), "{e}");
    }
}

#[test]
fn jinja_false_drops_env_and_leaves_the_command_alone() {
    let j = job(
        json!({"command": "echo {{vars.a}}", "jinja": false, "env": {"E": "{{vars.a}}"}, "vars": {"a": "A"}}),
    );
    let (cmd, env) = command_and_env(&j, &ctx(), "job.json").unwrap();
    assert_eq!(cmd.unwrap(), ["echo", "{{vars.a}}"]);
    assert!(env.is_empty(), "{env:?}");
}

#[test]
fn no_command_is_the_entry_point() {
    let j = job(json!({"args": ["ignored"]}));
    assert_eq!(command_and_env(&j, &ctx(), "job.json").unwrap().0, None);
}

#[test]
fn template_and_lexing_errors_name_the_word_or_variable() {
    let e = command_and_env(
        &job(json!({"command": "echo {{vars.a"})),
        &ctx(),
        "job.json",
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.starts_with("job.json: word 1 of the command: invalid value \"{{vars.a\""),
        "{e}"
    );
    let e = env_of(json!({"command": "x", "env": {"E": "{% if %}"}}))
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("job.json: parameters.env.E"), "{e}");
    let e = command_and_env(&job(json!({"command": "echo 'open"})), &ctx(), "job.json")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("parameters.command") && e.contains("No closing quotation"),
        "{e}"
    );
}

#[test]
fn the_lava_environment_wins_over_the_jobs_own() {
    let j = job(json!({"command": "x"}));
    let own = BTreeMap::from([
        ("MINE".to_string(), "1".to_string()),
        ("LAVA_TMP".to_string(), "/elsewhere".to_string()),
        ("LAVA_JOB_ID".to_string(), "spoofed".to_string()),
        ("LAVA_EXTRA".to_string(), "job".to_string()),
    ]);
    let inherited = BTreeMap::from([
        ("LAVA_EXTRA".to_string(), "runner".to_string()),
        ("LAVA_DOCKER_TIMEOUT".to_string(), "5m".to_string()),
        ("PATH".to_string(), "/bin".to_string()),
    ]);
    let e = environment_of(&j, &ctx(), "/tmp/lava-job-x/r-1", &own, &inherited);
    let want = [
        ("LAVA_DOCKER_TIMEOUT", "5m"),
        ("LAVA_EXTRA", "job"),
        ("LAVA_JOB_ID", "demo/j"),
        ("LAVA_OWNER", "me@x"),
        ("LAVA_REALM", "prod"),
        ("LAVA_RUN_ID", "r-1"),
        ("LAVA_S3_KEY", "alias/k"),
        ("LAVA_S3_PAYLOAD", "s3://pbk/pl/lava/demo:1"),
        ("LAVA_S3_TMP", "s3://tbk/tmp/demo/j/r-1"),
        ("LAVA_TMP", "/tmp/lava-job-x/r-1"),
        ("LAVA_WORKER", "core"),
        ("MINE", "1"),
    ];
    assert_eq!(e.len(), want.len(), "{e:?}");
    for (k, v) in want {
        assert_eq!(e[k].as_deref(), Some(v), "{k}");
    }
    let mut c = ctx();
    c.realm.s3_key = None;
    let e = environment_of(&j, &c, "/t", &BTreeMap::new(), &BTreeMap::new());
    assert_eq!(e["LAVA_S3_KEY"], None, "sent bare: unset in the container");
}
