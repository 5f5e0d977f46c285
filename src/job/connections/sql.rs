//! The database connections (postgres and redshift family, mysql family, oracle): the record
//! completed as lava completes it — `password` read from SSM (decrypted), `secret_id`'s JSON
//! filling what the record lacks — checked, then the files of [`super::scripts`] written.
use super::iam;
use super::scripts::{self, Db};
use super::{ConnError, Context, Failure, Kind, Planned, conn_dir, secret_json, ssm_value, write};
use crate::config::ConfigError;
use crate::job::spec::python_str;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// Secrets Manager's database keys and the record fields they fill (lava's mapping).
const SECRET_KEYS: [(&str, &str); 8] = [
    ("username", "user"),
    ("password", "password"),
    ("host", "host"),
    ("port", "port"),
    ("dbname", "database"),
    ("dbClusterIdentifier", "description"),
    ("serviceName", "service_name"),
    ("sid", "sid"),
];

/// The SSL modes lava knows.
const SSL_MODES: [&str; 3] = ["require", "verify-ca", "verify-full"];

/// Python's truth value of a field.
fn truthy(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64() != Some(0.0),
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(o)) => !o.is_empty(),
    }
}

/// Python's `int(v)` of a port.
pub(super) fn port_of(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.is_finite())
                .map(|f| f.trunc() as i64)
        }),
        Value::String(s) => s.trim().replace('_', "").parse().ok(),
        Value::Bool(b) => Some(i64::from(*b)),
        _ => None,
    }
}

/// The record with its secrets: `password` replaced by the SSM parameter it names (decrypted),
/// and the fields `secret_id`'s JSON secret has that the record lacks.
pub(super) async fn with_secrets(
    ctx: &Context<'_>,
    p: &Planned,
) -> Result<Map<String, Value>, Failure> {
    let name_of = |key: &str, what: &str| match p.spec.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(ConfigError::invalid(
            &format!("{}: {key}", p.origin),
            &other.to_string(),
            what,
        )),
    };
    let mut spec = p.spec.clone();
    if let Some(name) = name_of("password", "the name of an SSM parameter")? {
        let value = ssm_value(ctx.sdk, &name).await?;
        spec.insert("password".into(), Value::String(value));
    }
    if let Some(name) = name_of("secret_id", "a Secrets Manager secret id")? {
        let secret = secret_json(ctx.sdk, &name).await?;
        for (from, to) in SECRET_KEYS {
            if !spec.contains_key(to)
                && let Some(v) = secret.get(from)
            {
                spec.insert(to.to_string(), v.clone());
            }
        }
    }
    Ok(spec)
}

/// The record completed with its secrets and checked (lava's `expand_sql_conn_spec`).
pub async fn expand(ctx: &Context<'_>, p: &Planned) -> Result<Map<String, Value>, Failure> {
    let at = |f: &str| format!("{}: {f}", p.origin);
    let mut spec = with_secrets(ctx, p).await?;
    super::require(&p.origin, &spec, &["host", "port"], || {
        format!(
            "a {} connection needs them (in the record or its secret_id)",
            p.conn_type
        )
    })?;
    let port = port_of(&spec["port"]).ok_or_else(|| {
        ConfigError::invalid(&at("port"), &spec["port"].to_string(), "a port number")
    })?;
    spec.insert("port".into(), Value::from(port));
    if !spec.contains_key("password") && iam::RDS_TYPES.contains(&p.conn_type.as_str()) {
        let token = iam::rds_password(ctx, &p.origin, &spec).await?;
        spec.insert("password".into(), Value::String(token));
    }
    if !spec.contains_key("password") && p.conn_type == "redshift" {
        let (user, password) = iam::redshift_credentials(ctx, &p.origin, &spec).await?;
        spec.insert("user".into(), Value::String(user));
        spec.insert("password".into(), Value::String(password));
    }
    if !spec.contains_key("password") {
        let why = if p.conn_type == "redshift-serverless" {
            "password (SSM) or secret_id: without them lava asks Redshift Serverless for IAM credentials (GetCredentials), which lava-build job run does not make — moto has no Redshift Serverless endpoint here to prove them against".to_string()
        } else {
            "password (the name of an SSM parameter) or a secret_id with one: lava says `Password must be specified`".into()
        };
        return Err(ConfigError::Missing {
            param: at("password"),
            hint: why,
        }
        .into());
    }
    if !spec.contains_key("user") {
        return Err(ConfigError::Missing {
            param: at("user"),
            hint: "the record or its secret_id must give the database user".into(),
        }
        .into());
    }
    Ok(spec)
}

/// lava's `resolve_ssl_mode`: `ssl_mode` when given (one of three), else `require` when `ssl`.
pub fn ssl_mode(origin: &str, spec: &Map<String, Value>) -> Result<Option<String>, ConfigError> {
    match spec.get("ssl_mode") {
        None | Some(Value::Null) => Ok(truthy(spec.get("ssl")).then(|| "require".to_string())),
        Some(Value::String(m)) if SSL_MODES.contains(&m.as_str()) => Ok(Some(m.clone())),
        Some(v) => Err(ConfigError::invalid(
            &format!("{origin}: ssl_mode"),
            &python_str(v).unwrap_or_else(|| v.to_string()),
            "require, verify-ca or verify-full",
        )),
    }
}

/// `ssl_ca_file` or else `ca_cert`, when set.
fn ca_uri(spec: &Map<String, Value>) -> Option<String> {
    ["ssl_ca_file", "ca_cert"]
        .into_iter()
        .find(|k| truthy(spec.get(*k)))
        .and_then(|k| python_str(&spec[k]))
}

