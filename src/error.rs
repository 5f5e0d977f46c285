//! Mapping errors to exit statuses: 2 for usage and configuration errors, 1 for run-time failures.
use crate::config::ConfigError;

/// Exit status for usage and configuration errors.
pub const EXIT_USAGE: i32 = 2;
/// Exit status for failures at run time.
pub const EXIT_FAILURE: i32 = 1;

/// The exit status an error should end the process with.
pub fn exit_code(err: &anyhow::Error) -> i32 {
    if err
        .chain()
        .any(|c| c.downcast_ref::<ConfigError>().is_some())
    {
        EXIT_USAGE
    } else {
        EXIT_FAILURE
    }
}

/// The error and its causes on one line: `a: b: c`.
pub fn one_line(err: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in err.chain() {
        let text = cause.to_string().replace('\n', " ");
        if parts.last().is_none_or(|last| !last.contains(&text)) {
            parts.push(text);
        }
    }
    parts.join(": ")
}

/// Prints `error: …` on stderr and returns the exit status for `err`.
pub fn report(err: &anyhow::Error) -> i32 {
    crate::output::progress::error(one_line(err));
    exit_code(err)
}

/// `report` for a command whose own error type decides the exit status (lava-rc's, s3run's):
/// prints `<prefix>error: …` once (`prefix` e.g. `s3run: `, or empty) and returns `status`.
pub fn report_status(prefix: &str, err: &anyhow::Error, status: i32) -> i32 {
    crate::output::progress::line(&format!("{prefix}error:"), one_line(err));
    status
}
