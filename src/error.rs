//! Mapping errors to exit statuses: 2 for usage and configuration errors, 1 for run-time failures.
use crate::config::ConfigError;

/// Exit status for usage and configuration errors.
pub const EXIT_USAGE: i32 = 2;
/// Exit status for failures at run time.
pub const EXIT_FAILURE: i32 = 1;

/// The exit status an error should end the process with.
pub fn exit_code(err: &anyhow::Error) -> i32 {
    // A docker job's failed run carries its own status (`job run --exit-status container`).
    if let Some(f) = err
        .chain()
        .find_map(|c| c.downcast_ref::<crate::job::RunFailed>())
    {
        return f.exit_status;
    }
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
