//! Output rules shared by the binaries: logs on stderr (colour only on a TTY and never with
//! `NO_COLOR`), results on stdout as text tables or JSON.
pub mod progress;

use comfy_table::{ContentArrangement, Table, presets};
use std::io::IsTerminal;

/// How results are printed on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
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

/// Sets up tracing to stderr. `verbose` raises the level; `RUST_LOG` overrides both.
pub fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!(
            "warn,lava_build={level},lava_build_cli={level}"
        ))
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour_on_stderr())
        .with_target(false)
        .without_time()
        .try_init();
}

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
