//! The command lines of the three binaries: the only code that knows clap. Each command resolves
//! its arguments into plain requests, builds the AWS configuration once (from [`AwsArgs`]), starts
//! the runtime and turns errors into exit statuses ([`args`]); the rooms below take requests and
//! clients.
//!
//! - [`build`]: `lava-build` (ami, sync, images, bundle, payload, job, completions, man);
//! - [`ami`]: `lava-ami` (list, update, publish, copy, prune);
//! - [`rc`]: `lava-rc` (boot, show) and `s3run`.
#[cfg(feature = "build")]
pub mod ami;
pub mod args;
#[cfg(feature = "build")]
pub mod build;
pub mod rc;
mod values;

pub use args::AwsArgs;
