//! The container's command and environment (seed 001): `command` split with POSIX shell lexing,
//! `args` appended, each argument and each `env` value rendered with minijinja (unless `jinja` is
//! false) over globals, job, realm, start, ustart, state and vars; and the LAVA_* variables.
use super::spec::{Job, Realm};
use crate::config::ConfigError;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// What one run knows before it starts.
#[derive(Debug, Clone)]
pub struct RunContext {
    pub realm: Realm,
    pub worker: String,
    pub run_id: String,
    /// The local start time (a datetime in templates, printed as Python prints one).
    pub start: super::time::TemplateTime,
    /// The same in UTC.
    pub ustart: super::time::TemplateTime,
    /// The declared state items: current values where the state table has them, else defaults.
    pub state: Map<String, Value>,
}

/// The augmented job spec: the spec with realm, worker and run_id added.
pub fn augmented(job: &Job, ctx: &RunContext) -> Map<String, Value> {
    let mut j = job.raw.clone();
    j.insert("realm".into(), Value::String(ctx.realm.realm.clone()));
    j.insert("worker".into(), Value::String(ctx.worker.clone()));
    j.insert("run_id".into(), Value::String(ctx.run_id.clone()));
    j
}

fn context(job: &Job, ctx: &RunContext) -> minijinja::Value {
    let mut c = Map::new();
    c.insert("globals".into(), Value::Object(job.globals.clone()));
    c.insert("job".into(), Value::Object(augmented(job, ctx)));
    c.insert("realm".into(), Value::Object(ctx.realm.raw.clone()));
    c.insert("state".into(), Value::Object(ctx.state.clone()));
    c.insert("vars".into(), Value::Object(job.vars.clone()));
    minijinja::context! {
        start => minijinja::Value::from_object(ctx.start),
        ustart => minijinja::Value::from_object(ctx.ustart),
        ..minijinja::Value::from_serialize(Value::Object(c))
    }
}

fn render(
    env: &minijinja::Environment<'_>,
    ctx: &minijinja::Value,
    origin: &str,
    what: &str,
    text: &str,
) -> Result<String, ConfigError> {
    env.render_str(text, ctx).map_err(|e| {
        ConfigError::invalid(
            &format!("{origin}: {what}"),
            text,
            &format!("a valid template ({})", e.to_string().replace('\n', " ")),
        )
    })
}

/// The command (None: the image's entry point) and the job's own environment.
pub type Rendered = (Option<Vec<String>>, BTreeMap<String, String>);

/// The command (None: the image's entry point) and the job's own environment, rendered.
pub fn command_and_env(job: &Job, ctx: &RunContext, origin: &str) -> Result<Rendered, ConfigError> {
    let command = match &job.command {
        None => None,
        Some(c) => {
            let mut words = shlex::split(c).ok_or_else(|| {
                ConfigError::invalid(
                    &format!("{origin}: parameters.command"),
                    c,
                    "a command line with balanced quotes",
                )
            })?;
            if words.is_empty() {
                return Err(ConfigError::invalid(
                    &format!("{origin}: parameters.command"),
                    c,
                    "a command (or no command key for the image's entry point)",
                ));
            }
            words.extend(job.args.iter().cloned());
            Some(words)
        }
    };
    if !job.jinja {
        return Ok((command, job.env.clone()));
    }
    let env = minijinja::Environment::new();
    let jctx = context(job, ctx);
    let command = match command {
        None => None,
        Some(words) => Some(
            words
                .iter()
                .enumerate()
                .map(|(i, w)| {
                    render(
                        &env,
                        &jctx,
                        origin,
                        &format!("argument {i} of the command"),
                        w,
                    )
                })
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

/// The LAVA_* variables of seed 001, then the job's `env`.
pub fn environment(
    job: &Job,
    ctx: &RunContext,
    tmp: &str,
    own: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut e = BTreeMap::from([
        ("LAVA_JOB_ID".to_string(), job.job_id.clone()),
        ("LAVA_OWNER".to_string(), job.owner.clone()),
        ("LAVA_REALM".to_string(), ctx.realm.realm.clone()),
        ("LAVA_RUN_ID".to_string(), ctx.run_id.clone()),
        (
            "LAVA_S3_KEY".to_string(),
            ctx.realm.s3_key.clone().unwrap_or_default(),
        ),
        (
            "LAVA_S3_PAYLOAD".to_string(),
            format!("{}/{}", ctx.realm.s3_payloads, job.payload_text()),
        ),
        ("LAVA_S3_TMP".to_string(), s3_tmp(job, ctx)),
        ("LAVA_TMP".to_string(), tmp.to_string()),
        ("LAVA_WORKER".to_string(), ctx.worker.clone()),
    ]);
    e.extend(own.iter().map(|(k, v)| (k.clone(), v.clone())));
    e
}

/// `<s3_temp>/<job_id>/<run_id>`: the run's own S3 area (its logs go under it).
pub fn s3_tmp(job: &Job, ctx: &RunContext) -> String {
    format!("{}/{}/{}", ctx.realm.s3_temp, job.job_id, ctx.run_id)
}

#[cfg(test)]
#[path = "render_tests.rs"]
mod tests;
