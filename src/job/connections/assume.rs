//! The `role_arn` of an `aws` connection (lava's `assume_role`): STS AssumeRole with the run's
//! credentials — session name from the application name template (else `lava`), cleaned as lava
//! cleans it; `duration` (else the realm's `aws_conn_duration`, lava's default 3h) in whole
//! seconds; `external_id` read from SSM; `policy_arns`, `policy` (sent as Python's `json.dumps`
//! writes it) and `tags` when given.
use super::{ConnError, Context, Failure, Planned, scripts::AppNames, ssm_value};
use crate::aws::AwsError;
use crate::config::ConfigError;
use crate::job::duration;
use serde_json::Value;

/// STS's longest role session name (lava cuts the cleaned name there).
const SESSION_NAME_MAX: usize = 64;

/// lava's `AWS_CONN_DURATION` default.
const DEFAULT_DURATION: &str = "3h";

/// Temporary credentials of the assumed role.
pub struct Assumed {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
}

/// lava's `clean_str(name, safe_chars='=,.@-', alternative='.')`: compatibility-decomposed to
/// ASCII, every run of other characters than word characters and `=,.@-` replaced by one `.`,
/// leading non-word characters dropped, then cut to 64 characters. None when nothing is left.
pub fn clean_session_name(name: &str) -> Option<String> {
    use unicode_normalization::UnicodeNormalization;
    let ascii: String = name.nfkd().filter(char::is_ascii).collect();
    let mut out = String::with_capacity(ascii.len());
    let mut in_run = false;
    for c in ascii.chars() {
        if c.is_ascii_alphanumeric() || "_=,.@-".contains(c) {
            out.push(c);
            in_run = false;
        } else if !in_run {
            out.push('.');
            in_run = true;
        }
    }
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let cleaned: String = out
        .trim_start_matches(|c| !word(c))
        .chars()
        .take(SESSION_NAME_MAX)
        .collect();
    (!cleaned.is_empty()).then_some(cleaned)
}

/// The role session name lava gives `conn_id`: the application name (when this process has
/// LAVA_REALM and LAVA_JOB_ID, as the worker's own environment rarely does), else `lava`.
pub fn session_name(template: &str, conn_id: &str) -> Result<String, ConfigError> {
    let raw = AppNames::new(template, conn_id)
        .fixed
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "lava".into());
    clean_session_name(&raw).ok_or_else(|| {
        ConfigError::invalid(
            "the role session name",
            &raw,
            "a name with a letter, digit or _ (lava: `clean_str: Result is empty`)",
        )
    })
}

fn at(p: &Planned, key: &str) -> String {
    format!("{}: {key}", p.origin)
}

/// `duration` (or `fallback`) in whole seconds, as lava's `int(duration_to_seconds(…))`.
pub fn whole_seconds(field: &str, v: &Value) -> Result<i32, ConfigError> {
    duration::seconds(v)
        .map(f64::trunc)
        .filter(|s| s.is_finite() && *s >= 0.0 && *s <= f64::from(i32::MAX))
        .map(|s| s as i32)
        .ok_or_else(|| {
            ConfigError::invalid(
                field,
                &v.to_string(),
                "a lava duration (seconds, or a number with s, m, h, d or w)",
            )
        })
}

/// `policy_arns` as lava's `listify` makes it: one string or a list of strings.
fn policy_arns(p: &Planned) -> Result<Vec<String>, ConfigError> {
    let bad = |v: &Value| {
        ConfigError::invalid(
            &at(p, "policy_arns"),
            &v.to_string(),
            "a policy ARN or a list of them",
        )
    };
    match p.spec.get("policy_arns") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) if s.is_empty() => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| v.as_str().map(String::from).ok_or_else(|| bad(v)))
            .collect(),
        Some(v) => Err(bad(v)),
    }
}

/// `tags`: a map of strings (STS's Key/Value pairs).
fn tags(p: &Planned) -> Result<Vec<(String, String)>, ConfigError> {
    match p.spec.get("tags") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                other => Err(ConfigError::invalid(
                    &at(p, &format!("tags.{k}")),
                    &other.to_string(),
                    "a string (an STS session tag value)",
                )),
            })
            .collect(),
        Some(v) => Err(ConfigError::invalid(
            &at(p, "tags"),
            &v.to_string(),
            "a map of tag names to strings",
        )),
    }
}

/// The duration field, when the record's is falsy the realm's `aws_conn_duration`.
fn duration_of(p: &Planned, realm_default: Option<Value>) -> Result<i32, ConfigError> {
    match p.spec.get("duration") {
        Some(v) if !matches!(v, Value::Null | Value::Bool(false)) && v != "" && v != 0 => {
            whole_seconds(&at(p, "duration"), v)
        }
        _ => {
            let v = realm_default.unwrap_or_else(|| Value::from(DEFAULT_DURATION));
            whole_seconds("the realm's config.aws_conn_duration", &v)
        }
    }
}

