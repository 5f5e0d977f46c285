//! The texts of the database connection files, as lava 8.3.0 writes them (pure, but for
//! [`mssql`], which writes its one script).
use super::{Context, Failure, Planned, conn_dir, write};
use crate::config::ConfigError;
use crate::job::spec::python_str;
use serde_json::{Map, Value};
use std::path::PathBuf;

/// psql truncates passwords this long or longer: they go in PGPASSWORD, not `.pgpass`.
const PSQL_MAX_PASSWD_LEN: usize = 99;

/// Python's `shlex.quote`.
pub fn quote(s: &str) -> String {
    if s.is_empty() {
        return "''".into();
    }
    let safe = s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c));
    if safe {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\"'\"'"))
    }
}

/// The fields of a completed database record, as Python's `str()` prints them.
#[derive(Debug, Clone)]
pub struct Db {
    pub user: String,
    pub password: String,
    pub host: String,
    pub port: i64,
    pub database: Option<String>,
    pub ssl_mode: Option<String>,
}

impl Db {
    pub fn of(
        origin: &str,
        conn_id: &str,
        spec: &Map<String, Value>,
        ssl_mode: Option<String>,
    ) -> Result<Db, ConfigError> {
        let text = |k: &str| -> Result<String, ConfigError> {
            let v = spec.get(k).unwrap_or(&Value::Null);
            python_str(v).ok_or_else(|| {
                ConfigError::invalid(
                    &format!("{origin}: {k}"),
                    &v.to_string(),
                    &format!("a scalar (connection {conn_id})"),
                )
            })
        };
        Ok(Db {
            user: text("user")?,
            password: text("password")?,
            host: text("host")?,
            port: spec.get("port").and_then(Value::as_i64).unwrap_or_default(),
            database: match spec.get("database") {
                None => None,
                Some(_) => Some(text("database")?),
            },
            ssl_mode,
        })
    }
}

/// The application names of a postgres script: the static one (from this process's LAVA_REALM
/// and LAVA_JOB_ID, as the worker's own environment gives them — usually none) and the one the
/// shell makes from the container's variables.
pub struct AppNames {
    pub fixed: Option<String>,
    pub dynamic: String,
}

/// lava's `clean_application_name`: quotes and backslashes removed.
fn clean(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, '\'' | '"' | '\\'))
        .collect()
}

fn render_app_name(template: &str, realm: &str, job_id: &str, conn_id: &str) -> Option<String> {
    if template.is_empty() || realm.is_empty() || job_id.is_empty() || conn_id.is_empty() {
        return None;
    }
    let env = minijinja::Environment::new();
    let ctx = minijinja::context! { realm => realm, job_id => job_id, conn_id => conn_id };
    env.render_str(template, ctx).ok().map(|s| clean(&s))
}

impl AppNames {
    pub fn new(template: &str, conn_id: &str) -> AppNames {
        let var = |k: &str| std::env::var(k).unwrap_or_default();
        AppNames {
            fixed: render_app_name(template, &var("LAVA_REALM"), &var("LAVA_JOB_ID"), conn_id),
            dynamic: render_app_name(template, "${LAVA_REALM}", "${LAVA_JOB_ID}", conn_id)
                .unwrap_or_else(|| "None".into()),
        }
    }
}

/// The files of a postgres-family connection in `dir`: (name, text, mode), in the order lava
/// writes them — `.pgpass` (0600, unless the password is too long for it) and `psql` (0700).
pub fn postgres(
    db: &Db,
    dir: &str,
    root_cert: Option<&str>,
    names: &AppNames,
) -> Vec<(&'static str, String, u32)> {
    let mut files = Vec::new();
    let mut env: Vec<(&str, String)> = vec![
        ("PGUSER", db.user.clone()),
        ("PGHOST", db.host.clone()),
        (
            "PGPORT",
            if db.port == 0 {
                String::new()
            } else {
                db.port.to_string()
            },
        ),
        ("PGDATABASE", db.database.clone().unwrap_or_default()),
        (
            "PGSSLMODE",
            db.ssl_mode.clone().unwrap_or_else(|| "prefer".into()),
        ),
    ];
    if let Some(c) = root_cert {
        env.push(("PGSSLROOTCERT", c.to_string()));
    }
    env.push(("PGAPPNAME", names.fixed.clone().unwrap_or_default()));
    if db.password.chars().count() < PSQL_MAX_PASSWD_LEN {
        let pgpass = format!("{dir}/.pgpass");
        files.push((
            ".pgpass",
            format!(
                "{}:{}:{}:{}:{}\n",
                db.host,
                db.port,
                db.database.clone().unwrap_or_default(),
                db.user.replace(':', "\\:"),
                db.password.replace(':', "\\:")
            ),
            0o600,
        ));
        env.push(("PGPASSFILE", pgpass));
    } else {
        env.push(("PGPASSWORD", db.password.clone()));
    }
    let mut s = String::from("#!/bin/bash\n");
    for (k, v) in env.iter().filter(|(_, v)| !v.is_empty()) {
        s.push_str(&format!("export {k}={}\n", quote(v)));
    }
    s.push_str(&format!(
        "[ \"$PGAPPNAME\" == \"\" ] && PGAPPNAME=\"{}\"\n",
        names.dynamic
    ));
    s.push_str(
        "psql --no-psqlrc --quiet --no-password --set ON_ERROR_STOP=on --pset footer=off \"$@\"\n",
    );
    files.push(("psql", s, 0o700));
    files
}

