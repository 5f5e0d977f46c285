//! Every key of seed 001's host_config list, its mapping onto the Engine API, and refusals.
use super::*;
use serde_json::json;

fn one(key: &str, v: Value) -> Result<HostSettings, ConfigError> {
    let mut m = Map::new();
    m.insert(key.into(), v);
    parse("job.json", &m)
}

fn td(path: &str, rate: i64) -> ThrottleDevice {
    ThrottleDevice {
        path: Some(path.into()),
        rate: Some(rate),
    }
}

fn pb(ip: Option<&str>, port: Option<&str>) -> PortBinding {
    PortBinding {
        host_ip: ip.map(String::from),
        host_port: port.map(String::from),
    }
}

fn strs(v: &[&str]) -> Option<Vec<String>> {
    Some(v.iter().map(|s| s.to_string()).collect())
}

type Expect = fn(&mut HostSettings);

#[test]
fn every_permitted_key_maps_onto_the_engine_api() {
    let table: Vec<(&str, Value, Expect)> = vec![
        ("blkio_weight", json!(300), |s| {
            s.host.blkio_weight = Some(300)
        }),
        (
            "blkio_weight_device",
            json!([{"Path": "/dev/sda", "Weight": 200}]),
            |s| {
                s.host.blkio_weight_device = Some(vec![ResourcesBlkioWeightDevice {
                    path: Some("/dev/sda".into()),
                    weight: Some(200),
                }])
            },
        ),
        ("cap_add", json!(["NET_ADMIN"]), |s| {
            s.host.cap_add = strs(&["NET_ADMIN"])
        }),
        ("cap_drop", json!(["CHOWN", "KILL"]), |s| {
            s.host.cap_drop = strs(&["CHOWN", "KILL"])
        }),
        ("cpu_count", json!(2), |s| s.host.cpu_count = Some(2)),
        ("cpu_percent", json!(50), |s| s.host.cpu_percent = Some(50)),
        ("cpu_period", json!(100000), |s| {
            s.host.cpu_period = Some(100000)
        }),
        ("cpu_quota", json!(50000), |s| {
            s.host.cpu_quota = Some(50000)
        }),
        ("cpu_shares", json!(512), |s| s.host.cpu_shares = Some(512)),
        ("cpuset_cpus", json!("0,1"), |s| {
            s.host.cpuset_cpus = Some("0,1".into())
        }),
        ("cpuset_mems", json!("0"), |s| {
            s.host.cpuset_mems = Some("0".into())
        }),
        (
            "device_read_bps",
            json!([{"Path": "/dev/sda", "Rate": 1048576}]),
            |s| s.host.blkio_device_read_bps = Some(vec![td("/dev/sda", 1048576)]),
        ),
        (
            "device_read_iops",
            json!([{"Path": "/dev/sda", "Rate": 100}]),
            |s| s.host.blkio_device_read_iops = Some(vec![td("/dev/sda", 100)]),
        ),
        (
            "device_write_bps",
            json!([{"Path": "/dev/sdb", "Rate": 2048}]),
            |s| s.host.blkio_device_write_bps = Some(vec![td("/dev/sdb", 2048)]),
        ),
        (
            "device_write_iops",
            json!([{"Path": "/dev/sdb", "Rate": 10}]),
            |s| s.host.blkio_device_write_iops = Some(vec![td("/dev/sdb", 10)]),
        ),
        ("dns", json!(["10.0.0.2"]), |s| {
            s.host.dns = strs(&["10.0.0.2"])
        }),
        ("dns_opt", json!(["ndots:2"]), |s| {
            s.host.dns_options = strs(&["ndots:2"])
        }),
        ("dns_search", json!(["example.com"]), |s| {
            s.host.dns_search = strs(&["example.com"])
        }),
        ("domainname", json!("example.com"), |s| {
            s.domainname = Some("example.com".into())
        }),
        ("extra_hosts", json!({"db": "10.1.2.3"}), |s| {
            s.host.extra_hosts = strs(&["db:10.1.2.3"])
        }),
        ("hostname", json!("box"), |s| {
            s.hostname = Some("box".into())
        }),
        ("group_add", json!(["wheel", 4243]), |s| {
            s.host.group_add = strs(&["wheel", "4243"])
        }),
        ("mem_limit", json!("512m"), |s| {
            s.host.memory = Some(512 << 20)
        }),
        ("mem_swappiness", json!(10), |s| {
            s.host.memory_swappiness = Some(10)
        }),
        ("memswap_limit", json!("1g"), |s| {
            s.host.memory_swap = Some(1 << 30)
        }),
        ("nano_cpus", json!(500000000), |s| {
            s.host.nano_cpus = Some(500000000)
        }),
        ("network_disabled", json!(true), |s| {
            s.network_disabled = Some(true)
        }),
        ("network_mode", json!("none"), |s| {
            s.host.network_mode = Some("none".into())
        }),
        (
            "ports",
            json!({"80/tcp": 8080, "53/udp": ["127.0.0.1", 5353], "9000": [9000, 9001], "22": null}),
            |s| {
                s.exposed_ports = strs(&["22/tcp", "53/udp", "80/tcp", "9000/tcp"]);
                s.host.port_bindings = Some(HashMap::from([
                    ("80/tcp".to_string(), Some(vec![pb(None, Some("8080"))])),
                    (
                        "53/udp".to_string(),
                        Some(vec![pb(Some("127.0.0.1"), Some("5353"))]),
                    ),
                    (
                        "9000/tcp".to_string(),
                        Some(vec![pb(None, Some("9000")), pb(None, Some("9001"))]),
                    ),
                    ("22/tcp".to_string(), Some(vec![pb(None, None)])),
                ]));
            },
        ),
        ("publish_all_ports", json!(true), |s| {
            s.host.publish_all_ports = Some(true)
        }),
        ("shm_size", json!("64M"), |s| {
            s.host.shm_size = Some(64 << 20)
        }),
        ("user", json!(4242), |s| s.user = Some("4242".into())),
        ("working_dir", json!("/tmp/lava"), |s| {
            s.working_dir = Some("/tmp/lava".into())
        }),
    ];
    let keys: Vec<&str> = table.iter().map(|(k, _, _)| *k).collect();
    assert_eq!(
        keys,
        KEYS.to_vec(),
        "the table covers exactly seed 001's keys"
    );
    for (key, value, expect) in table {
        let mut want = HostSettings::default();
        expect(&mut want);
        assert_eq!(one(key, value.clone()).unwrap(), want, "{key} = {value}");
    }
}

