//! `lava-build sync` against the AWS emulator: by content, not by modification time; multipart;
//! deletes only when asked; dry runs; and a fault-injecting proxy for failures mid-upload.
mod etags;
mod faults;
pub mod servers;

use crate::common::{bin_moto, moto_sdk, path_str};
use serde_json::Value;
use servers::{OwnMoto, fault_proxy, recording_proxy};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

struct Fixture {
    dir: tempfile::TempDir,
    bucket: String,
    s3: aws_sdk_s3::Client,
}

impl Fixture {
    async fn new() -> Self {
        let sdk = moto_sdk("us-east-1").await;
        let s3 = aws_sdk_s3::Client::new(&sdk);
        let bucket = format!("sync-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        s3.create_bucket().bucket(&bucket).send().await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("src")).unwrap();
        Fixture { dir, bucket, s3 }
    }

    fn src(&self) -> std::path::PathBuf {
        self.dir.path().join("src")
    }

    fn write(&self, rel: &str, data: &[u8]) {
        let p = self.src().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, data).unwrap();
    }

    fn cmd(&self, extra: &[&str]) -> assert_cmd::Command {
        self.cmd_at("res/", extra)
    }

    /// A sync of the source folder to `s3://<bucket>/<prefix>`.
    fn cmd_at(&self, prefix: &str, extra: &[&str]) -> assert_cmd::Command {
        let mut c = bin_moto("lava-build");
        c.args(["sync", "--source", &path_str(&self.src())])
            .args([
                "--cache-file",
                &path_str(&self.dir.path().join("cache.json")),
            ])
            .arg(format!("s3bucket={}", self.bucket))
            .arg(format!("s3prefix={prefix}"))
            .args(["region=us-east-1", "--output", "json"])
            .args(extra);
        c
    }

    fn run(&self, extra: &[&str]) -> Value {
        crate::common::json_stdout(&self.cmd(extra).output().unwrap())
    }

    /// Deletes the hash cache, as a fresh clone would have none.
    fn forget_cache(&self) {
        std::fs::remove_file(self.dir.path().join("cache.json")).unwrap();
    }

    async fn keys(&self) -> Vec<String> {
        let out = self
            .s3
            .list_objects_v2()
            .bucket(&self.bucket)
            .send()
            .await
            .unwrap();
        out.contents()
            .iter()
            .map(|o| o.key().unwrap().to_string())
            .collect()
    }

    async fn get(&self, key: &str) -> Vec<u8> {
        let o = self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .unwrap();
        o.body.collect().await.unwrap().into_bytes().to_vec()
    }
}

/// The counts `fields` of a sync report, in order.
fn counts<const N: usize>(v: &Value, fields: [&str; N]) -> [u64; N] {
    fields.map(|f| n(v, f))
}

fn n(v: &Value, field: &str) -> u64 {
    v[field]
        .as_u64()
        .unwrap_or_else(|| panic!("{field} in {v}"))
}

/// Bytes that differ from file to file (so no two files have the same content).
fn data(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 10) as u8)
        .collect()
}

