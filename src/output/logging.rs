//! The one logging set-up of the three binaries: tracing records on stderr (or appended to a file),
//! at a level from `-v` or `--log-level` unless `RUST_LOG` says otherwise, and an optional extra
//! layer (lava-rc's syslog copy of the boot steps' records).
use std::path::PathBuf;
use tracing_subscriber::filter::{EnvFilter, FilterFn};
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::layer::{Layered, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, Registry};

/// The most detailed records shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Level {
    Error,
    Warn,
    #[default]
    Info,
    Debug,
    Trace,
}

impl Level {
    /// `base` raised by `-v` flags: once to debug, twice or more to trace (never lowered).
    pub fn raised(self, verbose: u8) -> Level {
        match verbose {
            0 => self,
            1 => self.max(Level::Debug),
            _ => Level::Trace,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warn => "warn",
            Level::Info => "info",
            Level::Debug => "debug",
            Level::Trace => "trace",
        }
    }
}

/// What an extra layer is stacked on: the registry behind the level filter.
pub type Base = Layered<EnvFilter, Registry>;
/// An extra layer for every record the level lets through.
pub type Extra = Box<dyn Layer<Base> + Send + Sync>;
/// Decides, per record, whether it is written on stderr (or the log file).
pub type Keep = Box<dyn Fn(&tracing::Metadata<'_>) -> bool + Send + Sync>;

/// How a binary logs.
#[derive(Default)]
pub struct Setup {
    /// Our own crates' level (other crates log warnings and errors only).
    pub level: Level,
    /// Append records to this file instead of writing them on stderr.
    pub file: Option<PathBuf>,
    /// Never colour, even on a terminal.
    pub no_colour: bool,
    /// Which records the stderr (or file) output keeps; all when `None`.
    pub keep: Option<Keep>,
    /// A layer beside the stderr output (e.g. syslog).
    pub extra: Option<Extra>,
}

/// Why logging could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("--log {}: cannot open it for appending", path.display())]
    File {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Installs the set-up as the process's subscriber (once; a second call changes nothing).
pub fn init(setup: Setup) -> Result<(), LogError> {
    let level = setup.level.as_str();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new(format!(
            "warn,lava_build={level},lava_ami={level},lava_rc={level}"
        ))
    });
    let fmt = tracing_subscriber::fmt::layer()
        .without_time()
        .with_target(false);
    let fmt = match &setup.file {
        Some(path) => {
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|source| LogError::File {
                    path: path.clone(),
                    source,
                })?;
            fmt.with_ansi(false)
                .with_writer(BoxMakeWriter::new(std::sync::Mutex::new(f)))
        }
        None => fmt
            .with_ansi(!setup.no_colour && super::colour_on_stderr())
            .with_writer(BoxMakeWriter::new(std::io::stderr)),
    };
    let output: Extra = match setup.keep {
        Some(keep) => Box::new(fmt.with_filter(FilterFn::new(move |m| keep(m)))),
        None => Box::new(fmt),
    };
    let layers: Vec<Extra> = std::iter::once(output).chain(setup.extra).collect();
    // Only a subscriber installed earlier (a test harness) makes this fail: keep that one.
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(layers)
        .try_init();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Level;

    #[test]
    fn verbose_flags_raise_the_level_and_never_lower_it() {
        assert_eq!(Level::Info.raised(0), Level::Info);
        assert_eq!(Level::Warn.raised(1), Level::Debug);
        assert_eq!(Level::Trace.raised(1), Level::Trace);
        assert_eq!(Level::Error.raised(2), Level::Trace);
    }
}
