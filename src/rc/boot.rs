//! `lava-rc boot`: region, then the user data steps in order, each isolated, timed and logged.
use super::files::Root;
use super::imds::{Imds, ImdsError};
use super::steps::{self, StepError};
use super::userdata::{self, UserDataError};
use serde::Serialize;
use serde_json::{Map, Value};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct BootOptions {
    pub imds_endpoint: String,
    pub deadline: Duration,
    pub root: Root,
    /// Each shell step and site script is killed (with its process group) after this long.
    pub step_timeout: Duration,
    /// The agent's AWS configuration; its region is the instance's, read at boot.
    pub aws: crate::aws::AwsConfig,
}

/// The default of `--step-timeout`: 30 minutes.
pub const DEFAULT_STEP_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// The built-in steps under the names of the old rc.d scripts they replace; site scripts in
/// `/usr/local/etc/rc.d` sort among them by name. `00_aws_region` always runs first.
pub const BUILT_IN: [(&str, BuiltIn); 4] = [
    ("05_shell", BuiltIn::Shell0),
    ("20_swap", BuiltIn::Swap),
    ("60_crontab", BuiltIn::Crontab),
    ("99_shell", BuiltIn::Shell),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuiltIn {
    Shell0,
    Swap,
    Crontab,
    Shell,
}

/// One entry of the boot order after the region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Planned {
    BuiltIn(BuiltIn),
    Site(std::path::PathBuf),
}

