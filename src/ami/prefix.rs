//! The SSM path under which lava-ami publishes the current AMI of each kind.

/// The prefix used when none is configured.
pub const DEFAULT_PREFIX: &str = "/lava/ami";

/// Why a publish prefix is not one; reads as what is expected.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum PrefixError {
    #[error(
        "an SSM parameter path such as /lava/ami: starts with /, no trailing /, segments of letters, digits, _ . -"
    )]
    NotAPath,
    #[error("a path outside /{0} (reserved by AWS), such as /lava/ami")]
    Reserved(String),
    #[error("a path of at most 900 characters")]
    TooLong,
}

/// Checks a publish prefix: `/a/b` (no trailing slash), segments of letters, digits, `_.-`, not
/// under the reserved `/aws` and `/ssm`.
pub fn check_prefix(prefix: &str) -> Result<(), PrefixError> {
    let Some(rest) = prefix.strip_prefix('/') else {
        return Err(PrefixError::NotAPath);
    };
    let segments: Vec<&str> = rest.split('/').collect();
    let ok = segments.iter().all(|s| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
    });
    if !ok {
        return Err(PrefixError::NotAPath);
    }
    let first = segments[0].to_ascii_lowercase();
    if first == "aws" || first == "ssm" {
        return Err(PrefixError::Reserved(segments[0].to_string()));
    }
    // 1011 characters is SSM's limit for a full name; leave room for the kind.
    if prefix.len() > 900 {
        return Err(PrefixError::TooLong);
    }
    Ok(())
}