#[tokio::test]
async fn syncs_by_content_not_by_time() {
    let f = Fixture::new().await;
    f.write("a.txt", b"alpha");
    f.write("oracle/b.zip", &data(1, 50_000));
    f.write("c/d.bin", &data(2, 3_000));
    f.write(".hidden", b"never");
    f.write("c/.DS_Store", b"never");
    f.write("c/d.bin.swp", b"never");
    f.write("tmp/scratch.tmp", b"excluded");

    let first = f.run(&["--exclude", "*.tmp"]);
    assert_eq!(counts(&first, ["checked", "uploaded"]), [3, 3], "{first}");
    assert_eq!(
        f.keys().await,
        ["res/a.txt", "res/c/d.bin", "res/oracle/b.zip"],
        "dot files, swap files and excludes are not uploaded"
    );

    let noop = f.run(&["--exclude", "*.tmp"]);
    assert_eq!(counts(&noop, ["uploaded", "unchanged"]), [0, 3], "{noop}");
    assert_eq!(n(&noop, "bytes_sent"), 0);

    // touch without change: nothing to send.
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
    for rel in ["a.txt", "oracle/b.zip", "c/d.bin"] {
        std::fs::File::options()
            .write(true)
            .open(f.src().join(rel))
            .unwrap()
            .set_modified(later)
            .unwrap();
    }
    assert_eq!(n(&f.run(&["--exclude", "*.tmp"]), "uploaded"), 0);

    // One file changed: one upload, with the new content.
    f.write("c/d.bin", &data(3, 3_000));
    let one = f.run(&["--exclude", "*.tmp"]);
    assert_eq!(n(&one, "uploaded"), 1, "{one}");
    assert_eq!(one["uploads"][0]["key"], "res/c/d.bin");
    assert_eq!(f.get("res/c/d.bin").await, data(3, 3_000));

    // A re-created tree (fresh clone: new inodes and mtimes) and no cache: 0 bytes sent.
    let copy = f.dir.path().join("copy");
    std::fs::rename(f.src(), &copy).unwrap();
    f.write("a.txt", b"alpha");
    f.write("oracle/b.zip", &data(1, 50_000));
    f.write("c/d.bin", &data(3, 3_000));
    f.forget_cache();
    let fresh = f.run(&[]);
    assert_eq!(
        counts(&fresh, ["uploaded", "bytes_sent", "unchanged"]),
        [0, 0, 3],
        "{fresh}"
    );
}

#[tokio::test]
async fn deletes_only_when_asked_and_dry_run_changes_nothing() {
    let f = Fixture::new().await;
    f.write("keep.txt", b"keep");
    f.write("gone.txt", b"gone");
    f.run(&[]);
    std::fs::remove_file(f.src().join("gone.txt")).unwrap();
    f.write("new.txt", b"new");

    let dry = f.run(&["--dry-run", "--delete"]);
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["uploads"][0]["key"], "res/new.txt");
    assert_eq!(dry["uploads"][0]["reason"], "new");
    assert_eq!(dry["deletions"], serde_json::json!(["res/gone.txt"]));
    assert_eq!(
        f.keys().await,
        ["res/gone.txt", "res/keep.txt"],
        "dry run touched nothing"
    );

    let plain = f.run(&[]);
    assert_eq!(n(&plain, "deleted"), 0);
    assert_eq!(
        f.keys().await,
        ["res/gone.txt", "res/keep.txt", "res/new.txt"],
        "a local delete leaves the remote object without --delete"
    );
    let del = f.run(&["--delete"]);
    assert_eq!(n(&del, "deleted"), 1, "{del}");
    assert_eq!(f.keys().await, ["res/keep.txt", "res/new.txt"]);
}

#[tokio::test]
async fn a_64_mib_file_goes_up_in_parts_and_comes_back_identical() {
    let f = Fixture::new().await;
    let big = data(9, 64 * 1024 * 1024);
    f.write("oracle/instantclient-basiclite-linux-x64.zip", &big);
    let r = f.run(&[]);
    assert_eq!(n(&r, "uploaded"), 1);
    let key = "res/oracle/instantclient-basiclite-linux-x64.zip";
    let head =
        f.s3.head_object()
            .bucket(&f.bucket)
            .key(key)
            .checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled)
            .send()
            .await
            .unwrap();
    let etag = head.e_tag().unwrap().trim_matches('"');
    assert!(etag.ends_with("-8"), "8 parts of 8 MiB: {:?}", head.e_tag());
    // S3's composite checksum: the SHA-256 of the parts' SHA-256s, what a later run compares (S3
    // appends `-8`; moto leaves it out on HEAD).
    let parts: Vec<u8> = big
        .chunks(8 << 20)
        .flat_map(|p| <sha2::Sha256 as sha2::Digest>::digest(p).to_vec())
        .collect();
    let composite = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        <sha2::Sha256 as sha2::Digest>::digest(&parts),
    );
    assert_eq!(
        head.checksum_sha256().map(|c| c.trim_end_matches("-8")),
        Some(composite.as_str())
    );
    assert!(
        f.get(key).await == big,
        "downloaded bytes equal the local ones"
    );
    assert_eq!(n(&f.run(&[]), "uploaded"), 0);
    // Without the cache the file is hashed and S3's composite checksum (from a HEAD) decides.
    f.forget_cache();
    let again = f.run(&[]);
    assert_eq!(counts(&again, ["uploaded", "unchanged"]), [0, 1], "{again}");
}

