//! The parsers of untrusted input, compiled from the main crate's own source files (the same
//! files, not copies), for the fuzz targets.
#![allow(dead_code)]

#[path = "../src/images/checks.rs"]
pub mod checks;
#[path = "../src/config/mod.rs"]
pub mod config;
#[path = "../src/rc/http.rs"]
pub mod http;
#[path = "../src/packer/manifest.rs"]
pub mod manifest;
#[path = "../src/rc/userdata.rs"]
pub mod userdata;

/// The parser modules, under the names the shared harness uses.
pub mod parsers {
    pub use crate::{checks, config, http, manifest, userdata};
}
