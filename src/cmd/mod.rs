//! One module per subcommand: each owns its clap `Args` and an async `run`.
pub mod ami;
pub mod bundle;
pub mod images;
pub mod payload;
pub mod sync;
