//! Integration tests: one binary, a module per area.
mod amicontent;
mod common;
mod config;
mod errors;
mod packer;
mod plan;
mod sync;
