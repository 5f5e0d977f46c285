//! Bad input: every case is one line on stderr naming the parameter, exit status 2, no panic,
//! and no AWS call (no endpoint is configured, so a call would fail with a different status).
use crate::common::bin;

const GOOD: &[&str] = &[
    "ip=public",
    "python_version=3.11.12",
    "s3bucket=good-bucket",
    "s3prefix=lava/ami/",
    "sg=sg-12345678",
    "subnet=subnet-12345678",
    "tz=UTC",
    "region=us-east-1",
];

/// The good hard-way parameters with `overrides` replacing or adding keys.
fn hard_way(overrides: &[&str]) -> Vec<String> {
    let keys: Vec<&str> = overrides
        .iter()
        .filter_map(|o| o.split('=').next())
        .collect();
    let mut out: Vec<String> = GOOD
        .iter()
        .filter(|g| !keys.contains(&g.split('=').next().unwrap()))
        .map(|s| s.to_string())
        .collect();
    out.extend(
        overrides
            .iter()
            .filter(|o| o.contains('='))
            .map(|s| s.to_string()),
    );
    out
}

fn without(key: &str) -> Vec<String> {
    GOOD.iter()
        .filter(|g| !g.starts_with(&format!("{key}=")))
        .map(|s| s.to_string())
        .collect()
}

const DEPLOY_OK: &str = "dev:\n  _:\n    s3base: b-bucket\n  ami:\n    s3: lava/\n    ip: public\n    subnet: subnet-12345678\n    sg: sg-12345678\n    tz: UTC\n    region: us-east-1\n    python:\n      version: \"3.11.12\"\n";

struct Case {
    name: &'static str,
    args: Vec<String>,
    /// A file written to the temp dir as `c.yaml` and passed as --config c.yaml --env dev.
    file: Option<String>,
    /// Text the one-line message must contain (the parameter or key it names).
    expect: &'static str,
}

fn case(name: &'static str, args: Vec<String>, expect: &'static str) -> Case {
    Case {
        name,
        args,
        file: None,
        expect,
    }
}

fn file_case(name: &'static str, text: &str, expect: &'static str) -> Case {
    Case {
        name,
        args: vec![],
        file: Some(text.to_string()),
        expect,
    }
}

