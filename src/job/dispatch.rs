//! Dispatch-time parameters and globals merged as the worker merges them, and the proxy
//! variables the docker client's config file gives a container.
use crate::config::ConfigError;
use serde_json::{Map, Value};
use std::path::PathBuf;

/// A dispatch-time `K=V` list as lava-dispatcher makes it: dotted names become nested maps (a
/// name both a value and a map is a conflict); values are text.
pub fn expand_dotted(
    flag: &str,
    pairs: &[(String, String)],
) -> Result<Map<String, Value>, ConfigError> {
    let mut out = Map::new();
    for (k, v) in pairs {
        let parts: Vec<&str> = k.split('.').collect();
        let mut at = &mut out;
        for (i, p) in parts.iter().enumerate() {
            if i + 1 == parts.len() {
                if at.get(*p).is_some_and(Value::is_object) {
                    return Err(ConfigError::invalid(
                        flag,
                        k,
                        "names that do not conflict (Path conflict)",
                    ));
                }
                at.insert((*p).to_string(), Value::String(v.clone()));
            } else {
                let next = at
                    .entry((*p).to_string())
                    .or_insert_with(|| Value::Object(Map::new()));
                at = match next {
                    Value::Object(m) => m,
                    _ => {
                        return Err(ConfigError::invalid(
                            flag,
                            k,
                            "names that do not conflict (Path conflict)",
                        ));
                    }
                };
            }
        }
    }
    Ok(out)
}

/// The job spec with dispatch-time parameters and globals merged over its own, shallowly (as
/// the worker: `-p env.X=1` replaces the whole `env`).
pub fn merge_dispatch(
    raw: &mut Map<String, Value>,
    params: Map<String, Value>,
    globals: Map<String, Value>,
) {
    for (key, add) in [("parameters", params), ("globals", globals)] {
        if add.is_empty() {
            continue;
        }
        let entry = raw.entry(key).or_insert_with(|| Value::Object(Map::new()));
        if !entry.is_object() {
            *entry = Value::Object(Map::new());
        }
        if let Value::Object(m) = entry {
            m.extend(add);
        }
    }
}

/// The proxy variables the docker client's config file sets (`proxies.default`), as the worker's
/// docker SDK prepends them to the container's environment.
pub fn config_proxy_env() -> Vec<String> {
    let path = match std::env::var_os("DOCKER_CONFIG") {
        Some(d) => PathBuf::from(d).join("config.json"),
        None => match std::env::var_os("HOME") {
            Some(h) => PathBuf::from(h).join(".docker/config.json"),
            None => return Vec::new(),
        },
    };
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    proxy_env_of(&v["proxies"]["default"])
}

fn proxy_env_of(p: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for (key, var) in [
        ("httpProxy", "http_proxy"),
        ("httpsProxy", "https_proxy"),
        ("ftpProxy", "ftp_proxy"),
        ("noProxy", "no_proxy"),
    ] {
        if let Some(v) = p[key].as_str().filter(|v| !v.is_empty()) {
            out.push(format!("{var}={v}"));
            out.push(format!("{}={v}", var.to_uppercase()));
        }
    }
    out
}
