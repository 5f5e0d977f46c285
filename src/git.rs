//! Facts about the git checkout being built, for image labels: the HEAD commit and its time (one
//! `git log`), the `origin` remote, and `LAVA_BUILD_TIME`. Outside a checkout, or without git,
//! each fact is None and the labels fall back (as each label's doc says).
use std::path::Path;

/// The HEAD commit of a checkout.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Head {
    /// The full commit hash.
    pub revision: Option<String>,
    /// The commit time, RFC 3339.
    pub time: Option<String>,
}

/// The HEAD commit of the checkout `dir` is in.
pub fn head(dir: &Path) -> Head {
    match git(dir, &["log", "-1", "--format=%H%n%cI"]) {
        Some(out) => match out.split_once('\n') {
            Some((rev, time)) => Head {
                revision: Some(rev.to_string()),
                time: Some(time.to_string()),
            },
            None => Head::default(),
        },
        None => Head::default(),
    }
}

/// The URL of the `origin` remote of the checkout `dir` is in.
pub fn origin(dir: &Path) -> Option<String> {
    git(dir, &["remote", "get-url", "origin"])
}

/// `LAVA_BUILD_TIME` when set and not empty: a build's fixed time, so that the same sources make
/// the same image bytes.
pub fn build_time() -> Option<String> {
    std::env::var("LAVA_BUILD_TIME")
        .ok()
        .filter(|t| !t.is_empty())
}

/// The trimmed output of `git ARGS` run in `dir`, or None when it fails or prints nothing.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkout_has_a_head_and_a_plain_folder_has_none() {
        // The project is built from a git checkout (here and in CI).
        let here = head(Path::new(env!("CARGO_MANIFEST_DIR")));
        let rev = here.revision.expect("the project's checkout has a HEAD");
        assert_eq!(rev.len(), 40, "{rev}");
        assert!(here.time.as_deref().is_some_and(|t| t.contains('T')));
        let plain = tempfile::tempdir().unwrap();
        assert_eq!(head(plain.path()), Head::default());
        assert_eq!(origin(plain.path()), None);
    }
}