fn s(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

fn cases() -> Vec<Case> {
    vec![
        case(
            "config without env",
            s(&["config=deploy/sample.yaml"]),
            "env",
        ),
        case("env without config", s(&["env=dev"]), "config"),
        case("--env without --config", s(&["--env", "dev"]), "config"),
        case(
            "env missing from file",
            s(&["--config", "deploy/sample.yaml", "--env", "nope"]),
            "\"nope\" is not in deploy/sample.yaml (environments there: demo, dev)",
        ),
        case(
            "config file missing",
            s(&["--config", "no/such.yaml", "--env", "dev"]),
            "no/such.yaml",
        ),
        case(
            "unknown cli key",
            hard_way(&["subnt=subnet-12345678"]),
            "\"subnt\" on the command line (did you mean \"subnet\"?)",
        ),
        case(
            "unknown cli key 2",
            hard_way(&["pyhton_version=3.11.1"]),
            "did you mean \"python_version\"",
        ),
        case(
            "not key=value",
            hard_way(&[]).into_iter().chain(s(&["python"])).collect(),
            "expected key=value",
        ),
        case("ami_id not hex", hard_way(&["ami_id=ami-XYZ"]), "ami_id"),
        case(
            "ami_id wrong prefix",
            hard_way(&["ami_id=img-12345678"]),
            "ami_id",
        ),
        case(
            "ami_id with two arches",
            hard_way(&["ami_id=ami-12345678", "arch=x86_64,arm64"]),
            "ami_id",
        ),
        case(
            "ip bad",
            hard_way(&["ip=pubic"]),
            "ip: invalid value \"pubic\": expected public or private",
        ),
        case(
            "s3prefix without slash",
            hard_way(&["s3prefix=lava/ami"]),
            "s3prefix",
        ),
        case(
            "s3prefix leading slash",
            hard_way(&["s3prefix=/lava/"]),
            "s3prefix",
        ),
        case(
            "s3bucket bad",
            hard_way(&["s3bucket=Bad_Bucket"]),
            "s3bucket",
        ),
        case(
            "sg with space",
            hard_way(&["sg=sg-12345678, sg-87654321"]),
            "sg",
        ),
        case("sg not an id", hard_way(&["sg=default"]), "sg"),
        case("sg trailing comma", hard_way(&["sg=sg-12345678,"]), "sg"),
        case("subnet bad", hard_way(&["subnet=subnet-xyz"]), "subnet"),
        case(
            "subnet is a vpc",
            hard_way(&["subnet=vpc-12345678"]),
            "subnet",
        ),
        case("tz bad", hard_way(&["tz=Mars/Olympus"]), "tz"),
        case("tz offset", hard_way(&["tz=+10:00"]), "tz"),
        case(
            "python two parts",
            hard_way(&["python_version=3.11"]),
            "python_version",
        ),
        case(
            "python letters",
            hard_way(&["python_version=3.11.x"]),
            "python_version",
        ),
        case(
            "python 2",
            hard_way(&["python_version=2.7.18"]),
            "python_version",
        ),
        case("arch aarch64", hard_way(&["arch=aarch64"]), "arch"),
        case("arch twice", hard_way(&["arch=arm64,arm64"]), "arch"),
        case("os unknown", hard_way(&["os=ubuntu99"]), "os"),
        case(
            "arm64 on t3",
            hard_way(&["arch=arm64", "instance_type=t3.large"]),
            "instance_type",
        ),
        case(
            "x86_64 on t4g",
            hard_way(&["instance_type=t4g.large"]),
            "instance_type",
        ),
        case(
            "both arches one x86 type",
            hard_way(&["arch=x86_64,arm64", "instance_type=m5.large"]),
            "instance_type",
        ),
        case(
            "instance type malformed",
            hard_way(&["instance_type=large"]),
            "instance_type",
        ),
        case("region bad", hard_way(&["region=sydney"]), "region"),
        case(
            "no region anywhere",
            without("region"),
            "region: required parameter is missing",
        ),
        case(
            "missing ip",
            without("ip"),
            "ip: required parameter is missing",
        ),
        case(
            "missing subnet",
            without("subnet"),
            "subnet: required parameter is missing",
        ),
        case(
            "missing sg",
            without("sg"),
            "sg: required parameter is missing",
        ),
        case(
            "missing tz",
            without("tz"),
            "tz: required parameter is missing",
        ),
        case(
            "missing python_version",
            without("python_version"),
            "python_version: required parameter is missing",
        ),
        case(
            "missing s3",
            without("s3bucket"),
            "s3bucket: required parameter is missing",
        ),
        case(
            "lava_version bad",
            hard_way(&["lava_version=eight"]),
            "lava_version",
        ),
        case(
            "ami_ref undefined variable",
            hard_way(&["ami_ref=al2023-{{ archh }}"]),
            "ami_ref",
        ),
        case(
            "build time bad",
            s(&["--build-time", "yesterday"])
                .into_iter()
                .chain(hard_way(&[]))
                .collect(),
            "build_time",
        ),
        file_case(
            "yaml syntax error",
            "dev:\n  ami:\n    ip: [public\n",
            "c.yaml:",
        ),
        file_case(
            "duplicate key",
            "dev:\n  ami:\n    ip: public\n    ip: private\n",
            "duplicate",
        ),
        file_case(
            "unknown ami key",
            &DEPLOY_OK.replace("    tz: UTC\n", "    tz: UTC\n    timezone: UTC\n"),
            "c.yaml:10: unknown key \"timezone\" under dev.ami",
        ),
        file_case(
            "wrong type list",
            &DEPLOY_OK.replace("ip: public", "ip: [public]"),
            "dev.ami.ip: wrong type: expected a string, found a list",
        ),
        file_case(
            "wrong type python",
            &DEPLOY_OK.replace(
                "    python:\n      version: \"3.11.12\"\n",
                "    python: 3.11\n",
            ),
            "dev.ami.python: wrong type",
        ),
        file_case(
            "unknown python key",
            &DEPLOY_OK.replace("      version:", "      versoin:"),
            "did you mean \"version\"",
        ),
        file_case(
            "relative s3 without s3base",
            &DEPLOY_OK.replace("  _:\n    s3base: b-bucket\n", ""),
            "s3",
        ),
        file_case(
            "s3 without trailing slash",
            &DEPLOY_OK.replace("s3: lava/", "s3: lava"),
            "s3",
        ),
        file_case(
            "bad value from file",
            &DEPLOY_OK.replace("tz: UTC", "tz: Nowhere/Special"),
            "tz",
        ),
        file_case(
            "no ami section",
            "dev:\n  _:\n    s3base: b\n",
            "no ami section",
        ),
    ]
}

#[test]
fn bad_input_is_one_line_naming_the_parameter_with_status_2() {
    let cases = cases();
    assert!(cases.len() >= 30, "the issue asks for at least 30 cases");
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for c in &cases {
        let mut cmd = bin("lava-build");
        cmd.arg("ami").arg("--plan").arg("--offline");
        if let Some(text) = &c.file {
            let path = dir.path().join("c.yaml");
            std::fs::write(&path, text).unwrap();
            cmd.current_dir(dir.path())
                .arg("--ami-build")
                .arg(crate::common::root().join("ami/ami-build.yaml"))
                .args(["--config", "c.yaml", "--env", "dev"]);
        }
        cmd.args(&c.args);
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = stderr.lines().collect();
        let ok = out.status.code() == Some(2)
            && lines.len() == 1
            && lines[0].starts_with("error: ")
            && lines[0].contains(c.expect)
            && !stderr.contains("panicked")
            && out.stdout.is_empty();
        if !ok {
            failures.push(format!(
                "{}: status {:?}, stderr {stderr:?}, expected to contain {:?}",
                c.name,
                out.status.code(),
                c.expect
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn good_hard_way_input_passes_offline() {
    let out = bin("lava-build")
        .args(["ami", "--plan", "--offline"])
        .args(hard_way(&[]))
        .output()
        .unwrap();
    crate::common::succeeded(&out);
}
