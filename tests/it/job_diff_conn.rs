//! The connection side of the differential suite (`parameters.connections`, issue 31): a case
//! may carry the connection records it uses (`connections`), SSM SecureStrings (`ssm`), Secrets
//! Manager secrets (`secrets`), state items put by lava itself (`state_items`), a `mysql` client for the runners' PATH (`mysql_client`:
//! `mysql` or `mariadb`, a stub printing that flavour's `--version`), and `dump`: labels whose
//! connection folders the container prints file by file (path, mode, content; not the size, which holds LAVA_TMP's length) into the
//! log, which the suite compares. Random parts of the paths (`conn.XXXXXXXX`,
//! `tmpXXXXXXXX.pem`) are normalised here, in the comparison. `log_contains` lists texts our log
//! must hold (a connection the container actually used).
use serde_json::Value;
use std::path::Path;

/// The container command that prints each dumped label's connection folder.
pub(crate) fn dump_command(labels: &[&str]) -> String {
    format!(
        "/bin/sh -c 'for l in {}; do eval x=\\$LAVA_CONN_$l; d=${{x%/*}}; echo \"== $l $(stat -c %a $d) ${{x##*/}}\"; for f in $(find $d -mindepth 1 | sort); do echo \"-- $(stat -c %a $f) ${{f#$d/}}\"; [ -f $f ] && cat $f; echo; done; done'",
        labels.join(" ")
    )
}

