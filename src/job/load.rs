//! Where the specs come from: the lava tables in DynamoDB (`lava.<realm>.jobs`, `lava.realms`,
//! `lava.<realm>.connections`, `lava.<realm>.state`) or files (JSON or YAML; connections as a list).
use super::JobError;
use crate::aws::dynamodb;
use crate::config::ConfigError;
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::path::Path;

/// One spec and where it came from (for messages).
#[derive(Debug, Clone)]
pub struct Loaded {
    pub origin: String,
    pub spec: Map<String, Value>,
}

fn read_file(path: &Path, what: &str) -> Result<Value, ConfigError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: format!("{what} {shown}"),
        source,
    })?;
    // YAML is a superset of JSON: one parser reads both.
    serde_yaml::from_str::<Value>(&text).map_err(|e| ConfigError::Yaml {
        location: format!("{what} {shown}"),
        message: e.to_string().replace('\n', " "),
    })
}

fn object(origin: String, v: Value) -> Result<Loaded, ConfigError> {
    match v {
        Value::Object(spec) => Ok(Loaded { origin, spec }),
        other => Err(ConfigError::Yaml {
            location: origin,
            message: format!(
                "expected a map (one spec), found {}",
                if other.is_array() {
                    "a list"
                } else {
                    "a scalar"
                }
            ),
        }),
    }
}

/// A job or realm spec from a file.
pub fn spec_file(path: &Path, what: &str) -> Result<Loaded, ConfigError> {
    object(format!("{what} {}", path.display()), read_file(path, what)?)
}

/// The connection `conn_id` from a connections file (a list of specs); its absence is an error
/// naming `param` (the spec field that named it).
pub fn connection_file(path: &Path, conn_id: &str, param: &str) -> Result<Loaded, ConfigError> {
    let shown = path.display().to_string();
    let list = match read_file(path, "--connections-file")? {
        Value::Array(l) => l,
        _ => {
            return Err(ConfigError::Yaml {
                location: format!("--connections-file {shown}"),
                message: "expected a list of connection specs".into(),
            });
        }
    };
    let mut ids = Vec::new();
    for (i, c) in list.into_iter().enumerate() {
        let id = c.get("conn_id").and_then(Value::as_str).map(String::from);
        if id.as_deref() == Some(conn_id) {
            return object(format!("--connections-file {shown} [{i}] ({conn_id})"), c);
        }
        ids.extend(id);
    }
    Err(ConfigError::invalid(
        param,
        conn_id,
        &format!(
            "a conn_id of --connections-file {shown} (there: {})",
            if ids.is_empty() {
                "none".into()
            } else {
                ids.join(", ")
            }
        ),
    ))
}

/// Reads lava's tables.
pub struct Tables {
    client: aws_sdk_dynamodb::Client,
    /// Decrypts `secure` state items.
    kms: aws_sdk_kms::Client,
}

impl Tables {
    pub fn new(sdk: &aws_config::SdkConfig) -> Tables {
        Tables {
            client: aws_sdk_dynamodb::Client::new(sdk),
            kms: aws_sdk_kms::Client::new(sdk),
        }
    }

    async fn get(&self, table: &str, key: &str, value: &str) -> Result<Option<Loaded>, JobError> {
        let item = dynamodb::get_json(&self.client, table, key, value)
            .await
            .map_err(|source| JobError::Table { source })?;
        Ok(item.map(|spec| Loaded {
            origin: format!("{table} {key}={value}"),
            spec,
        }))
    }

    /// An item that must exist: its absence, or its table's, is the user's error (exit 2), naming
    /// the table.
    async fn must(
        &self,
        realm: &str,
        table: &str,
        key: &str,
        value: &str,
        param: &str,
    ) -> Result<Loaded, JobError> {
        let found = match self.get(table, key, value).await {
            Err(JobError::Table { source }) if source.is_missing_table() => {
                return Err(JobError::Config(ConfigError::invalid(
                    "--realm",
                    realm,
                    &format!("a realm with a DynamoDB table {table} (there is no such table)"),
                )));
            }
            other => other?,
        };
        found.ok_or_else(|| {
            JobError::Config(ConfigError::invalid(
                param,
                value,
                &format!("a {key} of DynamoDB table {table}"),
            ))
        })
    }

    pub async fn job(&self, realm: &str, job_id: &str) -> Result<Loaded, JobError> {
        self.must(
            realm,
            &format!("lava.{realm}.jobs"),
            "job_id",
            job_id,
            "JOB_ID",
        )
        .await
    }

    pub async fn realm(&self, realm: &str) -> Result<Loaded, JobError> {
        self.must(realm, "lava.realms", "realm", realm, "--realm")
            .await
    }

    pub async fn connection(&self, realm: &str, conn_id: &str) -> Result<Loaded, JobError> {
        self.connection_for(realm, conn_id, "parameters.docker")
            .await
    }

    /// The connection `conn_id`, its absence an error naming `param` (the spec field that
    /// named it).
    pub async fn connection_for(
        &self,
        realm: &str,
        conn_id: &str,
        param: &str,
    ) -> Result<Loaded, JobError> {
        self.must(
            realm,
            &format!("lava.{realm}.connections"),
            "conn_id",
            conn_id,
            param,
        )
        .await
    }

