//! lava-build: the library behind the `lava-build`, `lava-ami` and `lava-rc` binaries.
pub mod aws;
pub mod bundle;
pub mod cmd;
pub mod config;
pub mod engine;
pub mod error;
pub mod images;
pub mod output;
pub mod packer;
pub mod payload;
pub mod rc;
pub mod registry;
pub mod stacks;
pub mod sync;
pub mod tls;
