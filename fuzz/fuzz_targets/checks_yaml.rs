//! Fuzz target: see `harness::checks_yaml`.
#![no_main]

#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::checks_yaml(data));
