//! Pushing to registries that want credentials: each test starts its own docker-registry with
//! htpasswd authentication, and pushes with a user and token from the environment, a token from
//! an SSM SecureString parameter (in the AWS emulator), or an ECR token (GetAuthorizationToken of
//! the emulator, whose stated expiry lies in the past).
use crate::common::{moto_sdk, with_moto};
use crate::images::{fixture, lava_build_images, unique};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A docker-registry on a free loopback port that accepts only `user`/`password`.
pub(crate) struct AuthRegistry {
    pub(crate) addr: String,
    child: Child,
    dir: tempfile::TempDir,
}

impl Drop for AuthRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl AuthRegistry {
    pub(crate) fn start(user: &str, password: &str) -> AuthRegistry {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let hash = bcrypt::hash(password, 4).unwrap();
        std::fs::write(dir.path().join("htpasswd"), format!("{user}:{hash}\n")).unwrap();
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: {root}\n\
                 http:\n  addr: 127.0.0.1:{port}\nauth:\n  htpasswd:\n    realm: lava-test\n    path: {htpasswd}\n",
                root = dir.path().join("data").display(),
                htpasswd = dir.path().join("htpasswd").display(),
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("docker-registry (Debian) for the registry tests");
        let addr = format!("127.0.0.1:{port}");
        let up = (0..100).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(50));
            TcpStream::connect(&addr).is_ok()
        });
        assert!(up, "docker-registry did not start on {addr}");
        AuthRegistry { addr, child, dir }
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }
}

fn push_args<'a>(reg: &'a str, tag: &'a str) -> Vec<&'a str> {
    vec![
        "--tag",
        tag,
        "--platform",
        "linux/amd64",
        "--type",
        "base",
        "--push",
        "--registry",
        reg,
        "--prefix",
        "lava-test",
        "-v",
    ]
}

fn skopeo_with(reference: &str, user: &str, password: &str) -> bool {
    Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("--creds={user}:{password}"))
        .arg(format!("docker://{reference}"))
        .output()
        .expect("skopeo (Debian)")
        .status
        .success()
}

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn images_cmd(dir: &Path) -> assert_cmd::Command {
    let mut c = lava_build_images(dir);
    c.env_remove("LAVA_REGISTRY_USER")
        .env_remove("LAVA_REGISTRY_TOKEN");
    c
}

#[test]
fn pushes_with_a_user_and_token_and_never_shows_the_token() {
    let token = format!("tok-{}", unique());
    let reg = AuthRegistry::start("lava", &token);
    let fx = fixture();
    let tag = unique();

    // No credentials: the registry refuses, the error names what was pushed, exit 1.
    let out = images_cmd(fx.path())
        .args(push_args(&reg.addr, &tag))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let last = text(&out).lines().last().unwrap_or_default().to_string();
    assert!(
        last.starts_with(&format!(
            "error: pushing {}/lava-test/lava/tiny/base:{tag}-amd64",
            reg.addr
        )),
        "{last}"
    );
    // The registry answered 401 to an anonymous request: the message says what to set.
    assert!(
        last.contains("(no credentials were given: set LAVA_REGISTRY_USER with LAVA_REGISTRY_TOKEN or --token-ssm)"),
        "{last}"
    );

    // A user without a token is a usage error, before anything is built.
    let out = images_cmd(fx.path())
        .env("LAVA_REGISTRY_USER", "lava")
        .args(push_args(&reg.addr, &tag))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out)
            .contains("user \"lava\" has no token: set LAVA_REGISTRY_TOKEN or --token-ssm NAME"),
        "{}",
        text(&out)
    );

    // User and token: pushed, index and all; the token appears nowhere in our output.
    let push = || {
        images_cmd(fx.path())
            .env("LAVA_REGISTRY_USER", "lava")
            .env("LAVA_REGISTRY_TOKEN", &token)
            .args(push_args(&reg.addr, &tag))
            .output()
            .unwrap()
    };
    let out = push();
    assert!(out.status.success(), "{}", text(&out));
    assert!(!text(&out).contains(&token), "the token was shown");
    assert!(text(&out).contains("pushing as lava (token from LAVA_REGISTRY_TOKEN)"));
    let repo = format!("{}/lava-test/lava/tiny/base", reg.addr);
    assert!(skopeo_with(&format!("{repo}:{tag}"), "lava", &token));
    assert!(skopeo_with(&format!("{repo}:latest"), "lava", &token));
    assert!(
        !skopeo_with(&format!("{repo}:{tag}"), "lava", "wrong"),
        "the registry checks"
    );

    // Pushed again: nothing sent, with the same credentials for the checks.
    let uploads = |log: &str| log.matches("/blobs/uploads/").count();
    let before = uploads(&reg.log());
    let out = push();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(uploads(&reg.log()), before);
}

