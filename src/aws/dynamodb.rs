//! DynamoDB: reading one item by its string key, as JSON (lava's jobs, realms, connections and
//! state tables all hold JSON-shaped items).
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Map, Number, Value};
use std::collections::HashMap;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum DynamoError {
    #[error("DynamoDB table {table}, {key} {value:?}")]
    Call {
        table: String,
        key: String,
        value: String,
        /// The service's code (e.g. ResourceNotFoundException) and message.
        #[source]
        source: super::AwsError,
    },
    #[error("DynamoDB table {table}, {key} {value:?}")]
    Attribute {
        table: String,
        key: String,
        value: String,
        #[source]
        source: AttributeError,
    },
}

/// Why an attribute value has no JSON form in a lava spec.
#[derive(Debug, thiserror::Error)]
pub enum AttributeError {
    #[error("attribute {name}")]
    In {
        name: String,
        #[source]
        source: Box<AttributeError>,
    },
    #[error("number {0:?} is not representable")]
    Number(String),
    #[error("binary values are not part of a lava spec")]
    Binary,
    #[error("an attribute type this tool does not know")]
    Unknown,
}

impl DynamoError {
    /// Whether the table itself does not exist.
    pub fn is_missing_table(&self) -> bool {
        matches!(self, DynamoError::Call { source, .. } if source.is("ResourceNotFoundException"))
    }
}

/// The item of `table` whose string key `key` is `value`, as a JSON object; None when absent.
/// Read consistently: a spec written just before a run is the one that runs.
pub async fn get_json(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    key: &str,
    value: &str,
) -> Result<Option<Map<String, Value>>, DynamoError> {
    let Some(item) = get_item(client, table, key, value).await? else {
        return Ok(None);
    };
    item_to_json(&item)
        .map(Some)
        .map_err(|source| DynamoError::Attribute {
            table: table.to_string(),
            key: key.to_string(),
            value: value.to_string(),
            source,
        })
}

/// The item of `table` whose string key `key` is `value`, as DynamoDB holds it (binary values
/// included); None when absent. Read consistently.
pub async fn get_item(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    key: &str,
    value: &str,
) -> Result<Option<HashMap<String, AttributeValue>>, DynamoError> {
    let out = client
        .get_item()
        .table_name(table)
        .key(key, AttributeValue::S(value.to_string()))
        .consistent_read(true)
        .send()
        .await
        .map_err(|e| DynamoError::Call {
            table: table.to_string(),
            key: key.to_string(),
            value: value.to_string(),
            source: super::AwsError::from_sdk("DynamoDB", &e),
        })?;
    Ok(out.item)
}

/// An item as a JSON object.
pub fn item_to_json(
    item: &HashMap<String, AttributeValue>,
) -> Result<Map<String, Value>, AttributeError> {
    let mut out = Map::new();
    for (k, v) in item {
        let value = to_json(v).map_err(|e| AttributeError::In {
            name: k.clone(),
            source: Box::new(e),
        })?;
        out.insert(k.clone(), value);
    }
    Ok(out)
}

fn number(n: &str) -> Result<Value, AttributeError> {
    if let Ok(i) = n.parse::<i64>() {
        return Ok(Value::Number(i.into()));
    }
    n.parse::<f64>()
        .ok()
        .and_then(Number::from_f64)
        .map(Value::Number)
        .ok_or_else(|| AttributeError::Number(n.to_string()))
}

/// One attribute value as JSON: maps, lists, strings, numbers, booleans, null; sets as lists.
/// Binary values have no JSON form in a lava spec and are refused.
pub fn to_json(v: &AttributeValue) -> Result<Value, AttributeError> {
    Ok(match v {
        AttributeValue::S(s) => Value::String(s.clone()),
        AttributeValue::N(n) => number(n)?,
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::M(m) => Value::Object(item_to_json(m)?),
        AttributeValue::L(l) => Value::Array(l.iter().map(to_json).collect::<Result<_, _>>()?),
        AttributeValue::Ss(s) => Value::Array(s.iter().cloned().map(Value::String).collect()),
        AttributeValue::Ns(s) => {
            Value::Array(s.iter().map(|n| number(n)).collect::<Result<_, _>>()?)
        }
        AttributeValue::B(_) | AttributeValue::Bs(_) => {
            return Err(AttributeError::Binary);
        }
        _ => return Err(AttributeError::Unknown),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_become_json() {
        let item = HashMap::from([
            ("job_id".to_string(), AttributeValue::S("demo/x".into())),
            ("n".to_string(), AttributeValue::N("42".into())),
            ("f".to_string(), AttributeValue::N("1.5".into())),
            ("on".to_string(), AttributeValue::Bool(true)),
            ("none".to_string(), AttributeValue::Null(true)),
            (
                "parameters".to_string(),
                AttributeValue::M(HashMap::from([(
                    "args".to_string(),
                    AttributeValue::L(vec![AttributeValue::S("-c".into())]),
                )])),
            ),
            ("tags".to_string(), AttributeValue::Ss(vec!["a".into()])),
        ]);
        let v = Value::Object(item_to_json(&item).unwrap());
        assert_eq!(
            v,
            serde_json::json!({"job_id": "demo/x", "n": 42, "f": 1.5, "on": true, "none": null,
                "parameters": {"args": ["-c"]}, "tags": ["a"]})
        );
        let bad = HashMap::from([(
            "blob".to_string(),
            AttributeValue::B(aws_smithy_types::Blob::new(vec![1])),
        )]);
        assert!(matches!(
            item_to_json(&bad).unwrap_err(),
            AttributeError::In { name, source } if name == "blob" && matches!(*source, AttributeError::Binary)
        ));
    }
}