    /// The declared state items: the state table's value decoded by the item's `type` (`json`
    /// text parsed, `raw` as stored, `secure` KMS ciphertext decrypted then parsed, as the worker
    /// decodes them) where an item exists, else the default. An unknown type or a malformed item
    /// is an error naming it (the worker fails the run too).
    pub async fn state(
        &self,
        realm: &str,
        declared: &Map<String, Value>,
    ) -> Result<Map<String, Value>, JobError> {
        let table = format!("lava.{realm}.state");
        let mut out = Map::new();
        for (id, default) in declared {
            // No state table yet: every item has its default.
            let current = match dynamodb::get_item(&self.client, &table, "state_id", id).await {
                Err(source) if source.is_missing_table() => None,
                Err(source) => return Err(JobError::Table { source }),
                Ok(item) => item,
            };
            let value = match current {
                None => default.clone(),
                Some(item) => self.decode(&table, id, item).await?,
            };
            out.insert(id.clone(), value);
        }
        Ok(out)
    }

    /// One state item's value, decoded by its type.
    async fn decode(
        &self,
        table: &str,
        id: &str,
        mut item: HashMap<String, AttributeValue>,
    ) -> Result<Value, JobError> {
        let secure = matches!(item.get("type"), Some(AttributeValue::S(t)) if t == "secure");
        let cipher = match (secure, item.remove("value")) {
            (true, Some(AttributeValue::B(b))) => Some(b.into_inner()),
            (true, Some(_)) => {
                return Err(JobError::Config(state_error(
                    table,
                    id,
                    "is of type secure but its value is not binary (the worker expects KMS ciphertext, a DynamoDB Binary)",
                )));
            }
            (_, Some(v)) => {
                item.insert("value".into(), v);
                None
            }
            (_, None) => None,
        };
        if cipher.is_some() {
            item.insert("value".into(), AttributeValue::S(String::new()));
        }
        let json = dynamodb::item_to_json(&item).map_err(|e| {
            JobError::Config(state_error(
                table,
                id,
                &format!(
                    "has a value with no JSON form ({e}): expected a raw, json or secure item"
                ),
            ))
        })?;
        let Some(cipher) = cipher else {
            return Ok(decode_state(table, id, &json)?);
        };
        check_fields(table, id, &json)?;
        let out = self
            .kms
            .decrypt()
            .ciphertext_blob(aws_sdk_kms::primitives::Blob::new(cipher))
            .send()
            .await
            .map_err(|e| JobError::SecureState {
                table: table.to_string(),
                id: id.to_string(),
                source: crate::aws::AwsError::from_sdk("KMS", &e),
            })?;
        let plain = out.plaintext().map(|b| b.as_ref()).unwrap_or_default();
        serde_json::from_slice(plain).map_err(|_| {
            JobError::Config(state_error(
                table,
                id,
                "is of type secure but its decrypted value is not JSON text",
            ))
        })
    }
}

fn state_error(table: &str, id: &str, why: &str) -> ConfigError {
    ConfigError::Usage {
        message: format!("state item {id} in DynamoDB table {table} {why}"),
    }
}

/// The fields every state item has (the worker refuses an item without one).
fn check_fields(table: &str, id: &str, item: &Map<String, Value>) -> Result<(), ConfigError> {
    for f in ["type", "value", "timestamp", "ttl"] {
        if !item.contains_key(f) {
            return Err(state_error(
                table,
                id,
                &format!("has no `{f}` (the worker refuses it: \"Bad state item\")"),
            ));
        }
    }
    Ok(())
}

/// A `raw` or `json` state item's value as the worker decodes it, by its `type` (a `secure`
/// one is decrypted by [`Tables::state`]).
pub fn decode_state(
    table: &str,
    id: &str,
    item: &Map<String, Value>,
) -> Result<Value, ConfigError> {
    check_fields(table, id, item)?;
    let value = &item["value"];
    match item["type"].as_str() {
        Some("raw") => Ok(value.clone()),
        Some("json") => match value.as_str().map(serde_json::from_str::<Value>) {
            Some(Ok(v)) => Ok(v),
            _ => Err(state_error(
                table,
                id,
                "is of type json but its value is not JSON text",
            )),
        },
        Some("secure") => Err(state_error(
            table,
            id,
            "is of type secure but its value is not binary (the worker expects KMS ciphertext, a DynamoDB Binary)",
        )),
        other => Err(state_error(
            table,
            id,
            &format!(
                "has type {}: expected raw, json or secure",
                other.map_or_else(|| item["type"].to_string(), |t| format!("{t:?}"))
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn state_items_are_decoded_by_type() {
        let item = |t: Value, v: Value| {
            json!({"state_id": "s", "type": t, "value": v, "timestamp": "x", "ttl": 1})
                .as_object()
                .unwrap()
                .clone()
        };
        assert_eq!(
            decode_state("t", "s", &item(json!("json"), json!("{\"a\": [1, 2]}"))).unwrap(),
            json!({"a": [1, 2]})
        );
        assert_eq!(
            decode_state("t", "s", &item(json!("raw"), json!("{\"a\": 1}"))).unwrap(),
            json!("{\"a\": 1}")
        );
        for (t, needle) in [
            (json!("secure"), "binary"),
            (json!("yaml"), "\"yaml\""),
            (json!("json"), "not JSON"),
        ] {
            let e = decode_state("t", "s", &item(t, json!("{x")))
                .unwrap_err()
                .to_string();
            assert!(e.contains(needle) && e.contains("state item s"), "{e}");
        }
        let mut no_ttl = item(json!("json"), json!("1"));
        no_ttl.remove("ttl");
        assert!(
            decode_state("t", "s", &no_ttl)
                .unwrap_err()
                .to_string()
                .contains("`ttl`")
        );
    }
}
