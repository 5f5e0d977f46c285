//! `make install` / `make uninstall` into a temporary DESTDIR, completions, man pages, versions.
use crate::common::{bin, root};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

/// Every file under `dir` (relative paths; links included, not followed).
fn files_under(dir: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let t = e.file_type().unwrap();
            if t.is_dir() {
                todo.push(e.path());
            } else {
                out.insert(e.path().strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out
}

fn make(args: &[&str]) -> std::process::Output {
    Command::new("make")
        .current_dir(root())
        .args(args)
        .output()
        .expect("make is not installed")
}

fn bin_dir() -> String {
    Path::new(env!("CARGO_BIN_EXE_lava-build"))
        .parent()
        .unwrap()
        .display()
        .to_string()
}

#[test]
fn install_writes_binaries_completions_and_man_pages_and_uninstall_removes_them() {
    let tmp = tempfile::tempdir().unwrap();
    let destdir = format!("DESTDIR={}", tmp.path().display());
    let from = format!("INSTALL_FROM={}", bin_dir());
    let out = make(&["-s", "install", &destdir, "PREFIX=/usr/local", &from]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let prefix = tmp.path().join("usr/local");

    let mut want: BTreeSet<String> = BTreeSet::new();
    for p in ["lava-build", "lava-ami", "lava-rc"] {
        want.insert(format!("bin/{p}"));
        want.insert(format!("share/bash-completion/completions/{p}"));
        want.insert(format!("share/zsh/site-functions/_{p}"));
        want.insert(format!("share/fish/vendor_completions.d/{p}.fish"));
    }
    want.insert("bin/s3run".into());
    for sub in [
        "",
        "-ami",
        "-sync",
        "-images",
        "-bundle",
        "-payload",
        "-job",
        "-completions",
        "-man",
    ] {
        want.insert(format!("share/man/man1/lava-build{sub}.1"));
    }
    want.insert("share/man/man1/lava-ami.1".into());
    want.insert("share/man/man8/lava-rc.8".into());
    want.insert("share/lava-build/installed".into());
    assert_eq!(files_under(&prefix), want);

    // s3run is a link to lava-rc (which acts as s3run when called by that name).
    assert_eq!(
        std::fs::read_link(prefix.join("bin/s3run")).unwrap(),
        Path::new("lava-rc")
    );
    // The installed binary runs and says which build it is.
    let v = Command::new(prefix.join("bin/lava-build"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&v.stdout).starts_with("lava-build 8."),
        "{v:?}"
    );

    // bash finds each completion once the script is sourced.
    for p in ["lava-build", "lava-ami", "lava-rc"] {
        let script = prefix.join("share/bash-completion/completions").join(p);
        let out = Command::new("bash")
            .arg("-c")
            .arg(format!("source '{}' && complete -p {p}", script.display()))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success() && text.contains(p), "{p}: {out:?}");
    }

    // Every man page renders, with no warning from groff.
    for page in want.iter().filter(|f| f.starts_with("share/man/")) {
        let out = Command::new("man")
            .env("MANWIDTH", "80")
            .args(["--warnings", "-l"])
            .arg(prefix.join(page))
            .output()
            .expect("man (man-db) is not installed");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let name = Path::new(page)
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert!(
            out.status.success() && stderr.is_empty(),
            "{page}: {stderr}"
        );
        assert!(
            String::from_utf8_lossy(&out.stdout).contains(&name),
            "{page} does not render its name"
        );
    }

    // A second install over the first is refused (uninstall first), and changes nothing.
    let again = make(&["-s", "install", &destdir, "PREFIX=/usr/local", &from]);
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already installed"),
        "{again:?}"
    );
    assert_eq!(files_under(&prefix), want);

    // A file of someone else's in a shared folder survives uninstall, and so does its folder.
    std::fs::write(prefix.join("share/man/man1/other.1"), ".TH other 1\n").unwrap();
    let out = make(&["-s", "uninstall", &destdir, "PREFIX=/usr/local"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        files_under(&prefix),
        BTreeSet::from(["share/man/man1/other.1".to_string()])
    );
    // Every folder install created is gone but the one still in use (and its parents).
    assert!(!prefix.join("bin").exists());
    assert!(!prefix.join("share/zsh").exists());
    assert!(!prefix.join("share/man/man8").exists());
}

#[test]
fn uninstall_without_an_install_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let out = make(&[
        "-s",
        "uninstall",
        &format!("DESTDIR={}", tmp.path().display()),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("share/lava-build/installed: not found"),
        "{err}"
    );
}

#[test]
fn every_binary_prints_its_version_and_the_commit_it_was_built_from() {
    let head = Command::new("git")
        .current_dir(root())
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .expect("git is not installed");
    let head = String::from_utf8_lossy(&head.stdout).trim().to_string();
    assert_eq!(head.len(), 12, "not a git checkout: {head}");
    for p in ["lava-build", "lava-ami", "lava-rc"] {
        let out = bin(p).arg("--version").output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let want = format!("{p} {} (commit {head}", env!("CARGO_PKG_VERSION"));
        assert!(
            out.status.success() && text.starts_with(&want),
            "{p}: {text:?}, want {want}…"
        );
        let rest = &text[want.len()..];
        assert!(rest == ")" || rest == " dirty)", "{p}: {text:?}");
    }
}
