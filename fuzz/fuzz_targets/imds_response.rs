//! Fuzz target: see `harness::imds_response`.
#![no_main]

use lava_build_fuzz::parsers;

#[allow(dead_code)] // each target uses one of the harness functions
#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::imds_response(data));
