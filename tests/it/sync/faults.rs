//! Faults from outside a sync: a file written to while it uploads, a bucket-root `--delete`, file
//! names that are not UTF-8, a sync stopped by SIGTERM or killed outright. Each test runs against
//! the AWS emulator and against s3s-fs (`<test>::moto`, `<test>::s3s_fs`).
use super::servers::gate_proxy;
use super::{Fixture, Server, data, n};
use std::os::unix::ffi::OsStrExt;

/// Each fault test `name(server)` as two tests, `name::moto` and `name::s3s_fs`.
macro_rules! on_each_server {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            use super::super::Server;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn moto() {
                super::$name(Server::Moto).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn s3s_fs() {
                super::$name(Server::S3sFs).await
            }
        }
    )*};
}

on_each_server!(
    a_file_written_to_while_it_uploads_fails_and_nothing_is_stored_for_it,
    delete_at_the_bucket_root_needs_its_own_flag,
    file_names_that_are_not_utf8_are_refused_before_anything_is_sent,
    sigterm_aborts_the_multipart_uploads_under_way,
    the_next_sync_aborts_the_uploads_of_a_killed_one_and_no_others,
);

/// Starts `cmd` as a child process (for a signal), its output piped.
fn spawn(cmd: &assert_cmd::Command) -> std::process::Child {
    let mut c = std::process::Command::new(cmd.get_program());
    c.args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    if let Some(d) = cmd.get_current_dir() {
        c.current_dir(d);
    }
    c.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("lava-build starts")
}

async fn wait(child: std::process::Child) -> std::process::Output {
    tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap()
}

fn signal(child: &std::process::Child, sig: nix::sys::signal::Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), sig).unwrap();
}

impl Fixture {
    /// The multipart uploads under way in the bucket: (key, upload id), sorted. s3s-fs does not
    /// list them (501 NotImplemented); it keeps one metadata file for each in its data folder,
    /// `.bucket-<bucket>.object-<key>.upload-<id>.metadata.json` (bucket and key in URL-safe
    /// base64), removed when the upload is completed or aborted: those are read instead.
    async fn multipart_uploads(&self) -> Vec<(String, String)> {
        let mut uploads: Vec<(String, String)> = match self.server {
            Server::Moto => {
                let out = self
                    .s3
                    .list_multipart_uploads()
                    .bucket(&self.bucket)
                    .send()
                    .await
                    .unwrap();
                out.uploads()
                    .iter()
                    .map(|u| {
                        (
                            u.key().unwrap().to_string(),
                            u.upload_id().unwrap().to_string(),
                        )
                    })
                    .collect()
            }
            Server::S3sFs => {
                use base64::Engine as _;
                let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
                let data = std::env::var("LAVA_TEST_S3S_FS_DATA").unwrap_or_else(|_| {
                    panic!("native S3 server (s3s-fs): LAVA_TEST_S3S_FS_DATA (its data folder) is unset; run the tests through `scripts/test-services.sh run -- cargo test`")
                });
                let prefix = format!(".bucket-{}.object-", b64.encode(&self.bucket));
                std::fs::read_dir(&data)
                    .unwrap_or_else(|e| panic!("s3s-fs data folder {data}: {e}"))
                    .filter_map(|entry| {
                        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
                        let rest = name.strip_prefix(&prefix)?.strip_suffix(".metadata.json")?;
                        let (key, id) = rest.split_once(".upload-")?;
                        let key = String::from_utf8(b64.decode(key).unwrap()).unwrap();
                        Some((key, id.to_string()))
                    })
                    .collect()
            }
        };
        uploads.sort();
        uploads
    }
}

async fn a_file_written_to_while_it_uploads_fails_and_nothing_is_stored_for_it(server: Server) {
    let f = Fixture::on(server).await;
    // 24 MiB: three parts of 8 MiB.
    let old = data(11, 24 << 20);
    f.write("big.zip", &old);
    f.write("small.txt", b"small");
    // One request at a time: part 1 is read and held at the proxy while the file is edited, and
    // parts 2 and 3 are read after the edit.
    let (proxy, gate) = gate_proxy(&server.url(), "partNumber=1&").await;
    let mut cmd = f.cmd(&["--concurrency", "1"]);
    cmd.env("AWS_ENDPOINT_URL", &proxy);
    let child = spawn(&cmd);
    gate.seen().await;
    // Edited in place, as an editor or a download would: same size, its last part rewritten.
    let mut new = old.clone();
    new[(16 << 20)..].fill(0x5a);
    {
        use std::os::unix::fs::FileExt;
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(f.src().join("big.zip"))
            .unwrap();
        file.write_all_at(&new[(16 << 20)..], 16 << 20).unwrap();
    }
    gate.release();
    let out = wait(child).await;

    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let last = err.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("error: 1 of 2 files failed")
            && last.contains("res/big.zip (")
            && last.contains("changed during the sync"),
        "{err}"
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(n(&report, "uploaded"), 1, "{report}");
    assert_eq!(report["uploads"][0]["key"], "res/small.txt", "{report}");
    assert_eq!(report["failed"][0]["key"], "res/big.zip", "{report}");
    assert_eq!(
        f.keys().await,
        ["res/small.txt"],
        "no object of mixed versions"
    );
    assert_eq!(f.multipart_uploads().await, [], "the upload was aborted");

    // The next sync sends the file as it is now.
    let again = f.run(&[]);
    assert_eq!(n(&again, "uploaded"), 1, "{again}");
    assert!(f.get("res/big.zip").await == new);
}

