//! Fuzz target: see `harness::packer_manifest`.
#![no_main]

#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::packer_manifest(data));
