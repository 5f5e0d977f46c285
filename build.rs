//! Records the git commit the binaries are built from (and whether the tree had changes) in
//! `LAVA_BUILD_COMMIT`, so `--version` and the boot log say exactly which build ran. Outside a git
//! checkout (a crate tarball) the commit is `unknown`.
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn main() {
    let commit = git(&["rev-parse", "--short=12", "HEAD"]);
    let text = match &commit {
        Some(c) => {
            // Changes to tracked files only: build output and scratch files do not make a build dirty.
            let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty());
            if dirty {
                format!("{c} dirty")
            } else {
                c.clone()
            }
        }
        None => "unknown".to_string(),
    };
    println!("cargo:rustc-env=LAVA_BUILD_COMMIT={text}");
    // Rebuilt when HEAD moves or the index changes (a commit, a checkout, `git add`).
    if let Some(dir) = git(&["rev-parse", "--git-dir"]) {
        println!("cargo:rerun-if-changed={dir}/HEAD");
        println!("cargo:rerun-if-changed={dir}/index");
        if let Some(common) = git(&["rev-parse", "--git-common-dir"]) {
            println!("cargo:rerun-if-changed={common}/refs/heads");
            println!("cargo:rerun-if-changed={common}/packed-refs");
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
}
