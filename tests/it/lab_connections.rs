//! Connections that connect, for real (issue 34): the lab's full image (the lab OS with the real
//! ubuntu24 base and full steps: lava with its database drivers, psql, the OS's MySQL-protocol
//! client, FreeTDS) runs one lava docker job whose `connections` reach the real servers
//! `scripts/test-services.sh run` starts on loopback (Debian's PostgreSQL and MariaDB). The job
//! runs with network mode host (the engines have no bridge), once under the real lava-worker
//! 8.3.0 and once under `lava-build job run`; the differential bench compares the two runs
//! (container, outcome, log) and what the job printed is checked in the log.
//!
//! The built image is kept in the test registry as `lava-lab/conn:<key>` (key: the lab OS's layer,
//! the image definitions and lava's version), so a warm run pulls it instead of building.
use crate::common::root;
use crate::images::{docker_host, lava_build_images, registry, unique};
use crate::job_diff::{Bench, run_case};
use serde_json::json;
use sha2::Digest;
use std::path::Path;
use std::process::Command;

/// The login test-services gives both servers.
const DB_USER: &str = "lava";
const DB_PASSWORD: &str = "lava-lab";
const DB_NAME: &str = "lab";

/// A server test-services started (`LAVA_TEST_POSTGRES`, `LAVA_TEST_MARIADB`): (host, port).
fn server(var: &str, what: &str) -> (String, u16) {
    let v = std::env::var(var).unwrap_or_else(|_| {
        panic!("{what} is not running: {var} is unset; install it with scripts/test-services.sh install and run the tests through scripts/test-services.sh run -- cargo test")
    });
    let (host, port) = v
        .rsplit_once(':')
        .unwrap_or_else(|| panic!("{var}={v}: expected host:port"));
    (
        host.to_string(),
        port.parse()
            .unwrap_or_else(|_| panic!("{var}={v}: expected host:port")),
    )
}

fn docker(args: &[&str]) -> std::process::Output {
    Command::new("docker")
        .env("DOCKER_HOST", docker_host())
        .args(args)
        .output()
        .expect("docker CLI (Debian docker.io)")
}

fn docker_ok(args: &[&str]) -> String {
    let o = docker(args);
    assert!(
        o.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// Every file under `dir` (path and content, in path order) into `h`.
fn hash_tree(h: &mut sha2::Sha256, dir: &Path) {
    let mut files: Vec<_> = walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .map(Result::unwrap)
        .filter(|e| e.file_type().is_file())
        .collect();
    files.sort_by(|a, b| a.path().cmp(b.path()));
    for f in files {
        h.update(
            f.path()
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .as_bytes(),
        );
        h.update([0]);
        h.update(std::fs::read(f.path()).unwrap());
        h.update([0]);
    }
}

/// The lab's full image, in the test registry (lava's worker always pulls): built from the lab
/// OS with the real ubuntu24 base and full steps (not the Oracle one: its zips are the user's)
/// and pushed, unless the registry already holds it under its key (the registry's data, under
/// build/services, outlives the services: that is the cache between runs).
fn full_image() -> String {
    let from = crate::lab::lab_image();
    let defs = crate::lab::lab_definitions(&from);
    let full = defs.path().join("os/debian12/full");
    std::fs::create_dir_all(&full).unwrap();
    std::fs::copy(
        root().join("images/os/ubuntu24/full/10-db-clients.sh"),
        full.join("10-db-clients.sh"),
    )
    .unwrap();
    // The lab OS is imported anew at every start (a new image id); its layer is the same.
    let layers = docker_ok(&[
        "image",
        "inspect",
        "--format",
        "{{json .RootFS.Layers}}",
        &from,
    ]);
    let mut h = sha2::Sha256::new();
    h.update(layers.as_bytes());
    h.update(env!("CARGO_PKG_VERSION").as_bytes());
    hash_tree(&mut h, defs.path());
    let key = &hex::encode(h.finalize())[..12];
    let pushed = format!("{}/lava-lab/conn:{key}", registry());
    let cached = Command::new("curl")
        .args(["-sf", "-o", "/dev/null", "-H"])
        .arg("Accept: application/vnd.docker.distribution.manifest.v2+json")
        .arg(format!(
            "http://{}/v2/lava-lab/conn/manifests/{key}",
            registry()
        ))
        .status()
        .expect("curl");
    if cached.success() {
        return pushed;
    }
    let tag = unique();
    let built = lava_build_images(defs.path())
        .args([
            "--os",
            "debian12",
            "--type",
            "all",
            "--platform",
            "linux/amd64",
        ])
        .args(["--tag", &tag])
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "building the lab's full image: {}",
        String::from_utf8_lossy(&built.stderr)
    );
    docker_ok(&["tag", &format!("lava/debian12/full:{tag}-amd64"), &pushed]);
    docker_ok(&["push", "-q", &pushed]);
    pushed
}

/// A loopback port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The MariaDB server's own version, asked with the host's client.
fn mariadb_version(host: &str, port: u16) -> String {
    let o = Command::new("mysql")
        .args(["--no-defaults", "-h", host, "-P", &port.to_string()])
        .args(["-u", DB_USER, &format!("-p{DB_PASSWORD}"), DB_NAME])
        .args(["-N", "-e", "select version()"])
        .output()
        .expect("the mysql client (Debian's mariadb-client, scripts/deps/apt.lock)");
    assert!(
        o.status.success(),
        "mysql on {host}:{port}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// One shell word (lava splits a docker job's command as a POSIX shell does).
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\"'\"'"))
}

