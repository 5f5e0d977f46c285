//! `s3://bucket/key` — the one parser of S3 URLs and the one bucket rule, for every tool (build
//! resources, bundles, boot agent crontabs and s3run, job realms, logs and templates). Pure parsing:
//! it lives with the configuration, below every room that calls AWS.

/// A parsed `s3://bucket[/key]`. The key is what follows the first `/` after the bucket, as
/// written (possibly empty; a prefix keeps its trailing `/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Url {
    pub bucket: String,
    pub key: String,
}

/// Why a string is not an S3 URL; reads after "expected" is the caller's business.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum S3UrlError {
    #[error("not an s3:// URL")]
    NotS3,
    #[error("no bucket name")]
    NoBucket,
    #[error("bucket {0:?} is not an S3 bucket name (3 to 63 of a-z, 0-9, '.' and '-')")]
    BadBucket(String),
}

/// The S3 bucket naming rule (the common subset): 3 to 63 of a-z 0-9 . -, starting and ending
/// with a letter or digit.
pub fn is_bucket(v: &str) -> bool {
    (3..=63).contains(&v.len())
        && v.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'.' || c == b'-')
        && v.bytes().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && v.bytes().last().is_some_and(|c| c.is_ascii_alphanumeric())
}

impl S3Url {
    /// Parses `s3://bucket[/key]`; the bucket must follow [`is_bucket`].
    pub fn parse(url: &str) -> Result<S3Url, S3UrlError> {
        let rest = url.strip_prefix("s3://").ok_or(S3UrlError::NotS3)?;
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(S3UrlError::NoBucket);
        }
        if !is_bucket(bucket) {
            return Err(S3UrlError::BadBucket(bucket.to_string()));
        }
        Ok(S3Url {
            bucket: bucket.to_string(),
            key: key.to_string(),
        })
    }

    /// `s3://bucket/key` naming an object: the key is not empty and does not end in `/`.
    pub fn object(url: &str) -> Option<S3Url> {
        S3Url::parse(url)
            .ok()
            .filter(|u| !u.key.is_empty() && !u.key.ends_with('/'))
    }

    /// The key without the slashes around it: the prefix objects are put under with `/`.
    pub fn prefix_trimmed(&self) -> &str {
        self.key.trim_matches('/')
    }
}

impl std::fmt::Display for S3Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_bucket_and_key_under_one_bucket_rule() {
        let u = S3Url::parse("s3://my-bucket/lava/ami/").unwrap();
        assert_eq!(
            (u.bucket.as_str(), u.key.as_str()),
            ("my-bucket", "lava/ami/")
        );
        assert_eq!(u.prefix_trimmed(), "lava/ami");
        assert_eq!(u.to_string(), "s3://my-bucket/lava/ami/");
        assert_eq!(S3Url::parse("s3://b.c-d").unwrap().key, "");
        assert_eq!(S3Url::parse("https://b/k"), Err(S3UrlError::NotS3));
        assert_eq!(S3Url::parse("s3:///k"), Err(S3UrlError::NoBucket));
        for bad in ["ab", "My_Bucket", "-abc", "abc.", &"a".repeat(64)] {
            assert_eq!(
                S3Url::parse(&format!("s3://{bad}/k")),
                Err(S3UrlError::BadBucket(bad.to_string())),
                "{bad}"
            );
        }
        assert!(S3Url::object("s3://bucket/a/b.sh").is_some());
        for not_object in ["s3://bucket", "s3://bucket/", "s3://bucket/dir/"] {
            assert_eq!(S3Url::object(not_object), None, "{not_object}");
        }
    }
}
