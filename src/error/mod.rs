//! How errors end a process, in one place: the exit status from the error's kind (usage and
//! configuration errors 2, run-time failures 1, or a status an error carries) and the one-line
//! text of an error and its causes. This room imports no other: a room says what kind its errors
//! are with [`ConfigError`], [`usage`] or [`with_status`].
pub mod config;

pub use config::ConfigError;

/// Exit status for usage and configuration errors.
pub const EXIT_USAGE: i32 = 2;
/// Exit status for failures at run time.
pub const EXIT_FAILURE: i32 = 1;

/// What an error is, for the exit status: the user's input is wrong, or the work failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A bad flag, parameter, value or configuration file: fixing the input fixes it.
    Usage,
    /// The work failed (I/O, a service, a program): the input may be right.
    Runtime,
}

impl Kind {
    /// The one mapping of kinds to exit statuses: usage 2, run time 1.
    pub fn exit_status(self) -> i32 {
        match self {
            Kind::Usage => EXIT_USAGE,
            Kind::Runtime => EXIT_FAILURE,
        }
    }
}

/// A usage error of a kind that is not a [`ConfigError`] (e.g. a flag another module rejects),
/// marked so that [`kind`] classifies it as [`Kind::Usage`]. Reads as its cause.
#[derive(Debug, thiserror::Error)]
#[error("{source}")]
pub struct UsageError {
    #[source]
    source: Box<dyn std::error::Error + Send + Sync + 'static>,
}

impl UsageError {
    /// Marks `err` as the user's mistake, for a typed error that keeps it as a source.
    pub fn new(err: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>) -> Self {
        UsageError { source: err.into() }
    }
}

/// Marks `err` as the user's mistake (exit status 2). Only for input errors: an I/O or service
/// failure met while acting on valid input stays a run-time error.
pub fn usage(err: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>) -> anyhow::Error {
    UsageError::new(err).into()
}

/// An error that ends the process with a status of its own, not its kind's (a docker job's failed
/// run: 1, or the container's status with `job run --exit-status container`). Reads as its cause.
#[derive(Debug, thiserror::Error)]
#[error("{source}")]
pub struct WithStatus {
    status: i32,
    #[source]
    source: Box<dyn std::error::Error + Send + Sync + 'static>,
}

/// `err`, ending the process with `status`.
pub fn with_status(
    status: i32,
    err: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
) -> anyhow::Error {
    WithStatus {
        status,
        source: err.into(),
    }
    .into()
}

/// The kind of `err`: usage when any error in its chain is a [`ConfigError`] or a [`UsageError`].
pub fn kind(err: &anyhow::Error) -> Kind {
    let is_usage = err
        .chain()
        .any(|c| c.is::<ConfigError>() || c.is::<UsageError>());
    if is_usage { Kind::Usage } else { Kind::Runtime }
}

/// The exit status an error should end the process with.
pub fn exit_code(err: &anyhow::Error) -> i32 {
    if let Some(w) = err.chain().find_map(|c| c.downcast_ref::<WithStatus>()) {
        return w.status;
    }
    kind(err).exit_status()
}

/// An error and its causes on one line: `a: b: c` (a cause whose text its parent already shows
/// is left out).
pub fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(err);
    while let Some(cause) = next {
        let text = cause.to_string().replace('\n', " ");
        if parts.last().is_none_or(|last| !last.contains(&text)) {
            parts.push(text);
        }
        next = cause.source();
    }
    parts.join(": ")
}

/// The error and its causes on one line: `a: b: c`.
pub fn one_line(err: &anyhow::Error) -> String {
    chain(err.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_follows_the_chain() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "gone");
        let runtime = anyhow::Error::new(io).context("reading the context");
        assert_eq!(kind(&runtime), Kind::Runtime);
        assert_eq!(exit_code(&runtime), 1);
        let config = anyhow::Error::new(ConfigError::invalid("ip", "x", "public or private"))
            .context("resolving");
        assert_eq!(exit_code(&config), 2);
        let marked = usage("--platform: expected linux/amd64 or linux/arm64");
        assert_eq!(kind(&marked), Kind::Usage);
        assert_eq!(
            one_line(&marked),
            "--platform: expected linux/amd64 or linux/arm64"
        );
    }
}
