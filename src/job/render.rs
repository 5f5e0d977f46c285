//! The container's command and environment as the worker makes them (seed 001 and lava 8.3.0's
//! docker handler): `command` split like Python's `shlex.split`, `args` appended, then each word
//! rendered (unless `jinja` is false); the job's `env` rendered the same way (dropped altogether when
//! `jinja` is false), then the LAVA_* values over it. Templates see lava's names (`globals` with
//! `globals.lava.*`, the augmented `job` with `ts_start`/`ts_dispatch`, `realm`, aware whole-second
//! `start`/`ustart`, `state`, `utils`, `vars`) through minijinja with Python's string, list and
//! dict methods; what a lava template can call that minijinja cannot is an error naming it, never
//! an empty string.
use super::pyshlex;
use super::spec::{Job, Realm};
use super::time::TemplateTime;
use crate::config::ConfigError;
use minijinja::value::{Object, Value as JValue};
use minijinja::{Error, ErrorKind, State};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// What one run knows before it starts.
#[derive(Debug, Clone)]
pub struct RunContext {
    pub realm: Realm,
    /// The job's worker (LAVA_WORKER, the hostname).
    pub worker: String,
    pub run_id: String,
    /// When the run started (local zone, whole seconds).
    pub start: TemplateTime,
    /// When it was dispatched.
    pub dispatch: TemplateTime,
    /// The declared state items: current values where the state table has them, else defaults.
    pub state: Map<String, Value>,
}

/// `utils.*` names lava offers that are Python objects this runner does not have.
const UNSUPPORTED_UTILS: [&str; 8] = [
    "timedelta",
    "datetime",
    "date",
    "dateutil",
    "time",
    "parsedate",
    "path",
    "re",
];

/// A lava template name this runner cannot evaluate: using it in any way is an error naming it.
#[derive(Debug)]
struct Unsupported(String);

impl Unsupported {
    fn error(&self) -> Error {
        Error::new(
            ErrorKind::InvalidOperation,
            format!(
                "{} is a Python object of the lava worker that lava-build job run does not have",
                self.0
            ),
        )
    }
}

impl Object for Unsupported {
    fn get_value(self: &Arc<Self>, key: &JValue) -> Option<JValue> {
        Some(JValue::from_object(Unsupported(format!(
            "{}.{}",
            self.0, key
        ))))
    }

    fn call(self: &Arc<Self>, _: &State<'_, '_>, _: &[JValue]) -> Result<JValue, Error> {
        Err(self.error())
    }

    fn call_method(
        self: &Arc<Self>,
        _: &State<'_, '_>,
        method: &str,
        _: &[JValue],
    ) -> Result<JValue, Error> {
        Err(Unsupported(format!("{}.{method}()", self.0)).error())
    }
}

/// lava's `utils`: `uuid()`, `s3bucket(url)`, `s3key(url)`, `tojson(x)`; the rest unsupported.
#[derive(Debug)]
struct Utils;

impl Object for Utils {
    fn get_value(self: &Arc<Self>, key: &JValue) -> Option<JValue> {
        let k = key.as_str()?;
        UNSUPPORTED_UTILS
            .contains(&k)
            .then(|| JValue::from_object(Unsupported(format!("utils.{k}"))))
    }

