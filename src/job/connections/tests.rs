use super::scripts::{AppNames, Db, MysqlFlavour, mysql, oracle, postgres, quote};
use super::{Kind, kind_of, parse, plan};
use serde_json::{Map, Value, json};

fn obj(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap()
}

#[test]
fn quote_is_pythons_shlex_quote() {
    assert_eq!(quote(""), "''");
    assert_eq!(
        quote("db.example.com:5432/x-y_z@%+=,"),
        "db.example.com:5432/x-y_z@%+=,"
    );
    assert_eq!(quote("a b"), "'a b'");
    assert_eq!(quote("it's"), "'it'\"'\"'s'");
    assert_eq!(quote("é"), "'é'");
}

#[test]
fn types_map_to_lavas_handlers_and_others_are_refused_naming_them() {
    assert_eq!(kind_of("redshift-serverless"), Some(Kind::Postgres));
    assert_eq!(kind_of("mariadb-rds"), Some(Kind::Mysql));
    assert_eq!(kind_of("oracle-rds"), Some(Kind::Oracle));
    assert_eq!(kind_of("sftp"), Some(Kind::Ssh));
    assert_eq!(kind_of("docker"), None);
    let e = plan(
        "db",
        "c/dock",
        "conns",
        obj(json!({"conn_id": "c/dock", "type": "Docker", "enabled": true})),
    )
    .unwrap_err()
    .to_string();
    for n in [
        "conns: type",
        "\"docker\"",
        "c/dock",
        "label db",
        "postgres",
        "generic",
        "mssql",
    ] {
        assert!(e.contains(n), "{n:?} in {e}");
    }
    let e = plan(
        "db",
        "c",
        "conns",
        obj(json!({"conn_id": "c", "type": "postgres"})),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("enabled") && e.contains("not enabled"), "{e}");
}

#[test]
fn labels_and_conn_ids_are_checked() {
    let p = obj(json!({"connections": {"db": "pg", "g_2": "gen"}}));
    assert_eq!(parse("j", &p).unwrap().len(), 2);
    assert!(parse("j", &obj(json!({"connections": {"a b": "x"}}))).is_err());
    assert!(parse("j", &obj(json!({}))).unwrap().is_empty());
}

#[test]
fn generic_records_are_checked_before_anything_is_read() {
    let base = json!({"conn_id": "g", "type": "generic", "enabled": true, "attributes": {"a": 1}});
    assert!(plan("g", "g", "o", obj(base.clone())).is_ok());
    for (bad, needle) in [
        (
            json!({"attributes": {"a": 1}, "host": "h"}),
            "Unexpected keys",
        ),
        (json!({"attributes": {"1a": 1}}), "\"1a\""),
        (json!({"attributes": {"a": {"type": "vault"}}}), "\"vault\""),
        (
            json!({"attributes": {"a": {"type": "ssm"}}}),
            "attributes.a.parameter",
        ),
        (json!({"attributes": {"a": [1]}}), "attributes.a"),
        (json!({"attributes": "x"}), "attributes"),
    ] {
        let mut v = base.clone();
        v.as_object_mut().unwrap().remove("attributes");
        for (k, x) in bad.as_object().unwrap() {
            v[k] = x.clone();
        }
        let e = plan("g", "g", "o", obj(v)).unwrap_err().to_string();
        assert!(e.contains(needle), "{needle:?} in {e}");
    }
}

fn db(password: &str, ssl: Option<&str>) -> Db {
    Db {
        user: "u:x".into(),
        password: password.into(),
        host: "db.example.com".into(),
        port: 5432,
        database: Some("d b".into()),
        ssl_mode: ssl.map(String::from),
    }
}

#[test]
fn postgres_files_are_lavas() {
    let names = AppNames {
        fixed: None,
        dynamic: "lv-${LAVA_REALM}-${LAVA_JOB_ID}".into(),
    };
    let files = postgres(&db("p:w", None), "/t/conn.x", None, &names);
    assert_eq!(
        files[0],
        (
            ".pgpass",
            "db.example.com:5432:d b:u\\:x:p\\:w\n".into(),
            0o600
        )
    );
    assert_eq!(
        files[1].1,
        "#!/bin/bash\nexport PGUSER=u:x\nexport PGHOST=db.example.com\nexport PGPORT=5432\nexport PGDATABASE='d b'\nexport PGSSLMODE=prefer\nexport PGPASSFILE=/t/conn.x/.pgpass\n[ \"$PGAPPNAME\" == \"\" ] && PGAPPNAME=\"lv-${LAVA_REALM}-${LAVA_JOB_ID}\"\npsql --no-psqlrc --quiet --no-password --set ON_ERROR_STOP=on --pset footer=off \"$@\"\n"
    );
    let long = "x".repeat(99);
    let files = postgres(
        &db(&long, Some("verify-full")),
        "/t",
        Some("/t/tmpa.pem"),
        &names,
    );
    assert_eq!(files.len(), 1, "a long password goes in the environment");
    assert!(files[0].1.contains(&format!(
        "export PGSSLMODE=verify-full\nexport PGSSLROOTCERT=/t/tmpa.pem\nexport PGPASSWORD={long}\n"
    )));
}

