//! The job, realm and docker connection specs (seeds 001 and 003), checked in full before anything
//! is pulled or started. Pure: over JSON objects, with `origin` naming where each came from.
use super::hostconfig::{self, HostSettings};
use crate::config::ConfigError;
use crate::config::error::nearest;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::time::Duration;

/// The parameters a docker job may have.
pub const PARAMETERS: [&str; 9] = [
    "args",
    "command",
    "connections",
    "docker",
    "env",
    "host_config",
    "jinja",
    "timeout",
    "vars",
];

/// The fields of a lava job spec (the jobs table). Keys starting with `x-` are the user's own.
const JOB_FIELDS: [&str; 22] = [
    "job_id",
    "type",
    "payload",
    "parameters",
    "owner",
    "worker",
    "enabled",
    "description",
    "dispatcher",
    "schedule",
    "globals",
    "state",
    "on_success",
    "on_fail",
    "on_retry",
    "max_tries",
    "max_run_delay",
    "iteration_limit",
    "iteration_delay",
    "event_log",
    "cw_metrics",
    "depends_on",
];

/// A docker job, checked.
#[derive(Debug, Clone)]
pub struct Job {
    pub job_id: String,
    pub owner: String,
    pub worker: Option<String>,
    pub payload: Payload,
    pub args: Vec<String>,
    pub command: Option<String>,
    pub docker: Option<String>,
    pub env: BTreeMap<String, String>,
    pub host: HostSettings,
    pub jinja: bool,
    pub timeout: Duration,
    pub timeout_text: String,
    pub vars: Map<String, Value>,
    pub globals: Map<String, Value>,
    /// Declared state items and their defaults.
    pub state: Map<String, Value>,
    /// The spec as given (the base of the augmented spec jinja sees as `job`).
    pub raw: Map<String, Value>,
}

impl Job {
    /// The payload as the spec gives it.
    pub fn payload_text(&self) -> &str {
        self.raw
            .get("payload")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }
}

/// `repository[:tag]`, with the registry (and its port) when the repository names one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    pub repository: String,
    pub tag: String,
}

impl Payload {
    pub fn reference(&self) -> String {
        format!("{}:{}", self.repository, self.tag)
    }

    /// The registry host named by the repository (`host[:port]/…` with a dot or colon in the host,
    /// or `localhost`), else None (the default public registry).
    pub fn registry(&self) -> Option<&str> {
        let (first, _) = self.repository.split_once('/')?;
        (first.contains('.') || first.contains(':') || first == "localhost").then_some(first)
    }

    /// Parses `repository[:tag]` (tag default `latest`). Err: what is expected.
    pub fn parse(s: &str) -> Result<Payload, &'static str> {
        const E: &str = "repository[:tag] (at most one ':' outside a registry port, no spaces)";
        if s.is_empty() || s.chars().any(|c| c.is_whitespace()) || s.contains('@') {
            return Err(E);
        }
        // A colon in the first component is a registry port when more components follow.
        let (host, rest) = match s.split_once('/') {
            Some((h, r)) if h.contains(':') || h.contains('.') || h == "localhost" => (Some(h), r),
            _ => (None, s),
        };
        if let Some(h) = host {
            let port_ok = h
                .split_once(':')
                .is_none_or(|(_, p)| p.parse::<u16>().is_ok());
            if !port_ok {
                return Err(E);
            }
        }
        let (repo, tag) = match rest.matches(':').count() {
            0 => (rest, "latest"),
            1 => rest.split_once(':').unwrap_or((rest, "latest")),
            _ => return Err(E),
        };
        if repo.is_empty() || tag.is_empty() || tag.contains('/') || repo.ends_with('/') {
            return Err(E);
        }
        Ok(Payload {
            repository: match host {
                Some(h) => format!("{h}/{repo}"),
                None => repo.to_string(),
            },
            tag: tag.to_string(),
        })
    }
}

