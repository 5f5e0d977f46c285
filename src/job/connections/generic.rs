//! The `generic` connection: each attribute's value in a file of a `values` folder, and a
//! `get-attr-value NAME` script that prints one (lava's generic connector, by its behaviour).
use super::{Context, Failure, Planned, conn_dir, ssm_value, write};
use crate::config::ConfigError;
use crate::job::spec::python_str;
use serde_json::{Map, Value};
use std::path::PathBuf;

/// The keys a generic record may have besides `x-*` (lava refuses others: "Unexpected keys").
const FIELDS: [&str; 7] = [
    "conn_id",
    "type",
    "enabled",
    "attributes",
    "description",
    "owner",
    "secret_id",
];

/// The script, with `{value_dir}` to fill; lava writes it with one more newline.
const SCRIPT: &str = "#!/bin/bash\nVALUE_DIR=\"{value_dir}\"\nif [ $# -ne 1 ]\nthen\n    echo Usage: $(basename $0) param_name >&2\n    exit 1\nfi\nif [ ! -f \"$VALUE_DIR/$1\" ]\nthen\n    echo \"$1: No such parameter\" >&2\n    exit 1\nfi\ncat \"$VALUE_DIR/$1\"\n";

/// Where an attribute's value comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// A scalar written as Python's `str()` prints it.
    Text(String),
    /// An SSM parameter (decrypted).
    Ssm(String),
}

fn attr_name_ok(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_alphanumeric() || c == '_' || c == '-')
}

/// The attributes of a generic record, checked: name → where its value comes from.
pub fn attributes(
    origin: &str,
    spec: &Map<String, Value>,
) -> Result<Vec<(String, Source)>, ConfigError> {
    let at = |f: &str| format!("{origin}: {f}");
    let attrs = match spec.get("attributes") {
        Some(Value::Object(m)) => m,
        Some(v) => {
            return Err(ConfigError::invalid(
                &at("attributes"),
                &v.to_string(),
                "a map of NAME: value",
            ));
        }
        None => {
            return Err(ConfigError::Missing {
                param: at("attributes"),
                hint: "a generic connection needs its attributes (a map)".into(),
            });
        }
    };
    let mut out = Vec::new();
    for (name, v) in attrs {
        let field = format!("attributes.{name}");
        if !attr_name_ok(name) {
            return Err(ConfigError::invalid(
                &at("attributes"),
                name,
                "attribute names of a letter then letters, digits, _ or -",
            ));
        }
        let source = match v {
            Value::Object(m) => {
                let kind = match m.get("type") {
                    None => "local",
                    Some(Value::String(s)) => s.as_str(),
                    Some(t) => {
                        return Err(ConfigError::invalid(
                            &at(&format!("{field}.type")),
                            &t.to_string(),
                            "local or ssm",
                        ));
                    }
                };
                match kind {
                    "local" => {
                        let val = m.get("value").ok_or_else(|| ConfigError::Missing {
                            param: at(&format!("{field}.value")),
                            hint: "value must be specified for attributes of type \"local\"".into(),
                        })?;
                        Source::Text(python_str(val).ok_or_else(|| {
                            ConfigError::invalid(
                                &at(&format!("{field}.value")),
                                &val.to_string(),
                                "a string, number, boolean or null",
                            )
                        })?)
                    }
                    "ssm" => match m.get("parameter") {
                        Some(Value::String(p)) if !p.is_empty() => Source::Ssm(p.clone()),
                        Some(p) => {
                            return Err(ConfigError::invalid(
                                &at(&format!("{field}.parameter")),
                                &p.to_string(),
                                "an SSM parameter name",
                            ));
                        }
                        None => {
                            return Err(ConfigError::Missing {
                                param: at(&format!("{field}.parameter")),
                                hint: "parameter must be specified for attributes of type \"ssm\""
                                    .into(),
                            });
                        }
                    },
                    other => {
                        return Err(ConfigError::invalid(
                            &at(&format!("{field}.type")),
                            other,
                            "local or ssm",
                        ));
                    }
                }
            }
            Value::Array(_) => {
                return Err(ConfigError::invalid(
                    &at(&field),
                    &v.to_string(),
                    "a scalar or a map with type local or ssm",
                ));
            }
            scalar => Source::Text(python_str(scalar).unwrap_or_default()),
        };
        out.push((name.clone(), source));
    }
    Ok(out)
}

/// Checks a generic record in full (before anything is pulled).
pub fn check(origin: &str, spec: &Map<String, Value>) -> Result<(), ConfigError> {
    let mut unexpected: Vec<&str> = spec
        .keys()
        .map(String::as_str)
        .filter(|k| !FIELDS.contains(k) && !k.starts_with("x-") && !k.starts_with("X-"))
        .collect();
    unexpected.sort_unstable();
    if let Some(k) = unexpected.first() {
        return Err(ConfigError::invalid(
            &format!("{origin}: {k}"),
            &unexpected.join(", "),
            &format!(
                "only {} (and x-* keys) in a generic connection: lava refuses it (Unexpected keys)",
                FIELDS.join(", ")
            ),
        ));
    }
    attributes(origin, spec).map(|_| ())
}

/// The script text for the values folder `value_dir`, as lava writes it.
pub fn script(value_dir: &str) -> String {
    format!("{}\n", SCRIPT.replace("{value_dir}", value_dir))
}

/// Makes `conn.XXXXXXXX/values/NAME` (one per attribute, no newline added) and
/// `conn.XXXXXXXX/get-attr-value` (mode 0700); returns the script's path.
pub async fn make(ctx: &Context<'_>, p: &Planned) -> Result<PathBuf, Failure> {
    let attrs = attributes(&p.origin, &p.spec)?;
    let mut values = Vec::new();
    for (name, source) in attrs {
        let v = match source {
            Source::Text(t) => t,
            Source::Ssm(param) => ssm_value(ctx.sdk, &param).await?,
        };
        values.push((name, v));
    }
    let dir = conn_dir(ctx.workdir)?;
    let value_dir = dir.join("values");
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&value_dir)
            .map_err(|source| super::ConnError::Write {
                path: value_dir.display().to_string(),
                source,
            })?;
    }
    for (name, v) in &values {
        write(&value_dir.join(name), v, None)?;
    }
    let exe = dir.join("get-attr-value");
    write(&exe, &script(&value_dir.display().to_string()), Some(0o700))?;
    Ok(exe)
}