    fn call_method(
        self: &Arc<Self>,
        _: &State<'_, '_>,
        method: &str,
        args: &[JValue],
    ) -> Result<JValue, Error> {
        let s3 = |args: &[JValue]| -> Result<(String, String), Error> {
            let (url,): (&str,) = minijinja::value::from_args(args)?;
            let u = crate::config::s3url::S3Url::parse(url).map_err(|why| {
                Error::new(
                    ErrorKind::InvalidOperation,
                    format!("{url:?} is not an S3 URL: {why}"),
                )
            })?;
            Ok((u.bucket, u.key))
        };
        match method {
            "uuid" => {
                let () = minijinja::value::from_args(args)?;
                Ok(JValue::from(uuid::Uuid::new_v4().to_string()))
            }
            "s3bucket" => Ok(JValue::from(s3(args)?.0)),
            "s3key" => Ok(JValue::from(s3(args)?.1)),
            "tojson" => {
                let (v,): (JValue,) = minijinja::value::from_args(args)?;
                Ok(JValue::from(python_json(&v)))
            }
            other if UNSUPPORTED_UTILS.contains(&other) => {
                Err(Unsupported(format!("utils.{other}()")).error())
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// `json.dumps(x)` as Python writes it (`", "` and `": "` separators, datetimes as ISO text).
fn python_json(v: &JValue) -> String {
    if let Some(t) = v.downcast_object_ref::<TemplateTime>() {
        return serde_json::to_string(&t.isoformat()).unwrap_or_default();
    }
    let json: Value = serde_json::to_value(v).unwrap_or(Value::Null);
    python_json_of(&json)
}

pub(crate) fn python_json_of(v: &Value) -> String {
    match v {
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(python_json_of).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(o) => format!(
            "{{{}}}",
            o.iter()
                .map(|(k, v)| format!(
                    "{}: {}",
                    serde_json::to_string(k).unwrap_or_default(),
                    python_json_of(v)
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => other.to_string(),
    }
}

/// Python's `repr()` of a string.
fn py_repr_str(s: &str) -> String {
    let q = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::from(q);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == q => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push(q);
    out
}

/// A value as Python's `str()` prints it: `True`, `None`, `1.0`, `['a', 1]`, `{'k': 'v'}`.
fn python_text(v: &JValue, nested: bool) -> Result<String, Error> {
    if let Some(u) = v.downcast_object_ref::<Unsupported>() {
        return Err(u.error());
    }
    if v.is_undefined() {
        return Ok(String::new());
    }
    if v.is_none() {
        return Ok("None".into());
    }
    if v.kind() == minijinja::value::ValueKind::Bool {
        return Ok(if v.is_true() { "True" } else { "False" }.into());
    }
    if let Some(s) = v.as_str() {
        return Ok(if nested {
            py_repr_str(s)
        } else {
            s.to_string()
        });
    }
    match v.kind() {
        minijinja::value::ValueKind::Number => {
            if let Ok(f) = f64::try_from(v.clone())
                && !v.is_integer()
            {
                return Ok(super::duration::python_float(f));
            }
            Ok(v.to_string())
        }
        minijinja::value::ValueKind::Seq => {
            let mut items = Vec::new();
            for x in v.try_iter()? {
                items.push(python_text(&x, true)?);
            }
            Ok(format!("[{}]", items.join(", ")))
        }
        minijinja::value::ValueKind::Map
            if v.as_object()
                .is_none_or(|o| o.downcast_ref::<TemplateTime>().is_none()) =>
        {
            let mut items = Vec::new();
            for k in v.try_iter()? {
                let x = v.get_item(&k)?;
                items.push(format!(
                    "{}: {}",
                    python_text(&k, true)?,
                    python_text(&x, true)?
                ));
            }
            Ok(format!("{{{}}}", items.join(", ")))
        }
        _ => Ok(v.to_string()),
    }
}

/// The template environment: Python's methods (pycompat), Python's way of printing values.
fn environment() -> minijinja::Environment<'static> {
    let mut env = minijinja::Environment::new();
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    // Jinja2's tojson: json.dumps with sorted keys and Python's separators, HTML-safe.
    env.add_filter("tojson", |v: JValue| {
        JValue::from_safe_string(
            python_json(&v)
                .replace('<', "\\u003c")
                .replace('>', "\\u003e")
                .replace('&', "\\u0026")
                .replace('\'', "\\u0027"),
        )
    });
    env.set_formatter(|out, _state, value| {
        let text = python_text(value, false)?;
        out.write_str(&text).map_err(Error::from)
    });
    env
}

/// `globals` with lava's reserved `globals.lava.*` (a single, top-level run).
fn globals(job: &Job, ctx: &RunContext) -> BTreeMap<String, JValue> {
    let mut g: BTreeMap<String, JValue> = job
        .globals
        .iter()
        .map(|(k, v)| (k.clone(), JValue::from_serialize(v)))
        .collect();
    let start = JValue::from_object(ctx.start);
    let ustart = JValue::from_object(ctx.start.utc());
    let lava = BTreeMap::from([
        ("master_job_id", JValue::from(job.job_id.clone())),
        ("parent_job_id", JValue::from(job.job_id.clone())),
        ("master_start", start.clone()),
        ("master_ustart", ustart.clone()),
        ("parent_start", start),
        ("parent_ustart", ustart),
        ("iteration", JValue::from(1)),
    ]);
    g.insert("lava".into(), JValue::from(lava));
    g
}

/// The augmented job spec the worker renders with: the spec with its defaults, realm, run_id,
/// worker, the run's timestamps, the merged globals and the state's current values.
fn augmented(job: &Job, ctx: &RunContext, globals: &BTreeMap<String, JValue>) -> JValue {
    let mut j: BTreeMap<String, JValue> = job
        .raw
        .iter()
        .map(|(k, v)| (k.clone(), JValue::from_serialize(v)))
        .collect();
    j.entry("enabled".into()).or_insert(JValue::from(false));
    j.entry("max_tries".into()).or_insert(JValue::from(0));
    if job
        .raw
        .get("parameters")
        .is_none_or(|p| p.as_object().is_none_or(Map::is_empty))
    {
        j.insert(
            "parameters".into(),
            JValue::from(BTreeMap::<String, JValue>::new()),
        );
    }
    if job.owner.is_empty() {
        j.insert("owner".into(), JValue::from(""));
    }
    if job
        .raw
        .get("description")
        .is_none_or(|d| d.as_str() == Some("") || d.is_null())
    {
        j.insert("description".into(), JValue::from(""));
    }
    j.insert("realm".into(), JValue::from(ctx.realm.realm.clone()));
    j.insert("worker".into(), JValue::from(ctx.worker.clone()));
    j.insert("run_id".into(), JValue::from(ctx.run_id.clone()));
    j.insert("ts_dispatch".into(), JValue::from_object(ctx.dispatch));
    j.insert("ts_start".into(), JValue::from_object(ctx.start));
    j.insert("ts_ustart".into(), JValue::from_object(ctx.start.utc()));
    j.insert("globals".into(), JValue::from(globals.clone()));
    j.insert("state".into(), JValue::from_serialize(&ctx.state));
    JValue::from(j)
}

fn context(job: &Job, ctx: &RunContext) -> JValue {
    let g = globals(job, ctx);
    minijinja::context! {
        job => augmented(job, ctx, &g),
        realm => JValue::from_serialize(&ctx.realm.raw),
        globals => JValue::from(g),
        start => JValue::from_object(ctx.start),
        ustart => JValue::from_object(ctx.start.utc()),
        state => JValue::from_serialize(&ctx.state),
        utils => JValue::from_object(Utils),
        vars => JValue::from_serialize(&job.vars),
    }
}

fn render(
    env: &minijinja::Environment<'_>,
    ctx: &JValue,
    origin: &str,
    what: &str,
    text: &str,
) -> Result<String, ConfigError> {
    env.render_str(text, ctx).map_err(|e| {
        let mut why = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            why.push_str(": ");
            why.push_str(&s.to_string());
            source = s.source();
        }
        ConfigError::invalid(
            &format!("{origin}: {what}"),
            text,
            &format!(
                "a template lava-build can render ({})",
                why.replace('\n', " ")
            ),
        )
    })
}

/// The command (None: the image's entry point) and the job's own environment (empty when jinja
/// is off: the worker then drops `env`).
pub type Rendered = (Option<Vec<String>>, BTreeMap<String, String>);

/// The command split then rendered word by word, and the job's `env` rendered.
pub fn command_and_env(job: &Job, ctx: &RunContext, origin: &str) -> Result<Rendered, ConfigError> {
    let command = match &job.command {
        None => None,
        Some(c) => {
            let mut words = pyshlex::split(c).map_err(|e| {
                ConfigError::invalid(
                    &format!("{origin}: parameters.command"),
                    c,
                    &format!("a command line Python's shlex.split takes ({e})"),
                )
            })?;
            words.extend(job.args.iter().cloned());
            Some(words)
        }
    };
    if !job.jinja {
        return Ok((command, BTreeMap::new()));
    }
    let env = environment();
    let jctx = context(job, ctx);
    let command = match command {
        None => None,
        Some(words) => Some(
            words
                .iter()
                .enumerate()
                .map(|(i, w)| render(&env, &jctx, origin, &format!("word {i} of the command"), w))
                .collect::<Result<_, _>>()?,
        ),
    };
    let mut vars = BTreeMap::new();
    for (k, v) in &job.env {
        vars.insert(
            k.clone(),
            render(&env, &jctx, origin, &format!("parameters.env.{k}"), v)?,
        );
    }
    Ok((command, vars))
}

/// The container's environment in the worker's order: the runner's own LAVA_* variables
/// (`inherited`), the job's rendered `env`, then LAVA_S3_TMP, LAVA_S3_PAYLOAD, LAVA_TMP, then
/// LAVA_REALM, LAVA_WORKER, LAVA_OWNER, LAVA_JOB_ID, LAVA_RUN_ID, LAVA_S3_KEY — later wins. A None
/// value (LAVA_S3_KEY of a realm without `s3_key`) is sent as a bare name: unset in the container.
pub fn environment_of(
    job: &Job,
    ctx: &RunContext,
    tmp: &str,
    own: &BTreeMap<String, String>,
    inherited: &BTreeMap<String, String>,
) -> BTreeMap<String, Option<String>> {
    let mut e: BTreeMap<String, Option<String>> = inherited
        .iter()
        .filter(|(k, _)| k.starts_with("LAVA_"))
        .map(|(k, v)| (k.clone(), Some(v.clone())))
        .collect();
    e.extend(own.iter().map(|(k, v)| (k.clone(), Some(v.clone()))));
    for (k, v) in [
        ("LAVA_S3_TMP", Some(s3_tmp(job, ctx))),
        (
            "LAVA_S3_PAYLOAD",
            Some(format!("{}/{}", ctx.realm.s3_payloads, job.payload_text())),
        ),
        ("LAVA_TMP", Some(tmp.to_string())),
        ("LAVA_REALM", Some(ctx.realm.realm.clone())),
        ("LAVA_WORKER", Some(ctx.worker.clone())),
        ("LAVA_OWNER", Some(job.owner.clone())),
        ("LAVA_JOB_ID", Some(job.job_id.clone())),
        ("LAVA_RUN_ID", Some(ctx.run_id.clone())),
        ("LAVA_S3_KEY", ctx.realm.s3_key.clone()),
    ] {
        e.insert(k.to_string(), v);
    }
    e
}

/// `<s3_temp>/<job_id>/<run_id>`: the run's own S3 area (its logs go under it).
pub fn s3_tmp(job: &Job, ctx: &RunContext) -> String {
    format!("{}/{}/{}", ctx.realm.s3_temp, job.job_id, ctx.run_id)
}

/// Renders `enabled` text as the worker does (stripped, lower case): Ok(true) when it reads `true`.
pub fn enabled(
    job: &Job,
    ctx: &RunContext,
    origin: &str,
    text: &str,
) -> Result<String, ConfigError> {
    let env = environment();
    let jctx = context(job, ctx);
    Ok(render(&env, &jctx, origin, "enabled", text)?
        .trim()
        .to_lowercase())
}

#[cfg(test)]
#[path = "render_tests.rs"]
mod tests;
