//! Output rules shared by the binaries: logs on stderr (colour only on a TTY and never with
//! `NO_COLOR`), results on stdout as text tables or JSON.
pub mod logging;
pub mod progress;

#[cfg(feature = "build")]
use comfy_table::{ContentArrangement, Table, presets};
use std::io::IsTerminal;

/// How results are printed on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// Tables and lines for people.
    #[default]
    Text,
    /// One JSON document for machines.
    Json,
}

/// Whether colour may be used on stderr.
pub fn colour_on_stderr() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}

/// Whether colour may be used on stdout.
pub fn colour_on_stdout() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
}

#[cfg(feature = "build")]
/// A table with a header row, sized to the terminal when there is one.
pub fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(presets::UTF8_BORDERS_ONLY)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(header.to_vec());
    if !colour_on_stdout() {
        t.force_no_tty();
    }
    t
}

/// Prints a serialisable value as pretty JSON on stdout.
pub fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}
