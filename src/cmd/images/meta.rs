//! The facts an image's labels carry: the version, when its sources were made, and the commit.
use crate::images::pipeline::Meta;

/// Labels' facts, stable for the same sources so that an unchanged image rebuilds to the same
/// bytes and a second push uploads nothing: `created` is LAVA_BUILD_TIME, else the commit time,
/// else now.
pub(super) async fn meta(version: &str) -> Meta {
    let created = match std::env::var("LAVA_BUILD_TIME")
        .ok()
        .filter(|t| !t.is_empty())
    {
        Some(t) => Some(t),
        None => git(&["log", "-1", "--format=%cI"]).await,
    }
    .unwrap_or_else(|| chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    Meta {
        version: version.to_string(),
        created,
        revision: git(&["rev-parse", "HEAD"])
            .await
            .unwrap_or_else(|| "unknown".into()),
    }
}

/// The trimmed output of `git ARGS`, or None outside a git checkout (or without git): the facts
/// then fall back, as the labels say.
async fn git(args: &[&str]) -> Option<String> {
    let out = tokio::process::Command::new("git")
        .args(args)
        .stderr(std::process::Stdio::null())
        .output()
        .await;
    match out {
        Ok(o) if o.status.success() => {
            Some(String::from_utf8_lossy(&o.stdout).trim().to_string()).filter(|t| !t.is_empty())
        }
        Ok(_) => None,
        Err(e) => {
            tracing::debug!(error = %e, "git is not available");
            None
        }
    }
}
