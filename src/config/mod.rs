//! Configuration: deploy-format YAML, `ami/ami-build.yaml`, command-line overrides, and their
//! resolution into validated AMI build parameters. Pure: no AWS calls happen here.
#[cfg(feature = "build")]
pub mod ami_build;
#[cfg(feature = "build")]
pub mod cli;
#[cfg(feature = "build")]
pub mod deploy;
pub mod error;
#[cfg(feature = "build")]
pub mod lifecycle;
#[cfg(feature = "build")]
pub mod params;
#[cfg(feature = "build")]
pub mod s3;
pub mod s3url;
pub mod source;
pub mod validate;
#[cfg(feature = "build")]
pub mod yaml;

#[cfg(feature = "build")]
pub use ami_build::AmiBuild;
#[cfg(feature = "build")]
pub use cli::{DeployChoice, PARAMS, parse_cli};
#[cfg(feature = "build")]
pub use deploy::DeployAmi;
pub use error::ConfigError;
#[cfg(feature = "build")]
pub use params::{AmiParams, ArchTarget, Context, resolve};
pub use source::{Source, Sourced};
pub use validate::{Arch, IpMode, SecurityGroups, SshInterface};
