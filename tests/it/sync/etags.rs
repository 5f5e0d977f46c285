//! ETags that are not the MD5 of the content. Objects another client uploaded in parts without
//! checksums: their multipart ETag (MD5 of the parts' MD5s) is computed locally for the part sizes
//! that give their part count. Objects encrypted with SSE-KMS: compared by checksum, never by ETag.
use super::servers::{self, OwnMoto};
use super::{Fixture, aws_cli, counts, data, n, report, sync_at};
use serde_json::Value;

/// Uploads `files` (local path, key) to the fixture's bucket with boto3 in 5 MiB parts and no
/// checksums, as an older or differently configured client does.
fn boto3_upload(f: &Fixture, files: &[(&std::path::Path, &str)]) {
    const SCRIPT: &str = r#"
import sys, boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
url, bucket, *pairs = sys.argv[1:]
s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1",
                  aws_access_key_id="testing", aws_secret_access_key="testing",
                  config=Config(request_checksum_calculation="when_required",
                                response_checksum_validation="when_required"))
parts = TransferConfig(multipart_threshold=5 << 20, multipart_chunksize=5 << 20)
for path, key in zip(pairs[::2], pairs[1::2]):
    s3.upload_file(path, bucket, key, Config=parts)
"#;
    let mut cmd = std::process::Command::new(crate::common::root().join("build/venv/bin/python3"));
    cmd.args(["-c", SCRIPT, &crate::common::moto(), &f.bucket]);
    for (path, key) in files {
        cmd.arg(path).arg(key);
    }
    let out = cmd
        .output()
        .expect("python3 with boto3 in build/venv (scripts/test-services.sh install)");
    assert!(
        out.status.success(),
        "boto3 upload: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn upload_keys(r: &Value) -> Vec<(String, String)> {
    r["uploads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["key"].as_str().unwrap().to_string(),
                u["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn objects_uploaded_in_other_parts_without_checksums_are_compared_by_multipart_etag() {
    let f = Fixture::new().await;
    // 20 MiB goes up in parts (ours: 3 of 8 MiB; theirs: 4 of 5 MiB); 10 MiB goes up in one
    // request (ours) but in 2 parts (theirs).
    let big = data(1, 20 << 20);
    let mid = data(2, 10 << 20);
    let edited = data(3, 20 << 20);
    f.write("same.bin", &big);
    f.write("mid.bin", &mid);
    f.write("edited.bin", &edited);
    // What the other client uploaded: the same bytes, and for edited.bin one byte of its third
    // part different.
    let theirs = f.dir.path().join("theirs");
    std::fs::create_dir_all(&theirs).unwrap();
    let mut old = edited.clone();
    old[(11 << 20) + 7] ^= 0xff;
    std::fs::write(theirs.join("edited.bin"), &old).unwrap();
    boto3_upload(
        &f,
        &[
            (&f.src().join("same.bin"), "res/same.bin"),
            (&f.src().join("mid.bin"), "res/mid.bin"),
            (&theirs.join("edited.bin"), "res/edited.bin"),
        ],
    );
    // What makes this test mean something: multipart ETags over other parts than ours, and no
    // checksum to compare.
    for (key, parts) in [("res/same.bin", "-4"), ("res/mid.bin", "-2")] {
        let head =
            f.s3.head_object()
                .bucket(&f.bucket)
                .key(key)
                .checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled)
                .send()
                .await
                .unwrap();
        assert!(
            head.e_tag().unwrap().trim_matches('"').ends_with(parts),
            "{key}: {head:?}"
        );
        assert_eq!(head.checksum_sha256(), None, "{key}: {head:?}");
        assert!(head.metadata().is_none_or(|m| m.is_empty()), "{head:?}");
    }

    let first = f.run(&[]);
    assert_eq!(
        upload_keys(&first),
        [("res/edited.bin".to_string(), "etag_differs".to_string())],
        "{first}"
    );
    assert_eq!(
        (
            n(&first, "unchanged"),
            first["failed"].as_array().unwrap().len()
        ),
        (2, 0),
        "{first}"
    );
    assert_eq!(n(&first, "bytes_sent"), 20 << 20, "{first}");
    assert_eq!(f.get("res/edited.bin").await, edited);

    // Confirmed once: the next sync decides from the listing, and so does one without the cache
    // (the HEAD and the ETag again).
    let second = f.run(&[]);
    assert_eq!(counts3(&second), [0, 0, 3], "{second}");
    f.forget_cache();
    let third = f.run(&[]);
    assert_eq!(counts3(&third), [0, 0, 3], "{third}");

    // A part changed locally: the ETag no longer matches for any part size; re-sent.
    let mut changed = big.clone();
    changed[(17 << 20) + 3] ^= 0x55;
    f.write("same.bin", &changed);
    f.forget_cache();
    let fourth = f.run(&[]);
    assert_eq!(
        upload_keys(&fourth),
        [("res/same.bin".to_string(), "etag_differs".to_string())],
        "{fourth}"
    );
    assert_eq!(f.get("res/same.bin").await, changed);
}

fn counts3(v: &Value) -> [u64; 3] {
    super::counts(v, ["uploaded", "bytes_sent", "unchanged"])
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