/// The built-in steps and the site scripts, in name order (a built-in first on a tie).
pub fn order(root: &Root) -> Vec<Planned> {
    let mut all: Vec<(String, Planned)> = BUILT_IN
        .iter()
        .map(|(n, b)| (n.to_string(), Planned::BuiltIn(*b)))
        .collect();
    for p in steps::site_scripts(root) {
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        all.push((name, Planned::Site(p)));
    }
    // Stable: a built-in stays before a site script of the same name.
    all.sort_by(|a, b| a.0.cmp(&b.0));
    all.into_iter().map(|(_, p)| p).collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Ok,
    Failed,
    Skipped,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepResult {
    pub step: String,
    pub outcome: Outcome,
    pub detail: String,
    pub seconds: f64,
}

#[derive(Debug, Default, Serialize)]
pub struct BootReport {
    pub region: Option<String>,
    pub steps: Vec<StepResult>,
}

impl BootReport {
    pub fn ok(&self) -> bool {
        self.steps.iter().all(|s| s.outcome != Outcome::Failed)
    }

    /// `region ok, shell0 ok, swap FAILED, …`
    pub fn summary(&self) -> String {
        let parts: Vec<String> = self
            .steps
            .iter()
            .map(|s| {
                let o = match s.outcome {
                    Outcome::Ok => "ok",
                    Outcome::Failed => "FAILED",
                    Outcome::Skipped => "skipped",
                };
                format!("{} {o}", s.step)
            })
            .collect();
        format!(
            "lava-rc boot {}: {}",
            if self.ok() { "done" } else { "had failures" },
            parts.join(", ")
        )
    }

    fn record(&mut self, step: &str, started: Instant, r: Result<String, StepError>) {
        let seconds = started.elapsed().as_secs_f64();
        let (outcome, detail) = match r {
            Ok(d) => {
                tracing::info!(target: "lava_rc", step, seconds, "ok: {d}");
                (Outcome::Ok, d)
            }
            Err(e) => {
                let e = crate::error::one_line(&e.into());
                tracing::error!(target: "lava_rc", step, seconds, "failed: {e}");
                (Outcome::Failed, e)
            }
        };
        self.steps.push(StepResult {
            step: step.to_string(),
            outcome,
            detail,
            seconds,
        });
    }

    fn skip(&mut self, step: &str, why: &str) {
        tracing::info!(target: "lava_rc", step, "skipped: {why}");
        self.steps.push(StepResult {
            step: step.to_string(),
            outcome: Outcome::Skipped,
            detail: why.to_string(),
            seconds: 0.0,
        });
    }
}

/// What stops the boot run before any user command.
#[derive(Debug, thiserror::Error)]
pub enum BootError {
    #[error(transparent)]
    Imds(#[from] ImdsError),
    #[error(transparent)]
    UserData(#[from] UserDataError),
    #[error("availability zone {0:?} from IMDS is not valid (expected e.g. ap-southeast-2a)")]
    Zone(String),
}

/// The instance's region: placement/region, else the availability zone without its letter.
pub async fn region(imds: &mut Imds) -> Result<String, BootError> {
    if let Some(b) = imds.get("/latest/meta-data/placement/region").await? {
        let r = String::from_utf8_lossy(&b).trim().to_string();
        if crate::config::validate::is_region(&r) {
            return Ok(r);
        }
        tracing::warn!(target: "lava_rc", region = %r, "IMDS region is not valid: trying the availability zone");
    }
    let az = imds
        .get("/latest/meta-data/placement/availability-zone")
        .await?
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    if !steps::valid_az(&az) {
        return Err(BootError::Zone(az));
    }
    Ok(az[..az.len() - 1].to_string())
}

/// Fetches the user data once. `None`: there is none (404 or empty).
pub async fn user_data(imds: &mut Imds) -> Result<Option<Map<String, Value>>, BootError> {
    match imds.get("/latest/user-data").await? {
        None => Ok(None),
        Some(raw) => Ok(userdata::parse(&raw)?),
    }
}

pub async fn boot(opts: &BootOptions) -> Result<BootReport, BootError> {
    let mut report = BootReport::default();
    let mut imds = Imds::new(&opts.imds_endpoint, opts.deadline)?;

    let t = Instant::now();
    let region = region(&mut imds).await?;
    let cfg = opts.root.join("/usr/local/etc/aws/config");
    let written = steps::write_file(&cfg, steps::aws_config_text(&region).as_bytes(), 0o644)
        .map(|_| format!("{region}, written to {}", cfg.display()));
    report.record("region", t, written);
    report.region = Some(region.clone());

    // The site scripts of /usr/local/etc/rc.d run at every boot, as lava's rc.d did: without user
    // data, and after user data that cannot be read (that failure is reported, the built-in steps
    // then find nothing to do).
    let t = Instant::now();
    let data = match user_data(&mut imds).await {
        Ok(Some(data)) => data,
        Ok(None) => {
            tracing::info!(target: "lava_rc", "no user data: only the site scripts run");
            Map::new()
        }
        Err(BootError::UserData(e)) => {
            report.record("log", t, Err(e.into()));
            Map::new()
        }
        Err(e) => return Err(e),
    };
    tracing::info!(target: "lava_rc", step = "log", "user data: {}", userdata::log_summary(&data));
    let unknown = userdata::unknown_keys(&data);
    if !unknown.is_empty() {
        tracing::info!(target: "lava_rc", keys = %unknown.join(", "), "user data keys not for lava-rc: ignored");
    }

    let plan = order(&opts.root);
    if !plan.iter().any(|p| matches!(p, Planned::Site(_))) {
        report.skip("rc.d", "no executable in /usr/local/etc/rc.d");
    }
    for planned in plan {
        match planned {
            Planned::BuiltIn(BuiltIn::Shell0) => {
                run_shell(&mut report, &data, "shell0", opts.step_timeout).await
            }
            Planned::BuiltIn(BuiltIn::Shell) => {
                run_shell(&mut report, &data, "shell", opts.step_timeout).await
            }
            Planned::BuiltIn(BuiltIn::Swap) => run_swap(&mut report, &data, &opts.root).await,
            Planned::BuiltIn(BuiltIn::Crontab) => {
                run_crontab(&mut report, &data, &opts.aws, &region, opts.step_timeout).await
            }
            Planned::Site(path) => {
                let t = Instant::now();
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let step = format!("rc.d/{name}");
                let r = steps::site_script(&step, &path, opts.step_timeout).await;
                report.record(&step, t, r);
            }
        }
    }
    Ok(report)
}

async fn run_swap(report: &mut BootReport, data: &Map<String, Value>, root: &Root) {
    let t = Instant::now();
    match data.get("swap") {
        None => report.skip("swap", "not in user data"),
        Some(v) => match userdata::swap(v) {
            Ok(None) => report.record("swap", t, Ok("size 0: no swap".into())),
            Ok(Some(spec)) => {
                let r = super::swap::swap(&spec, root).await;
                report.record("swap", t, r);
            }
            Err(e) => report.record("swap", t, Err(e.into())),
        },
    }
}

async fn run_crontab(
    report: &mut BootReport,
    data: &Map<String, Value>,
    aws: &crate::aws::AwsConfig,
    region: &str,
    limit: Duration,
) {
    let t = Instant::now();
    match data.get("crontab") {
        None => report.skip("crontab", "not in user data"),
        Some(v) => match userdata::crontab(v) {
            Err(e) => report.record("crontab", t, Err(e.into())),
            Ok(entries) => {
                let sdk = aws.in_region(region).await;
                let s3 = aws_sdk_s3::Client::new(&sdk);
                for (user, loc) in entries {
                    let t = Instant::now();
                    let r = match loc {
                        Ok((bucket, key)) => steps::crontab(&s3, &user, &bucket, &key, limit).await,
                        Err(e) => Err(e.into()),
                    };
                    let step = format!("crontab.{}", userdata::printable(&user));
                    report.record(&step, t, r);
                }
            }
        },
    }
}

async fn run_shell(
    report: &mut BootReport,
    data: &Map<String, Value>,
    step: &str,
    limit: Duration,
) {
    let t = Instant::now();
    match data.get(step) {
        None => report.skip(step, "not in user data"),
        Some(v) => {
            let r = match userdata::commands(step, v) {
                Ok(script) => steps::shell(step, &script, limit).await,
                Err(e) => Err(e.into()),
            };
            report.record(step, t, r);
        }
    }
}

/// What `boot` would do with this user data (for `lava-rc show`), in the boot order.
pub fn describe(data: &Map<String, Value>, root: &Root) -> Vec<(String, String)> {
    let line = |k: &str, v: Result<String, userdata::SpecError>| {
        (
            k.to_string(),
            match v {
                Ok(s) => s,
                Err(e) => format!("ERROR: {e}"),
            },
        )
    };
    let script = |key: &str| {
        data.get(key).map_or(Ok("nothing".into()), |v| {
            userdata::commands(key, v).map(|s| format!("run as one bash script:\n{s}"))
        })
    };
    let mut out = Vec::new();
    for planned in order(root) {
        match planned {
            Planned::BuiltIn(BuiltIn::Shell0) => out.push(line("shell0", script("shell0"))),
            Planned::BuiltIn(BuiltIn::Shell) => out.push(line("shell", script("shell"))),
            Planned::BuiltIn(BuiltIn::Swap) => out.push(line(
                "swap",
                data.get("swap").map_or(Ok("nothing".into()), |v| {
                    userdata::swap(v).map(|s| match s {
                        None => "nothing (size 0)".into(),
                        Some(s) => format!(
                            "{} GiB at {} (if absent), mkswap, swapon, fstab",
                            s.size_gib, s.file
                        ),
                    })
                }),
            )),
            Planned::BuiltIn(BuiltIn::Crontab) => {
                match data.get("crontab").map(userdata::crontab) {
                    None => out.push(("crontab".into(), "nothing".into())),
                    Some(Err(e)) => out.push(line("crontab", Err(e))),
                    Some(Ok(entries)) => {
                        for (user, loc) in entries {
                            let shown = userdata::printable(&user);
                            out.push(line(
                                &format!("crontab.{shown}"),
                                loc.map(|(b, k)| format!("crontab -u {shown} from s3://{b}/{k}")),
                            ));
                        }
                    }
                }
            }
            Planned::Site(p) => out.push((
                format!(
                    "rc.d/{}",
                    p.file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default()
                ),
                format!("run {}", p.display()),
            )),
        }
    }
    out
}
