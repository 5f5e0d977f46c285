//! Configuration errors: the project-wide usage error, defined in the error room (`crate::error`)
//! so that deciding an exit status needs no room of its own.
pub use crate::error::config::{ConfigError, nearest};
