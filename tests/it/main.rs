//! Integration tests: one binary, a module per area.
mod amicontent;
mod common;
mod config;
mod errors;
mod images;
mod images_registry;
mod imds;
mod packer;
mod plan;
mod rc;
mod stacks;
mod sync;
mod worker_stack;
