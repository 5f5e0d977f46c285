//! Our own rules over the GitHub workflows (actionlint, in `make lint`, checks the rest): caches are
//! saved by pushes to main only, zstd may overwrite a restored file, artifacts may be uploaded
//! again by a re-run, a release's version comes from scripts/release/version.sh (never from the
//! ref a run was started on), and the images workflow runs on every change to what builds them.
//! Each rule is shown to find its defect in tests/fixtures/workflows/defects.yml.
use crate::common::root;
use serde_yaml::Value;
use std::process::Command;

/// A workflow's steps: (job, step name, step).
fn steps(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    let Some(jobs) = doc.get("jobs").and_then(Value::as_mapping) else {
        return out;
    };
    for (job, body) in jobs {
        let job = job.as_str().unwrap_or_default().to_string();
        for step in body
            .get("steps")
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
        {
            let name = step
                .get("name")
                .or_else(|| step.get("uses"))
                .and_then(Value::as_str)
                .unwrap_or("(unnamed)")
                .to_string();
            out.push((job.clone(), name, step.clone()));
        }
    }
    out
}

fn field<'a>(step: &'a Value, key: &str) -> &'a str {
    step.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// Every defect the rules find in one workflow document, one line each.
fn defects(doc: &Value) -> Vec<String> {
    let mut found = Vec::new();
    for (job, name, step) in steps(doc) {
        let uses = field(&step, "uses");
        let run = field(&step, "run");
        let cond = field(&step, "if");
        let at = format!("{job}/{name}");
        if uses.starts_with("actions/cache@") {
            found.push(format!(
                "{at}: actions/cache saves on every event; restore with actions/cache/restore and save on main"
            ));
        }
        if uses.starts_with("actions/cache/save@")
            && !(cond.contains("github.ref == 'refs/heads/main'")
                && cond.contains("github.event_name == 'push'"))
        {
            found.push(format!(
                "{at}: a cache saved outside pushes to main evicts main's"
            ));
        }
        if uses.starts_with("actions/upload-artifact@")
            && step.get("with").and_then(|w| w.get("overwrite")) != Some(&Value::Bool(true))
        {
            found.push(format!(
                "{at}: upload-artifact without overwrite: true fails on a re-run"
            ));
        }
        for line in run
            .lines()
            .filter(|l| l.contains("zstd ") && l.contains(" -o "))
        {
            let words: Vec<&str> = line.split_whitespace().collect();
            let zstd = words.iter().position(|w| *w == "zstd").unwrap_or(0);
            if !words[zstd..].iter().any(|w| *w == "-f" || *w == "--force") {
                found.push(format!(
                    "{at}: zstd -o without -f refuses a file a cache restore left there"
                ));
            }
        }
        if (run.contains("curl ") || run.contains("wget ")) && run.contains("/latest/") {
            found.push(format!(
                "{at}: a download from a moving /latest/ URL; use a versioned one and check its signature or SHA-256"
            ));
        }
        if run.contains("toolchain stable")
            || run.contains("default stable")
            || run.contains("--default-toolchain stable")
        {
            found.push(format!(
                "{at}: the Rust toolchain moves with `stable`; install the pinned $RUST_TOOLCHAIN"
            ));
        }
        if run.contains("GITHUB_REF_NAME") || run.contains("github.ref_name") {
            found.push(format!(
                "{at}: the version comes from scripts/release/version.sh, not the ref name"
            ));
        }
    }
    found
}

/// The paths of `on.<event>.paths` of a workflow.
fn paths(doc: &Value, event: &str) -> Vec<String> {
    doc.get("on")
        .and_then(|on| on.get(event))
        .and_then(|e| e.get("paths"))
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
        .filter_map(|p| p.as_str().map(str::to_string))
        .collect()
}

/// What the images are built by: a change to any of it must run images-pr.yml.
const IMAGES_INPUTS: [&str; 4] = ["images/**", "src/**", "Cargo.lock", "Makefile"];

fn missing_image_paths(doc: &Value) -> Vec<String> {
    let mut missing = Vec::new();
    for event in ["pull_request", "push"] {
        let have = paths(doc, event);
        for p in IMAGES_INPUTS {
            if !have.iter().any(|h| h == p) {
                missing.push(format!("on.{event}.paths lacks {p}"));
            }
        }
    }
    missing
}

