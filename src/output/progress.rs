//! The one reporter for progress on stderr: build steps, pushes, syncs, waits. Every line of
//! progress goes through here (never a bare `eprintln!`), one whole line at a time under the
//! stderr lock, so parallel builds and pushes never interleave within a line.
use std::fmt::Display;
use std::io::Write;

/// Writes `prefix text` (or `text` alone when `prefix` is empty) as one line on stderr.
pub fn line(prefix: &str, text: impl Display) {
    let mut err = std::io::stderr().lock();
    // Progress that cannot reach stderr has nowhere else to go; the work itself goes on.
    let _ = if prefix.is_empty() {
        writeln!(err, "{text}")
    } else {
        writeln!(err, "{prefix} {text}")
    };
}

/// `note: text`: something the user should know that is not a failure.
pub fn note(text: impl Display) {
    line("note:", text);
}

/// `warning: text`: something went wrong but the work goes on (say what was lost and why).
pub fn warn(text: impl Display) {
    line("warning:", text);
}

/// `error: text`: the final error line of a command (see [`report`]).
pub fn error(text: impl Display) {
    line("error:", text);
}

/// Prints `error: …` on stderr and returns the exit status for `err`.
pub fn report(err: &anyhow::Error) -> i32 {
    error(crate::error::one_line(err));
    crate::error::exit_code(err)
}

/// `report` for a command whose own error type decides the exit status (lava-rc's, s3run's):
/// prints `<prefix>error: …` once (`prefix` e.g. `s3run: `, or empty) and returns `status`.
pub fn report_status(prefix: &str, err: &anyhow::Error, status: i32) -> i32 {
    line(&format!("{prefix}error:"), crate::error::one_line(err));
    status
}
