//! `host_config` (seed 001): exactly the 33 keys lava permits, with the types of the Docker SDK for
//! Python's `containers.run()`, mapped onto the Engine API's HostConfig and Config. Any other key is
//! refused by name. Pure: over the JSON of the job spec.
use crate::config::ConfigError;
use crate::config::error::nearest;
use bollard::models::{
    HostConfig, PortBinding, PortMap, ResourcesBlkioWeightDevice, ThrottleDevice,
};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// The keys seed 001 permits, in its order.
pub const KEYS: [&str; 33] = [
    "blkio_weight",
    "blkio_weight_device",
    "cap_add",
    "cap_drop",
    "cpu_count",
    "cpu_percent",
    "cpu_period",
    "cpu_quota",
    "cpu_shares",
    "cpuset_cpus",
    "cpuset_mems",
    "device_read_bps",
    "device_read_iops",
    "device_write_bps",
    "device_write_iops",
    "dns",
    "dns_opt",
    "dns_search",
    "domainname",
    "extra_hosts",
    "hostname",
    "group_add",
    "mem_limit",
    "mem_swappiness",
    "memswap_limit",
    "nano_cpus",
    "network_disabled",
    "network_mode",
    "ports",
    "publish_all_ports",
    "shm_size",
    "user",
    "working_dir",
];

/// What a job's `host_config` sets: the HostConfig part and the Config-level fields.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct HostSettings {
    pub host: HostConfig,
    pub hostname: Option<String>,
    pub domainname: Option<String>,
    pub user: Option<String>,
    pub working_dir: Option<String>,
    pub network_disabled: Option<bool>,
    pub exposed_ports: Option<Vec<String>>,
}

/// Checks one key's value: Err is (expected, found).
type Check<T> = Result<T, (&'static str, String)>;

pub(super) fn found(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("boolean {b}"),
        Value::Number(n) => format!("number {n}"),
        Value::String(s) => format!("string {s:?}"),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "a map".into(),
    }
}

fn int(v: &Value) -> Check<i64> {
    v.as_i64().ok_or(("an integer", found(v)))
}

fn string(v: &Value) -> Check<String> {
    v.as_str().map(String::from).ok_or(("a string", found(v)))
}

fn boolean(v: &Value) -> Check<bool> {
    v.as_bool().ok_or(("true or false", found(v)))
}

fn strings(v: &Value) -> Check<Vec<String>> {
    const E: &str = "a list of strings";
    let a = v.as_array().ok_or((E, found(v)))?;
    a.iter()
        .map(|x| string(x).map_err(|_| (E, found(x))))
        .collect()
}

/// A string or an integer, as text (user, group ids).
fn name_or_id(v: &Value) -> Check<String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) if n.is_i64() => Ok(n.to_string()),
        _ => Err(("a string or an integer", found(v))),
    }
}

/// docker-py's `parse_bytes`: an integer, or a number with a unit b, k, m or g (an optional
/// trailing b after k/m/g, any case): "512m", "1g", "1.5GB", "100000".
pub fn parse_bytes(v: &Value) -> Check<i64> {
    const E: &str = "bytes: an integer or a number with a unit b, k, m or g (e.g. \"512m\")";
    if let Some(i) = v.as_i64() {
        return Ok(i);
    }
    let s = v.as_str().ok_or((E, found(v)))?.trim();
    let bad = || (E, format!("{s:?}"));
    let mut body = s;
    let chars: Vec<char> = s.chars().collect();
    if chars.len() >= 2
        && chars[chars.len() - 2].is_ascii_alphabetic()
        && chars[chars.len() - 1].eq_ignore_ascii_case(&'b')
    {
        body = &s[..s.len() - 1];
    }
    let last = body.chars().last().ok_or_else(bad)?;
    let (digits, unit) = if last.is_ascii_digit() {
        (body, 1i64)
    } else {
        let unit = match last.to_ascii_lowercase() {
            'b' => 1,
            'k' => 1 << 10,
            'm' => 1 << 20,
            'g' => 1 << 30,
            _ => return Err(bad()),
        };
        (&body[..body.len() - 1], unit)
    };
    let n: f64 = digits.parse().map_err(|_| bad())?;
    if !n.is_finite() || n < 0.0 {
        return Err(bad());
    }
    Ok((n * unit as f64) as i64)
}

