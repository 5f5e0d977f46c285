//! Packer: template rendering, the installed version, the runner and the manifest.
pub mod agent;
pub mod bucket_key;
pub mod build;
pub mod downloads;
pub mod manifest;
pub mod render;
pub mod runner;
pub mod tarball;
pub mod version;
