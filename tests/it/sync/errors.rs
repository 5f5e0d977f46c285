//! Failures and their messages: a missing bucket, an unreachable endpoint, refused credentials and
//! permissions, a connection cut mid-upload.
use super::servers::{OwnMoto, fault_proxy, recording_proxy};
use super::{Fixture, aws_cli, data, n, sync_at};
use crate::common::{bin_moto, path_str};
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

#[tokio::test]
async fn missing_bucket_and_unreachable_endpoint_are_one_line_errors() {
    let f = Fixture::new().await;
    f.write("a.txt", b"a");
    let out = bin_moto("lava-build")
        .args(["sync", "--source", &path_str(&f.src())])
        .args(["--cache-file", &path_str(&f.dir.path().join("c.json"))])
        .args([
            "s3bucket=no-such-bucket-lava",
            "s3prefix=x/",
            "region=us-east-1",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("s3://no-such-bucket-lava/x/") && err.contains("does not exist"),
        "{err}"
    );

    let out = f
        .cmd(&[])
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("s3://{}/res/", f.bucket)), "{err}");
    assert!(err.contains("cannot reach the S3 endpoint"), "{err}");

    let out = f.cmd(&["s3prefix=no-slash"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "bad prefix is a usage error");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_mid_upload_leaves_no_parts_and_a_rerun_finishes() {
    let f = Fixture::new().await;
    let big = data(5, 24 * 1024 * 1024);
    f.write("big.zip", &big);
    f.write("small.txt", b"small");
    let fail = Arc::new(AtomicBool::new(true));
    let proxy = fault_proxy(fail.clone()).await;

    let out = f
        .cmd(&["--concurrency", "4"])
        .env("AWS_ENDPOINT_URL", &proxy)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let last = err.lines().last().unwrap();
    assert!(
        last.starts_with("error: ") && last.contains("res/big.zip"),
        "{err}"
    );
    assert!(
        !last.contains("res/small.txt"),
        "only the failed file is named: {last}"
    );
    let uploads =
        f.s3.list_multipart_uploads()
            .bucket(&f.bucket)
            .send()
            .await
            .unwrap();
    assert!(
        uploads.uploads().is_empty(),
        "no orphaned parts: {:?}",
        uploads.uploads()
    );

    fail.store(false, Ordering::SeqCst);
    let r: Value = serde_json::from_slice(
        &f.cmd(&[])
            .env("AWS_ENDPOINT_URL", &proxy)
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(
        n(&r, "uploaded"),
        1,
        "only the failed file goes up again: {r}"
    );
    assert!(f.get("res/big.zip").await == big);
    assert_eq!(f.get("res/small.txt").await, b"small");
}

#[tokio::test]
async fn access_denied_and_rejected_credentials_are_one_line_errors() {
    let moto = OwnMoto::start(3, None);
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(&moto.url)
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "testing", "testing", None, None, "t",
        ))
        .load()
        .await;
    // The three requests before IAM is enforced: a bucket, a user without permissions, its key.
    aws_sdk_s3::Client::new(&sdk)
        .create_bucket()
        .bucket("locked")
        .send()
        .await
        .unwrap();
    let user_key = {
        let out = std::process::Command::new(crate::common::root().join("build/venv/bin/aws"))
            .args([
                "--endpoint-url",
                &moto.url,
                "iam",
                "create-user",
                "--user-name",
                "nobody",
            ])
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .output()
            .unwrap();
        crate::common::succeeded(&out);
        let out = std::process::Command::new(crate::common::root().join("build/venv/bin/aws"))
            .args([
                "--endpoint-url",
                &moto.url,
                "iam",
                "create-access-key",
                "--user-name",
                "nobody",
            ])
            .args([
                "--query",
                "AccessKey.[AccessKeyId,SecretAccessKey]",
                "--output",
                "text",
            ])
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let (id, secret) = text.split_once('\t').expect("access key id and secret");
        (id.to_string(), secret.to_string())
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), b"a").unwrap();
    let run = |id: &str, secret: &str| {
        crate::common::bin("lava-build")
            .args(["sync", "--source", &path_str(dir.path())])
            .args(["--cache-file", &path_str(&dir.path().join("c.json"))])
            .args(["s3bucket=locked", "s3prefix=res/", "region=us-east-1"])
            .env("AWS_ENDPOINT_URL", &moto.url)
            .env("AWS_ACCESS_KEY_ID", id)
            .env("AWS_SECRET_ACCESS_KEY", secret)
            .output()
            .unwrap()
    };
    for (out, expect) in [
        (run(&user_key.0, &user_key.1), "access denied"),
        (
            run("AKIANOTAREALKEY00000", "nope"),
            "credentials were rejected",
        ),
    ] {
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.contains("s3://locked/res/") && err.contains(expect),
            "{err}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_error_is_one_request_and_names_the_file_and_the_code() {
    // Four requests before IAM is enforced: a bucket, a user, its key, its policy (list and read,
    // no write).
    let moto = OwnMoto::start(4, None);
    let s3 = aws_sdk_s3::Client::new(&moto.sdk().await);
    s3.create_bucket().bucket("readonly").send().await.unwrap();
    aws_cli(&moto.url, &["iam", "create-user", "--user-name", "reader"]);
    let key = aws_cli(
        &moto.url,
        &[
            "iam",
            "create-access-key",
            "--user-name",
            "reader",
            "--query",
            "AccessKey.[AccessKeyId,SecretAccessKey]",
        ],
    );
    let (id, secret) = key.split_once('\t').expect("access key id and secret");
    // Listing is allowed by s3:ListBucket in AWS; moto 5.2.6 checks a made-up "s3:ListObjectsV2"
    // action instead (scripts/deps/test.in), so the policy names both: this test is about the
    // refused PUTs, whichever emulator answers the listing.
    aws_cli(
        &moto.url,
        &[
            "iam",
            "put-user-policy",
            "--user-name",
            "reader",
            "--policy-name",
            "read",
            "--policy-document",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:ListBucket","s3:ListObjectsV2","s3:GetObject"],"Resource":["arn:aws:s3:::readonly","arn:aws:s3:::readonly/*"]}]}"#,
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("a.txt"), b"a").unwrap();
    std::fs::write(src.join("big.zip"), data(6, 20 << 20)).unwrap();
    let (proxy, requests) = recording_proxy(&moto.url).await;

    let out = sync_at(&proxy, dir.path(), "readonly", (id, secret));
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let last = err.lines().last().unwrap_or_default();
    for file in [
        "res/a.txt (AccessDenied",
        "res/big.zip (starting the multipart upload: AccessDenied",
    ] {
        assert!(last.contains(file), "{file} in {err}");
    }
    let requests = requests.lock().unwrap().clone();
    let count = |line: &str| requests.iter().filter(|r| *r == line).count();
    assert_eq!(count("PUT /readonly/res/a.txt"), 1, "{requests:?}");
    assert_eq!(count("POST /readonly/res/big.zip"), 1, "{requests:?}");
    assert_eq!(count("GET /readonly/"), 1, "one listing: {requests:?}");
}
