//! The facts an image's labels carry: the version, when its sources were made, and the commit.
use crate::images::pipeline::Meta;

/// Labels' facts, stable for the same sources so that an unchanged image rebuilds to the same
/// bytes and a second push uploads nothing: `created` is LAVA_BUILD_TIME, else the commit time,
/// else now.
pub(super) async fn meta(version: &str) -> Meta {
    let head = tokio::task::spawn_blocking(|| crate::git::head(std::path::Path::new(".")))
        .await
        .unwrap_or_default();
    let created = crate::git::build_time()
        .or(head.time)
        .unwrap_or_else(|| chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    Meta {
        version: version.to_string(),
        created,
        revision: head.revision.unwrap_or_else(|| "unknown".into()),
    }
}