/// A list of `{"Path": string, <key>: number}` maps, each number read by `num`.
fn path_list<T>(
    v: &Value,
    expected: &'static str,
    key: &str,
    num: fn(&Value) -> Option<T>,
) -> Check<Vec<(String, T)>> {
    let a = v.as_array().ok_or((expected, found(v)))?;
    a.iter()
        .map(|d| {
            let m = d.as_object().ok_or((expected, found(d)))?;
            match (
                m.get("Path").and_then(Value::as_str),
                m.get(key).and_then(num),
            ) {
                (Some(p), Some(n)) if m.len() == 2 => Ok((p.to_string(), n)),
                _ => Err((expected, d.to_string())),
            }
        })
        .collect()
}

/// `[{"Path": "/dev/sda", "Rate": 1000}]`, as docker-py passes them through.
fn throttle(v: &Value) -> Check<Vec<ThrottleDevice>> {
    const E: &str = "a list of {\"Path\": string, \"Rate\": integer}";
    Ok(path_list(v, E, "Rate", Value::as_i64)?
        .into_iter()
        .map(|(p, r)| ThrottleDevice {
            path: Some(p),
            rate: Some(r),
        })
        .collect())
}

fn weight_devices(v: &Value) -> Check<Vec<ResourcesBlkioWeightDevice>> {
    const E: &str = "a list of {\"Path\": string, \"Weight\": integer}";
    Ok(path_list(v, E, "Weight", Value::as_u64)?
        .into_iter()
        .map(|(p, w)| ResourcesBlkioWeightDevice {
            path: Some(p),
            weight: Some(w as usize),
        })
        .collect())
}

/// `{"host": "ip"}` or `["host:ip"]`, as `host:ip` lines.
fn extra_hosts(v: &Value) -> Check<Vec<String>> {
    const E: &str = "a map of host name to IP address, or a list of \"host:ip\"";
    match v {
        Value::Object(m) => m
            .iter()
            .map(|(h, ip)| {
                ip.as_str()
                    .map(|ip| format!("{h}:{ip}"))
                    .ok_or((E, found(ip)))
            })
            .collect(),
        Value::Array(_) => {
            let l = strings(v).map_err(|(_, f)| (E, f))?;
            match l.iter().find(|h| !h.contains(':')) {
                Some(h) => Err((E, format!("{h:?}"))),
                None => Ok(l),
            }
        }
        _ => Err((E, found(v))),
    }
}

/// One host side of a port: a port (integer or string), null (any port), `[ip, port]` or `[ip]`.
fn binding(v: &Value) -> Check<PortBinding> {
    const E: &str = "a host port, null, [ip, port] or a list of those";
    let port = |p: &Value| match p {
        Value::Number(n) if n.is_u64() => Ok(Some(n.to_string())),
        Value::String(s) if s.parse::<u16>().is_ok() => Ok(Some(s.clone())),
        Value::Null => Ok(None),
        _ => Err((E, found(p))),
    };
    match v {
        Value::Array(a) => match a.as_slice() {
            [Value::String(ip)] => Ok(PortBinding {
                host_ip: Some(ip.clone()),
                host_port: None,
            }),
            [Value::String(ip), p] if ip.parse::<u16>().is_err() => Ok(PortBinding {
                host_ip: Some(ip.clone()),
                host_port: port(p)?,
            }),
            _ => Err((E, v.to_string())),
        },
        _ => Ok(PortBinding {
            host_ip: None,
            host_port: port(v)?,
        }),
    }
}

/// `{"80/tcp": 8080, "53/udp": ["127.0.0.1", 5353], "9000": [9000, 9001], "22": null}`.
fn ports(v: &Value) -> Check<(Vec<String>, PortMap)> {
    const E: &str = "a map of container port (\"80\", \"80/tcp\") to host port(s)";
    let m = v.as_object().ok_or((E, found(v)))?;
    let mut exposed = Vec::new();
    let mut map = HashMap::new();
    for (k, hv) in m {
        let (num, proto) = k.split_once('/').unwrap_or((k, "tcp"));
        if num.parse::<u16>().is_err() || !["tcp", "udp", "sctp"].contains(&proto) {
            return Err((E, format!("container port {k:?}")));
        }
        let key = format!("{num}/{proto}");
        // A list of host ports, unless it is one [ip, port] pair.
        let many = match hv {
            Value::Array(a)
                if a.first()
                    .and_then(Value::as_str)
                    .is_none_or(|s| s.parse::<u16>().is_ok()) =>
            {
                a.iter().map(binding).collect::<Check<Vec<_>>>()?
            }
            _ => vec![binding(hv)?],
        };
        exposed.push(key.clone());
        map.insert(key, Some(many));
    }
    exposed.sort();
    Ok((exposed, map))
}

