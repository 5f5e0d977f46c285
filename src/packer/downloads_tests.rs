//! The downloads lock: parsing, selection by scope, the checks of what is on disk.
use super::*;

const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

fn lock() -> Vec<Pin> {
    let text = format!(
        "# comment\n\
             tool-1.0.tar.gz all {A} https://example.org/tool-1.0.tar.gz\n\
             \n\
             Python-3.11.12.tar.xz python_version=3.11.12 {A} https://example.org/P-3.11.12\n\
             Python-3.13.5.tar.xz python_version=3.13.5 {A} https://example.org/P-3.13.5 # trailing\n\
             c-x86_64.rpm arch=x86_64 - https://example.org/x\n\
             c-aarch64.rpm arch=arm64 - https://example.org/a\n"
    );
    parse("downloads.lock", &text).unwrap()
}

fn sel<'a>(arches: Vec<&'a str>, py: &'a str) -> Selection<'a> {
    Selection {
        arches,
        python_version: py,
        region: "us-east-1",
    }
}

#[test]
fn selects_by_arch_and_python_version() {
    let pins = lock();
    let s = sel(vec!["x86_64"], "3.13.5");
    let files: Vec<&str> = select(&pins, &s)
        .unwrap()
        .iter()
        .map(|p| p.file.as_str())
        .collect();
    assert_eq!(
        files,
        ["tool-1.0.tar.gz", "Python-3.13.5.tar.xz", "c-x86_64.rpm"]
    );
    let both = sel(vec!["x86_64", "arm64"], "3.11.12");
    assert_eq!(select(&pins, &both).unwrap().len(), 4);
}

#[test]
fn an_unpinned_python_version_names_the_parameter_and_the_pinned_ones() {
    let pins = lock();
    let err = select(&pins, &sel(vec!["x86_64"], "3.11.9")).unwrap_err();
    assert_eq!(
        err,
        [Unpinned {
            param: "python_version".into(),
            value: "3.11.9".into(),
            pinned: vec!["3.11.12".into(), "3.13.5".into()],
        }]
    );
}

#[test]
fn bad_lines_name_the_line_and_the_column() {
    for (text, want) in [
        ("a all -\n", "downloads.lock:1: expected 4 columns"),
        (
            "a sometimes - https://x\n",
            "downloads.lock:1: scope \"sometimes\"",
        ),
        ("a all abc https://x\n", "downloads.lock:1: sha256 \"abc\""),
        ("a all - http://x\n", "downloads.lock:1: url \"http://x\""),
        ("d/a all - https://x\n", "expected a plain file name"),
        (
            "a all - https://x\na arch=x86_64 - https://y\n",
            "downloads.lock:2: file a is already listed on line 1",
        ),
    ] {
        let err = parse("downloads.lock", text).unwrap_err().to_string();
        assert!(err.contains(want), "{text:?}: {err}");
    }
}

/// A rotating CA bundle has no pinned sum: any current bundle of certificates is ready; a
/// missing file or one that is not certificates is not.
#[test]
fn a_ca_bundle_entry_needs_certificates_not_a_sum() {
    use base64::Engine as _;
    let dir = tempfile::tempdir().unwrap();
    // A DER SEQUENCE as long as a small certificate (the check looks at the form, not the CA).
    let mut der = vec![0x30, 0x82, 0x01, 0x00];
    der.resize(260, 7);
    let b64 = base64::engine::general_purpose::STANDARD.encode(&der);
    let pem = |n: usize| {
        (0..n)
            .map(|_| format!("-----BEGIN CERTIFICATE-----\n{b64}\n-----END CERTIFICATE-----\n"))
            .collect::<String>()
    };
    std::fs::write(dir.path().join("two.pem"), pem(2)).unwrap();
    std::fs::write(dir.path().join("three.pem"), pem(3)).unwrap();
    std::fs::write(dir.path().join("html.pem"), "<html>Access Denied</html>").unwrap();
    let text = "two.pem all ca-bundle https://x/two\nthree.pem all ca-bundle https://x/three\nhtml.pem all ca-bundle https://x/h\ngone.pem all ca-bundle https://x/g\n";
    let pins = parse("l", text).unwrap();
    assert!(pins.iter().all(|p| p.ca_bundle && p.sha256.is_none()));
    let needed: Vec<&Pin> = pins.iter().collect();
    let states = check(&needed, dir.path());
    assert_eq!(states[0].1, State::Ok);
    assert_eq!(states[1].1, State::Ok, "AWS added a CA: still ready");
    assert_eq!(
        states[2].1,
        State::NotCertificates {
            why: "no PEM certificate in it".into()
        }
    );
    assert_eq!(states[3].1, State::Missing);
}

#[test]
fn check_tells_missing_differing_unpinned_and_good_files_apart() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("good"), b"hello\n").unwrap();
    std::fs::write(dir.path().join("bad"), b"tampered\n").unwrap();
    // sha256("hello\n")
    let hello = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";
    let text = format!(
        "good all {hello} https://x/good\nbad all {hello} https://x/bad\ngone all {hello} https://x/gone\nnew all - https://x/new\n"
    );
    let pins = parse("l", &text).unwrap();
    let needed: Vec<&Pin> = pins.iter().collect();
    let states = check(&needed, dir.path());
    assert_eq!(states[0].1, State::Ok);
    assert!(
        matches!(&states[1].1, State::Differs { actual } if actual != hello),
        "{:?}",
        states[1]
    );
    assert_eq!(states[2].1, State::Missing);
    assert_eq!(states[3].1, State::NotPinned);
    let p = problems(&states);
    assert_eq!(p.len(), 3, "{p:?}");
    assert!(p[0].starts_with("bad has SHA-256 "), "{p:?}");
    assert_eq!(p[1], "gone is missing");
    assert!(p[2].contains("make downloads-pin file=new"), "{p:?}");
}