/// What the job runs in the container: each line it prints starts with its probe's name.
fn job_script(mssql_port: u16) -> String {
    [
        "echo \"psql=$($LAVA_CONN_PG -t -A -c 'select 40 + 2')\"",
        // PyGreSQL through libpq with the settings lava's psql script exports (PGPASSFILE too).
        "eval \"$(grep '^export ' \"$LAVA_CONN_PG\")\"",
        "python3 -c 'import pgdb; c = pgdb.connect(); cur = c.cursor(); cur.execute(\"select 6 * 7\"); print(\"pygresql=%s\" % cur.fetchone()[0])' 2>&1",
        "echo \"mysql=$($LAVA_CONN_MY -N -e 'select version()' 2>&1)\"",
        // FreeTDS's tsql and the ODBC driver named FreeTDS, to a port nobody serves.
        &format!("echo \"tsql=$(tsql -H 127.0.0.1 -p {mssql_port} -U sa -P x </dev/null 2>&1 | tr '\\n' ' ')\""),
        &format!(
            "python3 -c 'import pyodbc\ntry:\n    pyodbc.connect(\"DRIVER=FreeTDS;SERVER=127.0.0.1;PORT={mssql_port};UID=sa;PWD=x;TDS_Version=7.4\", timeout=5)\nexcept pyodbc.Error as e:\n    print(\"odbc=%s %s\" % (e.args[0], e.args[1].splitlines()[0]))' 2>&1"
        ),
    ]
    .join("\n")
}

#[test]
fn a_lava_docker_job_in_the_lab_image_connects_to_real_servers_under_both_runners() {
    let (pg_host, pg_port) = server("LAVA_TEST_POSTGRES", "PostgreSQL (Debian's postgresql)");
    let (my_host, my_port) = server("LAVA_TEST_MARIADB", "MariaDB (Debian's mariadb-server)");
    let version = mariadb_version(&my_host, my_port);
    assert!(version.contains("MariaDB"), "{version}");
    let image = full_image();
    let b = Bench::start();
    let mssql_port = closed_port();
    let case = json!({
        "name": "lab-connections",
        "job": {"payload": image, "parameters": {"docker": "docker/diff", "timeout": "120s",
            "host_config": {"network_mode": "host"},
            "connections": {"pg": "lab/pg", "my": "lab/maria"},
            "command": format!("/bin/sh -c {}", sh_quote(&job_script(mssql_port)))}},
        "connections": [
            {"conn_id": "lab/pg", "type": "postgres", "enabled": true, "host": pg_host,
             "port": pg_port, "database": DB_NAME, "user": DB_USER,
             "password": "/lava/ld/lab/pg-password"},
            {"conn_id": "lab/maria", "type": "mariadb", "enabled": true, "host": my_host,
             "port": my_port, "database": DB_NAME, "user": DB_USER,
             "password": "/lava/ld/lab/maria-password"}],
        "ssm": {"/lava/ld/lab/pg-password": DB_PASSWORD, "/lava/ld/lab/maria-password": DB_PASSWORD},
        // Both logs are compared equal; these are what each must hold: the servers answered,
        // MariaDB with its own version, and FreeTDS loaded and failed on the connection (an
        // ODBC driver that does not load is SQLSTATE 01000 "Can't open lib", not 08S01).
        "log_contains": [
            "psql=42\n", "pygresql=42\n", format!("mysql={version}\n"),
            "tsql=", "Connection refused",
            "odbc=08S01 [08S01] [FreeTDS][SQL Server]Unable to connect: Adaptive Server is unavailable or does not exist (20009)"],
    });
    if let Err(e) = run_case(&b, &case) {
        panic!("{e}");
    }
}

