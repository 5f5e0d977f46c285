//! The docker connection spec (seed 003), checked in full before anything is asked of SSM, ECR or
//! the engine. Pure.
use super::spec::{missing, opt_str, wrong};
use crate::config::ConfigError;
use serde_json::{Map, Value};
use std::time::Duration;

/// The fields of a docker connection this runner uses (seed 003). Records carry more (`owner`,
/// `description`, `secret_id`, `x-*`, …): the worker ignores keys it does not use, and so does this.
pub const CONNECTION_FIELDS: [&str; 10] = [
    "conn_id", "type", "enabled", "registry", "user", "password", "email", "server", "tls",
    "timeout",
];

/// Where a docker connection's registry credentials come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryKind {
    /// The default public registry (or any public one named in the payload): no credentials.
    Public,
    /// ECR of the given account, or the caller's.
    Ecr { account: Option<String> },
    /// A registry with `user` and an SSM SecureString `password` under `/lava/<realm>/`.
    Private {
        host: String,
        user: String,
        password_ssm: String,
    },
}

/// A docker connection, checked.
#[derive(Debug, Clone)]
pub struct Connection {
    pub conn_id: String,
    pub registry: RegistryKind,
    pub email: Option<String>,
    pub server: Option<String>,
    pub tls: bool,
    pub timeout: Option<Duration>,
}

/// Checks a docker connection for `realm` (the SSM name of its password must be under
/// `/lava/<realm>/`).
pub fn connection(
    origin: &str,
    realm: &str,
    raw: &Map<String, Value>,
) -> Result<Connection, ConfigError> {
    let conn_id = opt_str(origin, raw, "conn_id", "conn_id")?
        .ok_or_else(|| missing(origin, "conn_id", "every connection has one"))?;
    let kind =
        opt_str(origin, raw, "type", "type")?.ok_or_else(|| missing(origin, "type", "docker"))?;
    if kind.to_lowercase() != "docker" {
        return Err(ConfigError::invalid(
            &format!("{origin}: type"),
            &kind,
            "docker (a docker job needs a docker connection)",
        ));
    }
    match raw.get("enabled") {
        Some(Value::Bool(true)) => {}
        Some(Value::Bool(false)) => {
            return Err(ConfigError::invalid(
                &format!("{origin}: enabled"),
                "false",
                "true: the connection is disabled",
            ));
        }
        Some(v) => return Err(wrong(origin, "enabled", "true or false", v)),
        // The worker defaults it to false: the connection is then not enabled.
        None => {
            return Err(missing(
                origin,
                "enabled",
                "true (the worker takes a connection without `enabled` as disabled)",
            ));
        }
    }
    let tls = match raw.get("tls") {
        None => true,
        Some(Value::Bool(b)) => *b,
        Some(v) => return Err(wrong(origin, "tls", "true or false", v)),
    };
    // The worker takes int(timeout): whole seconds, a fraction dropped.
    let timeout = match raw.get("timeout") {
        None => None,
        Some(v) => {
            let secs = match v {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => s.trim().parse::<i64>().ok().map(|i| i as f64),
                _ => None,
            };
            match secs.map(f64::trunc) {
                Some(s) if (1.0..=1e9).contains(&s) => Some(Duration::from_secs(s as u64)),
                _ => {
                    return Err(wrong(
                        origin,
                        "timeout",
                        "a whole number of seconds >= 1",
                        v,
                    ));
                }
            }
        }
    };
    let server = opt_str(origin, raw, "server", "server")?;
    if let Some(s) = &server {
        let ok = ["unix://", "tcp://", "http://", "https://", "ssh://"]
            .iter()
            .any(|p| s.starts_with(p));
        if !ok {
            return Err(ConfigError::invalid(
                &format!("{origin}: server"),
                s,
                "unix://PATH, tcp://HOST:PORT, https://HOST:PORT or ssh://HOST",
            ));
        }
        if s.starts_with("https://") && !tls {
            return Err(ConfigError::invalid(
                &format!("{origin}: server"),
                s,
                "tcp:// or http:// when tls is false",
            ));
        }
    }
    let user = opt_str(origin, raw, "user", "user")?;
    let password = opt_str(origin, raw, "password", "password")?;
    let email = opt_str(origin, raw, "email", "email")?;
    let registry = match opt_str(origin, raw, "registry", "registry")? {
        None => RegistryKind::Public,
        Some(r) if r.is_empty() => RegistryKind::Public,
        Some(r) if r == "ecr" => RegistryKind::Ecr { account: None },
        Some(r) if r.starts_with("ecr:") => {
            let account = &r[4..];
            if account.len() != 12 || !account.chars().all(|c| c.is_ascii_digit()) {
                return Err(ConfigError::invalid(
                    &format!("{origin}: registry"),
                    &r,
                    "ecr or ecr:ACCOUNT with a 12-digit AWS account id",
                ));
            }
            RegistryKind::Ecr {
                account: Some(account.to_string()),
            }
        }
        Some(r) => {
            let host = r
                .trim_start_matches("https://")
                .trim_start_matches("http://")
                .trim_end_matches('/')
                .to_string();
            let user = user.ok_or_else(|| {
                missing(
                    origin,
                    "user",
                    &format!("registry {r} needs a user (and password)"),
                )
            })?;
            let password = password.ok_or_else(|| {
                missing(
                    origin,
                    "password",
                    &format!(
                        "registry {r} needs the name of an SSM SecureString under /lava/{realm}/"
                    ),
                )
            })?;
            let prefix = format!("/lava/{realm}/");
            if !password.starts_with(&prefix) || password.len() == prefix.len() {
                return Err(ConfigError::invalid(
                    &format!("{origin}: password"),
                    &password,
                    &format!("an SSM parameter name under {prefix} (the realm's own)"),
                ));
            }
            RegistryKind::Private {
                host,
                user,
                password_ssm: password,
            }
        }
    };
    Ok(Connection {
        conn_id,
        registry,
        email,
        server,
        tls,
        timeout,
    })
}