fn load(path: &std::path::Path) -> Value {
    serde_yaml::from_str(&std::fs::read_to_string(path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn every_workflow_keeps_the_rules() {
    let dir = root().join(".github/workflows");
    let mut all = Vec::new();
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yml") {
            count += 1;
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            all.extend(
                defects(&load(&path))
                    .into_iter()
                    .map(|d| format!("{name}: {d}")),
            );
        }
    }
    assert!(count >= 4, "workflows found: {count}");
    assert!(all.is_empty(), "{}", all.join("\n"));
    let pr = load(&dir.join("images-pr.yml"));
    assert_eq!(missing_image_paths(&pr), Vec::<String>::new());
}

#[test]
fn each_rule_finds_its_defect() {
    let doc = load(&root().join("tests/fixtures/workflows/defects.yml"));
    let found = defects(&doc);
    let expect = [
        "defects/combined cache (saves on every event): actions/cache saves on every event",
        "defects/save on a PR or a tag: a cache saved outside pushes to main",
        "defects/zstd refuses an existing output after a partial restore: zstd -o without -f",
        "defects/re-run fails on an existing artifact: upload-artifact without overwrite: true",
        "defects/version from whatever ref the run was started on: the version comes from",
        "defects/a plugin from a moving URL: a download from a moving /latest/ URL",
        "defects/whatever Rust is stable today: the Rust toolchain moves with `stable`",
    ];
    assert_eq!(found.len(), expect.len(), "{found:#?}");
    for (f, e) in found.iter().zip(expect) {
        assert!(f.starts_with(e), "{f} should start with {e}");
    }
    assert_eq!(
        missing_image_paths(&doc),
        [
            "on.pull_request.paths lacks src/**",
            "on.pull_request.paths lacks Cargo.lock",
            "on.pull_request.paths lacks Makefile",
            "on.push.paths lacks images/**",
            "on.push.paths lacks src/**",
            "on.push.paths lacks Cargo.lock",
            "on.push.paths lacks Makefile",
        ]
    );
}

/// scripts/release/version.sh in a repository of its own with the tags v8.3.0 and v8.4.0rc1.
fn release_version(args: &[&str]) -> (Option<i32>, String, String) {
    let repo = tempfile::tempdir().unwrap();
    let git = |a: &[&str]| {
        let o = Command::new("git")
            .current_dir(repo.path())
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(a)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "git {a:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    git(&["init", "-q"]);
    git(&["commit", "-q", "--allow-empty", "-m", "one"]);
    git(&["tag", "v8.3.0"]);
    git(&["tag", "v8.4.0rc1"]);
    let o = Command::new(root().join("scripts/release/version.sh"))
        .current_dir(repo.path())
        .args(args)
        .output()
        .unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn a_release_builds_the_tag_of_its_version_and_only_a_release_moves_latest() {
    let (code, out, err) = release_version(&["push", "tag", "v8.3.0", ""]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out, "version=8.3.0\nref=refs/tags/v8.3.0\nlatest=true\n");
    let (code, out, err) = release_version(&["workflow_dispatch", "branch", "main", "8.4.0rc1"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        out,
        "version=8.4.0rc1\nref=refs/tags/v8.4.0rc1\nlatest=false\n"
    );
}

#[test]
fn a_release_without_a_version_and_its_tag_is_refused_naming_the_value() {
    for (args, says) in [
        (
            ["workflow_dispatch", "branch", "main", ""],
            "a manual run needs the version input",
        ),
        (
            ["workflow_dispatch", "branch", "main", "9.9.9"],
            "version '9.9.9': there is no tag v9.9.9",
        ),
        (
            ["push", "branch", "main", ""],
            "a push of branch 'main' is not a release",
        ),
        (
            ["push", "tag", "v8.3.0", "8.4.0rc1"],
            "version input '8.4.0rc1' differs from the tag 'v8.3.0'",
        ),
        (
            ["workflow_dispatch", "branch", "main", "main"],
            "version 'main': expected X.Y.Z",
        ),
    ] {
        let (code, out, err) = release_version(&args);
        assert_eq!(code, Some(2), "{args:?}: {out}{err}");
        assert_eq!(out, "", "{args:?}");
        assert!(err.contains(says), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    }
}
