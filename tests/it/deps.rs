//! The test toolchain is pinned (scripts/deps/): what is installed is exactly the pins, a difference
//! is named, and the pinned emulator answers as AWS does where a newer release did not.
use crate::common::root;
use crate::sync::servers::OwnMoto;
use std::process::{Command, Output};

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The version a pip lock pins for `name`.
fn pinned(lock: &str, name: &str) -> String {
    let prefix = format!("{name}==");
    lock.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("{name} is not pinned"))
        .to_string()
}

fn venv_python(var: &str) -> String {
    let venv = std::env::var(var).unwrap_or_else(|_| {
        panic!("{var} is unset: run the tests through `scripts/test-services.sh run -- cargo test` or `make test`")
    });
    format!("{venv}/bin/python")
}

#[test]
fn the_installed_test_tools_are_exactly_the_pinned_ones() {
    let out = Command::new(root().join("scripts/test-services.sh"))
        .arg("check")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    // Each venv holds its lock's pins and nothing else.
    for (var, lock) in [
        ("LAVA_TEST_VENV", "scripts/deps/test.txt"),
        ("LAVA_TEST_LAVA", "scripts/deps/lava.txt"),
    ] {
        let out = Command::new(venv_python(var))
            .arg(root().join("scripts/deps/check-venv.py"))
            .arg(root().join(lock))
            .output()
            .unwrap();
        assert!(out.status.success(), "{lock}: {}", text(&out));
        assert_eq!(text(&out), "", "{lock}");
    }
}

#[test]
fn a_venv_that_differs_from_its_lock_is_named_package_by_package() {
    let lock = std::fs::read_to_string(root().join("scripts/deps/test.txt")).unwrap();
    let moto = pinned(&lock, "moto");
    let awscli = pinned(&lock, "awscli");
    // The same lock with moto at another version and awscli left out.
    let moved: String = lock
        .lines()
        .filter(|l| !l.starts_with("awscli=="))
        .map(|l| match l.strip_prefix("moto==") {
            Some(rest) => format!("moto==0.0.1{}\n", &rest[moto.len()..]),
            None => format!("{l}\n"),
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("moved.txt");
    std::fs::write(&file, moved).unwrap();
    let out = Command::new(venv_python("LAVA_TEST_VENV"))
        .arg(root().join("scripts/deps/check-venv.py"))
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(
        lines,
        [
            format!("moto: pinned 0.0.1, installed {moto}"),
            format!("awscli: installed {awscli}, not in the lock"),
        ],
        "{}",
        text(&out)
    );
}

/// An AWS CLI call to `url`, with the test credentials or the given ones.
fn aws(url: &str, creds: Option<(&str, &str)>, args: &[&str]) -> Output {
    let (id, secret) = creds.unwrap_or(("testing", "testing"));
    Command::new(root().join("build/venv/bin/aws"))
        .args(["--endpoint-url", url, "--output", "text"])
        .args(args)
        .env("AWS_ACCESS_KEY_ID", id)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env_remove("AWS_SESSION_TOKEN")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .output()
        .expect("the AWS CLI in build/venv (scripts/test-services.sh install)")
}

/// AWS authorises ListObjectsV2 with `s3:ListBucket`; moto 5.2.6 asks for an `s3:ListObjectsV2`
/// that IAM does not have and denies the listing. Moving the moto pin to such a release fails here.
#[test]
fn the_pinned_emulator_authorises_a_listing_by_s3_list_bucket_as_aws_does() {
    // Four requests before IAM is enforced: the bucket, the user, its key, its policy.
    let moto = OwnMoto::start(4, None);
    let ok = |args: &[&str]| {
        let o = aws(&moto.url, None, args);
        assert!(o.status.success(), "aws {args:?}: {}", text(&o));
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    };
    ok(&["s3api", "create-bucket", "--bucket", "listonly"]);
    ok(&["iam", "create-user", "--user-name", "lister"]);
    let key = ok(&[
        "iam",
        "create-access-key",
        "--user-name",
        "lister",
        "--query",
        "AccessKey.[AccessKeyId,SecretAccessKey]",
    ]);
    let (id, secret) = key.split_once('\t').expect("access key id and secret");
    ok(&[
        "iam",
        "put-user-policy",
        "--user-name",
        "lister",
        "--policy-name",
        "list",
        "--policy-document",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::listonly"}]}"#,
    ]);
    let list = aws(
        &moto.url,
        Some((id, secret)),
        &["s3api", "list-objects-v2", "--bucket", "listonly"],
    );
    assert!(list.status.success(), "listing: {}", text(&list));
    // IAM is enforced: the same user may not write.
    let put = aws(
        &moto.url,
        Some((id, secret)),
        &["s3api", "put-object", "--bucket", "listonly", "--key", "k"],
    );
    assert!(
        !put.status.success() && text(&put).contains("AccessDenied"),
        "{}",
        text(&put)
    );
}
