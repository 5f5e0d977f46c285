//! Docker images: build context, BuildKit builds per platform, OCI index, registry pushes, checks.
pub mod auth;
pub mod checks;
pub mod context;
pub mod engine;
pub mod index;
pub mod inputs;
pub mod pipeline;
pub mod registry;
