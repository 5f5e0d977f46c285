//! The lava AMI model, shared by lava-ami's stack view (`stacks`) and the AMI lifecycle
//! (`lifecycle`): kinds, lava AMIs, their build time, and the publish prefix.
pub mod built;
pub mod model;
pub mod prefix;
