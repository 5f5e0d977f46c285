//! Connections of a docker job (`parameters.connections`, seed 000 "Connection Handling for
//! Container Based Jobs"): for each label the worker writes a small executable (and the files it
//! reads) into a `conn.XXXXXXXX` folder of the job's temporary area, which is bind-mounted at the
//! same path, and passes `LAVA_CONN_<LABEL>` (the executable) and `LAVA_CONNID_<LABEL>` (the
//! conn_id). This makes the same files, byte for byte and mode for mode, for the connection types
//! lava offers executable jobs: `generic` ([`generic`]), the postgres family, mysql family, oracle
//! and mssql ([`sql`], [`scripts`]), and aws, ses, email, slack, smb, sharepoint, the ssh family,
//! git and sqlite3 ([`cli`]). Specs are checked before anything is pulled ([`plan`]);
//! secrets are read from SSM (decrypted) and Secrets Manager with the run's one SDK config.
pub mod assume;
pub mod cli;
mod cli_texts;
mod config;
pub mod generic;
pub mod iam;
pub mod scripts;
pub mod sql;

use crate::aws::AwsError;
use crate::config::ConfigError;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// The connection types lava gives executable jobs, as lava maps them to a handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Generic,
    Postgres,
    Mysql,
    Oracle,
    Mssql,
    Aws,
    Ses,
    Email,
    Slack,
    Smb,
    Sharepoint,
    /// ssh, scp, sftp and git.
    Ssh,
    Sqlite3,
}

/// Every type this runner makes executables for (lava's names, lower case).
pub const SUPPORTED: [&str; 26] = [
    "generic",
    "psql",
    "postgres",
    "postgres-aurora",
    "postgres-rds",
    "redshift",
    "redshift-serverless",
    "mysql",
    "mariadb",
    "mysql-aurora",
    "mysql-rds",
    "mariadb-rds",
    "oracle",
    "oracle-rds",
    "mssql",
    "aws",
    "ses",
    "email",
    "slack",
    "smb",
    "sharepoint",
    "ssh",
    "scp",
    "sftp",
    "git",
    "sqlite3",
];

/// The handler of a connection type (lower case), None for types this runner does not make.
pub fn kind_of(conn_type: &str) -> Option<Kind> {
    Some(match conn_type {
        "generic" => Kind::Generic,
        "psql"
        | "postgres"
        | "postgres-aurora"
        | "postgres-rds"
        | "redshift"
        | "redshift-serverless" => Kind::Postgres,
        "mysql" | "mariadb" | "mysql-aurora" | "mysql-rds" | "mariadb-rds" => Kind::Mysql,
        "oracle" | "oracle-rds" => Kind::Oracle,
        "mssql" => Kind::Mssql,
        "aws" => Kind::Aws,
        "ses" => Kind::Ses,
        "email" => Kind::Email,
        "slack" => Kind::Slack,
        "smb" => Kind::Smb,
        "sharepoint" => Kind::Sharepoint,
        "ssh" | "scp" | "sftp" | "git" => Kind::Ssh,
        "sqlite3" => Kind::Sqlite3,
        _ => return None,
    })
}

/// What went wrong making a connection's files at run time (exit 1).
#[derive(Debug, thiserror::Error)]
pub enum ConnError {
    #[error("SSM parameter {name}")]
    Ssm {
        name: String,
        #[source]
        source: AwsError,
    },
    #[error("Secrets Manager secret {name}")]
    Secret {
        name: String,
        #[source]
        source: AwsError,
    },
    #[error("Secrets Manager secret {name}: {why}")]
    SecretValue { name: String, why: String },
    #[error("reading the CA certificate {uri}")]
    CaFile {
        uri: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("writing {path}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("assuming the role {role}")]
    AssumeRole {
        role: String,
        #[source]
        source: AwsError,
    },
    #[error("assuming the role {role}: {why}")]
    AssumeRoleAnswer { role: String, why: String },
    #[error("Redshift cluster credentials for {cluster}")]
    ClusterCredentials {
        cluster: String,
        #[source]
        source: AwsError,
    },
    #[error("making an RDS IAM authentication token: {why}")]
    IamCredentials { why: String },
    #[error(
        "No mysql client available: the worker builds a mysql connection for the client on its own PATH (`mysql --version`), and there is none here"
    )]
    NoMysqlClient,
}

