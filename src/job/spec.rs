//! The job, realm and docker connection specs (seeds 001 and 003), checked in full before anything
//! is pulled or started. Pure: over JSON objects, with `origin` naming where each came from.
use super::hostconfig::{self, HostSettings};
use crate::config::ConfigError;
use crate::config::error::nearest;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

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

/// The fields of a lava job spec the worker knows (others draw its deprecation warning). Keys
/// starting with `x-`/`X-` are the user's own.
const JOB_FIELDS: [&str; 21] = [
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
];

/// Whether the worker runs the job: `enabled` false or missing is skipped; text is rendered and
/// must read `true`; any other value runs (as the worker's checks let it through).
#[derive(Debug, Clone, PartialEq)]
pub enum Enabled {
    Static(bool),
    Template(String),
    Other,
}

/// A docker job, checked.
#[derive(Debug, Clone)]
pub struct Job {
    pub job_id: String,
    /// "" when the spec has none (the worker warns and goes on).
    pub owner: String,
    pub worker: Option<String>,
    pub enabled: Enabled,
    /// The payload exactly as written (trimmed): the image the engine pulls.
    pub payload: Payload,
    /// Each argument as Python's `str()` prints it.
    pub args: Vec<String>,
    /// Non-empty text; None: the image's entry point (args are then ignored).
    pub command: Option<String>,
    pub docker: Option<String>,
    /// `parameters.connections`: (label, conn_id) in the spec's order.
    pub connections: Vec<(String, String)>,
    pub env: BTreeMap<String, String>,
    pub host: HostSettings,
    pub jinja: bool,
    /// `parameters.timeout` in seconds when given (else the realm's default applies).
    pub timeout: Option<f64>,
    pub vars: Map<String, Value>,
    pub globals: Map<String, Value>,
    /// Declared state items and their defaults.
    pub state: Map<String, Value>,
    /// The spec as given (the base of the augmented spec jinja sees as `job`).
    pub raw: Map<String, Value>,
    /// What the worker would warn about (and go on).
    pub warnings: Vec<String>,
}

impl Job {
    /// The payload as the spec gives it (LAVA_S3_PAYLOAD uses it untrimmed, as the worker does).
    pub fn payload_text(&self) -> &str {
        self.raw
            .get("payload")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }
}

/// The image a payload names, pulled exactly as written: `[registry/]repository[:tag|@digest]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    /// `repository` with its registry when it names one.
    pub repository: String,
    /// The tag (`latest` when none) or the digest (`sha256:…`).
    pub tag: String,
}

impl Payload {
    /// As the engine is asked for it.
    pub fn reference(&self) -> String {
        if self.tag.contains(':') {
            format!("{}@{}", self.repository, self.tag)
        } else {
            format!("{}:{}", self.repository, self.tag)
        }
    }

    /// The registry host the engine pulls from, as docker resolves a name: the first component
    /// when it has a dot or a colon or is `localhost`, else None (Docker Hub).
    pub fn registry(&self) -> Option<&str> {
        let (first, _) = self.repository.split_once('/')?;
        (first.contains('.') || first.contains(':') || first == "localhost").then_some(first)
    }

    /// Parses `repository[:tag]` or `repository@digest` (tag default `latest`). Err: what is
    /// expected.
    pub fn parse(s: &str) -> Result<Payload, &'static str> {
        const E: &str = "repository[:tag] or repository@sha256:DIGEST (no spaces)";
        if s.is_empty() || s.chars().any(char::is_whitespace) {
            return Err(E);
        }
        if let Some((repo, digest)) = s.split_once('@') {
            let hex = digest.strip_prefix("sha256:").ok_or(E)?;
            if repo.is_empty() || hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(E);
            }
            return Ok(Payload {
                repository: repo.to_string(),
                tag: digest.to_string(),
            });
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
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(o)) => Ok(o.clone()),
        Some(v) => Err(wrong(origin, shown, "a map", v)),
    }
}

/// A scalar as Python's `str()` prints it (the worker's `str(arg)`); None for lists and maps.
pub fn python_str(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) if n.is_f64() => n.as_f64().map(super::duration::python_float),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(true) => Some("True".into()),
        Value::Bool(false) => Some("False".into()),
        Value::Null => Some("None".into()),
        _ => None,
    }
}

/// Python's truth value of a JSON value.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
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