/// A folder laid out as the build's bind mount: `common/` (the real one) and `packages/` with
/// Oracle-like zips for x64 (an `instantclient_23_9/sqlplus` script and a library) and their
/// SHA-256 in `oracle.sha256`.
fn oracle_build_dir() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let common = d.path().join("common");
    std::fs::create_dir(&common).unwrap();
    for f in ["lib.sh", "oracle.sh"] {
        std::fs::copy(root().join("images/common").join(f), common.join(f)).unwrap();
    }
    let packages = d.path().join("packages");
    std::fs::create_dir(&packages).unwrap();
    let made = Command::new("python3")
        .arg("-c")
        .arg(
            "import sys, zipfile\n\
             for name, member, text in [('basiclite', 'libclntsh.so.23.1', 'lib'), ('sqlplus', 'sqlplus', '#!/bin/sh\\necho SQL*Plus: Release 23.9 lab\\n')]:\n\
             \x20   with zipfile.ZipFile(sys.argv[1] + '/instantclient-' + name + '-linux-x64.zip', 'w') as z:\n\
             \x20       i = zipfile.ZipInfo('instantclient_23_9/' + member); i.external_attr = 0o755 << 16\n\
             \x20       z.writestr(i, text)\n",
        )
        .arg(&packages)
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    let mut sums = String::new();
    for name in ["basiclite", "sqlplus"] {
        let zip = format!("instantclient-{name}-linux-x64.zip");
        let digest = hex::encode(sha2::Sha256::digest(
            std::fs::read(packages.join(&zip)).unwrap(),
        ));
        sums.push_str(&format!("{digest}  {zip}\n"));
    }
    std::fs::write(packages.join("oracle.sha256"), sums).unwrap();
    d
}

/// images/common/oracle.sh in a lab OS container (no network; Debian's busybox as `unzip`):
/// its output, ending with what /opt/oracle holds after.
fn run_oracle_step(build: &Path) -> String {
    let lab = crate::lab::lab_image();
    let o = docker(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--platform",
        "linux/amd64",
        "-v",
        &format!("{}:/build:ro", build.display()),
        "-v",
        "/bin/busybox:/usr/local/bin/unzip:ro",
        &lab,
        "sh",
        "-c",
        "sh /build/common/oracle.sh && sqlplus; echo \"opt: $(ls /opt/oracle 2>&1)\"",
    ]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    text
}

#[test]
fn the_oracle_step_unpacks_zips_whose_sha256_is_given_and_refuses_a_tampered_one() {
    let good = oracle_build_dir();
    let text = run_oracle_step(good.path());
    assert!(
        text.contains("Oracle Instant Client in /opt/oracle/instantclient_23_9 (SHA-256 checked)")
            && text.contains("SQL*Plus: Release 23.9 lab")
            && text.contains("opt: instantclient_23_9"),
        "{text}"
    );

    // One byte of the sqlplus zip changed after its checksum was given: nothing is unpacked.
    let bad = oracle_build_dir();
    let zip = bad
        .path()
        .join("packages/instantclient-sqlplus-linux-x64.zip");
    let mut bytes = std::fs::read(&zip).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    std::fs::write(&zip, &bytes).unwrap();
    let have = hex::encode(sha2::Sha256::digest(&bytes));
    let text = run_oracle_step(bad.path());
    assert!(
        text.contains(&format!(
            "instantclient-sqlplus-linux-x64.zip: SHA-256 {have}, expected"
        )) && text.contains("opt: ls: cannot access '/opt/oracle'")
            && !text.contains("SQL*Plus"),
        "{text}"
    );

    // A zip without a line in oracle.sha256 is refused the same way, naming what is expected.
    let unlisted = oracle_build_dir();
    let sums = unlisted.path().join("packages/oracle.sha256");
    let kept: String = std::fs::read_to_string(&sums)
        .unwrap()
        .lines()
        .filter(|l| !l.contains("basiclite"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&sums, kept).unwrap();
    let text = run_oracle_step(unlisted.path());
    assert!(
        text.contains("no SHA-256 for instantclient-basiclite-linux-x64.zip (expected a line '<sha256>  instantclient-basiclite-linux-x64.zip')")
            && text.contains("opt: ls: cannot access '/opt/oracle'"),
        "{text}"
    );
}