#[test]
fn the_seed_example_maps() {
    let v = json!({"cpuset_cpus": "0,1", "network_disabled": true, "working_dir": "/tmp/lava"});
    let s = parse("job.json", v.as_object().unwrap()).unwrap();
    assert_eq!(s.host.cpuset_cpus.as_deref(), Some("0,1"));
    assert_eq!(s.network_disabled, Some(true));
    assert_eq!(s.working_dir.as_deref(), Some("/tmp/lava"));
}

#[test]
fn sizes_read_as_docker_py_reads_them() {
    for (v, n) in [
        (json!(1000), 1000),
        (json!("1000"), 1000),
        (json!("10b"), 10),
        (json!("2k"), 2048),
        (json!("2KB"), 2048),
        (json!("1.5g"), 3 << 29),
        (json!("512mb"), 512 << 20),
    ] {
        assert_eq!(parse_bytes(&v), Ok(n), "{v}");
    }
    for v in [
        json!("12x"),
        json!("m"),
        json!(""),
        json!(true),
        json!("-1m"),
    ] {
        assert!(parse_bytes(&v).is_err(), "{v}");
    }
}

#[test]
fn keys_outside_the_list_and_bad_types_are_refused_by_name() {
    let e = one("privileged", json!(true)).unwrap_err().to_string();
    assert!(
        e.starts_with("job.json: unknown key \"privileged\" under parameters.host_config"),
        "{e}"
    );
    let e = one("mem_limt", json!("1g")).unwrap_err().to_string();
    assert!(e.contains("did you mean \"mem_limit\""), "{e}");
    for (k, v, needle) in [
        ("mem_limit", json!("lots"), "\"lots\""),
        ("cap_add", json!("NET_ADMIN"), "string \"NET_ADMIN\""),
        ("network_disabled", json!("yes"), "string \"yes\""),
        ("blkio_weight", json!(70000), "70000"),
        ("ports", json!({"http": 80}), "container port \"http\""),
        ("extra_hosts", json!(["db"]), "\"db\""),
        ("device_read_bps", json!([{"Path": "/dev/sda"}]), "Path"),
        ("user", json!(true), "boolean true"),
    ] {
        let e = one(k, v).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!(
                "job.json: parameters.host_config.{k}: wrong type: expected "
            )) && e.contains(needle),
            "{k}: {e}"
        );
    }
}