/// Checks the role fields of a record (exit 2 on a bad one).
pub fn check(p: &Planned) -> Result<(), ConfigError> {
    match p.spec.get("role_arn") {
        Some(Value::String(s)) if !s.is_empty() => {}
        other => {
            return Err(ConfigError::invalid(
                &at(p, "role_arn"),
                &other.map_or("(missing)".into(), Value::to_string),
                "the ARN of an IAM role (a string)",
            ));
        }
    }
    if let Some(v) = p.spec.get("external_id")
        && !matches!(v, Value::String(_) | Value::Null)
    {
        return Err(ConfigError::invalid(
            &at(p, "external_id"),
            &v.to_string(),
            "the name of an SSM parameter holding the external id",
        ));
    }
    if let Some(d) = p.spec.get("duration")
        && !matches!(d, Value::Null | Value::Bool(false))
        && d != ""
        && d != 0
    {
        whole_seconds(&at(p, "duration"), d)?;
    }
    policy_arns(p)?;
    tags(p)?;
    Ok(())
}

/// Assumes the record's role with the run's credentials.
pub async fn assume(
    ctx: &Context<'_>,
    p: &Planned,
    template: &str,
    realm_duration: Option<Value>,
) -> Result<Assumed, Failure> {
    check(p)?;
    let role = p.spec["role_arn"].as_str().unwrap_or_default().to_string();
    let answer = |why: String| ConnError::AssumeRoleAnswer {
        role: role.clone(),
        why,
    };
    let mut req = aws_sdk_sts::Client::new(ctx.sdk)
        .assume_role()
        .role_arn(&role)
        .role_session_name(session_name(template, &p.conn_id)?)
        .duration_seconds(duration_of(p, realm_duration)?);
    if let Some(Value::String(name)) = p.spec.get("external_id")
        && !name.is_empty()
    {
        req = req.external_id(ssm_value(ctx.sdk, name).await?);
    }
    for arn in policy_arns(p)? {
        req = req.policy_arns(
            aws_sdk_sts::types::PolicyDescriptorType::builder()
                .arn(arn)
                .build(),
        );
    }
    if let Some(policy) = p.spec.get("policy").filter(|v| truthy_policy(v)) {
        req = req.policy(crate::job::render::python_json_of(policy));
    }
    for (k, v) in tags(p)? {
        let tag = aws_sdk_sts::types::Tag::builder()
            .key(k)
            .value(v)
            .build()
            .map_err(|e| answer(format!("session tag: {e}")))?;
        req = req.tags(tag);
    }
    let out = req.send().await.map_err(|e| ConnError::AssumeRole {
        role: role.clone(),
        source: AwsError::from_sdk("STS", &e),
    })?;
    let creds = out
        .credentials()
        .ok_or_else(|| answer("STS answered without credentials".into()))?;
    Ok(Assumed {
        access_key_id: creds.access_key_id().to_string(),
        secret_access_key: creds.secret_access_key().to_string(),
        session_token: creds.session_token().to_string(),
    })
}

/// Python's truth of `policy` (an empty map or text is not sent).
fn truthy_policy(v: &Value) -> bool {
    match v {
        Value::Null | Value::Bool(false) => false,
        Value::String(s) => !s.is_empty(),
        Value::Object(m) => !m.is_empty(),
        Value::Array(a) => !a.is_empty(),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_names_are_cleaned_as_lava_cleans_them() {
        assert_eq!(clean_session_name("lava").as_deref(), Some("lava"));
        assert_eq!(
            clean_session_name("lv-realm-job/a b:c").as_deref(),
            Some("lv-realm-job.a.b.c")
        );
        assert_eq!(
            clean_session_name("..café=x,y@z..").as_deref(),
            Some("cafe=x,y@z..")
        );
        assert_eq!(clean_session_name("/ /").as_deref(), None);
        let long = "a".repeat(80);
        assert_eq!(clean_session_name(&long).unwrap().len(), 64);
    }

    #[test]
    fn durations_are_whole_seconds_and_bad_ones_name_the_field() {
        assert_eq!(whole_seconds("d", &Value::from("3h")).unwrap(), 10_800);
        assert_eq!(whole_seconds("d", &Value::from("1.5m")).unwrap(), 90);
        assert_eq!(whole_seconds("d", &Value::from(901.9)).unwrap(), 901);
        let e = whole_seconds("c: duration", &Value::from("soon"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("c: duration") && e.contains("soon"), "{e}");
    }
}
