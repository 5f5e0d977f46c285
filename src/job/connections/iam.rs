//! Database credentials made from IAM when a record has no password (lava's credential
//! getters): an RDS IAM authentication token for postgres-rds, postgres-aurora, mysql-rds and
//! mysql-aurora — a SigV4-presigned `connect` URL made locally, as botocore's
//! `generate_db_auth_token` makes it — and Redshift cluster credentials for `redshift`
//! (GetClusterCredentials).
use super::{ConnError, Context, Failure};
use crate::config::ConfigError;
use crate::job::spec::python_str;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// The types whose password lava makes as an RDS IAM authentication token.
pub const RDS_TYPES: [&str; 4] = [
    "postgres-aurora",
    "postgres-rds",
    "mysql-aurora",
    "mysql-rds",
];

/// Field `k` of a record as Python's `str()` prints it: a scalar, required (`hint` says why).
fn scalar(
    origin: &str,
    spec: &Map<String, Value>,
    k: &str,
    hint: &str,
) -> Result<String, ConfigError> {
    match spec.get(k) {
        Some(v) => python_str(v).ok_or_else(|| {
            ConfigError::invalid(&format!("{origin}: {k}"), &v.to_string(), "a scalar")
        }),
        None => Err(ConfigError::Missing {
            param: format!("{origin}: {k}"),
            hint: hint.into(),
        }),
    }
}

/// The password of an RDS record without one: a token for its `user`, `host` and `port`, signed
/// with the run's credentials and region (no call is made).
pub async fn rds_password(
    ctx: &Context<'_>,
    origin: &str,
    spec: &Map<String, Value>,
) -> Result<String, Failure> {
    use aws_sdk_ssm::config::ProvideCredentials;
    let field = |k: &str| {
        scalar(
            origin,
            spec,
            k,
            "lava makes an RDS IAM authentication token for this user when the record has no password",
        )
    };
    let (user, host, port) = (field("user")?, field("host")?, field("port")?);
    let no_creds = |why: String| ConnError::IamCredentials { why };
    let provider = ctx
        .sdk
        .credentials_provider()
        .ok_or_else(|| no_creds("no AWS credentials are configured".into()))?;
    let creds = provider
        .provide_credentials()
        .await
        .map_err(|e| no_creds(e.to_string()))?;
    let region = ctx
        .sdk
        .region()
        .ok_or_else(|| no_creds("no AWS region is configured".into()))?;
    let signer = Signer {
        access_key_id: creds.access_key_id(),
        secret_access_key: creds.secret_access_key(),
        session_token: creds.session_token(),
        region: region.as_ref(),
    };
    Ok(rds_token(&host, &port, &user, &signer, chrono::Utc::now()))
}

/// lava's `RS_PASSWORD_DURATION` default.
const RS_PASSWORD_DURATION: &str = "15m";

/// The (user, password) of a `redshift` record without a password, as lava's getter asks for
/// them: GetClusterCredentials for `database` and `user` on `cluster_id` (else the first label
/// of `host`), `password_duration` (else the realm's `rs_password_duration`, lava's 15m) in whole
/// seconds, AutoCreate false; the user is the one Redshift answers (`IAM:user`).
pub async fn redshift_credentials(
    ctx: &Context<'_>,
    origin: &str,
    spec: &Map<String, Value>,
) -> Result<(String, String), Failure> {
    let field = |k: &str, hint: &str| scalar(origin, spec, k, hint);
    let getter = "lava asks Redshift for IAM credentials (GetClusterCredentials) when the record has no password";
    let database = field(
        "database",
        &format!("{getter}, for this database (lava: `database must be specified`)"),
    )?;
    let user = field("user", &format!("{getter}, for this user"))?;
    let cluster = match spec.get("cluster_id") {
        Some(_) => field("cluster_id", getter)?,
        None => {
            let host = field("host", getter)?;
            host.split('.').next().unwrap_or_default().to_string()
        }
    };
    let duration = match spec.get("password_duration") {
        Some(v) => super::assume::whole_seconds(&format!("{origin}: password_duration"), v)?,
        None => {
            let v = ctx
                .lava_config("rs_password_duration", Some(RS_PASSWORD_DURATION))
                .unwrap_or_else(|| Value::from(RS_PASSWORD_DURATION));
            super::assume::whole_seconds("the realm's config.rs_password_duration", &v)?
        }
    };
    let out = aws_sdk_redshift::Client::new(ctx.sdk)
        .get_cluster_credentials()
        .db_name(database)
        .db_user(user)
        .cluster_identifier(&cluster)
        .duration_seconds(duration)
        .auto_create(false)
        .send()
        .await
        .map_err(|e| ConnError::ClusterCredentials {
            cluster: cluster.clone(),
            source: crate::aws::AwsError::from_sdk("Redshift", &e),
        })?;
    match (out.db_user(), out.db_password()) {
        (Some(u), Some(p)) => Ok((u.to_string(), p.to_string())),
        _ => Err(ConnError::IamCredentials {
            why: format!(
                "Redshift answered GetClusterCredentials for {cluster} without a user and password"
            ),
        }
        .into()),
    }
}