/// `nn[smh]`.
pub fn parse_timeout(s: &str) -> Option<Duration> {
    let unit = s.chars().last()?;
    let n: u64 = s[..s.len() - unit.len_utf8()].parse().ok()?;
    let secs = match unit {
        's' => n,
        'm' => n.checked_mul(60)?,
        'h' => n.checked_mul(3600)?,
        _ => return None,
    };
    (secs > 0).then(|| Duration::from_secs(secs))
}

pub(super) fn wrong(origin: &str, key: &str, expected: &str, v: &Value) -> ConfigError {
    ConfigError::WrongType {
        location: origin.to_string(),
        key: key.to_string(),
        expected: expected.to_string(),
        found: super::hostconfig::found(v),
    }
}

pub(super) fn missing(origin: &str, key: &str, hint: &str) -> ConfigError {
    ConfigError::Missing {
        param: format!("{origin}: {key}"),
        hint: hint.to_string(),
    }
}

pub(super) fn opt_str(
    origin: &str,
    m: &Map<String, Value>,
    key: &str,
    shown: &str,
) -> Result<Option<String>, ConfigError> {
    match m.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(v) => Err(wrong(origin, shown, "a string", v)),
    }
}

fn opt_map(
    origin: &str,
    m: &Map<String, Value>,
    key: &str,
    shown: &str,
) -> Result<Map<String, Value>, ConfigError> {
    match m.get(key) {
        None => Ok(Map::new()),
        Some(Value::Object(o)) => Ok(o.clone()),
        Some(v) => Err(wrong(origin, shown, "a map", v)),
    }
}

/// A scalar as text (args and env values): strings, numbers and booleans.
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

pub(super) fn unknown(origin: &str, key: &str, section: &str, known: &[&str]) -> ConfigError {
    ConfigError::UnknownFileKey {
        location: origin.to_string(),
        key: key.to_string(),
        section: section.to_string(),
        nearest: nearest(key, known.iter().copied()),
    }
}

/// Checks a job spec: type docker, payload, every parameter.
pub fn job(origin: &str, raw: &Map<String, Value>) -> Result<Job, ConfigError> {
    for k in raw.keys() {
        if !JOB_FIELDS.contains(&k.as_str()) && !k.starts_with("x-") && !k.starts_with("X-") {
            return Err(unknown(origin, k, "the job spec", &JOB_FIELDS));
        }
    }
    let job_id = opt_str(origin, raw, "job_id", "job_id")?
        .ok_or_else(|| missing(origin, "job_id", "every job has one"))?;
    let kind = opt_str(origin, raw, "type", "type")?
        .ok_or_else(|| missing(origin, "type", "this runner runs type docker"))?;
    if kind != "docker" {
        return Err(ConfigError::invalid(
            &format!("{origin}: type"),
            &kind,
            "docker (the only job type this runner runs)",
        ));
    }
    let owner = opt_str(origin, raw, "owner", "owner")?
        .ok_or_else(|| missing(origin, "owner", "the job's owner (LAVA_OWNER)"))?;
    let worker = opt_str(origin, raw, "worker", "worker")?;
    let payload_text = opt_str(origin, raw, "payload", "payload")?
        .ok_or_else(|| missing(origin, "payload", "the image, repository[:tag]"))?;
    let payload = Payload::parse(&payload_text)
        .map_err(|e| ConfigError::invalid(&format!("{origin}: payload"), &payload_text, e))?;
    let params = opt_map(origin, raw, "parameters", "parameters")?;
    for k in params.keys() {
        if !PARAMETERS.contains(&k.as_str()) {
            return Err(unknown(origin, k, "parameters", &PARAMETERS));
        }
    }
    if let Some(c) = params.get("connections")
        && !c.as_object().is_some_and(|m| m.is_empty())
    {
        return Err(ConfigError::Usage {
            message: format!(
                "{origin}: parameters.connections: connection handlers mapped into the container need the lava worker's connection manager, which this runner does not have; run the job on a lava worker, or remove parameters.connections"
            ),
        });
    }
    let args = match params.get("args") {
        None => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| {
                scalar(x).ok_or_else(|| wrong(origin, "parameters.args", "a list of strings", x))
            })
            .collect::<Result<_, _>>()?,
        Some(v) => return Err(wrong(origin, "parameters.args", "a list of strings", v)),
    };
    let command = opt_str(origin, &params, "command", "parameters.command")?;
    let docker = opt_str(origin, &params, "docker", "parameters.docker")?;
    let mut env = BTreeMap::new();
    for (k, v) in opt_map(origin, &params, "env", "parameters.env")? {
        let text = scalar(&v)
            .ok_or_else(|| wrong(origin, &format!("parameters.env.{k}"), "a string", &v))?;
        env.insert(k, text);
    }
    let host = hostconfig::parse(
        origin,
        &opt_map(origin, &params, "host_config", "parameters.host_config")?,
    )?;
    let jinja = match params.get("jinja") {
        None => true,
        Some(Value::Bool(b)) => *b,
        Some(v) => return Err(wrong(origin, "parameters.jinja", "true or false", v)),
    };
    let timeout_text =
        opt_str(origin, &params, "timeout", "parameters.timeout")?.unwrap_or_else(|| "10m".into());
    let timeout = parse_timeout(&timeout_text).ok_or_else(|| {
        ConfigError::invalid(
            &format!("{origin}: parameters.timeout"),
            &timeout_text,
            "nnX with X s, m or h and nn > 0 (e.g. 30s, 10m, 2h)",
        )
    })?;
    let vars = opt_map(origin, &params, "vars", "parameters.vars")?;
    let globals = opt_map(origin, raw, "globals", "globals")?;
    let state = opt_map(origin, raw, "state", "state")?;
    Ok(Job {
        job_id,
        owner,
        worker,
        payload,
        args,
        command,
        docker,
        env,
        host,
        jinja,
        timeout,
        timeout_text,
        vars,
        globals,
        state,
        raw: raw.clone(),
    })
}

