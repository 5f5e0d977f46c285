//! The lava configuration a connection maker reads: LAVA_<KEY> in this process's environment,
//! else the realm's `config` map, else lava's default.
use super::Context;
use crate::job::spec::python_str;
use serde_json::Value;

impl Context<'_> {
    /// A lava config item for the realm: LAVA_<KEY>, else the realm's `config` entry (any case),
    /// else `default`.
    pub fn lava_config(&self, key: &str, default: Option<&str>) -> Option<Value> {
        if let Ok(v) = std::env::var(format!("LAVA_{}", key.to_uppercase())) {
            return Some(Value::String(v));
        }
        self.realm_config
            .iter()
            .find(|(k, _)| k.to_uppercase() == key.to_uppercase())
            .map(|(_, v)| v.clone())
            .or_else(|| default.map(Value::from))
    }

    /// The application name template: LAVA_CONN_APP_NAME, else the realm's `config.conn_app_name`,
    /// else lava's default.
    pub fn app_name_template(&self) -> String {
        if let Ok(t) = std::env::var("LAVA_CONN_APP_NAME") {
            return t;
        }
        self.realm_config
            .iter()
            .find(|(k, _)| k.to_uppercase() == "CONN_APP_NAME")
            .and_then(|(_, v)| python_str(v))
            .unwrap_or_else(|| "lv-{{ realm }}-{{ job_id }}".into())
    }
}
