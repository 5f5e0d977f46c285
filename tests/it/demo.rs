//! `make demo`'s script end to end (scripts/demo.sh: the emulated AMI build for both arches, a
//! published second build, lava-ami's listing and a prune), against an AWS emulator of its own: the
//! prune deregisters AMIs, which must not touch the other tests' emulator.
use crate::common::{bin, root};
use crate::sync::servers::OwnMoto;

#[test]
fn the_demo_runs_to_the_end_against_its_own_emulator() {
    let moto = OwnMoto::start(0, None);
    let lava_build = env!("CARGO_BIN_EXE_lava-build");
    let out = std::process::Command::new(root().join("scripts/demo.sh"))
        .current_dir(root())
        .env("LAVA_BUILD", lava_build)
        .env("AWS_ENDPOINT_URL", &moto.url)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_SESSION_TOKEN", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("NO_COLOR", "1")
        .env_remove("AWS_PROFILE")
        .output()
        .expect("scripts/demo.sh runs");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        out.status.success(),
        "scripts/demo.sh: {:?}\n{stderr}",
        out.status
    );
    // Two builds of two arches, then the prune keeps the newest of each kind.
    let deregistered = stdout.matches("deregister: done").count();
    assert_eq!(deregistered, 2, "the prune's table:\n{stdout}");
    // What is left in the emulator: the second build's two AMIs, nothing else.
    let left = bin("lava-ami")
        .args(["--output", "json"])
        .env("AWS_ENDPOINT_URL", &moto.url)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .output()
        .unwrap();
    let json = crate::common::json_stdout(&left);
    let amis = json["amis"].as_array().expect("amis").len();
    assert_eq!(amis, 2, "lava-ami after the prune: {json}");
}
