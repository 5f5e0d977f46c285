//! Engines as operators meet them: one behind TLS (a dockerd of this test's own with --tlsverify
//! and certificates made here with the openssl CLI), reached through `--engine` and through
//! DOCKER_HOST with DOCKER_CERT_PATH/DOCKER_TLS_VERIFY; and one without a bridge network
//! (dockerd --bridge=none, the second test engine).
use crate::common::{bin, ok, path_str};
use crate::images::{docker2_host, fixture, unique};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("the openssl CLI (Debian's openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `openssl req` arguments for a new P-256 key without a passphrase, written to the next argument.
const NEW_EC_KEY: [&str; 6] = [
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
];

/// A CA in `dir` (ca.pem, ca-key.pem) named `name`.
fn make_ca(dir: &Path, name: &str) {
    openssl(
        dir,
        &[
            &["req", "-x509"][..],
            &NEW_EC_KEY,
            &["ca-key.pem", "-out", "ca.pem", "-days", "2"],
            &["-subj", &format!("/CN={name}")],
            &["-addext", "basicConstraints=critical,CA:TRUE"],
            &["-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        ]
        .concat(),
    );
}

/// A key and certificate (`<name>-key.pem`, `<name>-cert.pem`) signed by the CA in `dir`.
fn make_cert(dir: &Path, name: &str, extensions: &str) {
    std::fs::write(dir.join(format!("{name}.ext")), extensions).unwrap();
    let (key, csr, cert, ext) = (
        format!("{name}-key.pem"),
        format!("{name}.csr"),
        format!("{name}-cert.pem"),
        format!("{name}.ext"),
    );
    openssl(
        dir,
        &[
            &["req"][..],
            &NEW_EC_KEY,
            &[&key, "-out", &csr, "-subj", &format!("/CN={name}")],
        ]
        .concat(),
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca-key.pem",
            "-CAcreateserial",
            "-out",
            &cert,
            "-days",
            "2",
            "-extfile",
            &ext,
        ],
    );
}

/// A folder as DOCKER_CERT_PATH wants it: ca.pem, cert.pem, key.pem.
fn cert_path(to: &Path, ca: &Path, cert: &Path, key: &Path) -> PathBuf {
    std::fs::create_dir_all(to).unwrap();
    std::fs::copy(ca, to.join("ca.pem")).unwrap();
    std::fs::copy(cert, to.join("cert.pem")).unwrap();
    std::fs::copy(key, to.join("key.pem")).unwrap();
    to.to_path_buf()
}

/// A dockerd of this test, listening on TCP with --tlsverify; stopped (SIGTERM, waited for) on drop.
pub(crate) struct TlsEngine {
    child: Child,
    /// tcp://127.0.0.1:PORT
    pub(crate) endpoint: String,
    /// DOCKER_CERT_PATH of a client the engine trusts.
    pub(crate) client: PathBuf,
    /// The same client certificate, but a CA that did not sign the engine's certificate.
    wrong_ca: PathBuf,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl TlsEngine {
    pub(crate) fn start() -> TlsEngine {
        let dir = tempfile::Builder::new()
            .prefix("lava-tls")
            .tempdir_in("/tmp")
            .unwrap();
        let ca = dir.path().join("ca");
        std::fs::create_dir_all(&ca).unwrap();
        make_ca(&ca, "lava-test-ca");
        make_cert(
            &ca,
            "server",
            "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n",
        );
        make_cert(
            &ca,
            "client",
            "extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n",
        );
        let client = cert_path(
            &dir.path().join("client"),
            &ca.join("ca.pem"),
            &ca.join("client-cert.pem"),
            &ca.join("client-key.pem"),
        );
        let other = dir.path().join("other-ca");
        std::fs::create_dir_all(&other).unwrap();
        make_ca(&other, "someone-else");
        let wrong_ca = cert_path(
            &dir.path().join("wrong-ca"),
            &other.join("ca.pem"),
            &ca.join("client-cert.pem"),
            &ca.join("client-key.pem"),
        );

        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let endpoint = format!("tcp://127.0.0.1:{port}");
        let d = dir.path();
        let log = d.join("dockerd.log");
        let mut dockerd = Command::new("dockerd");
        dockerd.args(["--host", &endpoint, "--tlsverify"]);
        for (flag, path) in [
            ("--tlscacert", ca.join("ca.pem")),
            ("--tlscert", ca.join("server-cert.pem")),
            ("--tlskey", ca.join("server-key.pem")),
            ("--data-root", d.join("data")),
            ("--exec-root", d.join("exec")),
            ("--pidfile", d.join("docker.pid")),
        ] {
            dockerd.arg(flag).arg(path);
        }
        let mut child = dockerd
            .args(["--iptables=false", "--ip6tables=false", "--bridge=none"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("dockerd (Debian's docker.io) on PATH");
        // Ready when it logs that the API listens; every line also goes to the log file.
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let log_file = log.clone();
        std::thread::spawn(move || {
            let mut f = std::fs::File::create(log_file).unwrap();
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                let _ = std::io::Write::write_all(&mut f, format!("{line}\n").as_bytes());
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(l) if l.contains(&format!("API listen on 127.0.0.1:{port}")) => break,
                Ok(_) => {}
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "dockerd with --tlsverify did not come up: {}",
                        std::fs::read_to_string(&log).unwrap_or_default()
                    );
                }
            }
        }
        TlsEngine {
            child,
            endpoint,
            client,
            wrong_ca,
            log,
            _dir: dir,
        }
    }

    fn https(&self) -> String {
        self.endpoint.replacen("tcp://", "https://", 1)
    }
}

impl Drop for TlsEngine {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let _ = self.child.wait();
    }
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn builds_checks_and_lists_through_an_engine_behind_tls() {
    let engine = TlsEngine::start();
    let fx = fixture();
    let tag = unique();
    let image = format!("lava/tiny/base:{tag}-amd64");
    let images_dir = path_str(fx.path());
    let base = ["--platform", "linux/amd64", "--type", "base", "--tag", &tag];

    // --engine tcp:// with DOCKER_TLS_VERIFY: the only engine this run can reach.
    let out = bin("lava-build")
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .env("DOCKER_TLS_VERIFY", "1")
        .env("DOCKER_CERT_PATH", &engine.client)
        .args(["images", "--images-dir", &images_dir, "--network", "none"])
        .args(["--engine", &format!("linux/amd64={}", engine.endpoint)])
        .args(base)
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(
        out.status.success(),
        "{:?} {err}\ndockerd: {}",
        out.status.code(),
        std::fs::read_to_string(&engine.log).unwrap_or_default()
    );
    assert!(err.contains(&format!("built {image}")), "{err}");

    // Listed by the docker CLI through the same TLS endpoint: the image is on that engine.
    let cert = |f: &str| path_str(&engine.client.join(f));
    let listed = Command::new("/usr/bin/docker")
        .env_remove("DOCKER_HOST")
        .args(["--tlsverify", "--tlscacert", &cert("ca.pem")])
        .args(["--tlscert", &cert("cert.pem"), "--tlskey", &cert("key.pem")])
        .args([
            "-H",
            &engine.endpoint,
            "image",
            "ls",
            "--format",
            "{{.Repository}}:{{.Tag}}",
        ])
        .output()
        .expect("Debian's docker CLI at /usr/bin/docker");
    let names = String::from_utf8_lossy(&listed.stdout);
    assert!(
        names.lines().any(|l| l == image),
        "{image} in {names} {}",
        stderr(&listed)
    );

    // DOCKER_HOST=https:// with DOCKER_CERT_PATH: the checks run in containers on that engine.
    let out = bin("lava-build")
        .env("DOCKER_HOST", engine.https())
        .env_remove("DOCKER_TLS_VERIFY")
        .env("DOCKER_CERT_PATH", &engine.client)
        .args(["images", "check", "--images-dir", &images_dir])
        .args(base)
        .args(["--output", "json"])
        .output()
        .unwrap();
    let results: serde_json::Value = serde_json::from_slice(&ok(out).stdout).unwrap();
    let results = results.as_array().unwrap();
    assert!(!results.is_empty() && results.iter().all(|r| r["passed"] == true));

    // An engine whose certificate the given CA did not sign: a one-line error naming it, exit 1.
    let out = bin("lava-build")
        .env("DOCKER_HOST", &engine.endpoint)
        .env("DOCKER_TLS_VERIFY", "1")
        .env("DOCKER_CERT_PATH", &engine.wrong_ca)
        .args(["images", "check", "--images-dir", &images_dir])
        .args(base)
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(&format!(
            "error: Docker engine {} does not answer",
            engine.endpoint
        )),
        "{err}"
    );
}

#[tokio::test]
async fn an_engine_without_a_bridge_network_is_found_before_building_and_told_what_to_pass() {
    // The second test engine is always our own dockerd --bridge=none.
    let host = docker2_host();
    let docker = lava_build::engine::connect(Some(&host)).await.unwrap();
    let names = lava_build::engine::network_names(&docker, &host)
        .await
        .unwrap();
    assert!(
        names.iter().any(|n| n == "host") && names.iter().any(|n| n == "none"),
        "{names:?}"
    );
    assert!(
        !lava_build::engine::has_default_bridge(names.iter().map(String::as_str)),
        "{names:?}"
    );

    let fx = fixture();
    let tag = unique();
    let image = format!("lava/tiny/base:{tag}-amd64");
    let run = |network: Option<&str>| {
        let mut c = bin("lava-build");
        c.env("DOCKER_HOST", &host)
            .args(["images", "--images-dir", &path_str(fx.path())])
            .args(["--platform", "linux/amd64", "--type", "base", "--tag", &tag]);
        if let Some(n) = network {
            c.args(["--network", n]);
        }
        c.output().unwrap()
    };
    for network in [None, Some("default")] {
        let out = run(network);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert_eq!(
            err.trim_end(),
            format!(
                "error: --network: Docker engine {host} (linux/amd64) has no bridge network \
                 (dockerd --bridge=none), so RUN steps cannot use the default network: pass \
                 --network host (steps that download need it) or --network none"
            )
        );
        assert!(
            lava_build::engine::image_id(&docker, &image)
                .await
                .unwrap()
                .is_none(),
            "nothing was built"
        );
    }
    // What the message says to pass builds.
    let out = ok(run(Some("none")));
    assert!(stderr(&out).contains(&format!("built {image}")));
    assert!(
        lava_build::engine::image_id(&docker, &image)
            .await
            .unwrap()
            .is_some()
    );
}
