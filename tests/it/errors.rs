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
    // Each whole message, pinned below: a change of wording is a deliberate change of the snapshot.
    let mut messages = Vec::new();
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
        messages.push(format!(
            "{}: {}",
            c.name,
            stderr
                .trim_end()
                .replace(&dir.path().display().to_string(), "[TMP]")
        ));
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
    insta::assert_snapshot!(messages.join("\n"), @r#"
    config without env: error: config is set but env is not: config and env go together
    env without config: error: env is set but config is not: config and env go together
    --env without --config: error: env is set but config is not: config and env go together
    env missing from file: error: env "nope" is not in deploy/sample.yaml (environments there: demo, dev)
    config file missing: error: no/such.yaml: cannot read: No such file or directory (os error 2)
    unknown cli key: error: unknown parameter "subnt" on the command line (did you mean "subnet"?)
    unknown cli key 2: error: unknown parameter "pyhton_version" on the command line (did you mean "python_version"?)
    not key=value: error: argument "python": expected key=value, e.g. python_version=3.11.12 (see --help for the keys)
    ami_id not hex: error: ami_id: invalid value "ami-XYZ": expected an AMI id: ami- followed by 8 to 17 lower-case hex digits
    ami_id wrong prefix: error: ami_id: invalid value "img-12345678": expected an AMI id: ami- followed by 8 to 17 lower-case hex digits
    ami_id with two arches: error: ami_id: invalid value "ami-12345678": expected a single arch when ami_id is given (an AMI has one architecture); drop ami_id or build one arch at a time
    ip bad: error: ip: invalid value "pubic": expected public or private
    s3prefix without slash: error: s3prefix: invalid value "lava/ami": expected an S3 key prefix ending in '/' (and not starting with one), e.g. lava/ami/
    s3prefix leading slash: error: s3prefix: invalid value "/lava/": expected an S3 key prefix ending in '/' (and not starting with one), e.g. lava/ami/
    s3bucket bad: error: s3bucket: invalid value "Bad_Bucket": expected an S3 bucket name: 3 to 63 characters of a-z, 0-9, '.' and '-'
    sg with space: error: sg: invalid value "sg-12345678, sg-87654321": expected security group ids (sg- followed by 8 to 17 hex digits), comma-separated without spaces
    sg not an id: error: sg: invalid value "default": expected security group ids (sg- followed by 8 to 17 hex digits), comma-separated without spaces
    sg trailing comma: error: sg: invalid value "sg-12345678,": expected security group ids (sg- followed by 8 to 17 hex digits), comma-separated without spaces
    subnet bad: error: subnet: invalid value "subnet-xyz": expected a subnet id: subnet- followed by 8 to 17 lower-case hex digits
    subnet is a vpc: error: subnet: invalid value "vpc-12345678": expected a subnet id: subnet- followed by 8 to 17 lower-case hex digits
    tz bad: error: tz: invalid value "Mars/Olympus": expected an IANA time zone name such as Australia/Sydney or UTC
    tz offset: error: tz: invalid value "+10:00": expected an IANA time zone name such as Australia/Sydney or UTC
    python two parts: error: python_version: invalid value "3.11": expected a full Python 3 version X.Y.Z such as 3.11.12
    python letters: error: python_version: invalid value "3.11.x": expected a full Python 3 version X.Y.Z such as 3.11.12
    python 2: error: python_version: invalid value "2.7.18": expected a full Python 3 version X.Y.Z such as 3.11.12
    arch aarch64: error: arch: invalid value "aarch64": expected arm64, x86_64 or a comma-separated list of them (AMI names say arm64, not aarch64)
    arch twice: error: arch: invalid value "arm64,arm64": expected each architecture once
    os unknown: error: os: invalid value "ubuntu99": expected one of amzn2, amzn2023 (keys of os in ami/ami-build.yaml)
    arm64 on t3: error: instance_type: invalid value "t3.large": expected a Graviton instance type for arch arm64 (a family with a 'g' such as t4g, m7g, c7g, r8g) [source: cli]
    x86_64 on t4g: error: instance_type: invalid value "t4g.large": expected an x86_64 instance type for arch x86_64 (not a Graviton family such as t4g; use arch=arm64 for those) [source: cli]
    both arches one x86 type: error: instance_type: invalid value "m5.large": expected a Graviton instance type for arch arm64 (a family with a 'g' such as t4g, m7g, c7g, r8g) [source: cli]
    instance type malformed: error: instance_type: invalid value "large": expected an EC2 instance type such as t3.large [source: cli]
    region bad: error: region: invalid value "sydney": expected an AWS region name such as ap-southeast-2
    no region anywhere: error: region: required parameter is missing: set region=…, region in <env>.ami, AWS_REGION, or a region in the AWS profile
    missing ip: error: ip: required parameter is missing: pass each as key=value, or use config=FILE env=ENV
    missing subnet: error: subnet: required parameter is missing: pass each as key=value, or use config=FILE env=ENV
    missing sg: error: sg: required parameter is missing: pass each as key=value, or use config=FILE env=ENV
    missing tz: error: tz: required parameter is missing: pass each as key=value, or use config=FILE env=ENV
    missing python_version: error: python_version: required parameter is missing: pass each as key=value, or use config=FILE env=ENV
    missing s3: error: s3bucket: required parameter is missing: pass each as key=value, or use config=FILE env=ENV
    lava_version bad: error: lava_version: invalid value "eight": expected a lava release X.Y.Z such as 8.3.0
    ami_ref undefined variable: error: ami_ref: cannot render "al2023-{{ archh }}": undefined value (in <string>:1)
    build time bad: error: build_time: invalid value "yesterday": expected an RFC 3339 UTC time such as 2025-07-02T08:43:48Z
    yaml syntax error: error: c.yaml:4:1: did not find expected ',' or ']'
    duplicate key: error: c.yaml:3:5: dev.ami: duplicate entry with key "ip"
    unknown ami key: error: c.yaml:10: unknown key "timezone" under dev.ami
    wrong type list: error: c.yaml:6: dev.ami.ip: wrong type: expected a string, found a list
    wrong type python: error: c.yaml:11: dev.ami.python: wrong type: expected a mapping with a version key, found a number
    unknown python key: error: c.yaml:12: unknown key "versoin" under dev.ami.python (did you mean "version"?)
    relative s3 without s3base: error: s3: invalid value "lava/": expected s3://bucket/prefix/, or _.s3base in the environment for a relative location
    s3 without trailing slash: error: s3: invalid value "lava": expected an S3 location ending in '/', e.g. lava/ami/ or s3://bucket/lava/ami/
    bad value from file: error: tz: invalid value "Nowhere/Special": expected an IANA time zone name such as Australia/Sydney or UTC
    no ami section: error: c.yaml:1: environment "dev" has no ami section
    "#);
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

/// The usage errors of every binary, beyond the AMI parameters: one line, exit status 2, before
/// any AWS call (no endpoint and no credentials are configured), each message pinned whole.
#[test]
fn usage_errors_of_every_binary_are_pinned_whole() {
    let cases: &[(&str, &[&str])] = &[
        ("lava-rc", &["boot", "--deadline", "0"]),
        ("lava-rc", &["boot", "--step-timeout", "x"]),
        ("lava-rc", &["s3run", "notaurl"]),
        ("lava-rc", &["s3run", "s3://Bad_Bucket/x"]),
        ("lava-ami", &["publish", "ami-XYZ"]),
        ("lava-ami", &["prune", "*"]),
        ("lava-ami", &["prune", "--keep", "0"]),
        ("lava-ami", &["--update"]),
        (
            "lava-ami",
            &[
                "copy",
                "ami-12345678",
                "--region",
                "us-east-1",
                "--to",
                "mars",
            ],
        ),
        (
            "lava-build",
            &["sync", "s3bucket=Bad_Bucket", "s3prefix=x/"],
        ),
        ("lava-build", &["job", "run"]),
        (
            "lava-build",
            &["payload", "build", "--platform", "linux/386"],
        ),
    ];
    let mut lines = Vec::new();
    for (name, args) in cases {
        let out = bin(name).args(*args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            (out.status.code(), stderr.lines().count(), out.stdout.len()),
            (Some(2), 1, 0),
            "{name} {args:?}: {stderr}"
        );
        lines.push(format!("{name} {}: {}", args.join(" "), stderr.trim_end()));
    }
    insta::assert_snapshot!(lines.join("\n"), @r#"
    lava-rc boot --deadline 0: error: invalid value '0' for '--deadline <SECS>': 0 is not in 1..=604800
    lava-rc boot --step-timeout x: error: invalid value 'x' for '--step-timeout <SECS>': invalid digit found in string
    lava-rc s3run notaurl: s3run: error: notaurl is relative but S3PATH is not set (e.g. S3PATH=s3://bucket/scripts:s3://other/bin)
    lava-rc s3run s3://Bad_Bucket/x: s3run: error: s3://Bad_Bucket/x: expected s3://bucket/key, or a relative key found along S3PATH
    lava-ami publish ami-XYZ: error: AMI_ID "ami-XYZ": expected an AMI id (ami- and 8 to 17 hex digits)
    lava-ami prune *: error: prune "*" matches every AMI of the account: pass --yes to mean it (or --dry-run to see the plan)
    lava-ami prune --keep 0: error: invalid value '0' for '--keep <N>': "0": expected a whole number of at least 1 (the newest AMI of each kind is always kept)
    lava-ami --update: error: -U/--update needs at least one stack pattern (e.g. 'lava-prod-*')
    lava-ami copy ami-12345678 --region us-east-1 --to mars: error: --to: invalid value "mars": expected an AWS region name such as eu-west-1
    lava-build sync s3bucket=Bad_Bucket s3prefix=x/: error: s3bucket: invalid value "Bad_Bucket": expected an S3 bucket name: 3 to 63 characters of a-z, 0-9, '.' and '-'
    lava-build job run: error: the following required arguments were not provided: --realm <REALM> <JOB_ID>
    lava-build payload build --platform linux/386: error: invalid value 'linux/386' for '--platform <LIST>' [possible values: linux/amd64, linux/arm64]
    "#);
}
