//! Configuration: deploy-format YAML, `ami/ami-build.yaml`, command-line overrides, and their
//! resolution into validated AMI build parameters. Pure: no AWS calls happen here.
pub mod ami_build;
pub mod cli;
pub mod deploy;
pub mod error;
pub mod lifecycle;
pub mod params;
pub mod s3;
pub mod s3url;
pub mod source;
pub mod validate;
pub mod yaml;

pub use ami_build::AmiBuild;
pub use cli::{DeployChoice, PARAMS, parse_cli};
pub use deploy::DeployAmi;
pub use error::ConfigError;
pub use params::{AmiParams, ArchTarget, Context, resolve};
pub use source::{Source, Sourced};
pub use validate::{Arch, IpMode, SecurityGroups, SshInterface};