/// Sets one key. Err: (expected, found).
fn set(s: &mut HostSettings, key: &str, v: &Value) -> Check<()> {
    let h = &mut s.host;
    match key {
        "blkio_weight" => {
            let w = int(v)?;
            h.blkio_weight =
                Some(u16::try_from(w).map_err(|_| ("an integer from 10 to 1000", w.to_string()))?);
        }
        "blkio_weight_device" => h.blkio_weight_device = Some(weight_devices(v)?),
        "cap_add" => h.cap_add = Some(strings(v)?),
        "cap_drop" => h.cap_drop = Some(strings(v)?),
        "cpu_count" => h.cpu_count = Some(int(v)?),
        "cpu_percent" => h.cpu_percent = Some(int(v)?),
        "cpu_period" => h.cpu_period = Some(int(v)?),
        "cpu_quota" => h.cpu_quota = Some(int(v)?),
        "cpu_shares" => h.cpu_shares = Some(int(v)?),
        "cpuset_cpus" => h.cpuset_cpus = Some(string(v)?),
        "cpuset_mems" => h.cpuset_mems = Some(string(v)?),
        "device_read_bps" => h.blkio_device_read_bps = Some(throttle(v)?),
        "device_read_iops" => h.blkio_device_read_iops = Some(throttle(v)?),
        "device_write_bps" => h.blkio_device_write_bps = Some(throttle(v)?),
        "device_write_iops" => h.blkio_device_write_iops = Some(throttle(v)?),
        "dns" => h.dns = Some(strings(v)?),
        "dns_opt" => h.dns_options = Some(strings(v)?),
        "dns_search" => h.dns_search = Some(strings(v)?),
        "domainname" => s.domainname = Some(string(v)?),
        "extra_hosts" => h.extra_hosts = Some(extra_hosts(v)?),
        "hostname" => s.hostname = Some(string(v)?),
        "group_add" => {
            const E: &str = "a list of group names or ids";
            let a = v.as_array().ok_or((E, found(v)))?;
            h.group_add = Some(
                a.iter()
                    .map(|g| name_or_id(g).map_err(|_| (E, found(g))))
                    .collect::<Check<_>>()?,
            );
        }
        "mem_limit" => h.memory = Some(parse_bytes(v)?),
        "mem_swappiness" => h.memory_swappiness = Some(int(v)?),
        "memswap_limit" => h.memory_swap = Some(parse_bytes(v)?),
        "nano_cpus" => h.nano_cpus = Some(int(v)?),
        "network_disabled" => s.network_disabled = Some(boolean(v)?),
        "network_mode" => h.network_mode = Some(string(v)?),
        "ports" => {
            let (exposed, map) = ports(v)?;
            s.exposed_ports = Some(exposed);
            h.port_bindings = Some(map);
        }
        "publish_all_ports" => h.publish_all_ports = Some(boolean(v)?),
        "shm_size" => h.shm_size = Some(parse_bytes(v)?),
        "user" => s.user = Some(name_or_id(v)?),
        "working_dir" => s.working_dir = Some(string(v)?),
        other => return Err(("one of the 33 keys lava permits", format!("{other:?}"))),
    }
    Ok(())
}

/// Reads a job's `host_config`. `origin` says where the spec came from (for messages).
pub fn parse(origin: &str, map: &Map<String, Value>) -> Result<HostSettings, ConfigError> {
    let mut s = HostSettings::default();
    for (key, v) in map {
        if !KEYS.contains(&key.as_str()) {
            return Err(ConfigError::UnknownFileKey {
                location: origin.to_string(),
                key: key.clone(),
                section: format!("parameters.host_config (lava permits: {})", KEYS.join(", ")),
                nearest: nearest(key, KEYS),
            });
        }
        set(&mut s, key, v).map_err(|(expected, found)| ConfigError::WrongType {
            location: origin.to_string(),
            key: format!("parameters.host_config.{key}"),
            expected: expected.to_string(),
            found,
        })?;
    }
    Ok(s)
}

#[cfg(test)]
#[path = "hostconfig_tests.rs"]
mod tests;
