//! A fake IMDSv2 server for the boot agent's tests: tokens by PUT with a TTL header, 401 without a
//! valid token, user data and placement, and programmable faults (down for a while, 500s, delays,
//! 404, token revocation).
#![allow(dead_code)]
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Default)]
pub struct State {
    pub user_data: Option<Vec<u8>>,
    pub region: Option<String>,
    pub az: Option<String>,
    tokens: HashSet<String>,
    issued: usize,
    /// Connections are dropped without an answer until then.
    pub down_until: Option<Instant>,
    /// Answer this many requests with 500 first.
    pub fail_500: usize,
    /// Answer every token request (PUT) with this status.
    pub token_status: Option<u16>,
    /// Delay before every answer.
    pub delay: Duration,
    /// After this many successful GETs, every token is revoked once (the next GET gets 401).
    pub revoke_after_gets: Option<usize>,
    gets: usize,
    pub token_puts: usize,
    pub unauthorized: usize,
}

#[derive(Clone)]
pub struct FakeImds {
    pub url: String,
    pub state: Arc<Mutex<State>>,
}

fn response(status: &str, headers: &[(&str, String)], body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

impl FakeImds {
    /// Starts the server on a free loopback port, region ap-southeast-2, no user data.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State {
            region: Some("ap-southeast-2".into()),
            az: Some("ap-southeast-2b".into()),
            ..Default::default()
        }));
        let st = state.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                let st = st.clone();
                tokio::spawn(async move {
                    let mut raw = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !raw.windows(4).any(|w| w == b"\r\n\r\n") {
                        match sock.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => raw.extend_from_slice(&buf[..n]),
                        }
                    }
                    let (answer, delay) = {
                        let mut s = st.lock().unwrap();
                        (s.handle(&raw), s.delay)
                    };
                    tokio::time::sleep(delay).await;
                    if let Some(bytes) = answer {
                        let _ = sock.write_all(&bytes).await;
                    }
                    let _ = sock.shutdown().await;
                });
            }
        });
        FakeImds { url, state }
    }

    pub fn set_user_data(&self, data: &[u8]) {
        self.state.lock().unwrap().user_data = Some(data.to_vec());
    }

    pub fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut self.state.lock().unwrap())
    }
}

impl State {
    /// The answer to one request, or None to drop the connection.
    fn handle(&mut self, raw: &[u8]) -> Option<Vec<u8>> {
        if self.down_until.is_some_and(|t| Instant::now() < t) {
            return None;
        }
        if self.fail_500 > 0 {
            self.fail_500 -= 1;
            return Some(response("500 Internal Server Error", &[], b"error"));
        }
        let text = String::from_utf8_lossy(raw);
        let mut lines = text.split("\r\n");
        let mut first = lines.next().unwrap_or_default().split_whitespace();
        let method = first.next().unwrap_or_default().to_string();
        let path = first.next().unwrap_or_default().to_string();
        let header = |name: &str| {
            text.split("\r\n")
                .skip(1)
                .filter_map(|l| l.split_once(':'))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
                .map(|(_, v)| v.trim().to_string())
        };
        if method == "PUT" && path == "/latest/api/token" {
            if let Some(status) = self.token_status {
                return Some(response(&format!("{status} Refused"), &[], b""));
            }
            let Some(ttl) = header("X-aws-ec2-metadata-token-ttl-seconds")
                .and_then(|t| t.parse::<u32>().ok())
                .filter(|t| (1..=21600).contains(t))
            else {
                return Some(response("400 Bad Request", &[], b""));
            };
            self.issued += 1;
            self.token_puts += 1;
            let token = format!("token-{}", self.issued);
            self.tokens.insert(token.clone());
            return Some(response(
                "200 OK",
                &[("X-aws-ec2-metadata-token-ttl-seconds", ttl.to_string())],
                token.as_bytes(),
            ));
        }
        if method != "GET" {
            return Some(response("405 Method Not Allowed", &[], b""));
        }
        let valid = header("X-aws-ec2-metadata-token").is_some_and(|t| self.tokens.contains(&t));
        if !valid {
            self.unauthorized += 1;
            return Some(response("401 Unauthorized", &[], b""));
        }
        self.gets += 1;
        if self.revoke_after_gets == Some(self.gets) {
            self.tokens.clear();
        }
        let body = match path.as_str() {
            "/latest/user-data" => self.user_data.clone(),
            "/latest/meta-data/placement/region" => self.region.clone().map(String::into_bytes),
            "/latest/meta-data/placement/availability-zone" => {
                self.az.clone().map(String::into_bytes)
            }
            _ => None,
        };
        Some(match body {
            Some(b) => response("200 OK", &[("Content-Type", "text/plain".into())], &b),
            None => response("404 Not Found", &[], b"Not Found"),
        })
    }
}
