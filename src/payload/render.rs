//! Rendering with the job framework's delimiters: `<{ … }>` expressions, `<% … %>` statements,
//! `<# … #>` comments, so `{{ }}` in a file passes through. Strict: an undefined name is an error
//! naming the file, the line and the name. Pure.
use crate::config::ConfigError;
use minijinja::syntax::SyntaxConfig;
use minijinja::{Environment, ErrorKind, UndefinedBehavior, Value};

/// The environment every payload file is rendered in.
pub fn environment() -> Result<Environment<'static>, minijinja::Error> {
    let mut env = Environment::new();
    env.set_syntax(
        SyntaxConfig::builder()
            .variable_delimiters("<{", "}>")
            .block_delimiters("<%", "%>")
            .comment_delimiters("<#", "#>")
            .build()?,
    );
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_keep_trailing_newline(true);
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    Ok(env)
}

/// The render context: the config's keys, `env`, and `lava.realm` when the realm's info is given.
pub fn context(
    config: &serde_yaml::Value,
    env_name: &str,
    realm_info: Option<&serde_json::Value>,
) -> Value {
    let mut map: std::collections::BTreeMap<String, Value> = match config {
        serde_yaml::Value::Mapping(m) => m
            .iter()
            .filter_map(|(k, v)| {
                k.as_str()
                    .map(|k| (k.to_string(), Value::from_serialize(v)))
            })
            .collect(),
        _ => Default::default(),
    };
    map.insert("env".into(), Value::from(env_name));
    if let Some(info) = realm_info {
        map.insert(
            "lava".into(),
            Value::from_serialize(serde_json::json!({ "realm": info })),
        );
    }
    Value::from(map)
}

/// The name an undefined-value error is about: the expression at the error's range, else the
/// first name of the failing line that the context lacks.
fn undefined_name(source: &str, err: &minijinja::Error, ctx: &Value) -> String {
    if let Some(r) = err.range()
        && let Some(text) = source.get(r)
    {
        let t = text.trim();
        if !t.is_empty() {
            return t.to_string();
        }
    }
    let line = err
        .line()
        .and_then(|l| source.lines().nth(l.saturating_sub(1)))
        .unwrap_or_default();
    line.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.'))
        .find(|w| {
            let head = w.split('.').next().unwrap_or_default();
            !head.is_empty()
                && head.starts_with(|c: char| c.is_alphabetic() || c == '_')
                && ctx.get_attr(head).is_ok_and(|v| v.is_undefined())
        })
        .unwrap_or("?")
        .to_string()
}

/// Renders `source` (the file `shown`, as named in errors).
pub fn render(
    env: &Environment<'_>,
    shown: &str,
    source: &str,
    ctx: &Value,
) -> Result<String, ConfigError> {
    let fail = |e: minijinja::Error| {
        let line = e.line().unwrap_or(0);
        let location = format!("{shown}:{line}");
        match e.kind() {
            ErrorKind::UndefinedError => ConfigError::Usage {
                message: format!(
                    "{location}: undefined name {:?} (the context has the config's keys, env, \
                     and lava.realm with --realm-file)",
                    undefined_name(source, &e, ctx)
                ),
            },
            _ => ConfigError::Usage {
                message: format!(
                    "{location}: template error: {}",
                    e.detail().unwrap_or(&e.kind().to_string())
                ),
            },
        }
    };
    let tmpl = env.template_from_named_str(shown, source).map_err(fail)?;
    tmpl.render(ctx).map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Value {
        let config: serde_yaml::Value =
            serde_yaml::from_str("realm: dev\nprefix:\n  docker_repo: lava/dev/p\n").unwrap();
        context(
            &config,
            "dev",
            Some(&serde_json::json!({"s3_temp": "s3://t/"})),
        )
    }

    #[test]
    fn framework_delimiters_and_untouched_braces() {
        let env = environment().unwrap();
        let out = render(
            &env,
            "env/x",
            "r=<{ realm }> <# gone #>{{ untouched }} <% if env == 'dev' %>D<% endif %> \
             <{ prefix.docker_repo }> <{ lava.realm.s3_temp }>\n",
            &ctx(),
        )
        .unwrap();
        assert_eq!(out, "r=dev {{ untouched }} D lava/dev/p s3://t/\n");
    }

    #[test]
    fn an_undefined_name_names_file_line_and_name() {
        let env = environment().unwrap();
        let e = render(&env, "env/x.cfg", "a\nb <{ nope }>\n", &ctx()).unwrap_err();
        let m = e.to_string();
        assert!(m.starts_with("env/x.cfg:2: undefined name \"nope\""), "{m}");
        let e = render(&env, "Dockerfile", "\n\nFROM <{ docker.base }>\n", &ctx()).unwrap_err();
        let m = e.to_string();
        assert!(
            m.starts_with("Dockerfile:3: undefined name \"docker"),
            "{m}"
        );
    }
}