async fn delete_at_the_bucket_root_needs_its_own_flag(server: Server) {
    let f = Fixture::on(server).await;
    f.write("a.txt", b"a");
    f.s3.put_object()
        .bucket(&f.bucket)
        .key("elsewhere/keep.txt")
        .body(b"theirs".to_vec().into())
        .send()
        .await
        .unwrap();

    let out = f.cmd_at("", &["--delete"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("s3prefix is empty")
            && err.contains(&f.bucket)
            && err.contains("--delete-bucket-root"),
        "{err}"
    );
    assert_eq!(f.keys().await, ["elsewhere/keep.txt"], "nothing was done");

    // A dry run shows what it would delete; without --delete the bucket root is synced as before.
    let dry = super::report(&f.cmd_at("", &["--delete", "--dry-run"]).output().unwrap());
    assert_eq!(dry["deletions"], serde_json::json!(["elsewhere/keep.txt"]));
    let plain = super::report(&f.cmd_at("", &[]).output().unwrap());
    assert_eq!(n(&plain, "uploaded"), 1, "{plain}");
    assert_eq!(f.keys().await, ["a.txt", "elsewhere/keep.txt"]);

    let asked = super::report(
        &f.cmd_at("", &["--delete", "--delete-bucket-root"])
            .output()
            .unwrap(),
    );
    assert_eq!(n(&asked, "deleted"), 1, "{asked}");
    assert_eq!(f.keys().await, ["a.txt"]);
}

async fn file_names_that_are_not_utf8_are_refused_before_anything_is_sent(server: Server) {
    let f = Fixture::on(server).await;
    f.write("good.txt", b"good");
    // Latin-1 "café.txt" and another byte: both read "caf\u{FFFD}.txt" when made UTF-8 lossily,
    // one key for two files.
    for (name, body) in [(&b"caf\xe9.txt"[..], &b"one"[..]), (b"caf\xff.txt", b"two")] {
        std::fs::write(f.src().join(std::ffi::OsStr::from_bytes(name)), body).unwrap();
    }
    let out = f.cmd(&[]).output().unwrap();
    let err = crate::common::one_line_failure(&out);
    assert!(
        err.contains("2 file names are not UTF-8")
            && err.contains(r#""caf\xE9.txt""#)
            && err.contains(r#""caf\xFF.txt""#),
        "{err}"
    );
    assert_eq!(f.keys().await, Vec::<String>::new(), "nothing was sent");
}

async fn sigterm_aborts_the_multipart_uploads_under_way(server: Server) {
    let f = Fixture::on(server).await;
    f.write("big.zip", &data(12, 24 << 20));
    f.write("small.txt", b"small");
    let (proxy, gate) = gate_proxy(&server.url(), "partNumber=1&").await;
    let mut cmd = f.cmd(&["--concurrency", "1"]);
    cmd.env("AWS_ENDPOINT_URL", &proxy);
    let child = spawn(&cmd);
    gate.seen().await;
    assert_eq!(
        f.multipart_uploads().await.len(),
        1,
        "the upload is under way when the signal comes"
    );
    signal(&child, nix::sys::signal::Signal::SIGTERM);
    let out = wait(child).await;

    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let last = err.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("error: stopped by SIGTERM: 0 of 2 uploads done")
            && last.contains("1 multipart upload(s) under way aborted (res/big.zip)"),
        "{err}"
    );
    assert_eq!(f.multipart_uploads().await, [], "no parts left behind");
    assert_eq!(f.keys().await, Vec::<String>::new());
    assert!(
        !f.dir.path().join("cache.uploads").exists(),
        "nothing left for the next sync to clean up"
    );
}

async fn the_next_sync_aborts_the_uploads_of_a_killed_one_and_no_others(server: Server) {
    let f = Fixture::on(server).await;
    let content = data(13, 24 << 20);
    f.write("big.zip", &content);
    let (proxy, gate) = gate_proxy(&server.url(), "partNumber=1&").await;
    let mut cmd = f.cmd(&["--concurrency", "1"]);
    cmd.env("AWS_ENDPOINT_URL", &proxy);
    let child = spawn(&cmd);
    gate.seen().await;
    signal(&child, nix::sys::signal::Signal::SIGKILL);
    let killed = wait(child).await;
    assert_eq!(killed.status.code(), None, "killed by the signal");
    let left = f.multipart_uploads().await;
    assert_eq!(left.len(), 1, "a killed sync leaves its upload: {left:?}");
    // Someone else's upload under the same prefix, started after ours: not ours to abort.
    let theirs =
        f.s3.create_multipart_upload()
            .bucket(&f.bucket)
            .key("res/theirs.bin")
            .send()
            .await
            .unwrap()
            .upload_id()
            .unwrap()
            .to_string();

    let out = f.cmd(&[]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "aborted 1 multipart upload(s) left by an earlier sync that was stopped: res/big.zip"
        ),
        "{err}"
    );
    // s3s-fs answers ListMultipartUploads with 501: the sync says so and aborts ours by their ids.
    assert_eq!(
        err.contains("the S3 server does not list multipart uploads (NotImplemented): aborting the 1 upload(s)"),
        server == Server::S3sFs,
        "{err}"
    );
    let r = crate::common::json_stdout(&out);
    assert_eq!(
        r["stale_uploads_aborted"],
        serde_json::json!(["res/big.zip"]),
        "{r}"
    );
    assert_eq!(n(&r, "uploaded"), 1, "{r}");
    assert_eq!(
        f.multipart_uploads().await,
        [("res/theirs.bin".to_string(), theirs)],
        "only ours was aborted"
    );
    assert!(f.get("res/big.zip").await == content);
    assert!(!f.dir.path().join("cache.uploads").exists());
    // Nothing left to clean: the next sync asks nothing about multipart uploads.
    let again = f.run(&[]);
    assert_eq!(again["stale_uploads_aborted"], serde_json::json!([]));
}
