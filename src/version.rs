//! The version every binary prints (`--version`) and logs at start: the package version and the
//! git commit it was built from, with `dirty` when tracked files had uncommitted changes.

/// The package version alone (the lava version the images are tagged with).
pub const PACKAGE: &str = env!("CARGO_PKG_VERSION");

/// The commit the binary was built from (`<12 hex digits>`, `<…> dirty`, or `unknown`).
pub const COMMIT: &str = env!("LAVA_BUILD_COMMIT");

/// `8.3.0 (commit 0123456789ab)`: what `--version` prints after the program name.
pub const LONG: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("LAVA_BUILD_COMMIT"),
    ")"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_names_the_package_version_and_the_commit() {
        assert!(LONG.starts_with(PACKAGE));
        assert!(LONG.contains(COMMIT));
        // The commit is 12 hex digits (optionally " dirty") in a git checkout.
        let hash = COMMIT.split(' ').next().unwrap();
        assert!(
            COMMIT == "unknown"
                || (hash.len() == 12 && hash.chars().all(|c| c.is_ascii_hexdigit())),
            "{COMMIT}"
        );
    }
}