#[tokio::test]
async fn objects_uploaded_by_others_are_compared_by_md5_or_uploaded_once() {
    let f = Fixture::new().await;
    f.write("same.txt", b"same content");
    f.write("other.txt", b"ours");
    for (key, body) in [
        ("res/same.txt", &b"same content"[..]),
        ("res/other.txt", b"theirs"),
    ] {
        f.s3.put_object()
            .bucket(&f.bucket)
            .key(key)
            .body(body.to_vec().into())
            .send()
            .await
            .unwrap();
    }
    let r = f.run(&[]);
    let keys: Vec<&str> = r["uploads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        ["res/other.txt"],
        "same MD5: kept; different: uploaded: {r}"
    );
    assert_eq!(f.get("res/other.txt").await, b"ours");
}

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

#[test]
fn sync_help_explains_the_rules() {
    let out = crate::common::bin("lava-build")
        .args(["sync", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in ["--dry-run", "--delete", "--exclude", "SHA-256", "s3bucket="] {
        assert!(help.contains(needle), "{needle} in {help}");
    }
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

/// Runs the AWS CLI of build/venv against `url` as the emulator's root user; stdout.
fn aws_cli(url: &str, args: &[&str]) -> String {
    let out = std::process::Command::new(crate::common::root().join("build/venv/bin/aws"))
        .args(["--endpoint-url", url, "--output", "text"])
        .args(args)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .output()
        .expect("the AWS CLI in build/venv (scripts/test-services.sh install)");
    assert!(
        out.status.success(),
        "aws {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Runs a sync of `dir/src` to `s3://bucket/res/` at `url` with the access key `key`.
fn sync_at(
    url: &str,
    dir: &std::path::Path,
    bucket: &str,
    key: (&str, &str),
) -> std::process::Output {
    crate::common::bin("lava-build")
        .args(["sync", "--source", &path_str(&dir.join("src"))])
        .args(["--cache-file", &path_str(&dir.join("c.json"))])
        .arg(format!("s3bucket={bucket}"))
        .args(["s3prefix=res/", "region=us-east-1", "--output", "json"])
        .env("AWS_ENDPOINT_URL", url)
        .env("AWS_ACCESS_KEY_ID", key.0)
        .env("AWS_SECRET_ACCESS_KEY", key.1)
        .output()
        .unwrap()
}

fn report(out: &std::process::Output) -> Value {
    crate::common::json_stdout(out)
}

#[tokio::test]
async fn sse_kms_objects_are_compared_by_checksum_never_by_etag() {
    let moto = OwnMoto::start(0, Some(servers::Flavour::SseKmsEtags));
    let s3 = aws_sdk_s3::Client::new(&moto.sdk().await);
    s3.create_bucket().bucket("kms").send().await.unwrap();
    aws_cli(
        &moto.url,
        &[
            "s3api",
            "put-bucket-encryption",
            "--bucket",
            "kms",
            "--server-side-encryption-configuration",
            r#"{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"aws:kms"}}]}"#,
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("small.txt"), b"small").unwrap();
    std::fs::write(src.join("big.zip"), data(4, 20 << 20)).unwrap();
    let creds = ("testing", "testing");

    let first = report(&sync_at(&moto.url, dir.path(), "kms", creds));
    assert_eq!(
        (
            n(&first, "uploaded"),
            first["failed"].as_array().unwrap().len()
        ),
        (2, 0),
        "{first}"
    );
    // What makes this test mean something: the bucket encrypts with KMS and the ETag is no MD5.
    let head = s3
        .head_object()
        .bucket("kms")
        .key("res/small.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(
        head.server_side_encryption(),
        Some(&aws_sdk_s3::types::ServerSideEncryption::AwsKms)
    );
    let md5 = hex::encode(<md5::Md5 as md5::Digest>::digest(b"small"));
    assert_ne!(head.e_tag().unwrap().trim_matches('"'), md5);

    let second = report(&sync_at(&moto.url, dir.path(), "kms", creds));
    assert_eq!(
        counts(&second, ["uploaded", "unchanged"]),
        [0, 2],
        "{second}"
    );
    // Without the cache: decided by HEAD, from our checksum and S3's, never from the ETag.
    std::fs::remove_file(dir.path().join("c.json")).unwrap();
    let third = report(&sync_at(&moto.url, dir.path(), "kms", creds));
    assert_eq!(
        counts(&third, ["uploaded", "bytes_sent", "unchanged"]),
        [0, 0, 2],
        "{third}"
    );
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_tree_is_one_listing_and_its_uploads_and_a_no_op_is_the_listing_alone() {
    let f = Fixture::new().await;
    for i in 0..5u8 {
        f.write(&format!("d{i}/f.txt"), &data(i, 100 + i as usize));
    }
    // 20 MiB: three parts of 8 MiB.
    f.write("big.zip", &data(9, 20 << 20));
    let (proxy, requests) = recording_proxy(&crate::common::moto()).await;
    let sync = || {
        let out = f.cmd(&[]).env("AWS_ENDPOINT_URL", &proxy).output().unwrap();
        crate::common::json_stdout(&out)
    };
    let taken = |requests: &servers::Requests| std::mem::take(&mut *requests.lock().unwrap());
    let counted = |lines: &[String]| {
        let mut by: std::collections::BTreeMap<String, usize> = Default::default();
        for l in lines {
            *by.entry(l.clone()).or_default() += 1;
        }
        by
    };

    let first = sync();
    assert_eq!(counts(&first, ["uploaded", "unchanged"]), [6, 0], "{first}");
    let b = &f.bucket;
    let mut expected: std::collections::BTreeMap<String, usize> = [
        (format!("GET /{b}/"), 1),
        (format!("POST /{b}/res/big.zip"), 2), // start and complete
        (format!("PUT /{b}/res/big.zip"), 3),  // the parts
    ]
    .into_iter()
    .collect();
    for i in 0..5 {
        expected.insert(format!("PUT /{b}/res/d{i}/f.txt"), 1);
    }
    // No HEAD, no second listing, no request for a file beyond its upload.
    assert_eq!(counted(&taken(&requests)), expected);

    let again = sync();
    assert_eq!(counts(&again, ["uploaded", "unchanged"]), [0, 6], "{again}");
    assert_eq!(taken(&requests), vec![format!("GET /{b}/")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_part_does_not_hold_back_the_next_parts() {
    let f = Fixture::new().await;
    // 20 MiB: parts 1 and 2 of 8 MiB, part 3 of 4 MiB.
    let content = data(7, 20 << 20);
    f.write("big.zip", &content);
    // Part 1 is held until part 3 has been sent. With two requests in flight, part 3 can only start
    // once part 2 is done and while part 1 is still under way.
    let (proxy, held) = servers::holding_proxy("partNumber=1&", "partNumber=3&").await;
    let out = f
        .cmd(&["--concurrency", "2"])
        .env("AWS_ENDPOINT_URL", &proxy)
        .output()
        .unwrap();
    let report = crate::common::json_stdout(&out);
    assert_eq!(counts(&report, ["uploaded"]), [1], "{report}");
    assert!(
        !held.deadline_passed.load(Ordering::SeqCst),
        "part 3 was not sent while part 1 was under way"
    );
    assert!(
        f.get("res/big.zip").await == content,
        "the object is the file"
    );
}
