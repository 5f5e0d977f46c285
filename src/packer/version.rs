//! The installed packer: where it is and what it supports.
use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

impl Version {
    /// Packer 1.7 brought `required_plugins`, `packer init` and the amazon plugin's `metadata_options`.
    pub fn has_plugins(&self) -> bool {
        (self.major, self.minor) >= (1, 7)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PackerError {
    #[error(
        "packer is not installed (not found on PATH): install it, e.g. `apt-get install packer` (Debian) or from https://developer.hashicorp.com/packer/install"
    )]
    NotFound,
    #[error("cannot run `{path} version`")]
    Run {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{path} version` failed ({status}): {stderr}")]
    Failed {
        path: String,
        status: std::process::ExitStatus,
        stderr: String,
    },
    #[error(
        "cannot read the version of {path} from its output {output:?}: expected `Packer vX.Y.Z`"
    )]
    Unparsable { path: String, output: String },
}

/// Reads `Packer v1.6.6` (the first line of `packer version`; newer ones add lines after it).
pub fn parse(output: &str) -> Option<Version> {
    let first = output.lines().next()?.trim();
    let v = first.strip_prefix("Packer v")?;
    let v = v
        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .next()?;
    let mut it = v.split('.').map(|n| n.parse::<u32>());
    let major = it.next()?.ok()?;
    let minor = it.next()?.ok()?;
    let patch = it.next().unwrap_or(Ok(0)).ok()?;
    Some(Version {
        major,
        minor,
        patch,
    })
}

/// Finds packer on PATH (or `$PACKER`) and reads its version. Blocking: runs `packer version`.
pub fn find() -> Result<(PathBuf, Version), PackerError> {
    let path = match std::env::var_os("PACKER") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => which::which("packer").map_err(|_| PackerError::NotFound)?,
    };
    let version = version_of(&path)?;
    Ok((path, version))
}

/// Runs `<path> version` and reads the version from its output; a failed run is an error that
/// keeps what the program said on stderr.
pub fn version_of(path: &Path) -> Result<Version, PackerError> {
    let shown = path.display().to_string();
    let out = duct::cmd(path, ["version"])
        .stdout_capture()
        .stderr_capture()
        .env("CHECKPOINT_DISABLE", "1")
        .unchecked()
        .run()
        .map_err(|source| PackerError::Run {
            path: shown.clone(),
            source,
        })?;
    if !out.status.success() {
        return Err(PackerError::Failed {
            path: shown,
            status: out.status,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    parse(&text).ok_or(PackerError::Unparsable {
        path: shown,
        output: text.lines().next().unwrap_or("").to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_old_and_new_output() {
        let v = parse("Packer v1.6.6\n").unwrap();
        assert_eq!(v.to_string(), "1.6.6");
        assert!(!v.has_plugins());
        let v = parse("Packer v1.11.2\n\nYour version of Packer is out of date!").unwrap();
        assert_eq!((v.major, v.minor, v.patch), (1, 11, 2));
        assert!(v.has_plugins());
        assert!(parse("Packer v1.7.0-dev").unwrap().has_plugins());
        assert!(parse("Terraform v1.0").is_none());
        assert!(parse("").is_none());
    }

    #[test]
    fn a_failing_packer_version_keeps_its_stderr() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let fake = d.path().join("packer");
        std::fs::write(
            &fake,
            "#!/bin/sh\necho 'plugin dir not writable' >&2\nexit 3\n",
        )
        .unwrap();
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        let e = version_of(&fake).unwrap_err();
        assert!(
            matches!(&e, PackerError::Failed { status, stderr, .. }
                if status.code() == Some(3) && stderr == "plugin dir not writable"),
            "{e}"
        );
    }
}