#[test]
fn mysql_flavours_differ_in_ssl_flags() {
    let f = mysql(
        "o",
        &db("pw", Some("verify-full")),
        MysqlFlavour::Mysql,
        "/t",
        Some("/t/c.pem"),
    )
    .unwrap();
    assert_eq!(f[0].1, "[client]\nuser=u:x\npassword=pw\n");
    assert_eq!(
        f[1].1,
        "#!/bin/bash\n\nmysql --defaults-file=/t/.mysql.conf --batch --connect-timeout=10 --host=db.example.com --port=5432 --database='d b' --ssl-mode=VERIFY_IDENTITY --ssl-ca=/t/c.pem \"$@\"\n"
    );
    let f = mysql(
        "o",
        &db("pw", Some("verify-full")),
        MysqlFlavour::Mariadb,
        "/t",
        None,
    )
    .unwrap();
    assert!(
        f[1].1.ends_with("--ssl --ssl-verify-server-cert \"$@\"\n"),
        "{}",
        f[1].1
    );
    assert!(
        mysql(
            "o",
            &db("a X-Amz-Credential=b", None),
            MysqlFlavour::Mysql,
            "/t",
            None
        )
        .is_err()
    );
}

#[test]
fn oracle_descriptor_is_the_thick_one() {
    let spec = obj(json!({"service_name": "ORCL", "edition": "E1", "database": "d b"}));
    let s = oracle("o", &db("pw", None), &spec, false).unwrap();
    assert_eq!(
        s,
        "#!/bin/bash\nsqlplus -NOLOGINTIME -L -S -C E1 'u:x/pw@(DESCRIPTION=(ADDRESS=(PROTOCOL=tcp)(HOST=db.example.com)(PORT=5432))(CONNECT_DATA=(SERVICE_NAME=ORCL)(SID=d b)))' \"$@\"\n    \n"
    );
    let s = oracle(
        "o",
        &db("pw", Some("verify-full")),
        &obj(json!({"sid": "X"})),
        false,
    )
    .unwrap();
    assert!(
        s.contains("(PROTOCOL=tcps)")
            && s.contains("(CONNECT_DATA=(SID=X))(SECURITY=(SSL_SERVER_DN_MATCH=ON)))"),
        "{s}"
    );
    assert!(oracle("o", &db("pw", Some("require")), &spec, false).is_err());
}

/// redshift-serverless IAM credentials (GetCredentials) are not made: moto has no Redshift
/// Serverless service to prove them against. The refusal is exit 2 (a config error) saying so,
/// before any AWS call (the context's SDK config has no endpoint or credentials).
#[tokio::test]
async fn redshift_serverless_without_a_password_is_refused_saying_why() {
    let spec = obj(
        json!({"conn_id": "rs", "type": "redshift-serverless", "enabled": true,
        "host": "wg.1.us-east-1.redshift-serverless.amazonaws.com", "port": 5439,
        "database": "dev", "user": "u"}),
    );
    let p = plan("rs", "rs", "connection rs", spec).unwrap();
    let sdk = aws_config::SdkConfig::builder().build();
    let tmp = tempfile::tempdir().unwrap();
    let realm = Map::new();
    let ctx = super::Context {
        sdk: &sdk,
        workdir: tmp.path(),
        profile: "default".into(),
        realm_config: &realm,
        aws_keys: Default::default(),
    };
    let e = match super::sql::expand(&ctx, &p).await {
        Err(super::Failure::Config(e)) => e.to_string(),
        other => panic!("not refused as a config error: {:?}", other.map(|_| ())),
    };
    assert!(
        e.contains("connection rs: password")
            && e.contains("GetCredentials")
            && e.contains("moto has no Redshift Serverless endpoint"),
        "{e}"
    );
}
