//! lava-build: the library behind the `lava-build`, `lava-ami` and `lava-rc` binaries.
//!
//! The rooms behind lava-build and lava-ami need the `build` feature (on by default); the boot
//! agent, lava-rc, is built without it (`cargo build --no-default-features --bin lava-rc`) and uses
//! only `aws`, `config` (validation, S3 URLs), `error`, `output`, `rc`, `tls`, `version` and
//! `cli::rc`.
#[cfg(feature = "build")]
pub mod ami;
pub mod aws;
#[cfg(feature = "build")]
pub mod bundle;
pub mod cli;
pub mod config;
#[cfg(feature = "build")]
pub mod engine;
pub mod error;
#[cfg(feature = "build")]
pub mod git;
#[cfg(feature = "build")]
pub mod ignore;
#[cfg(feature = "build")]
pub mod images;
#[cfg(feature = "build")]
pub mod job;
#[cfg(feature = "build")]
pub mod lifecycle;
pub mod output;
#[cfg(feature = "build")]
pub mod packer;
#[cfg(feature = "build")]
pub mod payload;
pub mod rc;
#[cfg(feature = "build")]
pub mod registry;
#[cfg(feature = "build")]
pub mod stacks;
#[cfg(feature = "build")]
pub mod sync;
pub mod tls;
pub mod version;
