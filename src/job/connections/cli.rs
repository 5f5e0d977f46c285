//! The connection types that are not databases of a server (lava 8.3.0's other CLI
//! connectors): `aws` (an AWS CLI config with keys from SSM), `ses` and `email`, `slack`, `smb`,
//! `sharepoint` (scripts calling lava's own utilities), `ssh`/`scp`/`sftp` and `git` (an SSH key
//! from SSM) and `sqlite3`. Each writes the worker's files, byte for byte and mode for mode.
use super::cli_texts::{SES, SQLITE3};
use super::{Context, Failure, Kind, Planned, conn_dir, scripts::quote, sql, ssm_value, write};
use crate::config::ConfigError;
use crate::job::spec::python_str;
use serde_json::{Map, Value};
use std::path::PathBuf;

/// Keys every connection record has (lava's required fields).
const BASE_REQUIRED: [&str; 3] = ["conn_id", "type", "enabled"];
/// Keys every connection record may have.
const BASE_OPTIONAL: [&str; 3] = ["description", "owner", "secret_id"];

/// The keys a type requires beyond the base ones, and the ones it permits (None: any).
fn fields(kind: Kind) -> (&'static [&'static str], Option<&'static [&'static str]>) {
    match kind {
        Kind::Aws => (
            &[],
            Some(&[
                "access_keys",
                "role_arn",
                "external_id",
                "duration",
                "policy_arns",
                "policy",
                "region",
                "tags",
            ]),
        ),
        Kind::Email => (
            &[],
            Some(&[
                "from",
                "region",
                "return_path",
                "reply_to",
                "subtype",
                "user",
                "host",
                "password",
                "port",
                "tls",
                "configuration_set",
            ]),
        ),
        Kind::Slack => (
            &["webhook_url"],
            Some(&["from", "style", "colour", "preamble"]),
        ),
        Kind::Smb => (
            &["remote_name", "host", "user", "password"],
            Some(&[
                "subtype",
                "domain",
                "my_name",
                "port",
                "use_ntlm_v2",
                "is_direct_tcp",
                "encrypt",
            ]),
        ),
        Kind::Sharepoint => (
            &[
                "site_name",
                "tenant",
                "client_id",
                "client_secret",
                "user",
                "password",
            ],
            None,
        ),
        Kind::Ssh => (&["ssh_key"], None),
        _ => (&[], None),
    }
}