/// Checks a job spec (with any dispatch-time parameters and globals already merged in): type
/// docker, payload, every parameter. What the worker refuses is refused; what it only warns
/// about is in `warnings`.
pub fn job(origin: &str, raw: &Map<String, Value>) -> Result<Job, ConfigError> {
    let mut warnings = Vec::new();
    let odd: Vec<&str> = raw
        .keys()
        .map(String::as_str)
        .filter(|k| !JOB_FIELDS.contains(k) && !k.starts_with("x-") && !k.starts_with("X-"))
        .collect();
    if !odd.is_empty() {
        warnings.push(format!(
            "{origin}: unexpected keys {} (the worker warns and goes on)",
            odd.join(", ")
        ));
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
    let owner = match raw.get("owner") {
        Some(v) if truthy(v) => {
            python_str(v).ok_or_else(|| wrong(origin, "owner", "a string", v))?
        }
        _ => {
            warnings.push(format!(
                "{origin}: the job has no owner: LAVA_OWNER and the lava.owner label are empty (the worker warns the field will become mandatory)"
            ));
            String::new()
        }
    };
    let worker = opt_str(origin, raw, "worker", "worker")?;
    let enabled = match raw.get("enabled") {
        None => Enabled::Static(false),
        Some(Value::Bool(b)) => Enabled::Static(*b),
        Some(Value::String(s)) => Enabled::Template(s.clone()),
        Some(_) => Enabled::Other,
    };
    let payload_text = opt_str(origin, raw, "payload", "payload")?
        .ok_or_else(|| missing(origin, "payload", "the image, repository[:tag]"))?;
    let payload = Payload::parse(payload_text.trim())
        .map_err(|e| ConfigError::invalid(&format!("{origin}: payload"), &payload_text, e))?;
    let params = opt_map(origin, raw, "parameters", "parameters")?;
    for k in params.keys() {
        if !PARAMETERS.contains(&k.as_str()) {
            return Err(unknown(origin, k, "parameters", &PARAMETERS));
        }
    }
    let connections = super::connections::parse(origin, &params)?;
    let command = match params.get("command") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(v) => return Err(wrong(origin, "parameters.command", "a string", v)),
    };
    let args = match params.get("args") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| {
                python_str(x)
                    .ok_or_else(|| wrong(origin, "parameters.args", "a list of strings", x))
            })
            .collect::<Result<_, _>>()?,
        Some(v) => return Err(wrong(origin, "parameters.args", "a list of strings", v)),
    };
    let docker = opt_str(origin, &params, "docker", "parameters.docker")?;
    let mut env = BTreeMap::new();
    for (k, v) in opt_map(origin, &params, "env", "parameters.env")? {
        match v {
            Value::String(s) => env.insert(k, s),
            other => {
                return Err(wrong(
                    origin,
                    &format!("parameters.env.{k}"),
                    "a string (the worker renders each value as a template)",
                    &other,
                ));
            }
        };
    }
    let host = hostconfig::parse(
        origin,
        &opt_map(origin, &params, "host_config", "parameters.host_config")?,
    )?;
    let jinja = params.get("jinja").is_none_or(truthy);
    let timeout = match params.get("timeout") {
        None => None,
        Some(v) => Some(timeout_seconds(
            &format!("{origin}: parameters.timeout"),
            v,
        )?),
    };
    let vars = match params.get("vars") {
        None => Map::new(),
        Some(Value::Object(o)) => o.clone(),
        Some(v) => return Err(wrong(origin, "parameters.vars", "a map", v)),
    };
    let globals = opt_map(origin, raw, "globals", "globals")?;
    if let Some(g) = globals
        .keys()
        .find(|g| g.to_lowercase().starts_with("lava"))
    {
        return Err(ConfigError::invalid(
            &format!("{origin}: globals"),
            g,
            "a global whose name does not start with `lava` (reserved)",
        ));
    }
    let state = opt_map(origin, raw, "state", "state")?;
    Ok(Job {
        job_id,
        owner,
        worker,
        enabled,
        payload,
        args,
        command,
        docker,
        connections,
        env,
        host,
        jinja,
        timeout,
        vars,
        globals,
        state,
        raw: raw.clone(),
        warnings,
    })
}

/// A lava duration in seconds, > 0: `param` names where it came from.
pub fn timeout_seconds(param: &str, v: &Value) -> Result<f64, ConfigError> {
    match super::duration::seconds(v) {
        Some(s) if s > 0.0 && s.is_finite() => Ok(s),
        _ => Err(ConfigError::invalid(
            param,
            &super::spec::python_str(v).unwrap_or_else(|| v.to_string()),
            "a lava duration > 0: seconds (600, \"600\") or NUMBER with unit s, m, h, d or w (\"1.5m\", \"2h\")",
        )),
    }
}

/// The run's timeout in seconds and where it came from: the job's `parameters.timeout`, else
/// LAVA_DOCKER_TIMEOUT (`env`), else the realm's `config.docker_timeout`, else 10 minutes — the
/// worker's order.
pub fn resolve_timeout(
    job: &Job,
    env: Option<&str>,
    realm: &Realm,
) -> Result<(f64, String), ConfigError> {
    if let Some(s) = job.timeout {
        return Ok((s, "parameters.timeout".into()));
    }
    if let Some(e) = env {
        let s = timeout_seconds("LAVA_DOCKER_TIMEOUT", &Value::String(e.to_string()))?;
        return Ok((s, "LAVA_DOCKER_TIMEOUT".into()));
    }
    let config = realm.raw.get("config").and_then(Value::as_object);
    if let Some(v) = config.and_then(|c| {
        c.iter()
            .filter(|(k, _)| k.to_uppercase() == "DOCKER_TIMEOUT")
            .map(|(_, v)| v)
            .next_back()
    }) {
        let s = timeout_seconds(&format!("realm {}: config.docker_timeout", realm.realm), v)?;
        return Ok((s, "the realm's config.docker_timeout".into()));
    }
    Ok((600.0, "the default (10m)".into()))
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
    if crate::config::s3url::S3Url::parse(&v).is_err() {
        return Err(ConfigError::invalid(
            &format!("{origin}: {key}"),
            &v,
            "s3://BUCKET[/PREFIX] with an S3 bucket name",
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
