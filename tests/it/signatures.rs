//! Downloaded tools are installed only when their publisher's OpenPGP signature verifies:
//! `images/common/verify-signature.sh` with the real gpg, on files signed by throw-away keys made
//! here; the committed AWS keys are the ones the scripts name; the AWS CLI (image steps) and the
//! Session Manager plugin (release workflow) are verified before anything of them runs.
use crate::common::root;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn gpg(home: &Path, args: &[&str]) -> Output {
    let out = Command::new("gpg")
        .arg("--batch")
        .arg("--homedir")
        .arg(home)
        .args(args)
        .output()
        .expect("gpg (Debian's gpg package; scripts/test-services.sh install checks it)");
    assert!(
        out.status.success(),
        "gpg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A throw-away signing key in its own GNUPGHOME: (home, fingerprint, armored public key file).
fn signer(dir: &Path, name: &str) -> (PathBuf, String, PathBuf) {
    let home = dir.join(format!("gnupg-{name}"));
    std::fs::create_dir_all(&home).unwrap();
    std::fs::set_permissions(&home, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    gpg(
        &home,
        &[
            "--passphrase",
            "",
            "--quick-gen-key",
            &format!("{name} <{name}@example.com>"),
            "ed25519",
            "sign",
            "never",
        ],
    );
    let fpr = fingerprints(&gpg(&home, &["--with-colons", "--list-keys"]).stdout)[0].clone();
    let key = dir.join(format!("{name}.asc"));
    let out = gpg(&home, &["--armor", "--export", &fpr]);
    std::fs::write(&key, out.stdout).unwrap();
    (home, fpr, key)
}

/// The primary fingerprints in gpg's `--with-colons` listing.
fn fingerprints(colons: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(colons);
    let mut out = Vec::new();
    let mut after_pub = false;
    for line in text.lines() {
        let f: Vec<&str> = line.split(':').collect();
        match f[0] {
            "pub" => after_pub = true,
            "fpr" if after_pub => {
                out.push(f[9].to_string());
                after_pub = false;
            }
            _ => {}
        }
    }
    out
}

fn sign(home: &Path, file: &Path) -> PathBuf {
    let sig = PathBuf::from(format!("{}.sig", file.display()));
    let _ = std::fs::remove_file(&sig);
    gpg(
        home,
        &[
            "--output",
            sig.to_str().unwrap(),
            "--detach-sign",
            file.to_str().unwrap(),
        ],
    );
    sig
}

fn verify(key: &Path, fpr: &str, file: &Path, sig: &Path) -> Output {
    Command::new("sh")
        .arg(root().join("images/common/verify-signature.sh"))
        .arg(key)
        .arg(fpr)
        .arg(file)
        .arg(sig)
        .env("HOME", "/nonexistent")
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn only_a_good_signature_by_the_named_key_passes() {
    let dir = tempfile::tempdir().unwrap();
    let (a_home, a_fpr, a_key) = signer(dir.path(), "publisher");
    let (b_home, b_fpr, b_key) = signer(dir.path(), "other");
    let file = dir.path().join("tool.zip");
    std::fs::write(&file, b"the real tool").unwrap();
    let sig = sign(&a_home, &file);

    let ok = verify(&a_key, &a_fpr, &file, &sig);
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));

    // One byte changed after signing.
    let tampered = dir.path().join("tampered.zip");
    std::fs::write(&tampered, b"the real toot").unwrap();
    let bad = verify(&a_key, &a_fpr, &tampered, &sig);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stderr(&bad).starts_with(&format!(
            "verify-signature: {}: the signature {} is not a good signature by {}",
            tampered.display(),
            sig.display(),
            a_key.display()
        )),
        "{}",
        stderr(&bad)
    );

    // Signed by a key that is not the committed one (the caller's own keyring is never asked).
    let other_sig = sign(&b_home, &file);
    let bad = verify(&a_key, &a_fpr, &file, &other_sig);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stderr(&bad).contains("is not a good signature"),
        "{}",
        stderr(&bad)
    );

    // A key file holding both keys: a good signature, but by the wrong one of them.
    let both = dir.path().join("both.asc");
    let mut text = std::fs::read(&a_key).unwrap();
    text.extend(std::fs::read(&b_key).unwrap());
    std::fs::write(&both, text).unwrap();
    let bad = verify(&both, &a_fpr, &file, &other_sig);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stderr(&bad).contains(&format!("signed, but not by the key {a_fpr}")),
        "{}",
        stderr(&bad)
    );
    let ok = verify(&both, &b_fpr, &file, &other_sig);
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));

    // A missing signature file, and a wrong call.
    let bad = verify(&a_key, &a_fpr, &file, &dir.path().join("none.sig"));
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stderr(&bad).contains("none.sig is missing"),
        "{}",
        stderr(&bad)
    );
    let usage = Command::new("sh")
        .arg(root().join("images/common/verify-signature.sh"))
        .arg(&a_key)
        .output()
        .unwrap();
    assert_eq!(usage.status.code(), Some(2));
}