/// A directory with a `mysql` stub of the given flavour, for the front of PATH.
pub(crate) fn mysql_stub(dir: &Path, flavour: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let bin = dir.join(format!("mysql-{flavour}"));
    std::fs::create_dir_all(&bin).unwrap();
    let version = match flavour {
        "mariadb" => "mysql from 11.4.5-MariaDB, client 15.2 for debian-linux-gnu (x86_64)",
        "mysql" => "mysql  Ver 8.4.3 for Linux on x86_64 (MySQL Community Server - GPL)",
        other => panic!("mysql_client {other}: mysql or mariadb"),
    };
    let exe = bin.join("mysql");
    std::fs::write(&exe, format!("#!/bin/sh\necho '{version}'\n")).unwrap();
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// `prefix` + 8 of Python's temp-name characters (+ `suffix`) written `prefix*suffix`.
fn normalise_names(text: &str, prefix: &str, suffix: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(prefix) {
        out.push_str(&rest[..i]);
        let after = &rest[i + prefix.len()..];
        let random = after
            .char_indices()
            .take_while(|(_, c)| c.is_ascii_alphanumeric() || *c == '_')
            .count();
        if random == 8 && after[8..].starts_with(suffix) {
            out.push_str(prefix);
            out.push('*');
            out.push_str(suffix);
            rest = &after[8 + suffix.len()..];
        } else {
            out.push_str(prefix);
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// The random parts of connection paths written `*`.
pub(crate) fn normalise(text: &str) -> String {
    let t = normalise_names(&normalise_names(text, "conn.", ""), "tmp", ".pem");
    normalise_value(
        &normalise_value(&t, "X-Amz-Date=", 16),
        "X-Amz-Signature=",
        64,
    )
}

/// The `len` characters after each `marker` (an RDS token's signing time and signature, which
/// differ between two runs) written `*`; every other byte of the token is compared.
fn normalise_value(text: &str, marker: &str, len: usize) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(marker) {
        let after = &rest[i + marker.len()..];
        out.push_str(&rest[..i + marker.len()]);
        let run = after
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .count();
        if run == len {
            out.push('*');
            rest = &after[len..];
        } else {
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// Puts a case's connection records, SSM parameters and secrets in place (`put` and `aws` are
/// the suite's own helpers); `@FIXTURES@` names the fixtures folder, `@FIXTURES_HTTP@` the
/// same folder served over HTTP on 127.0.0.1 ([`fixtures_http`]).
pub(crate) fn prepare(case: &Value, fixtures: &Path, put: &dyn Fn(&Value), aws: &dyn Fn(&[&str])) {
    let text = |v: &Value| -> Value {
        let t = v.to_string();
        let t = if t.contains("@FIXTURES_HTTP@") {
            t.replace("@FIXTURES_HTTP@", &fixtures_http(fixtures))
        } else {
            t
        };
        serde_json::from_str(&t.replace("@FIXTURES@", &fixtures.display().to_string())).unwrap()
    };
    for c in case["connections"].as_array().cloned().unwrap_or_default() {
        put(&text(&c));
    }
    for (k, v) in case["ssm"].as_object().cloned().unwrap_or_default() {
        aws(&["ssm", &k, v.as_str().unwrap()]);
    }
    for (k, v) in case["secrets"].as_object().cloned().unwrap_or_default() {
        aws(&["secret", &k, &v.to_string()]);
    }
    for c in case["redshift_clusters"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        aws(&["redshift-cluster", c.as_str().unwrap()]);
    }
}

/// A case's `masked` markers: the rest of each line after a marker in the log body (a value moto
/// makes at random for each call: assumed keys, a Redshift password) written `*`. Returns the
/// log so masked and the values taken, in order of appearance.
pub(crate) fn mask(case: &Value, mut log: Value) -> (Value, Vec<String>) {
    let markers: Vec<&str> = case["masked"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(body) = log["body"].as_str().map(String::from) else {
        return (log, Vec::new());
    };
    let mut values = Vec::new();
    let mut out = Vec::new();
    for line in body.split('\n') {
        match markers
            .iter()
            .find_map(|m| line.find(m).map(|i| i + m.len()))
        {
            Some(end) => {
                values.push(line[end..].to_string());
                out.push(format!("{}*", &line[..end]));
            }
            None => out.push(line.to_string()),
        }
    }
    log["body"] = Value::String(out.join("\n"));
    (log, values)
}

/// What must hold of the masked values: each runner has as many as the case has markers' lines
/// (`masked_count`), all non-empty; each of ours differs from the worker's (moto made both afresh),
/// from the runners' own key `testing` and from every SSM value of the case (not the source
/// credentials). With `assumed_arns`, each `aws_access_key_id`/secret/token triple, ours and the
/// worker's, is who moto's GetCallerIdentity says (`whoami`): the assumed role and session. The
/// values that repeat in the worker's log repeat in ours, at the same places.
pub(crate) fn masked_diffs(
    case: &Value,
    worker: &[String],
    ours: &[String],
    whoami: &dyn Fn(&[&str]) -> String,
) -> Vec<String> {
    let Some(count) = case["masked_count"].as_u64() else {
        return Vec::new();
    };
    let mut diffs = Vec::new();
    if worker.len() as u64 != count || ours.len() as u64 != count {
        diffs.push(format!(
            "masked values: {} of the worker's and {} of ours, expected {count}",
            worker.len(),
            ours.len()
        ));
        return diffs;
    }
    let sources: Vec<String> = case["ssm"]
        .as_object()
        .map(|m| {
            m.values()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    for (w, o) in worker.iter().zip(ours) {
        if o.is_empty()
            || w.is_empty()
            || o == w
            || o == "testing"
            || sources.iter().any(|s| s.contains(o.as_str()))
        {
            diffs.push(format!(
                "a masked value is not a fresh one of moto's: worker {w:?}, ours {o:?}"
            ));
        }
    }
    // Which values repeat (one connection's keys under two labels) is the worker's.
    for i in 0..worker.len() {
        for j in i + 1..worker.len() {
            if (worker[i] == worker[j]) != (ours[i] == ours[j]) {
                diffs.push(format!(
                    "masked values #{i} and #{j}: the worker's equal {}, ours {}",
                    worker[i] == worker[j],
                    ours[i] == ours[j]
                ));
            }
        }
    }
    if let Some(arns) = case["assumed_arns"].as_array() {
        for (i, arn) in arns.iter().enumerate() {
            for (who, vals) in [("worker", worker), ("ours", ours)] {
                let triple: Vec<&str> = vals[i * 3..i * 3 + 3].iter().map(String::as_str).collect();
                let got = whoami(&triple);
                if Some(got.as_str()) != arn.as_str() {
                    diffs.push(format!("{who}'s keys #{i} are {got:?} to STS, not {arn}"));
                }
            }
        }
    }
    diffs
}

/// A case's `state_items` ({state_id: [type, value]}), put with lava's own state API (a
/// `secure` one encrypted with the realm's KMS key, as lava does); after the realm is in place.
pub(crate) fn put_state(case: &Value, realm: &str, aws: &dyn Fn(&[&str])) {
    for (id, v) in case["state_items"].as_object().cloned().unwrap_or_default() {
        let kind = v[0].as_str().unwrap();
        aws(&["state", realm, &id, kind, &v[1].to_string()]);
    }
}

/// A deliberate deviation (`tests/fixtures/jobs/deviations.json`): instead of equality, the
/// worker must end `worker_status` with an error holding `worker_error`, and ours `ours_status`.
/// None for an ordinary case.
/// `worker_pulls_at_least` / `ours_pulls` (when given) bound how many pulls each made, and
/// `ours_auth` names the registry every one of our pulls carried credentials for; `logins`
/// ([worker, ours]) is how many `POST /auth` (a registry login through the engine) each made.
pub(crate) fn deviation_diffs(
    case: &Value,
    worker: (&str, Option<&str>, &[Value], &[Value]),
    ours: (&str, Option<&str>, &[Value], &[Value]),
) -> Option<Vec<String>> {
    let d = case["deviation"].as_object()?;
    let mut diffs = Vec::new();
    if let Some(n) = d.get("worker_pulls_at_least").and_then(Value::as_u64)
        && (worker.2.len() as u64) < n
    {
        diffs.push(format!(
            "the worker pulled fewer than {n} times: {:?}",
            worker.2
        ));
    }
    if let Some(n) = d.get("ours_pulls").and_then(Value::as_u64)
        && ours.2.len() as u64 != n
    {
        diffs.push(format!("ours did not pull {n} times: {:?}", ours.2));
    }
    if let Some(want) = d.get("logins").and_then(Value::as_array) {
        let logins = |reqs: &[Value]| {
            reqs.iter()
                .filter(|r| {
                    r["method"] == "POST"
                        && r["path"].as_str().is_some_and(|p| {
                            p.split('?').next().unwrap_or_default().ends_with("/auth")
                        })
                })
                .count() as u64
        };
        let got = [logins(worker.3), logins(ours.3)];
        if want.iter().map(Value::as_u64).collect::<Vec<_>>() != got.map(Some) {
            diffs.push(format!(
                "logins through the engine (worker, ours): {got:?}, expected {want:?}"
            ));
        }
    }
    if let Some(r) = d.get("ours_auth").and_then(Value::as_str)
        && ours.2.iter().any(|p| p["auth"] != r)
    {
        diffs.push(format!(
            "not every pull of ours carried {r}'s credentials: {:?}",
            ours.2
        ));
    }
    let want = |k: &str| d.get(k).and_then(Value::as_str).unwrap_or_default();
    if worker.0 != want("worker_status")
        || !worker.1.unwrap_or_default().contains(want("worker_error"))
    {
        diffs.push(format!(
            "the worker did not end {} with an error holding {:?}: {} {:?}",
            want("worker_status"),
            want("worker_error"),
            worker.0,
            worker.1
        ));
    }
    if ours.0 != want("ours_status") {
        diffs.push(format!(
            "ours did not end {}: {} {:?}",
            want("ours_status"),
            ours.0,
            ours.1
        ));
    }
    Some(diffs)
}

/// What our log must hold, when the case says.
pub(crate) fn missing_in_log(case: &Value, log: &Value) -> Vec<String> {
    let body = log["body"].as_str().unwrap_or_default();
    case["log_contains"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(Value::as_str)
        .filter(|n| !body.contains(n))
        .map(|n| format!("our log lacks {n:?}: {body}"))
        .collect()
}

#[test]
fn rds_token_times_and_signatures_are_normalised_and_nothing_else() {
    assert_eq!(
        normalise(
            "h:5432/?Action=connect&DBUser=u&X-Amz-Date=20240304T050607Z&X-Amz-Expires=900&X-Amz-Signature=06d5a125eb8169c0f3ca3086dc8c58a506c690e291e2bdc55e0d61848cf62d8e\n"
        ),
        "h:5432/?Action=connect&DBUser=u&X-Amz-Date=*&X-Amz-Expires=900&X-Amz-Signature=*\n"
    );
    assert_eq!(
        normalise("X-Amz-Date=2024&X-Amz-Signature=abc"),
        "X-Amz-Date=2024&X-Amz-Signature=abc"
    );
}

#[test]
fn random_names_are_normalised_and_nothing_else() {
    assert_eq!(
        normalise("/t/conn.ab_9xyz1/psql /t/conn.ab/x /t/conn.abcdefgh/tmpk2j_9a0b.pem tmp.pem"),
        "/t/conn.*/psql /t/conn.ab/x /t/conn.*/tmp*.pem tmp.pem"
    );
}

/// `http://127.0.0.1:PORT`: a server (one per test process, started on first use) answering a
/// `GET /NAME` with the fixtures folder's file NAME (200) or 404, one connection at a time.
pub(crate) fn fixtures_http(fixtures: &Path) -> String {
    use std::io::{BufRead, BufReader, Write};
    static ADDR: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let root = fixtures.to_path_buf();
    ADDR.get_or_init(move || {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                let mut header = String::new();
                while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                    header.clear();
                }
                let name = line.split_whitespace().nth(1).unwrap_or("/");
                let file = root.join(name.trim_start_matches('/'));
                let (status, body) = match std::fs::read(&file) {
                    Ok(b) if !name.contains("..") => ("200 OK", b),
                    _ => ("404 Not Found", b"not found".to_vec()),
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = conn.write_all(head.as_bytes());
                let _ = conn.write_all(&body);
            }
        });
        addr
    })
    .clone()
}
