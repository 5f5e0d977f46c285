//! Where the build resources live in S3: `s3bucket`/`s3prefix` from the command line, or
//! `<env>.ami.s3` (relative to `<env>._.s3base` unless it is an `s3://` URL).
use super::deploy::DeployAmi;
use super::error::ConfigError;
use super::source::{Source, Sourced};
use crate::config::s3url::{S3Url, S3UrlError};
use std::collections::BTreeMap;

/// Why an S3 location cannot be split into bucket and prefix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum S3LocationError {
    /// Read after "expected" in a configuration error.
    #[error("s3://bucket/prefix/, or _.s3base in the environment for a relative location")]
    NoBase,
    #[error("s3://bucket/prefix/ ({0})")]
    Url(#[source] S3UrlError),
}

/// Splits an S3 location into bucket and prefix. `location` is `s3://bucket/prefix/` or, when
/// relative, a prefix under `s3base` (`bucket[/prefix]`).
pub fn split_s3_location(
    location: &str,
    s3base: Option<&str>,
) -> Result<(String, String), S3LocationError> {
    let url = if location.starts_with("s3://") {
        location.to_string()
    } else {
        let base = s3base.ok_or(S3LocationError::NoBase)?;
        let base = base.trim_start_matches("s3://").trim_end_matches('/');
        format!("s3://{base}/{}", location.trim_start_matches('/'))
    };
    let u = S3Url::parse(&url).map_err(S3LocationError::Url)?;
    Ok((u.bucket, u.key))
}

/// Bucket and prefix of the build resources: `s3bucket=`/`s3prefix=` from the command line, else
/// `<env>.ami.s3` (relative to `_.s3base` unless it is an `s3://` URL); `${version}` is replaced.
/// Either may stay `None` when nothing gives it.
#[allow(clippy::type_complexity)]
pub fn resolve_s3(
    cli: &BTreeMap<String, String>,
    file: Option<&DeployAmi>,
    lava_version: &str,
) -> Result<(Option<Sourced<String>>, Option<Sourced<String>>), ConfigError> {
    // S3: bucket and prefix from the command line, else from <env>.ami.s3.
    let (mut s3bucket, mut s3prefix) = (
        cli.get("s3bucket")
            .map(|v| Sourced::new(v.clone(), Source::Cli)),
        cli.get("s3prefix")
            .map(|v| Sourced::new(v.clone(), Source::Cli)),
    );
    if let Some(s3) = file.and_then(|f| f.s3.as_ref()) {
        let location = s3.value.replace("${version}", lava_version);
        let base = file
            .and_then(|f| f.s3base.as_ref())
            .map(|b| b.value.replace("${version}", lava_version));
        let (bucket, prefix) = split_s3_location(&location, base.as_deref())
            .map_err(|why| ConfigError::invalid("s3", &s3.value, &why.to_string()))?;
        if !prefix.is_empty() && !prefix.ends_with('/') {
            return Err(ConfigError::invalid(
                "s3",
                &s3.value,
                "an S3 location ending in '/', e.g. lava/ami/ or s3://bucket/lava/ami/",
            ));
        }
        let bucket_source = if location.starts_with("s3://") {
            s3.source.clone()
        } else {
            file.and_then(|f| f.s3base.as_ref())
                .map(|b| b.source.clone())
                .unwrap_or_else(|| s3.source.clone())
        };
        s3bucket.get_or_insert(Sourced::new(bucket, bucket_source));
        s3prefix.get_or_insert(Sourced::new(prefix, s3.source.clone()));
    } else if let Some(base) = file.and_then(|f| f.s3base.as_ref()) {
        // No ami.s3: the bucket can still come from s3base when the prefix is given.
        if s3prefix.is_some() && s3bucket.is_none() {
            let b = base.value.split('/').next().unwrap_or_default().to_string();
            s3bucket = Some(Sourced::new(b, base.source.clone()));
        }
    }
    for s in [&mut s3bucket, &mut s3prefix].into_iter().flatten() {
        s.value = s.value.replace("${version}", lava_version);
    }
    Ok((s3bucket, s3prefix))
}