/// The fields of a realm this runner uses.
#[derive(Debug, Clone)]
pub struct Realm {
    pub realm: String,
    pub s3_temp: String,
    pub s3_payloads: String,
    pub s3_key: Option<String>,
    pub docker: Option<String>,
    pub raw: Map<String, Value>,
}

fn s3_url(origin: &str, m: &Map<String, Value>, key: &str) -> Result<String, ConfigError> {
    let v = opt_str(origin, m, key, key)?
        .ok_or_else(|| missing(origin, key, "an s3://bucket/prefix of the realm"))?;
    let rest = v.strip_prefix("s3://").unwrap_or("");
    if rest.is_empty() || rest.starts_with('/') {
        return Err(ConfigError::invalid(
            &format!("{origin}: {key}"),
            &v,
            "s3://BUCKET[/PREFIX]",
        ));
    }
    Ok(v.trim_end_matches('/').to_string())
}

/// Checks the realm fields used: `s3_temp`, `s3_payloads`, `s3_key`, `docker` (a realm holds many
/// more, for other parts of lava; those are left alone).
pub fn realm(origin: &str, name: &str, raw: &Map<String, Value>) -> Result<Realm, ConfigError> {
    if let Some(r) = opt_str(origin, raw, "realm", "realm")?
        && r != name
    {
        return Err(ConfigError::invalid(
            &format!("{origin}: realm"),
            &r,
            &format!("{name} (the realm asked for)"),
        ));
    }
    Ok(Realm {
        realm: name.to_string(),
        s3_temp: s3_url(origin, raw, "s3_temp")?,
        s3_payloads: s3_url(origin, raw, "s3_payloads")?,
        s3_key: opt_str(origin, raw, "s3_key", "s3_key")?,
        docker: opt_str(origin, raw, "docker", "docker")?,
        raw: raw.clone(),
    })
}

#[cfg(test)]
#[path = "spec_tests.rs"]
mod tests;
