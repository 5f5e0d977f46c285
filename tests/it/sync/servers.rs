//! Servers of the sync tests' own: a moto server with options, and TCP proxies in front of one.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Real S3 gives an object encrypted with SSE-KMS an ETag that is not the MD5 of its content; moto
/// gives every object its MD5. This start-up code makes moto's ETag of an SSE-KMS object what S3's
/// is: a digest that is not the content's MD5 (multipart ones keep their `-<parts>`).
const SSE_KMS_ETAGS: &str = r#"
import hashlib, sys
from moto.s3 import models
md5_etag = models.FakeKey.etag.fget
def s3_etag(key):
    etag = md5_etag(key)
    if key.encryption not in ("aws:kms", "aws:kms:dsse"):
        return etag
    digest, dash, parts = etag.strip('"').partition("-")
    return '"' + hashlib.md5(b"sse-kms:" + digest.encode()).hexdigest() + dash + parts + '"'
models.FakeKey.etag = property(s3_etag)
from moto.server import main
main(sys.argv[1:])
"#;

/// How an [`OwnMoto`] behaves besides plain moto.
#[derive(Clone, Copy)]
pub enum Flavour {
    /// SSE-KMS objects get ETags that are not their MD5, as on S3.
    SseKmsEtags,
}

/// A moto server of the test's own. With `free`, IAM is enforced after the first `free` requests.
pub struct OwnMoto {
    child: std::process::Child,
    pub url: String,
}

impl OwnMoto {
    pub fn start(free: u32, flavour: Option<Flavour>) -> Self {
        let venv = crate::common::root().join("build/venv/bin");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut cmd = match flavour {
            None => std::process::Command::new(venv.join("moto_server")),
            Some(Flavour::SseKmsEtags) => {
                let mut c = std::process::Command::new(venv.join("python3"));
                c.args(["-c", SSE_KMS_ETAGS]);
                c
            }
        };
        if free > 0 {
            cmd.env("INITIAL_NO_AUTH_ACTION_COUNT", free.to_string());
        }
        let child = cmd
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("AWS emulator (moto server) in {} is missing: run scripts/test-services.sh install: {e}", venv.display()));
        let started = std::time::Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed().as_secs() < 30,
                "moto server did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        OwnMoto {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    /// An SDK configuration for this server with its test credentials.
    pub async fn sdk(&self) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(&self.url)
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                "testing", "testing", None, None, "t",
            ))
            .load()
            .await
    }
}

impl Drop for OwnMoto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A TCP proxy on a free loopback port in front of `upstream` (`host:port`); `serve` runs each
/// connection from the client and to the upstream.
async fn proxy<F, Fut>(upstream: String, serve: F) -> String
where
    F: Fn(tokio::net::TcpStream, tokio::net::TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let serve = Arc::new(serve);
    tokio::spawn(async move {
        loop {
            let Ok((client, _)) = listener.accept().await else {
                return;
            };
            let (upstream, serve) = (upstream.clone(), serve.clone());
            tokio::spawn(async move {
                if let Ok(server) = tokio::net::TcpStream::connect(&upstream).await {
                    serve(client, server).await;
                }
            });
        }
    });
    format!("http://{addr}")
}

