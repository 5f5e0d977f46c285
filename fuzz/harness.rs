//! What each fuzz target does with one input. Shared by the fuzz targets (nightly, libFuzzer)
//! and by `tests/it/fuzz_corpus.rs`, which replays every committed corpus and crash file on
//! stable, so a crash once found stays a regression test. Every function must return for any
//! input without panicking; results are consumed, errors are fine. `super::parsers` is the
//! parser modules: lava_build's in the test, the same source files compiled by fuzz/lib.rs here.
use super::parsers;

/// User data as IMDS hands it over (JSON object, maybe gzip), then every step's reading of it.
pub fn userdata(data: &[u8]) {
    use parsers::userdata;
    let Ok(Some(map)) = userdata::parse(data) else {
        return;
    };
    let _ = userdata::unknown_keys(&map);
    let _ = userdata::log_summary(&map);
    for (key, value) in &map {
        match key.as_str() {
            "shell0" | "shell" => drop(userdata::commands(key, value)),
            "swap" => drop(userdata::swap(value)),
            "crontab" => drop(userdata::crontab(value)),
            _ => {}
        }
        if let Some(s) = value.as_str() {
            let _ = userdata::s3_location(s);
        }
    }
}

/// An answer of the instance metadata service as the agent reads it off the socket (status line,
/// headers, Content-Length or chunked body).
pub fn imds_response(data: &[u8]) {
    if let Ok(r) = parsers::http::parse_response(data) {
        assert!(r.body.len() <= data.len(), "a body longer than the input");
    }
}

/// A deploy-format file: YAML, the `dev` environment, then resolution of every parameter with
/// the real `ami/ami-build.yaml`. Input: the file's text; after a NUL byte, `key=value` words.
pub fn deploy_config(data: &[u8]) {
    use parsers::config::{self, AmiBuild, Context, DeployAmi, Source, Sourced, yaml::YamlDoc};
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (file, words) = text.split_once('\0').unwrap_or((text, ""));
    let Ok(doc) = YamlDoc::parse("fuzz.yaml", file) else {
        return;
    };
    let Ok(deploy) = DeployAmi::from_doc(&doc, "dev") else {
        return;
    };
    let words: Vec<String> = words.split_whitespace().map(str::to_string).collect();
    let Ok(cli) = config::parse_cli(&words) else {
        return;
    };
    let build_doc = YamlDoc::parse("ami-build.yaml", include_str!("../ami/ami-build.yaml"))
        .expect("ami/ami-build.yaml parses");
    let build = AmiBuild::from_doc(&build_doc).expect("ami/ami-build.yaml is valid");
    let ctx = Context {
        ambient_region: Some(Sourced::new("us-east-1".to_string(), Source::Default)),
        build_time: chrono::DateTime::from_timestamp(1_751_445_828, 0).expect("a valid time"),
    };
    if let Ok(params) = config::resolve(
        &cli,
        Some(Sourced::new("fuzz.yaml".to_string(), Source::Cli)),
        Some(Sourced::new("dev".to_string(), Source::Cli)),
        Some(&deploy),
        &build,
        &ctx,
    ) {
        let _ = params.rows();
        let _ = params.s3_url();
        let _ = params.run_name();
    }
}

/// Packer's manifest file, then the selection of this run's AMIs.
pub fn packer_manifest(data: &[u8]) {
    use parsers::manifest::Manifest;
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(manifest) = Manifest::parse(text) else {
        return;
    };
    let before = manifest.run_ids();
    let _ = manifest.this_run(&Default::default(), "build-1", |id| {
        Some(format!("name-{id}"))
    });
    let _ = manifest.this_run(&before, "build-1", |_| None);
}

/// `images/checks.yaml`, then the checks of each type judged against the input as output.
pub fn checks_yaml(data: &[u8]) {
    use parsers::checks::{self, CheckFile};
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(file) = serde_yaml::from_str::<CheckFile>(text) else {
        return;
    };
    for kind in ["base", "full"] {
        for check in checks::for_type(&file, kind) {
            for platform in ["linux/amd64", "linux/arm64"] {
                let _ = checks::judge(check, platform, 0, text);
            }
        }
    }
}
