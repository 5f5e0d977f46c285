//! A small IMDSv2 client: session token by PUT (refreshed on 401), GETs with the token, bounded
//! retries with backoff inside one overall deadline. Our own, on a plain TCP stream: the boot agent
//! needs exact control of timeouts and retries, and no HTTP stack of its own.
use secrecy::{ExposeSecret, SecretString};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub const DEFAULT_ENDPOINT: &str = "http://169.254.169.254";
const TOKEN_TTL: &str = "21600";
/// Per-request limit (connect, send, read), further capped by the time left before the deadline.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);
/// Largest response accepted (user data is at most 16 KiB on EC2; keep a wide margin).
const MAX_BODY: usize = 8 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ImdsError {
    #[error("invalid IMDS endpoint {0:?}: expected http://host[:port]")]
    Endpoint(String),
    /// The deadline passed; `last` is the last attempt that ended (not one cut off by the deadline).
    #[error(
        "instance metadata service at {endpoint}: no usable answer within {secs}s; last attempt"
    )]
    Deadline {
        endpoint: String,
        secs: u64,
        #[source]
        last: Attempt,
    },
    /// An answer no retry changes (403: IMDS disabled for the instance; 400, 405: not IMDSv2).
    #[error(
        "instance metadata service at {endpoint} refused {what} with {status}{}: not retried",
        if *.status == 403 { " Forbidden (is the metadata service disabled for this instance?)" } else { "" }
    )]
    Refused {
        endpoint: String,
        what: String,
        status: u16,
    },
}

/// Whether an IMDS status is final: retrying cannot change it.
fn refusal(status: u16) -> bool {
    matches!(status, 400 | 403 | 405)
}

/// How one attempt at a GET ended, when it did not give an answer to use.
#[derive(Debug, thiserror::Error)]
pub enum Attempt {
    #[error("GET {path} answered {status}")]
    Status { path: String, status: u16 },
    #[error("none ended before the deadline")]
    None,
    #[error("{path}")]
    Failed {
        path: String,
        #[source]
        source: ExchangeError,
    },
}

/// Why one HTTP exchange with the metadata service failed.
#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    #[error("connection")]
    Io(#[from] std::io::Error),
    #[error("no answer within {} ms", .0.as_millis())]
    NoAnswer(Duration),
    #[error("the deadline was reached before this request")]
    Deadline,
    #[error("response larger than {} MiB", MAX_BODY >> 20)]
    TooLarge,
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error("token request (PUT /latest/api/token) answered {0}")]
    TokenStatus(u16),
    #[error("empty token")]
    EmptyToken,
    #[error("401 Unauthorized even with a fresh token")]
    Unauthorized,
}

pub use super::http::{ParseError, Response, parse_response};

pub struct Imds {
    host: String,
    endpoint: String,
    /// The session token: a credential, never printed (no Debug shows it).
    token: Option<SecretString>,
    deadline: Instant,
    total: Duration,
}

fn parse_endpoint(url: &str) -> Result<String, ImdsError> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| ImdsError::Endpoint(url.to_string()))?;
    let host = rest.trim_end_matches('/');
    if host.is_empty() || host.contains('/') {
        return Err(ImdsError::Endpoint(url.to_string()));
    }
    Ok(if host.contains(':') {
        host.to_string()
    } else {
        format!("{host}:80")
    })
}

/// One HTTP/1.1 exchange with `Connection: close`, given up after `limit`.
async fn exchange(host: &str, request: String, limit: Duration) -> Result<Response, ExchangeError> {
    let work = async {
        let mut s = TcpStream::connect(host).await?;
        s.write_all(request.as_bytes()).await?;
        let mut raw = Vec::new();
        let mut buf = [0u8; 16 * 1024];
        loop {
            let n = s.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            raw.extend_from_slice(&buf[..n]);
            if raw.len() > MAX_BODY {
                return Err(ExchangeError::TooLarge);
            }
        }
        Ok(parse_response(&raw)?)
    };
    tokio::time::timeout(limit, work)
        .await
        .map_err(|_| ExchangeError::NoAnswer(limit))?
}

impl Imds {
    /// A client that gives up `deadline` from now (at most a year: no overflow).
    pub fn new(endpoint: &str, deadline: Duration) -> Result<Self, ImdsError> {
        let total = deadline.min(Duration::from_secs(365 * 24 * 3600));
        let now = Instant::now();
        Ok(Imds {
            host: parse_endpoint(endpoint)?,
            endpoint: endpoint.trim_end_matches('/').to_string(),
            token: None,
            deadline: now.checked_add(total).unwrap_or(now),
            total,
        })
    }

