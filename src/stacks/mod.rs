//! `lava-ami`: lava AMIs and the AMI of every lava worker stack, side by side; safe roll-outs.

pub mod error;
pub mod fetch;
pub mod model;
pub mod prompt;
pub mod replace;
pub mod update;
pub mod wait;
