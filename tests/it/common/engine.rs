//! The test engines and the test registry started by `scripts/test-services.sh` (a missing one
//! fails the test and names it), and the busybox image the job and image tests run.
use super::root;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

pub fn docker_host() -> String {
    std::env::var("LAVA_TEST_DOCKER").unwrap_or_else(|_| {
        panic!("Docker engine is not running: LAVA_TEST_DOCKER is unset; run the tests through scripts/test-services.sh run -- cargo test")
    })
}

pub fn registry() -> String {
    std::env::var("LAVA_TEST_REGISTRY").unwrap_or_else(|_| {
        panic!("OCI registry (docker-registry) is not running: LAVA_TEST_REGISTRY is unset; run the tests through scripts/test-services.sh run -- cargo test")
    })
}

pub fn unique() -> String {
    format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..10])
}

pub fn registry_log() -> PathBuf {
    root().join("build/services/registry.log")
}

pub fn blob_uploads(prefix: &str) -> usize {
    let log = std::fs::read_to_string(registry_log()).unwrap_or_default();
    let needle = format!("\"POST /v2/{prefix}/");
    log.lines()
        .filter(|l| l.contains(&needle) && l.contains("/blobs/uploads/"))
        .count()
}

pub fn docker2_host() -> String {
    std::env::var("LAVA_TEST_DOCKER2").unwrap_or_else(|_| {
        panic!("second Docker engine is not running: LAVA_TEST_DOCKER2 is unset; run the tests through scripts/test-services.sh run -- cargo test")
    })
}

/// The docker CLI on the test engine; panics with its stderr when it fails.
pub fn docker(args: &[&str]) -> String {
    let out = Command::new("docker")
        .env("DOCKER_HOST", docker_host())
        .args(args)
        .output()
        .expect("docker CLI (Debian docker.io)");
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A root filesystem with busybox-static and the applets the tests use, as a tar.
fn busybox_tar() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let dir = |b: &mut tar::Builder<Vec<u8>>, p: &str, mode: u32| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(mode);
        h.set_size(0);
        b.append_data(&mut h, p, std::io::empty()).unwrap();
    };
    dir(&mut b, "bin", 0o755);
    dir(&mut b, "tmp", 0o1777);
    let busybox = std::fs::read("/bin/busybox").expect("busybox-static (Debian) at /bin/busybox");
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o755);
    h.set_size(busybox.len() as u64);
    b.append_data(&mut h, "bin/busybox", busybox.as_slice())
        .unwrap();
    for applet in [
        "sh", "id", "hostname", "env", "pwd", "echo", "cat", "sleep", "date", "test", "sort",
        "grep", "touch", "ls", "true", "false",
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        h.set_mode(0o777);
        b.append_link(&mut h, format!("bin/{applet}"), "busybox")
            .unwrap();
    }
    b.into_inner().unwrap()
}

/// Imports the busybox image (USER 1000:1000, an entry point of its own) into the engine as
/// `name`.
pub fn import_busybox(name: &str) {
    let mut child = Command::new("docker")
        .env("DOCKER_HOST", docker_host())
        .args(["import", "--change", "USER 1000:1000"])
        .args([
            "--change",
            r#"CMD ["/bin/sh", "-c", "echo entry point ran as $(id -u)"]"#,
        ])
        .args(["-", name])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("docker CLI");
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), &busybox_tar()).unwrap();
    assert!(child.wait().unwrap().success(), "docker import {name}");
}

/// The busybox test image in the test registry (pushed once per test process).
pub fn public_image() -> &'static str {
    static IMAGE: OnceLock<String> = OnceLock::new();
    IMAGE.get_or_init(|| {
        let name = format!("{}/lava-test/job-busybox:{}", registry(), unique());
        import_busybox(&name);
        docker(&["push", "-q", &name]);
        name
    })
}