/// lava's key check (`dict_check` ignoring `x-*`/`X-*`): the missing or unexpected keys,
/// sorted, as one error naming the connection.
fn check_keys(p: &Planned) -> Result<(), ConfigError> {
    let (extra_required, optional) = fields(p.kind);
    let keys: Vec<&str> = p
        .spec
        .keys()
        .map(String::as_str)
        .filter(|k| !k.starts_with("x-") && !k.starts_with("X-"))
        .collect();
    let required: Vec<&str> = BASE_REQUIRED
        .iter()
        .chain(extra_required)
        .copied()
        .collect();
    super::require(&p.origin, &p.spec, &required, || {
        format!(
            "a {} connection needs them (connection {}; lava: `Missing keys`)",
            p.conn_type, p.conn_id
        )
    })?;
    if let Some(optional) = optional {
        let mut unexpected: Vec<&str> = keys
            .iter()
            .copied()
            .filter(|k| {
                !BASE_REQUIRED.contains(k)
                    && !BASE_OPTIONAL.contains(k)
                    && !extra_required.contains(k)
                    && !optional.contains(k)
            })
            .collect();
        unexpected.sort_unstable();
        if !unexpected.is_empty() {
            let mut allowed: Vec<&str> = BASE_REQUIRED
                .iter()
                .chain(&BASE_OPTIONAL)
                .chain(extra_required)
                .chain(optional)
                .copied()
                .collect();
            allowed.sort_unstable();
            return Err(ConfigError::invalid(
                &format!("{}: {}", p.origin, unexpected.join(", ")),
                "(present)",
                &format!(
                    "only the keys lava permits a {} connection (lava: `Unexpected keys`): {}",
                    p.conn_type,
                    allowed.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

/// A text field as Python's f-string prints it (scalars only).
fn text(p: &Planned, spec: &Map<String, Value>, key: &str) -> Result<String, ConfigError> {
    let v = spec.get(key).unwrap_or(&Value::Null);
    python_str(v).ok_or_else(|| {
        ConfigError::invalid(
            &format!("{}: {key}", p.origin),
            &v.to_string(),
            &format!("a scalar (connection {})", p.conn_id),
        )
    })
}

/// A string field (an SSM parameter name, a file name).
fn string(p: &Planned, key: &str, what: &str) -> Result<String, ConfigError> {
    match p.spec.get(key) {
        Some(Value::String(s)) => Ok(s.clone()),
        other => Err(ConfigError::invalid(
            &format!("{}: {key}", p.origin),
            &other.map_or("(missing)".into(), Value::to_string),
            what,
        )),
    }
}

/// `ssh_options` as the ssh family writes them: ` -o OPT` each, shell-quoted, space-joined.
fn ssh_options(p: &Planned) -> Result<String, ConfigError> {
    let bad = |v: &Value| {
        ConfigError::invalid(
            &format!("{}: ssh_options", p.origin),
            &v.to_string(),
            "a list of strings (lava: `ssh_options must be a list of strings`)",
        )
    };
    let list = match p.spec.get("ssh_options") {
        None => return Ok(String::new()),
        Some(Value::Array(a)) => a,
        Some(v) => return Err(bad(v)),
    };
    let mut out = Vec::new();
    for o in list {
        match o {
            Value::String(s) => out.push(format!("-o {}", quote(s))),
            other => return Err(bad(other)),
        }
    }
    Ok(out.join(" "))
}

/// Checks what can be checked of a record before anything runs (exit 2 on a bad one).
pub fn check(p: &Planned) -> Result<(), ConfigError> {
    check_keys(p)?;
    match p.kind {
        Kind::Aws => {
            if p.spec.contains_key("access_keys") {
                string(p, "access_keys", "the name of an SSM parameter")?;
            } else if p.spec.contains_key("role_arn") {
                super::assume::check(p)?;
            } else {
                return Err(ConfigError::Missing {
                    param: format!("{}: access_keys", p.origin),
                    hint: format!(
                        "access_keys or role_arn (lava: `One of access_keys or role_arn is required`) (connection {})",
                        p.conn_id
                    ),
                });
            }
        }
        Kind::Ssh => {
            string(p, "ssh_key", "the name of an SSM parameter")?;
            ssh_options(p)?;
        }
        _ => {}
    }
    Ok(())
}

/// Makes the connection's folder and executable; returns the executable's path.
pub async fn make(ctx: &Context<'_>, p: &Planned) -> Result<PathBuf, Failure> {
    match p.kind {
        Kind::Aws => aws(ctx, p).await,
        Kind::Ssh => ssh(ctx, p).await,
        Kind::Sqlite3 => sqlite3(ctx, p).await,
        Kind::Ses => ses(ctx, p),
        _ => utility(ctx, p),
    }
}

/// `aws`: `.aws_config` (0600) with the keys from SSM (`access_keys`) or those of the assumed
/// `role_arn` (with its session token), and an `aws` script (0700).
async fn aws(ctx: &Context<'_>, p: &Planned) -> Result<PathBuf, Failure> {
    let cached = ctx
        .aws_keys
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(&p.conn_id)
        .cloned();
    let keys = if let Some(keys) = cached {
        keys
    } else if p.spec.contains_key("access_keys") {
        let param = string(p, "access_keys", "the name of an SSM parameter")?;
        let keys = ssm_value(ctx.sdk, &param).await?;
        let (id, secret) = keys.split_once(',').ok_or_else(|| {
            super::ConnError::SecretValue {
                name: param.clone(),
                why: "not in the form access_key_id,secret_access_key (lava: `Must be in format \"access_key_id,access_secret_key\"`)".into(),
            }
        })?;
        format!("aws_access_key_id={id}\naws_secret_access_key={secret}\n")
    } else {
        let template = ctx.app_name_template();
        let assumed = super::assume::assume(
            ctx,
            p,
            &template,
            ctx.lava_config("aws_conn_duration", None),
        )
        .await?;
        format!(
            "aws_access_key_id={}\naws_secret_access_key={}\naws_session_token={}\n",
            assumed.access_key_id, assumed.secret_access_key, assumed.session_token
        )
    };
    ctx.aws_keys
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(p.conn_id.clone(), keys.clone());
    let region = match p.spec.get("region") {
        Some(_) => text(p, &p.spec, "region")?,
        None => ctx
            .sdk
            .region()
            .map_or("None".into(), |r| r.as_ref().to_string()),
    };
    let dir = conn_dir(ctx.workdir)?;
    let conf = dir.join(".aws_config");
    let body = format!(
        "\n[profile lava]\ns3 =\n    signature_version = s3v4\n    \nregion={region}\n{keys}"
    );
    write(&conf, &body, Some(0o600))?;
    let exe = dir.join("aws");
    let script = format!(
        "#!/bin/bash\n\nAWS_CONFIG_FILE={} aws --profile lava \"$@\"\n",
        conf.display()
    );
    write(&exe, &script, Some(0o700))?;
    Ok(exe)
}

/// `ssh`/`scp`/`sftp` and `git`: `ssh.pem` (0600, commas turned into line breaks) from SSM and
/// the script (0700) named after the type as the record spells it.
async fn ssh(ctx: &Context<'_>, p: &Planned) -> Result<PathBuf, Failure> {
    let opts = ssh_options(p)?;
    let dir = conn_dir(ctx.workdir)?;
    let key_file = dir.join("ssh.pem");
    let param = string(p, "ssh_key", "the name of an SSM parameter")?;
    let key = ssm_value(ctx.sdk, &param).await?;
    write(
        &key_file,
        &format!("{}\n", key.replace(',', "\n")),
        Some(0o600),
    )?;
    let key_file = key_file.display().to_string();
    let (name, script) = if p.conn_type == "git" {
        (
            "git".to_string(),
            format!(
                "#!/bin/bash\nexport GIT_CONFIG_NOSYSTEM=1\nexport GIT_SSH_COMMAND='ssh {opts} -i {key_file}'\nexport GIT_TERMINAL_PROMPT=0\n\ngit \"$@\"\n\n"
            ),
        )
    } else {
        let raw = string(p, "type", "a connection type (a string)")?;
        let script = format!("#!/bin/bash\n{raw} {opts} -i {key_file} \"$@\"\n");
        (raw, script)
    };
    let exe = dir.join(name);
    write(&exe, &script, Some(0o700))?;
    Ok(exe)
}

/// `ses` (deprecated in lava): a script sending with `aws ses send-email`.
fn ses(ctx: &Context<'_>, p: &Planned) -> Result<PathBuf, Failure> {
    let at = |k: &str| format!("{}: {k}", p.origin);
    let nonempty = |key: &str, v: Option<Value>, lava: &str| match v {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        other => Err(ConfigError::invalid(
            &at(key),
            &other.map_or("(missing)".into(), |v| v.to_string()),
            &format!("a non-empty string (lava: `Missing or malformed \"{key}\" for SES`; {lava})"),
        )),
    };
    let region = nonempty(
        "region",
        p.spec
            .get("region")
            .cloned()
            .or_else(|| ctx.lava_config("ses_region", Some("us-east-1"))),
        "else LAVA_SES_REGION or the realm's config.ses_region",
    )?;
    let sender = nonempty(
        "from",
        p.spec
            .get("from")
            .cloned()
            .or_else(|| ctx.lava_config("ses_from", None)),
        "else LAVA_SES_FROM or the realm's config.ses_from",
    )?;
    let return_path = match p.spec.get("return_path") {
        None => String::new(),
        Some(_) => text(p, &p.spec, "return_path")?,
    };
    let reply_to = match p.spec.get("reply_to") {
        None => String::new(),
        Some(Value::Array(a)) => {
            let mut parts = Vec::new();
            for v in a {
                match v {
                    Value::String(s) => parts.push(s.clone()),
                    other => {
                        return Err(ConfigError::invalid(
                            &at("reply_to"),
                            &other.to_string(),
                            "a string or a list of strings",
                        )
                        .into());
                    }
                }
            }
            parts.join(" ")
        }
        Some(_) => text(p, &p.spec, "reply_to")?,
    };
    let script = SES
        .replace("{return_path}", &return_path)
        .replace("{reply_to}", &reply_to)
        .replace("{profile}", &ctx.profile)
        .replace("{region}", &region)
        .replace("{sender}", &sender);
    let exe = conn_dir(ctx.workdir)?.join("ses");
    write(&exe, &format!("{script}\n"), Some(0o700))?;
    Ok(exe)
}

/// `email`, `slack`, `smb`, `sharepoint`: a script calling lava's utility for the type, which
/// reads the connection itself.
fn utility(ctx: &Context<'_>, p: &Planned) -> Result<PathBuf, Failure> {
    let tool = match p.kind {
        Kind::Email => "lava-email",
        Kind::Slack => "lava-slack",
        Kind::Smb => "lava-smb",
        _ => "lava-sharepoint",
    };
    let conn_id = text(p, &p.spec, "conn_id")?;
    let script = format!(
        "#!/bin/bash\n{tool} --profile \"{}\" --conn-id \"{conn_id}\" --realm \"$LAVA_REALM\" \"$@\"\n    \n",
        ctx.profile
    );
    let exe = conn_dir(ctx.workdir)?.join(tool);
    write(&exe, &script, Some(0o700))?;
    Ok(exe)
}

/// `sqlite3`: the record completed as a database one (a password read from SSM and not used,
/// a secret's fields), then a script running `sqlite3` on the file `host` names.
async fn sqlite3(ctx: &Context<'_>, p: &Planned) -> Result<PathBuf, Failure> {
    let at = |k: &str| format!("{}: {k}", p.origin);
    let spec = sql::with_secrets(ctx, p).await?;
    super::require(&p.origin, &spec, &["host", "port"], || {
        format!(
            "a sqlite3 connection needs them: host is the database file, port is unused but lava requires it (connection {})",
            p.conn_id
        )
    })?;
    if sql::port_of(&spec["port"]).is_none() {
        return Err(
            ConfigError::invalid(&at("port"), &spec["port"].to_string(), "a port number").into(),
        );
    }
    let db_file = match &spec["host"] {
        Value::String(s) if !s.contains(['\'', '"', '\\']) => s.clone(),
        other => {
            return Err(ConfigError::invalid(
                &at("host"),
                &other.to_string(),
                "a database file name (local or s3://) without quotes or backslashes (lava: `Invalid database file`)",
            )
            .into());
        }
    };
    let exe = conn_dir(ctx.workdir)?.join("sqlite3");
    write(
        &exe,
        &format!("{}\n", SQLITE3.replace("{db_file}", &db_file)),
        Some(0o700),
    )?;
    Ok(exe)
}

/// Whether [`check`] and [`make`] are this module's for `kind`.
pub fn handles(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::Aws
            | Kind::Ses
            | Kind::Email
            | Kind::Slack
            | Kind::Smb
            | Kind::Sharepoint
            | Kind::Ssh
            | Kind::Sqlite3
    )
}
