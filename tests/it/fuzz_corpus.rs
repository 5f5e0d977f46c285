//! Replays every committed fuzz input (fuzz/corpus/<target>/ and the crashes kept in
//! fuzz/regressions/<target>/) through the same harness the fuzz targets use, on stable, so what
//! the fuzzer once found stays tested. `make fuzz` grows the corpus (nightly, cargo-fuzz).
#[path = "../../fuzz/harness.rs"]
mod harness;

/// The parser modules the harness exercises.
mod parsers {
    pub use lava_build::config;
    pub use lava_build::images::checks;
    pub use lava_build::packer::manifest;
    pub use lava_build::rc::http;
    pub use lava_build::rc::userdata;
}

use std::path::Path;

/// A fuzz target's name and what it does with one input.
type Target = (&'static str, fn(&[u8]));

const TARGETS: [Target; 5] = [
    ("userdata", harness::userdata),
    ("deploy_config", harness::deploy_config),
    ("packer_manifest", harness::packer_manifest),
    ("checks_yaml", harness::checks_yaml),
    ("imds_response", harness::imds_response),
];

fn inputs(dir: &Path) -> Vec<std::path::PathBuf> {
    match std::fs::read_dir(dir) {
        Ok(d) => d.map(|e| e.unwrap().path()).collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => panic!("{}: {e}", dir.display()),
    }
}

#[test]
fn every_committed_fuzz_input_is_handled_without_a_panic() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    for (target, run) in TARGETS {
        let corpus = inputs(&fuzz.join("corpus").join(target));
        assert!(
            corpus.len() >= 2,
            "fuzz/corpus/{target} has {} inputs; the seeds are committed",
            corpus.len()
        );
        for path in corpus
            .iter()
            .chain(&inputs(&fuzz.join("regressions").join(target)))
        {
            let data = std::fs::read(path).unwrap();
            if std::panic::catch_unwind(|| run(&data)).is_err() {
                panic!("{target}: {} panics", path.display());
            }
        }
    }
}