/// `parameters.connections` of a job: (label, conn_id) in the spec's order. A label is `\w+`
/// (the worker's check), a conn_id a string.
pub fn parse(
    origin: &str,
    params: &Map<String, Value>,
) -> Result<Vec<(String, String)>, ConfigError> {
    let m = match params.get("connections") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Object(m)) => m,
        Some(v) => {
            return Err(ConfigError::invalid(
                &format!("{origin}: parameters.connections"),
                &v.to_string(),
                "a map of LABEL: conn_id",
            ));
        }
    };
    let mut out = Vec::new();
    for (label, id) in m {
        if label.is_empty() || !label.chars().all(|c| c.is_alphanumeric() || c == '_') {
            return Err(ConfigError::invalid(
                &format!("{origin}: parameters.connections"),
                label,
                "labels of letters, digits and _ (the worker's `Bad connection label`)",
            ));
        }
        match id {
            Value::String(s) if !s.is_empty() => out.push((label.clone(), s.clone())),
            other => {
                return Err(ConfigError::invalid(
                    &format!("{origin}: parameters.connections.{label}"),
                    &other.to_string(),
                    "a conn_id (a string)",
                ));
            }
        }
    }
    Ok(out)
}

/// Every key of `keys` `spec` lacks, sorted, named in one `Missing` error at `origin` with `hint`.
pub(super) fn require(
    origin: &str,
    spec: &Map<String, Value>,
    keys: &[&str],
    hint: impl FnOnce() -> String,
) -> Result<(), ConfigError> {
    let mut missing: Vec<&str> = keys
        .iter()
        .copied()
        .filter(|k| !spec.contains_key(*k))
        .collect();
    missing.sort_unstable();
    if missing.is_empty() {
        return Ok(());
    }
    Err(ConfigError::Missing {
        param: format!("{origin}: {}", missing.join(", ")),
        hint: hint(),
    })
}

/// One connection, checked as far as it can be before secrets are read.
#[derive(Debug, Clone)]
pub struct Planned {
    pub label: String,
    pub conn_id: String,
    pub kind: Kind,
    pub conn_type: String,
    /// Where the spec came from (for messages).
    pub origin: String,
    pub spec: Map<String, Value>,
}

/// Checks the connection record `spec` (from `origin`) for `label`: its type must be one this
/// runner makes, it must be enabled; a generic connection is checked in full.
pub fn plan(
    label: &str,
    conn_id: &str,
    origin: &str,
    spec: Map<String, Value>,
) -> Result<Planned, ConfigError> {
    let at = |f: &str| format!("{origin}: {f}");
    require(origin, &spec, &["conn_id", "type"], || {
        format!("connection {conn_id} (label {label}) is not a lava connection record")
    })?;
    let conn_type = match &spec["type"] {
        Value::String(s) => s.to_lowercase(),
        v => {
            return Err(ConfigError::invalid(
                &at("type"),
                &v.to_string(),
                "a connection type (a string)",
            ));
        }
    };
    if spec.get("enabled") != Some(&Value::Bool(true)) {
        return Err(ConfigError::invalid(
            &at("enabled"),
            &spec
                .get("enabled")
                .map_or("(missing)".to_string(), Value::to_string),
            &format!(
                "true: connection {conn_id} (label {label}) is not enabled, and the worker fails a job whose connection is not"
            ),
        ));
    }
    let kind = kind_of(&conn_type).ok_or_else(|| {
        let mut names: Vec<&str> = SUPPORTED.to_vec();
        names.sort_unstable();
        ConfigError::invalid(
            &at("type"),
            &conn_type,
            &format!(
                "a connection type lava-build job run makes executables for (connection {conn_id}, label {label}): {}",
                names.join(", ")
            ),
        )
    })?;
    if kind == Kind::Generic {
        generic::check(origin, &spec)?;
    }
    let planned = Planned {
        label: label.to_string(),
        conn_id: conn_id.to_string(),
        kind,
        conn_type,
        origin: origin.to_string(),
        spec,
    };
    if cli::handles(kind) {
        cli::check(&planned)?;
    }
    Ok(planned)
}