#[tokio::test]
async fn pushes_with_a_token_from_an_ssm_securestring() {
    let token = format!("ssm-{}", unique());
    let reg = AuthRegistry::start("ci", &token);
    let name = format!("/lava-test/{}/registry-token", unique());
    aws_sdk_ssm::Client::new(&moto_sdk("us-east-1").await)
        .put_parameter()
        .name(&name)
        .value(&token)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .send()
        .await
        .unwrap();
    let fx = fixture();
    let tag = unique();
    let mut cmd = images_cmd(fx.path());
    with_moto(&mut cmd).env("AWS_REGION", "us-east-1");
    let out = cmd
        .args(push_args(&reg.addr, &tag))
        .args(["--user", "ci", "--token-ssm", &name])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(!text(&out).contains(&token), "the token was shown");
    assert!(text(&out).contains("pushing as ci (token from SSM)"));
    assert!(skopeo_with(
        &format!("{}/lava-test/lava/tiny/base:{tag}", reg.addr),
        "ci",
        &token
    ));

    // A parameter that does not exist stops the run before any build, naming it.
    let mut cmd = images_cmd(fx.path());
    with_moto(&mut cmd).env("AWS_REGION", "us-east-1");
    let out = cmd
        .args(push_args(&reg.addr, &tag))
        .args(["--user", "ci", "--token-ssm", "/lava-test/missing"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let all = text(&out);
    assert!(
        all.contains("--token-ssm /lava-test/missing: ParameterNotFound"),
        "{all}"
    );
    assert!(!all.contains("[tiny/base"), "nothing was built: {all}");
}

#[tokio::test]
async fn pushes_to_ecr_with_a_fresh_token_whatever_its_stated_expiry() {
    use base64::Engine as _;
    // What the emulator's ECR hands out; its registry is ours, accepting exactly that.
    let auth = aws_sdk_ecr::Client::new(&moto_sdk("us-east-1").await)
        .get_authorization_token()
        .send()
        .await
        .unwrap();
    let data = &auth.authorization_data()[0];
    let expires = data.expires_at().unwrap().secs();
    assert!(
        expires < chrono::Utc::now().timestamp(),
        "the emulator states an expiry in the past"
    );
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(data.authorization_token().unwrap())
        .unwrap();
    let (user, password) = std::str::from_utf8(&decoded)
        .unwrap()
        .split_once(':')
        .unwrap();
    let reg = AuthRegistry::start(user, password);
    let fx = fixture();
    let tag = unique();
    let mut cmd = images_cmd(fx.path());
    let out = with_moto(&mut cmd)
        .env("AWS_REGION", "us-east-1")
        .args(push_args(&reg.addr, &tag))
        .args(["--registry-auth", "ecr"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("pushing with an ECR token"));
    assert!(!text(&out).contains(password), "the token was shown");
    assert!(skopeo_with(
        &format!("{}/lava-test/lava/tiny/base:{tag}", reg.addr),
        user,
        password
    ));
}
