//! The AMI lifecycle, what EC2 Image Builder's distribution settings and lifecycle policies do:
//! publishing the current AMI of each kind in SSM, copying AMIs to other regions, and pruning old
//! AMIs and their snapshots without ever touching one that a stack, a launch template or a
//! published parameter still uses.
pub mod build;
pub mod copy;
pub mod error;
pub mod images;
pub mod prune;
pub mod publish;
pub mod usage;

pub use error::LifecycleError;
