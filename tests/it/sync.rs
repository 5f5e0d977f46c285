//! `lava-build sync` against real S3 servers: the AWS emulator (moto) for everything, and the fast
//! native one (s3s-fs) too for the faults. The tests by concern: comparing by content, not by time
//! (`content`), failures and their messages (`errors`), the requests a sync makes (`requests`),
//! ETags that are no MD5 (`etags`), faults from outside (`faults`); `servers` has the test's own
//! servers and proxies.
mod content;
mod errors;
mod etags;
mod faults;
mod requests;
pub mod servers;

use crate::common::path_str;
use serde_json::Value;

/// An S3 server the sync tests run against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Server {
    /// The AWS emulator of scripts/test-services.sh.
    Moto,
    /// s3s-fs, the native filesystem-backed S3 server of scripts/test-services.sh. It does not
    /// implement ListMultipartUploads (501 NotImplemented).
    S3sFs,
}

impl Server {
    /// The server's URL, or a panic that names the missing service.
    fn url(self) -> String {
        match self {
            Server::Moto => crate::common::moto(),
            Server::S3sFs => std::env::var("LAVA_TEST_S3S_FS").unwrap_or_else(|_| {
                panic!("native S3 server (s3s-fs) is not running: LAVA_TEST_S3S_FS is unset; build it with `scripts/test-services.sh install` and run the tests through `scripts/test-services.sh run -- cargo test`")
            }),
        }
    }
}

/// A bucket of its own on a server, and a folder with the source tree and the hash cache.
struct Fixture {
    dir: tempfile::TempDir,
    bucket: String,
    s3: aws_sdk_s3::Client,
    server: Server,
}

impl Fixture {
    /// A fixture on the AWS emulator.
    async fn new() -> Self {
        Fixture::on(Server::Moto).await
    }

    async fn on(server: Server) -> Self {
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(server.url())
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                "testing", "testing", None, None, "tests",
            ))
            .load()
            .await;
        let s3 = aws_sdk_s3::Client::new(&sdk);
        let bucket = format!("sync-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        s3.create_bucket().bucket(&bucket).send().await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("src")).unwrap();
        Fixture {
            dir,
            bucket,
            s3,
            server,
        }
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

    /// A sync of the source folder to `s3://<bucket>/<prefix>` on the fixture's server.
    fn cmd_at(&self, prefix: &str, extra: &[&str]) -> assert_cmd::Command {
        let mut c = crate::common::bin("lava-build");
        c.env("AWS_ENDPOINT_URL", self.server.url())
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .args(["sync", "--source", &path_str(&self.src())])
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