/// What the connection makers need besides the spec.
pub struct Context<'a> {
    pub sdk: &'a aws_config::SdkConfig,
    /// The job's temporary area (LAVA_TMP): the conn folders go there.
    pub workdir: &'a Path,
    /// The profile name lava's session reports (`default` without one): the mssql script names it.
    pub profile: String,
    /// The realm's `config` map (a `conn_app_name` there sets the application name template).
    pub realm_config: &'a Map<String, Value>,
    /// The `aws` credentials made so far, by conn_id: lava caches them (10 minutes), so two
    /// labels naming one `aws` connection get the same keys — one AssumeRole, not two.
    pub aws_keys: std::sync::Mutex<std::collections::HashMap<String, String>>,
}

/// Makes every planned connection's files, in order, and returns the variables the container
/// gets: `LAVA_CONNID_<LABEL>` and `LAVA_CONN_<LABEL>` (label upper-cased).
pub async fn materialise(
    ctx: &Context<'_>,
    planned: &[Planned],
) -> Result<Vec<(String, String)>, super::JobError> {
    let mut env = Vec::new();
    for p in planned {
        let made = match p.kind {
            Kind::Generic => generic::make(ctx, p).await,
            Kind::Mssql => scripts::mssql(ctx, p),
            k if cli::handles(k) => cli::make(ctx, p).await,
            _ => sql::make(ctx, p).await,
        };
        let exe = made.map_err(|f| match f {
            Failure::Config(c) => super::JobError::Config(c),
            Failure::Conn(source) => super::JobError::Connection {
                label: p.label.clone(),
                conn_id: p.conn_id.clone(),
                source,
            },
        })?;
        let up = p.label.to_uppercase();
        env.push((format!("LAVA_CONNID_{up}"), p.conn_id.clone()));
        env.push((format!("LAVA_CONN_{up}"), exe.display().to_string()));
    }
    Ok(env)
}

/// Why a connection's files were not made: its spec (exit 2) or the run (exit 1).
#[derive(Debug)]
pub enum Failure {
    Config(ConfigError),
    Conn(ConnError),
}

impl From<ConfigError> for Failure {
    fn from(e: ConfigError) -> Self {
        Failure::Config(e)
    }
}

impl From<ConnError> for Failure {
    fn from(e: ConnError) -> Self {
        Failure::Conn(e)
    }
}

/// `conn.XXXXXXXX` in `workdir`, mode 0700 (as Python's `mkdtemp(prefix='conn.')`); kept.
pub fn conn_dir(workdir: &Path) -> Result<PathBuf, ConnError> {
    use std::os::unix::fs::PermissionsExt;
    tempfile::Builder::new()
        .prefix("conn.")
        .rand_bytes(8)
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir_in(workdir)
        .map(tempfile::TempDir::keep)
        .map_err(|source| ConnError::Write {
            path: workdir.display().to_string(),
            source,
        })
}

/// Writes `text` to `path` (created with the process umask, as Python's `open('w')`), then
/// sets `mode` when given.
pub fn write(path: &Path, text: &str, mode: Option<u32>) -> Result<(), ConnError> {
    use std::os::unix::fs::PermissionsExt;
    let err = |source| ConnError::Write {
        path: path.display().to_string(),
        source,
    };
    std::fs::write(path, text).map_err(err)?;
    if let Some(m) = mode {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(m)).map_err(err)?;
    }
    Ok(())
}

/// The decrypted value of SSM parameter `name` (lava's `get_lava_param`: any name, decrypted).
pub async fn ssm_value(sdk: &aws_config::SdkConfig, name: &str) -> Result<String, ConnError> {
    crate::aws::ssm::secure_string(sdk, name)
        .await
        .map_err(|source| ConnError::Ssm {
            name: name.to_string(),
            source,
        })
}

/// A Secrets Manager secret holding a JSON object (lava's `secman_get_json_secret`).
pub async fn secret_json(
    sdk: &aws_config::SdkConfig,
    name: &str,
) -> Result<Map<String, Value>, ConnError> {
    let out = aws_sdk_secretsmanager::Client::new(sdk)
        .get_secret_value()
        .secret_id(name)
        .send()
        .await
        .map_err(|e| ConnError::Secret {
            name: name.to_string(),
            source: AwsError::from_sdk("Secrets Manager", &e),
        })?;
    let bad = |why: &str| ConnError::SecretValue {
        name: name.to_string(),
        why: why.to_string(),
    };
    let text = out
        .secret_string()
        .ok_or_else(|| bad("a binary secret (lava reads a JSON string)"))?;
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(bad("not a JSON object")),
    }
}

#[cfg(test)]
mod tests;
