//! DynamoDB: reading one item by its string key, as JSON (lava's jobs, realms, connections and
//! state tables all hold JSON-shaped items).
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Map, Number, Value};
use std::collections::HashMap;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum DynamoError {
    #[error("DynamoDB table {table}, {key} {value:?}: {message}")]
    Call {
        table: String,
        key: String,
        value: String,
        /// The service's code and message, or the transport problem (see `aws::describe`).
        message: String,
        /// The AWS error code, to tell causes apart (e.g. ResourceNotFoundException).
        code: Option<String>,
    },
    #[error("DynamoDB table {table}, {key} {value:?}: attribute {attribute}: {problem}")]
    Attribute {
        table: String,
        key: String,
        value: String,
        attribute: String,
        problem: String,
    },
}

impl DynamoError {
    /// Whether the table itself does not exist.
    pub fn is_missing_table(&self) -> bool {
        matches!(self, DynamoError::Call { code: Some(c), .. } if c == "ResourceNotFoundException")
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
    let out = client
        .get_item()
        .table_name(table)
        .key(key, AttributeValue::S(value.to_string()))
        .consistent_read(true)
        .send()
        .await
        .map_err(|e| {
            use aws_sdk_dynamodb::error::ProvideErrorMetadata;
            DynamoError::Call {
                table: table.to_string(),
                key: key.to_string(),
                value: value.to_string(),
                code: e.code().map(String::from),
                message: super::describe(&e),
            }
        })?;
    let Some(item) = out.item else {
        return Ok(None);
    };
    item_to_json(&item)
        .map(Some)
        .map_err(|(attribute, problem)| DynamoError::Attribute {
            table: table.to_string(),
            key: key.to_string(),
            value: value.to_string(),
            attribute,
            problem,
        })
}

/// An item as a JSON object. Err: (attribute, problem).
pub fn item_to_json(
    item: &HashMap<String, AttributeValue>,
) -> Result<Map<String, Value>, (String, String)> {
    let mut out = Map::new();
    for (k, v) in item {
        out.insert(k.clone(), to_json(v).map_err(|p| (k.clone(), p))?);
    }
    Ok(out)
}

fn number(n: &str) -> Result<Value, String> {
    if let Ok(i) = n.parse::<i64>() {
        return Ok(Value::Number(i.into()));
    }
    n.parse::<f64>()
        .ok()
        .and_then(Number::from_f64)
        .map(Value::Number)
        .ok_or_else(|| format!("number {n:?} is not representable"))
}

/// One attribute value as JSON: maps, lists, strings, numbers, booleans, null; sets as lists.
/// Binary values have no JSON form in a lava spec and are refused.
pub fn to_json(v: &AttributeValue) -> Result<Value, String> {
    Ok(match v {
        AttributeValue::S(s) => Value::String(s.clone()),
        AttributeValue::N(n) => number(n)?,
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::M(m) => {
            Value::Object(item_to_json(m).map_err(|(k, p)| format!("{k}: {p}"))?)
        }
        AttributeValue::L(l) => Value::Array(l.iter().map(to_json).collect::<Result<_, _>>()?),
        AttributeValue::Ss(s) => Value::Array(s.iter().cloned().map(Value::String).collect()),
        AttributeValue::Ns(s) => {
            Value::Array(s.iter().map(|n| number(n)).collect::<Result<_, _>>()?)
        }
        AttributeValue::B(_) | AttributeValue::Bs(_) => {
            return Err("binary values are not part of a lava spec".into());
        }
        _ => return Err("an attribute type this tool does not know".into()),
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
        assert_eq!(item_to_json(&bad).unwrap_err().0, "blob");
    }
}
