//! Integration tests: one binary, a module per area.
mod al2023;
mod amicontent;
mod common;
mod config;
mod errors;
mod fuzz_corpus;
mod images;
mod images_engine;
mod images_registry;
mod images_steps;
mod imds;
mod lab;
mod packer;
mod plan;
mod rc;
mod stacks;
mod sync;
