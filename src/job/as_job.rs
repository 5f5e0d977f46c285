//! Image checks run the way lava runs docker jobs (`lava-build images check --as-job`): the
//! runner's euid with its egid added, a fresh LAVA_TMP shared with the host as the working
//! directory, no network, the container removed afterwards.
use super::container::{self, Contract};
use super::{JobError, hostconfig::HostSettings, run};
use bollard::Docker;
use std::collections::BTreeMap;
use std::time::Duration;

/// How long one check may run.
const CHECK_TIMEOUT: Duration = Duration::from_secs(600);

/// Runs `/bin/sh -c command` in a container of `image` as a docker job would: (exit status,
/// output). A check killed at the timeout reports status -1.
pub async fn run_check(
    docker: &Docker,
    image: &str,
    command: &str,
) -> Result<(i64, String), JobError> {
    let (_tmp, tmp_path) = super::job_tmp().map_err(JobError::tmp)?;
    let run_id = uuid::Uuid::new_v4().to_string();
    let env = BTreeMap::from([
        ("LAVA_JOB_ID".to_string(), Some("images-check".to_string())),
        ("LAVA_REALM".to_string(), Some("check".to_string())),
        ("LAVA_RUN_ID".to_string(), Some(run_id.clone())),
        ("LAVA_TMP".to_string(), Some(tmp_path.clone())),
        ("LAVA_WORKER".to_string(), Some("images".to_string())),
    ]);
    let contract = Contract {
        image,
        command: Some(vec!["/bin/sh".into(), "-c".into(), command.into()]),
        env,
        proxy_env: Vec::new(),
        tmp: &tmp_path,
        uid: nix::unistd::geteuid().as_raw(),
        gid: nix::unistd::getegid().as_raw(),
        realm: "check",
        worker: "images",
        owner: "lava-build",
        job_id: "images-check",
        run_id: &run_id,
        network: Some("none"),
    };
    let body = container::body(&contract, &HostSettings::default());
    let name = format!("lava-check-{run_id}");
    let waiter = docker
        .clone()
        .with_timeout(CHECK_TIMEOUT + Duration::from_secs(120));
    // The output file lives beside the mount, not in it: the check's container cannot touch it.
    let out = tempfile::NamedTempFile::new().map_err(JobError::tmp)?;
    let finished = run::run(
        docker,
        &waiter,
        &name,
        body,
        CHECK_TIMEOUT,
        None,
        out.path(),
    )
    .await?;
    let status = match finished.ending {
        run::Ending::Exited(code) => code,
        run::Ending::TimedOut | run::Ending::Interrupted(_) => -1,
    };
    let text = std::fs::read(out.path()).map_err(JobError::tmp)?;
    Ok((status, String::from_utf8_lossy(&text).into_owned()))
}