/// The value of `NAME=VALUE` or `NAME: VALUE` in a file.
fn setting(path: &str, name: &str) -> String {
    let text = std::fs::read_to_string(root().join(path)).unwrap();
    text.lines()
        .find_map(|l| {
            let l = l.trim();
            l.strip_prefix(&format!("{name}="))
                .or_else(|| l.strip_prefix(&format!("{name}: ")))
        })
        .unwrap_or_else(|| panic!("{name} in {path}"))
        .trim_matches('"')
        .to_string()
}

#[test]
fn the_committed_keys_are_the_ones_the_scripts_name() {
    let home = tempfile::tempdir().unwrap();
    for (key, path, name) in [
        (
            "images/common/keys/aws-cli.asc",
            "images/common/lib.sh",
            "AWSCLI_KEY_FINGERPRINT",
        ),
        (
            ".github/keys/session-manager-plugin.asc",
            ".github/workflows/release-ami.yml",
            "SSM_PLUGIN_KEY_FINGERPRINT",
        ),
    ] {
        let out = gpg(
            home.path(),
            &[
                "--with-colons",
                "--show-keys",
                root().join(key).to_str().unwrap(),
            ],
        );
        assert_eq!(
            fingerprints(&out.stdout),
            [setting(path, name)],
            "{key} against {name} of {path}"
        );
    }
    // AWS's published fingerprints (the AWS CLI and Session Manager plugin user guides).
    assert_eq!(
        setting("images/common/lib.sh", "AWSCLI_KEY_FINGERPRINT"),
        "FB5DB77FD5C118B80511ADA8A6310ACC4672475C"
    );
    assert_eq!(
        setting(
            ".github/workflows/release-ami.yml",
            "SSM_PLUGIN_KEY_FINGERPRINT"
        ),
        "7959637124CE093AD501D47A2C4D4AFF6F6757EE"
    );
}

/// The first line of `text` containing `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle:?} in\n{text}"))
}

#[test]
fn nothing_downloaded_runs_before_its_signature_is_checked() {
    let aws = std::fs::read_to_string(root().join("images/common/awscli.sh")).unwrap();
    let check = line_of(&aws, "verify-signature.sh");
    assert!(aws.contains("-${AWSCLI_VERSION}.zip"), "a versioned zip");
    assert!(line_of(&aws, "-o awscliv2.zip.sig") < check);
    assert!(check < line_of(&aws, "unzip "));
    assert!(check < line_of(&aws, "./aws/install"));
    let wf = std::fs::read_to_string(root().join(".github/workflows/release-ami.yml")).unwrap();
    let check = line_of(&wf, "sh images/common/verify-signature.sh");
    assert!(
        wf.contains("/plugin/$SSM_PLUGIN_VERSION/"),
        "a versioned package"
    );
    assert!(check < line_of(&wf, "sudo dpkg -i"));
    // The image steps install gpg before the AWS CLI step needs it.
    for os in ["amzn2023", "ubuntu24"] {
        let pkgs =
            std::fs::read_to_string(root().join(format!("images/os/{os}/base/10-packages.sh")))
                .unwrap();
        assert!(
            pkgs.contains(" gnupg") || pkgs.contains(" gnupg2-minimal"),
            "{os} installs gpg"
        );
    }
}
