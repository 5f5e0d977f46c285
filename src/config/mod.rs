//! Configuration: deploy-format YAML, `ami/ami-build.yaml`, command-line overrides, and their
//! resolution into validated AMI build parameters. Pure: no AWS calls happen here.
pub mod ami_build;
pub mod deploy;
pub mod error;
pub mod lifecycle;
pub mod params;
pub mod source;
pub mod validate;
pub mod yaml;

pub use ami_build::AmiBuild;
pub use deploy::DeployAmi;
pub use error::ConfigError;
pub use params::{AmiParams, ArchTarget, Context, PARAMS, parse_cli, resolve};
pub use source::{Source, Sourced};
