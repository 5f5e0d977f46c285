//! A sync compares by content, not by modification time: no-ops, touched and re-created trees,
//! large files in parts, objects uploaded by others; deletes only when asked; dry runs.
use super::{Fixture, counts, data, n};

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
