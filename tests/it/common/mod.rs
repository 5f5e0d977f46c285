//! Shared test helpers: paths, the binaries, and the test services started by
//! `scripts/test-services.sh` (a missing service fails the test and names it).
#![allow(dead_code)]
pub mod engine;

use assert_cmd::Command;
use std::path::{Path, PathBuf};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture(rel: &str) -> String {
    root()
        .join("tests/fixtures")
        .join(rel)
        .to_string_lossy()
        .into_owned()
}

/// The URL of the AWS emulator, or a panic that names the missing service.
pub fn moto() -> String {
    std::env::var("LAVA_TEST_MOTO").unwrap_or_else(|_| {
        panic!("AWS emulator (moto server) is not running: LAVA_TEST_MOTO is unset; run the tests through `scripts/test-services.sh run -- cargo test` or `make test`")
    })
}

/// A command for one of our binaries, run from the repository root with a clean AWS environment
/// (no endpoint, region or profile leaking in from the caller).
pub fn bin(name: &str) -> Command {
    let exe = match name {
        "lava-build" => env!("CARGO_BIN_EXE_lava-build"),
        "lava-ami" => env!("CARGO_BIN_EXE_lava-ami"),
        "lava-rc" => env!("CARGO_BIN_EXE_lava-rc"),
        other => panic!("no binary {other}"),
    };
    let mut c = Command::new(exe);
    c.current_dir(root());
    for var in [
        "AWS_ENDPOINT_URL",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_PROFILE",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "LAVA_BUILD_TIME",
        "RUST_LOG",
    ] {
        c.env_remove(var);
    }
    c.env("NO_COLOR", "1")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    c
}

/// A command for `lava-build` pointed at the AWS emulator with fake credentials.
pub fn bin_moto(name: &str) -> Command {
    let mut c = bin(name);
    with_moto(&mut c);
    c
}

/// Points a command at the AWS emulator with fake credentials.
pub fn with_moto(c: &mut Command) -> &mut Command {
    c.env("AWS_ENDPOINT_URL", moto())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_SESSION_TOKEN", "testing")
}

/// An SDK config for the emulator, for tests that check what our commands did.
pub async fn moto_sdk(region: &str) -> aws_config::SdkConfig {
    let endpoint = moto();
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region.to_string()))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_ssm::config::Credentials::new(
            "testing", "testing", None, None, "tests",
        ))
        .load()
        .await
}

pub fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// Asserts that a command succeeded (else fails showing its status and stderr); its stdout.
pub fn succeeded(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "status {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The JSON a command that succeeded printed on stdout.
pub fn json_stdout(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_str(&succeeded(out)).expect("stdout is JSON")
}

/// The string `field` of each object in the JSON array `list`, in order.
pub fn each_field<'a>(list: &'a serde_json::Value, field: &str) -> Vec<&'a str> {
    list.as_array()
        .unwrap_or_else(|| panic!("an array: {list}"))
        .iter()
        .map(|item| {
            item[field]
                .as_str()
                .unwrap_or_else(|| panic!("{field} in {item}"))
        })
        .collect()
}

/// The stderr of a command that must have failed at run time (exit status 1) with one line.
pub fn one_line_failure(out: &std::process::Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    err
}

/// Asserts that a command succeeded (else fails showing its status, stdout and stderr); its output.
pub fn ok(out: std::process::Output) -> std::process::Output {
    assert!(
        out.status.success(),
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}