/// Copies the CA certificate (`s3://`, `http(s)://` or a local path) to `tmpXXXXXXXX.pem` in `dir`, mode 0400
/// (lava's `materialise_file`).
async fn materialise_ca(
    ctx: &Context<'_>,
    origin: &str,
    uri: &str,
    dir: &Path,
) -> Result<String, Failure> {
    use std::os::unix::fs::PermissionsExt;
    let bytes = if let Some((bucket, key)) = crate::job::run::split_s3(uri) {
        let out = aws_sdk_s3::Client::new(ctx.sdk)
            .get_object()
            .bucket(&bucket)
            .key(&key)
            .send()
            .await
            .map_err(|e| ConnError::CaFile {
                uri: uri.to_string(),
                source: Box::new(crate::aws::AwsError::from_sdk("S3", &e)),
            })?;
        out.body
            .collect()
            .await
            .map_err(|e| ConnError::CaFile {
                uri: uri.to_string(),
                source: Box::new(e),
            })?
            .into_bytes()
            .to_vec()
    } else if uri.starts_with("http://") || uri.starts_with("https://") {
        http_get(uri).await?
    } else if uri.contains("://") {
        return Err(ConfigError::invalid(
            &format!("{origin}: ssl_ca_file"),
            uri,
            "an s3://, http:// or https:// URL or a local path",
        )
        .into());
    } else {
        std::fs::read(uri).map_err(|e| ConnError::CaFile {
            uri: uri.to_string(),
            source: Box::new(e),
        })?
    };
    let file = tempfile::Builder::new()
        .prefix("tmp")
        .suffix(".pem")
        .rand_bytes(8)
        .tempfile_in(dir)
        .map_err(|source| ConnError::Write {
            path: dir.display().to_string(),
            source,
        })?;
    let (_, path) = file.keep().map_err(|e| ConnError::Write {
        path: dir.display().to_string(),
        source: e.error,
    })?;
    let werr = |source| ConnError::Write {
        path: path.display().to_string(),
        source,
    };
    std::fs::write(&path, &bytes).map_err(werr)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).map_err(werr)?;
    Ok(path.display().to_string())
}

/// The body of a GET of `uri` (lava's smart_open over HTTP: redirects followed, an answer other
/// than 2xx is an error).
async fn http_get(uri: &str) -> Result<Vec<u8>, ConnError> {
    let err = |e: reqwest::Error| ConnError::CaFile {
        uri: uri.to_string(),
        source: Box::new(e),
    };
    let resp = reqwest::get(uri).await.map_err(err)?;
    let resp = resp.error_for_status().map_err(err)?;
    Ok(resp.bytes().await.map_err(err)?.to_vec())
}

/// The `mysql` client flavour on this machine's PATH, as the worker probes it (`mysql --version`).
fn mysql_flavour() -> Result<scripts::MysqlFlavour, ConnError> {
    let out = std::process::Command::new("mysql")
        .arg("--version")
        .output()
        .map_err(|_| ConnError::NoMysqlClient)?;
    if !out.status.success() {
        return Err(ConnError::NoMysqlClient);
    }
    Ok(
        if String::from_utf8_lossy(&out.stdout)
            .to_lowercase()
            .contains("mariadb")
        {
            scripts::MysqlFlavour::Mariadb
        } else {
            scripts::MysqlFlavour::Mysql
        },
    )
}

/// Makes a database connection's folder and executable; returns the executable's path.
pub async fn make(ctx: &Context<'_>, p: &Planned) -> Result<PathBuf, Failure> {
    let flavour = match p.kind {
        Kind::Mysql => Some(mysql_flavour()?),
        _ => None,
    };
    let spec = expand(ctx, p).await?;
    let ssl = ssl_mode(&p.origin, &spec)?;
    let ca = ca_uri(&spec);
    let db = Db::of(&p.origin, &p.conn_id, &spec, ssl.clone())?;
    match p.kind {
        Kind::Postgres => {
            if !truthy(spec.get("database")) {
                return Err(ConfigError::Missing {
                    param: format!("{}: database", p.origin),
                    hint: "database must be specified for Postgres".into(),
                }
                .into());
            }
            let dir = conn_dir(ctx.workdir)?;
            let root_cert = match &ca {
                Some(u) => Some(materialise_ca(ctx, &p.origin, u, &dir).await?),
                None => None,
            };
            let names = scripts::AppNames::new(&ctx.app_name_template(), &p.conn_id);
            let made = scripts::postgres(
                &db,
                &dir.display().to_string(),
                root_cert.as_deref(),
                &names,
            );
            for (name, text, mode) in made {
                write(&dir.join(name), &text, Some(mode))?;
            }
            Ok(dir.join("psql"))
        }
        Kind::Mysql => {
            if !truthy(spec.get("database")) {
                return Err(ConfigError::Missing {
                    param: format!("{}: database", p.origin),
                    hint: "database must be specified for MySQL".into(),
                }
                .into());
            }
            let dir = conn_dir(ctx.workdir)?;
            let ca_file = match &ca {
                Some(u) => Some(materialise_ca(ctx, &p.origin, u, &dir).await?),
                None => None,
            };
            let made = scripts::mysql(
                &p.origin,
                &db,
                flavour.unwrap_or(scripts::MysqlFlavour::Mysql),
                &dir.display().to_string(),
                ca_file.as_deref(),
            )?;
            for (name, text, mode) in made {
                write(&dir.join(name), &text, Some(mode))?;
            }
            Ok(dir.join("mysql"))
        }
        _ => {
            let text = scripts::oracle(&p.origin, &db, &spec, ca.is_some())?;
            let dir = conn_dir(ctx.workdir)?;
            let exe = dir.join("sqlplus");
            write(&exe, &text, Some(0o700))?;
            Ok(exe)
        }
    }
}