/// A TCP proxy in front of the emulator that, while `fail` is set, cuts every connection that sends
/// more than 1 MiB (large uploads), and lets small requests through.
pub async fn fault_proxy(fail: Arc<AtomicBool>) -> String {
    let upstream = crate::common::moto()
        .trim_start_matches("http://")
        .to_string();
    proxy(upstream, move |client, server| {
        let fail = fail.clone();
        async move {
            let (mut cr, mut cw) = client.into_split();
            let (mut sr, mut sw) = server.into_split();
            let up = async move {
                let mut buf = vec![0u8; 64 * 1024];
                let mut total = 0usize;
                loop {
                    let n = match cr.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    total += n;
                    if fail.load(Ordering::SeqCst) && total > 1024 * 1024 {
                        break;
                    }
                    if sw.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            };
            let down = async move {
                let _ = tokio::io::copy(&mut sr, &mut cw).await;
            };
            tokio::select! {
                _ = up => {},
                _ = down => {},
            }
        }
    })
    .await
}

/// The request lines (`METHOD /path`, query left out) of every HTTP request a proxy passed on.
pub type Requests = Arc<Mutex<Vec<String>>>;

/// A TCP proxy in front of `upstream` (`http://host:port`) that records every HTTP request going
/// through it. Requests carry their body with Content-Length (the SDK sends no chunked bodies when
/// the checksum is given); a chunked one is recorded as such, and the count is then wrong.
pub async fn recording_proxy(upstream: &str) -> (String, Requests) {
    let upstream = upstream.trim_start_matches("http://").to_string();
    let requests: Requests = Arc::default();
    let log = requests.clone();
    let url = proxy(upstream, move |client, server| {
        let log = log.clone();
        async move {
            let (mut cr, mut cw) = client.into_split();
            let (mut sr, mut sw) = server.into_split();
            let up = async move {
                let mut parser = RequestParser::default();
                let mut buf = vec![0u8; 64 * 1024];
                while let Ok(n @ 1..) = cr.read(&mut buf).await {
                    for line in parser.feed(&buf[..n]) {
                        log.lock().unwrap().push(line);
                    }
                    if sw.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            };
            let down = async move {
                let _ = tokio::io::copy(&mut sr, &mut cw).await;
            };
            tokio::join!(up, down);
        }
    })
    .await;
    (url, requests)
}

/// Splits a client's byte stream into HTTP/1.1 requests.
#[derive(Default)]
struct RequestParser {
    pending: Vec<u8>,
    body_left: usize,
}

impl RequestParser {
    /// The request lines of the requests whose head ends in `bytes`.
    fn feed(&mut self, bytes: &[u8]) -> Vec<String> {
        self.pending.extend_from_slice(bytes);
        let mut out = Vec::new();
        loop {
            if self.body_left > 0 {
                let take = self.body_left.min(self.pending.len());
                self.pending.drain(..take);
                self.body_left -= take;
                if self.body_left > 0 {
                    return out;
                }
            }
            let Some(end) = self.pending.windows(4).position(|w| w == b"\r\n\r\n") else {
                return out;
            };
            let head = String::from_utf8_lossy(&self.pending[..end]).into_owned();
            self.pending.drain(..end + 4);
            let mut lines = head.split("\r\n");
            let first = lines.next().unwrap_or_default();
            let mut words = first.split(' ');
            let method = words.next().unwrap_or_default();
            let path = words.next().unwrap_or_default();
            let path = path.split('?').next().unwrap_or_default();
            let mut chunked = false;
            for l in lines {
                let (name, value) = l.split_once(':').unwrap_or((l, ""));
                if name.eq_ignore_ascii_case("content-length") {
                    self.body_left = value.trim().parse().unwrap_or(0);
                } else if name.eq_ignore_ascii_case("transfer-encoding") {
                    chunked = value.to_ascii_lowercase().contains("chunked");
                }
            }
            out.push(if chunked {
                format!("{method} {path} (chunked: not counted reliably)")
            } else {
                format!("{method} {path}")
            });
        }
    }
}

/// What a [`holding_proxy`] saw: whether it had to let the held request go on its deadline.
#[derive(Default)]
pub struct Held {
    pub deadline_passed: AtomicBool,
}

/// A TCP proxy in front of the emulator that holds back the connection whose request line has
/// `hold` (nothing more of it goes upstream) until a request line with `until` has gone through
/// on another connection; after 10 s without one it lets the held request go and says so in
/// [`Held::deadline_passed`].
pub async fn holding_proxy(hold: &'static str, until: &'static str) -> (String, Arc<Held>) {
    let upstream = crate::common::moto()
        .trim_start_matches("http://")
        .to_string();
    let held = Arc::new(Held::default());
    let (seen_tx, seen_rx) = tokio::sync::watch::channel(false);
    let seen_tx = Arc::new(seen_tx);
    let report = held.clone();
    let url = proxy(upstream, move |client, server| {
        let (held, seen_tx, mut seen_rx) = (report.clone(), seen_tx.clone(), seen_rx.clone());
        async move {
            let (mut cr, mut cw) = client.into_split();
            let (mut sr, mut sw) = server.into_split();
            let up = async move {
                let mut buf = vec![0u8; 64 * 1024];
                // The end of the previous read, so a pattern split across two reads is found.
                let mut tail: Vec<u8> = Vec::new();
                let mut holding_done = false;
                while let Ok(n @ 1..) = cr.read(&mut buf).await {
                    let mut window = std::mem::take(&mut tail);
                    window.extend_from_slice(&buf[..n]);
                    let has = |p: &str| window.windows(p.len()).any(|w| w == p.as_bytes());
                    if has(until) {
                        seen_tx.send_replace(true);
                    }
                    if !holding_done && has(hold) {
                        holding_done = true;
                        let wait = seen_rx.wait_for(|seen| *seen);
                        if tokio::time::timeout(std::time::Duration::from_secs(10), wait)
                            .await
                            .is_err()
                        {
                            held.deadline_passed.store(true, Ordering::SeqCst);
                        }
                    }
                    tail = window[window.len().saturating_sub(64)..].to_vec();
                    if sw.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            };
            let down = async move {
                let _ = tokio::io::copy(&mut sr, &mut cw).await;
            };
            tokio::join!(up, down);
        }
    })
    .await;
    (url, held)
}

/// The test's hold on a [`gate_proxy`]: when the held request has arrived, and its release.
pub struct Gate {
    seen: tokio::sync::watch::Receiver<bool>,
    release: tokio::sync::watch::Sender<bool>,
}

impl Gate {
    /// Waits until the request to hold has reached the proxy (at most 60 s, else the test fails).
    pub async fn seen(&self) {
        let mut seen = self.seen.clone();
        tokio::time::timeout(std::time::Duration::from_secs(60), seen.wait_for(|s| *s))
            .await
            .expect("the request to hold did not reach the proxy within 60 s")
            .expect("the proxy is gone");
    }

    /// Lets the held request go on.
    pub fn release(&self) {
        self.release.send_replace(true);
    }
}

/// A TCP proxy in front of `upstream` (`http://host:port`) that holds back the first connection
/// whose bytes have `hold` (nothing more of it goes upstream) until the test calls
/// [`Gate::release`]; the test learns from [`Gate::seen`] that it has arrived.
pub async fn gate_proxy(upstream: &str, hold: &'static str) -> (String, Gate) {
    let upstream = upstream.trim_start_matches("http://").to_string();
    let (seen_tx, seen_rx) = tokio::sync::watch::channel(false);
    let (release_tx, release_rx) = tokio::sync::watch::channel(false);
    let seen_tx = Arc::new(seen_tx);
    let url = proxy(upstream, move |client, server| {
        let (seen_tx, mut release_rx) = (seen_tx.clone(), release_rx.clone());
        async move {
            let (mut cr, mut cw) = client.into_split();
            let (mut sr, mut sw) = server.into_split();
            let up = async move {
                let mut buf = vec![0u8; 64 * 1024];
                let mut tail: Vec<u8> = Vec::new();
                let mut held = false;
                while let Ok(n @ 1..) = cr.read(&mut buf).await {
                    let mut window = std::mem::take(&mut tail);
                    window.extend_from_slice(&buf[..n]);
                    if !held
                        && window.windows(hold.len()).any(|w| w == hold.as_bytes())
                        // Only the first connection with it is held.
                        && !seen_tx.send_replace(true)
                    {
                        held = true;
                        if release_rx.wait_for(|r| *r).await.is_err() {
                            return;
                        }
                    }
                    tail = window[window.len().saturating_sub(64)..].to_vec();
                    if sw.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            };
            let down = async move {
                let _ = tokio::io::copy(&mut sr, &mut cw).await;
            };
            tokio::join!(up, down);
        }
    })
    .await;
    (
        url,
        Gate {
            seen: seen_rx,
            release: release_tx,
        },
    )
}
