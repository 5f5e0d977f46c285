//! Where a resolved value came from, so `--plan` can show it and errors can point at it.
use serde::Serialize;
use std::fmt;

/// The origin of one resolved parameter value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `key=value` on the command line.
    Cli,
    /// A deploy-format config file, with the line of the key when it could be found.
    File { path: String, line: Option<usize> },
    /// `ami/ami-build.yaml` (per-os or per-arch default).
    AmiBuild { path: String, line: Option<usize> },
    /// An environment variable such as `AWS_REGION`.
    Env(String),
    /// The region of an AWS profile in the shared config file.
    Profile(String),
    /// An SSM public parameter read at resolution time.
    Ssm(String),
    /// The default encryption of an S3 bucket, read at resolution time.
    BucketEncryption(String),
    /// A built-in default of this tool.
    Default,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Cli => f.write_str("cli"),
            Source::File {
                path,
                line: Some(l),
            }
            | Source::AmiBuild {
                path,
                line: Some(l),
            } => {
                write!(f, "{path}:{l}")
            }
            Source::File { path, line: None } | Source::AmiBuild { path, line: None } => {
                f.write_str(path)
            }
            Source::Env(var) => write!(f, "env {var}"),
            Source::Profile(p) => write!(f, "profile {p}"),
            Source::Ssm(name) => write!(f, "ssm {name}"),
            Source::BucketEncryption(bucket) => write!(f, "encryption of s3://{bucket}"),
            Source::Default => f.write_str("default"),
        }
    }
}

impl Serialize for Source {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A value together with its origin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sourced<T> {
    pub value: T,
    pub source: Source,
}

impl<T> Sourced<T> {
    pub fn new(value: T, source: Source) -> Self {
        Sourced { value, source }
    }
}