/// Which `mysql` client the worker found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MysqlFlavour {
    Mysql,
    Mariadb,
}

/// The files of a mysql-family connection in `dir`: `.mysql.conf` (0600) and `mysql` (0700).
pub fn mysql(
    origin: &str,
    db: &Db,
    flavour: MysqlFlavour,
    dir: &str,
    ca_file: Option<&str>,
) -> Result<Vec<(&'static str, String, u32)>, ConfigError> {
    let conf = format!("{dir}/.mysql.conf");
    let mut args = vec![
        format!("--defaults-file={}", quote(&conf)),
        "--batch".into(),
        "--connect-timeout=10".into(),
        format!("--host={}", quote(&db.host)),
        format!("--port={}", quote(&db.port.to_string())),
        format!(
            "--database={}",
            quote(db.database.as_deref().unwrap_or_default())
        ),
    ];
    let mode = db.ssl_mode.as_deref();
    match (flavour, mode) {
        (_, None) => {}
        (MysqlFlavour::Mysql, Some(m)) => {
            let upper = match m {
                "require" => "REQUIRED",
                "verify-ca" => "VERIFY_CA",
                _ => "VERIFY_IDENTITY",
            };
            args.push(format!("--ssl-mode={upper}"));
            if let Some(c) = ca_file {
                args.push(format!("--ssl-ca={}", quote(c)));
            }
        }
        (MysqlFlavour::Mariadb, Some(m)) => {
            match ca_file {
                Some(c) => args.push(format!("--ssl-ca={}", quote(c))),
                None => args.push("--ssl".into()),
            }
            if m == "verify-full" {
                args.push("--ssl-verify-server-cert".into());
            }
        }
    }
    if db.password.contains("X-Amz-Credential=") {
        if mode.is_none() {
            return Err(ConfigError::invalid(
                &format!("{origin}: ssl_mode"),
                "(none)",
                "an SSL mode: SSL is required with IAM database authentication",
            ));
        }
        if flavour == MysqlFlavour::Mysql {
            args.push("--enable-cleartext-plugin".into());
        }
    }
    Ok(vec![
        (
            ".mysql.conf",
            format!("[client]\nuser={}\npassword={}\n", db.user, db.password),
            0o600,
        ),
        (
            "mysql",
            format!("#!/bin/bash\n\nmysql {} \"$@\"\n", args.join(" ")),
            0o700,
        ),
    ])
}

/// The `sqlplus` script of an oracle connection (lava's thick-mode connect descriptor).
pub fn oracle(
    origin: &str,
    db: &Db,
    spec: &Map<String, Value>,
    has_ca: bool,
) -> Result<String, ConfigError> {
    let at = |f: &str| format!("{origin}: {f}");
    if db.ssl_mode.as_deref() == Some("require") {
        return Err(ConfigError::invalid(
            &at("ssl_mode"),
            "require",
            "verify-ca or verify-full: ssl_mode=require is not supported for the oracle connector in thick mode",
        ));
    }
    if db.ssl_mode.is_some() && has_ca {
        return Err(ConfigError::invalid(
            &at("ssl_ca_file"),
            "(set)",
            "no CA file: ssl_ca_file is not supported for the oracle connector in thick mode",
        ));
    }
    let text_of = |k: &str| spec.get(k).filter(|v| !v.is_null()).and_then(python_str);
    let service = text_of("service_name");
    let sid = match spec.get("sid") {
        Some(v) => (!v.is_null()).then(|| python_str(v)).flatten(),
        None => text_of("database"),
    };
    let protocol = if db.ssl_mode.is_some() { "tcps" } else { "tcp" };
    let mut dsn = format!(
        "(DESCRIPTION=(ADDRESS=(PROTOCOL={protocol})(HOST={})(PORT={}))",
        db.host, db.port
    );
    if service.is_some() || sid.is_some() {
        dsn.push_str("(CONNECT_DATA=");
        if let Some(s) = &service {
            dsn.push_str(&format!("(SERVICE_NAME={s})"));
        }
        if let Some(s) = &sid {
            dsn.push_str(&format!("(SID={s})"));
        }
        dsn.push(')');
    }
    match db.ssl_mode.as_deref() {
        Some("verify-full") => dsn.push_str("(SECURITY=(SSL_SERVER_DN_MATCH=ON))"),
        Some(_) => dsn.push_str("(SECURITY=)"),
        None => {}
    }
    dsn.push(')');
    let compat = match spec.get("edition") {
        Some(e) => format!("-C {}", python_str(e).unwrap_or_else(|| e.to_string())),
        None => String::new(),
    };
    Ok(format!(
        "#!/bin/bash\nsqlplus -NOLOGINTIME -L -S {compat} '{}/{}@{dsn}' \"$@\"\n    \n",
        db.user, db.password
    ))
}

/// The mssql connection: a script that runs lava's own `lava-sql` with the profile and conn_id
/// (lava reads no secret for it here).
pub fn mssql(ctx: &Context<'_>, p: &Planned) -> Result<PathBuf, Failure> {
    let dir = conn_dir(ctx.workdir)?;
    let exe = dir.join("mssql");
    let text = format!(
        "#!/bin/bash\n\nlava-sql --profile '{}' --conn-id '{}' \"$@\"\n",
        ctx.profile, p.conn_id
    );
    write(&exe, &text, Some(0o700))?;
    Ok(exe)
}