    /// One request's time limit: the per-request limit or the time left, whichever is shorter.
    /// `None` once the deadline has passed.
    fn budget(&self) -> Option<Duration> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        (!left.is_zero()).then(|| left.min(REQUEST_TIMEOUT))
    }

    async fn fetch_token(&self) -> Result<SecretString, ExchangeError> {
        let req = format!(
            "PUT /latest/api/token HTTP/1.1\r\nHost: {}\r\nX-aws-ec2-metadata-token-ttl-seconds: {TOKEN_TTL}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.host
        );
        let limit = self.budget().ok_or(ExchangeError::Deadline)?;
        let r = exchange(&self.host, req, limit).await?;
        if r.status != 200 {
            return Err(ExchangeError::TokenStatus(r.status));
        }
        let t = String::from_utf8_lossy(&r.body).trim().to_string();
        if t.is_empty() {
            return Err(ExchangeError::EmptyToken);
        }
        Ok(SecretString::from(t))
    }

    async fn try_get(&mut self, path: &str) -> Result<Response, ExchangeError> {
        if self.token.is_none() {
            self.token = Some(self.fetch_token().await?);
        }
        for _ in 0..2 {
            let req = format!(
                "GET {path} HTTP/1.1\r\nHost: {}\r\nX-aws-ec2-metadata-token: {}\r\nConnection: close\r\n\r\n",
                self.host,
                self.token.as_ref().map_or("", |t| t.expose_secret())
            );
            let limit = self.budget().ok_or(ExchangeError::Deadline)?;
            let r = exchange(&self.host, req, limit).await?;
            if r.status == 401 {
                // Expired or revoked: a new token, then once more.
                tracing::debug!(path, "IMDS answered 401: refreshing the session token");
                self.token = Some(self.fetch_token().await?);
                continue;
            }
            return Ok(r);
        }
        Err(ExchangeError::Unauthorized)
    }

    /// GETs `path`; `Ok(None)` for 404. Retries transport errors, 401 and 5xx with backoff until
    /// the deadline; a refusal (400, 403, 405) ends at once. The deadline error names the last
    /// attempt that ended, not the one the deadline cut off.
    pub async fn get(&mut self, path: &str) -> Result<Option<Vec<u8>>, ImdsError> {
        let mut wait = Duration::from_millis(250);
        let mut last = Attempt::None;
        loop {
            match self.try_get(path).await {
                Ok(r) if r.status == 200 => return Ok(Some(r.body)),
                Ok(r) if r.status == 404 => return Ok(None),
                Ok(r) if refusal(r.status) => {
                    return Err(ImdsError::Refused {
                        endpoint: self.endpoint.clone(),
                        what: format!("GET {path}"),
                        status: r.status,
                    });
                }
                Err(ExchangeError::TokenStatus(status)) if refusal(status) => {
                    return Err(ImdsError::Refused {
                        endpoint: self.endpoint.clone(),
                        what: "the session token (PUT /latest/api/token)".into(),
                        status,
                    });
                }
                Ok(r) => {
                    last = Attempt::Status {
                        path: path.to_string(),
                        status: r.status,
                    }
                }
                // Nothing was asked: the previous attempt says what happened.
                Err(ExchangeError::Deadline) => {}
                Err(source) => {
                    last = Attempt::Failed {
                        path: path.to_string(),
                        source,
                    }
                }
            }
            let now = Instant::now();
            if now >= self.deadline {
                return Err(ImdsError::Deadline {
                    endpoint: self.endpoint.clone(),
                    secs: self.total.as_secs(),
                    last,
                });
            }
            tracing::debug!(
                error = &last as &dyn std::error::Error,
                retry_in_ms = wait.as_millis() as u64,
                "IMDS not ready"
            );
            tokio::time::sleep(wait.min(self.deadline - now)).await;
            wait = (wait * 2).min(Duration::from_secs(5));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_checked() {
        assert_eq!(
            parse_endpoint("http://169.254.169.254").unwrap(),
            "169.254.169.254:80"
        );
        assert_eq!(
            parse_endpoint("http://127.0.0.1:8080/").unwrap(),
            "127.0.0.1:8080"
        );
        assert!(parse_endpoint("https://x").is_err());
    }
}