/// The signing identity of a token.
pub struct Signer<'a> {
    pub access_key_id: &'a str,
    pub secret_access_key: &'a str,
    pub session_token: Option<&'a str>,
    pub region: &'a str,
}

/// How long an RDS token is valid (botocore's default), in seconds.
const TOKEN_EXPIRES: u32 = 900;

fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut k = [0u8; BLOCK];
    if key.len() > BLOCK {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let pad = |b: u8| k.iter().map(|x| x ^ b).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(msg)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

/// Percent-encoding of a query key or value: all but RFC 3986's unreserved characters.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The RDS IAM authentication token for `user` at `host:port`, signed at `now`:
/// `host:port/?Action=connect&DBUser=…&X-Amz-…` (the URL without its scheme).
pub fn rds_token(
    host: &str,
    port: &str,
    user: &str,
    signer: &Signer<'_>,
    now: chrono::DateTime<chrono::Utc>,
) -> String {
    let amz_date = now.format("%Y%m%dT%H%M%SZ").to_string();
    let day = now.format("%Y%m%d").to_string();
    let scope = format!("{day}/{}/rds-db/aws4_request", signer.region);
    let mut params: Vec<(&str, String)> = vec![
        ("Action", "connect".into()),
        ("DBUser", user.into()),
        ("X-Amz-Algorithm", "AWS4-HMAC-SHA256".into()),
        (
            "X-Amz-Credential",
            format!("{}/{scope}", signer.access_key_id),
        ),
        ("X-Amz-Date", amz_date.clone()),
        ("X-Amz-Expires", TOKEN_EXPIRES.to_string()),
        ("X-Amz-SignedHeaders", "host".into()),
    ];
    if let Some(t) = signer.session_token {
        params.push(("X-Amz-Security-Token", t.into()));
    }
    let query = |ps: &[(&str, String)]| {
        ps.iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect::<Vec<_>>()
            .join("&")
    };
    let mut sorted = params.clone();
    sorted.sort();
    let authority = format!("{host}:{port}");
    let canonical = format!(
        "GET\n/\n{}\nhost:{}\n\nhost\n{}",
        query(&sorted),
        authority.to_lowercase(),
        hex::encode(Sha256::digest(b""))
    );
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let mut key = hmac_sha256(
        format!("AWS4{}", signer.secret_access_key).as_bytes(),
        day.as_bytes(),
    );
    for part in [signer.region, "rds-db", "aws4_request"] {
        key = hmac_sha256(&key, part.as_bytes());
    }
    let signature = hex::encode(hmac_sha256(&key, to_sign.as_bytes()));
    format!(
        "{authority}/?{}&X-Amz-Signature={signature}",
        query(&params)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// The tokens botocore 1.x (lava 8.3.0's venv) made for these inputs with its clock set to
    /// 2024-03-04T05:06:07Z: the same bytes, signature included.
    #[test]
    fn rds_tokens_are_botocores_byte_for_byte() {
        let now = chrono::Utc.with_ymd_and_hms(2024, 3, 4, 5, 6, 7).unwrap();
        let mut s = Signer {
            access_key_id: "AKIDEXAMPLE",
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            session_token: None,
            region: "ap-southeast-2",
        };
        assert_eq!(
            rds_token("db.example.com", "5432", "iam user@x", &s, now),
            "db.example.com:5432/?Action=connect&DBUser=iam%20user%40x&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20240304%2Fap-southeast-2%2Frds-db%2Faws4_request&X-Amz-Date=20240304T050607Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Signature=06d5a125eb8169c0f3ca3086dc8c58a506c690e291e2bdc55e0d61848cf62d8e"
        );
        s.session_token = Some("tok/en+=");
        assert_eq!(
            rds_token("Mixed.Example.com", "3306", "u", &s, now),
            "Mixed.Example.com:3306/?Action=connect&DBUser=u&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20240304%2Fap-southeast-2%2Frds-db%2Faws4_request&X-Amz-Date=20240304T050607Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Security-Token=tok%2Fen%2B%3D&X-Amz-Signature=e65f9cdf07df3883b43dbe317aec0430e431ad4cc1ccf9d729694c42fb3c036b"
        );
    }

    #[test]
    fn hmac_is_rfc_4231_case_2() {
        assert_eq!(
            hex::encode(hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
