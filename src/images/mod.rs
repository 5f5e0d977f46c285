//! Docker images: the lava images' inputs, BuildKit builds per platform, checks.
//! The engine itself is `crate::engine`, pushes and credentials are `crate::registry`.
pub mod checks;
pub mod inputs;
pub mod pipeline;
