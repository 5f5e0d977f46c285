//! The runtime contract of seed 001 as an Engine API container: environment, the shared temporary
//! folder (same path inside, the working directory), the runner's euid with its egid added, the
//! hostname `lava-<realm>-<worker>-<run_id>`, the `lava.*` labels, then the job's `host_config`
//! over those defaults. Pure.
use super::hostconfig::HostSettings;
use bollard::models::{ContainerCreateBody, HostConfig};
use std::collections::{BTreeMap, HashMap};

/// Who and where the run is.
#[derive(Debug, Clone)]
pub struct Contract<'a> {
    pub image: &'a str,
    pub command: Option<Vec<String>>,
    /// None: sent as a bare name (unset in the container), as the worker sends LAVA_S3_KEY of a
    /// realm without `s3_key`.
    pub env: BTreeMap<String, Option<String>>,
    /// Proxy variables from the docker client's config (the worker's `use_config_proxy`), first.
    pub proxy_env: Vec<String>,
    /// The host's temporary folder, mounted at the same path.
    pub tmp: &'a str,
    pub uid: u32,
    pub gid: u32,
    pub realm: &'a str,
    pub worker: &'a str,
    pub owner: &'a str,
    pub job_id: &'a str,
    pub run_id: &'a str,
    /// The network mode when host_config sets none (`--network`); None: the engine's default.
    pub network: Option<&'a str>,
}

pub fn hostname(realm: &str, worker: &str, run_id: &str) -> String {
    format!("lava-{realm}-{worker}-{run_id}")
}

/// The container to create.
pub fn body(c: &Contract<'_>, hc: &HostSettings) -> ContainerCreateBody {
    let labels = HashMap::from([
        ("lava.realm".to_string(), c.realm.to_string()),
        ("lava.worker".to_string(), c.worker.to_string()),
        ("lava.owner".to_string(), c.owner.to_string()),
        ("lava.job_id".to_string(), c.job_id.to_string()),
        ("lava.run_id".to_string(), c.run_id.to_string()),
    ]);
    let mut host: HostConfig = hc.host.clone();
    let mut binds = host.binds.take().unwrap_or_default();
    binds.push(format!("{}:{}:rw", c.tmp, c.tmp));
    host.binds = Some(binds);
    if host.group_add.is_none() {
        host.group_add = Some(vec![c.gid.to_string()]);
    }
    if host.network_mode.is_none() {
        host.network_mode = Some(c.network.unwrap_or("default").to_string());
    }
    let mut env = c.proxy_env.clone();
    env.extend(c.env.iter().map(|(k, v)| match v {
        Some(v) => format!("{k}={v}"),
        None => k.clone(),
    }));
    ContainerCreateBody {
        image: Some(c.image.to_string()),
        cmd: c.command.clone(),
        env: Some(env),
        volumes: Some(vec![c.tmp.to_string()]),
        hostname: Some(
            hc.hostname
                .clone()
                .unwrap_or_else(|| hostname(c.realm, c.worker, c.run_id)),
        ),
        domainname: hc.domainname.clone(),
        user: Some(hc.user.clone().unwrap_or_else(|| c.uid.to_string())),
        working_dir: Some(hc.working_dir.clone().unwrap_or_else(|| c.tmp.to_string())),
        network_disabled: Some(hc.network_disabled.unwrap_or(false)),
        exposed_ports: hc.exposed_ports.clone(),
        labels: Some(labels),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        host_config: Some(host),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn contract() -> Contract<'static> {
        Contract {
            image: "127.0.0.1:5000/demo:latest",
            command: Some(vec!["/bin/sh".into(), "-c".into(), "date".into()]),
            env: BTreeMap::from([
                ("LAVA_TMP".to_string(), Some("/tmp/lava-x".to_string())),
                ("LAVA_S3_KEY".to_string(), None),
            ]),
            proxy_env: Vec::new(),
            tmp: "/tmp/lava-x",
            uid: 1001,
            gid: 1002,
            realm: "prod",
            worker: "core",
            owner: "me@x",
            job_id: "demo/j",
            run_id: "r1",
            network: Some("none"),
        }
    }

    #[test]
    fn the_defaults_are_the_workers() {
        let b = body(&contract(), &HostSettings::default());
        assert_eq!(b.user.as_deref(), Some("1001"));
        assert_eq!(b.working_dir.as_deref(), Some("/tmp/lava-x"));
        assert_eq!(b.hostname.as_deref(), Some("lava-prod-core-r1"));
        assert_eq!(
            b.env,
            Some(vec![
                "LAVA_S3_KEY".to_string(),
                "LAVA_TMP=/tmp/lava-x".to_string()
            ])
        );
        let h = b.host_config.unwrap();
        assert_eq!(
            h.binds,
            Some(vec!["/tmp/lava-x:/tmp/lava-x:rw".to_string()])
        );
        assert_eq!(h.group_add, Some(vec!["1002".to_string()]));
        assert_eq!(h.network_mode.as_deref(), Some("none"));
        let l = b.labels.unwrap();
        for (k, v) in [
            ("lava.realm", "prod"),
            ("lava.worker", "core"),
            ("lava.owner", "me@x"),
            ("lava.job_id", "demo/j"),
            ("lava.run_id", "r1"),
        ] {
            assert_eq!(l.get(k).map(String::as_str), Some(v), "{k}");
        }
    }

    #[test]
    fn host_config_overrides_the_defaults() {
        let v = json!({"user": "4242", "group_add": ["4343"], "hostname": "box",
            "working_dir": "/", "network_mode": "host"});
        let hc = super::super::hostconfig::parse("j", v.as_object().unwrap()).unwrap();
        let b = body(&contract(), &hc);
        assert_eq!(b.user.as_deref(), Some("4242"));
        assert_eq!(b.hostname.as_deref(), Some("box"));
        assert_eq!(b.working_dir.as_deref(), Some("/"));
        let h = b.host_config.unwrap();
        assert_eq!(h.group_add, Some(vec!["4343".to_string()]));
        assert_eq!(h.network_mode.as_deref(), Some("host"));
        assert_eq!(
            h.binds,
            Some(vec!["/tmp/lava-x:/tmp/lava-x:rw".to_string()]),
            "LAVA_TMP is still shared"
        );
    }
}
