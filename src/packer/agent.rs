//! The boot agent (`lava-rc`) that goes into the provisioning tarball, one binary per arch
//! (DESIGN.md §Agent binaries).
use camino::{Utf8Path, Utf8PathBuf};
use std::time::SystemTime;

/// The arch this toolchain runs on, spelled as in AMI names.
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "aarch64" => "arm64",
        other => other,
    }
}

/// ELF `e_machine` for an AMI arch.
fn elf_machine(arch: &str) -> Option<u16> {
    match arch {
        "x86_64" => Some(62),
        "arm64" => Some(183),
        _ => None,
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error(
        "no boot agent for {arch}: {path} is missing. Build lava-rc on an {arch} machine (`make agent` there) or with a cross toolchain (`cargo build --release --no-default-features --target {triple} --bin lava-rc`) and put it at {path}; or build only the host arch with arch={host}"
    )]
    Missing {
        arch: String,
        path: String,
        triple: String,
        host: String,
    },
    #[error(
        "boot agent {path} is not a Linux {arch} executable ({found}): put the {arch} build of lava-rc there"
    )]
    WrongArch {
        path: String,
        arch: String,
        found: String,
    },
    #[error(
        "building the boot agent for {arch} failed: cargo build --release --no-default-features --bin lava-rc"
    )]
    Build {
        arch: String,
        #[source]
        source: std::io::Error,
    },
    #[error("building the boot agent for {arch} failed: finding cargo's target folder")]
    TargetDir {
        arch: String,
        #[source]
        source: MetadataError,
    },
    #[error(
        "boot agent {path} needs glibc {newest} ({too_new}), newer than the {max} of Amazon Linux 2023: it would not start on the instance. Build lava-rc where glibc is {max} or older (an amazonlinux:2023 container, as the release workflow does) and put it at {path}"
    )]
    Glibc {
        path: String,
        newest: String,
        too_new: String,
        max: String,
    },
    #[error("boot agent {path}: cannot read its ELF version needs")]
    Elf {
        path: String,
        #[source]
        source: ElfError,
    },
    #[error("cannot read the boot agent {path}")]
    Read {
        path: Utf8PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("copying the boot agent {from} to {to}")]
    Copy {
        from: Utf8PathBuf,
        to: Utf8PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Why `cargo metadata` did not name the target folder.
#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    #[error("running cargo metadata")]
    Run(#[source] std::io::Error),
    #[error("cargo metadata failed: {stderr}")]
    Failed { stderr: String },
    #[error("reading cargo metadata")]
    Parse(#[source] serde_json::Error),
}

fn triple(arch: &str) -> String {
    match arch {
        "arm64" => "aarch64-unknown-linux-gnu".into(),
        other => format!("{other}-unknown-linux-gnu"),
    }
}

/// Checks the ELF header of `path` against `arch`.
pub fn check_elf(path: &Utf8Path, arch: &str) -> Result<(), AgentError> {
    let wrong = |found: String| AgentError::WrongArch {
        path: path.to_string(),
        arch: arch.to_string(),
        found,
    };
    let bytes = std::fs::read(path).map_err(|source| AgentError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    if bytes.len() < 20 || &bytes[..4] != b"\x7fELF" {
        return Err(wrong("not an ELF file".into()));
    }
    let little = bytes[5] == 1;
    let m = [bytes[18], bytes[19]];
    let machine = if little {
        u16::from_le_bytes(m)
    } else {
        u16::from_be_bytes(m)
    };
    if Some(machine) != elf_machine(arch) {
        let name = match machine {
            62 => "x86_64".to_string(),
            183 => "aarch64".to_string(),
            n => format!("ELF machine {n}"),
        };
        return Err(wrong(name));
    }
    Ok(())
}

/// The glibc of Amazon Linux 2023 (FACTS §8): the newest symbol version the agent may need.
pub const MAX_GLIBC: &str = "2.34";

/// `2.34` as numbers, for comparing versions.
fn version_key(v: &str) -> Vec<u32> {
    v.split('.').map(|p| p.parse().unwrap_or(0)).collect()
}

/// Why an ELF file's version needs could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ElfError {
    #[error("not a 64-bit little-endian ELF file")]
    NotElf64,
    #[error("truncated at byte {0}")]
    Truncated(usize),
    #[error("name offset {0} outside the file")]
    NameOutside(usize),
}

/// The `GLIBC_x.y` symbol versions an ELF64 little-endian binary needs (its `.gnu.version_r`
/// section), without the prefix, sorted and without repeats. What `readelf --version-info` shows.
pub fn glibc_needs(bytes: &[u8]) -> Result<Vec<String>, ElfError> {
    let u16_at = |o: usize| -> Result<usize, ElfError> {
        bytes
            .get(o..o + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]) as usize)
            .ok_or(ElfError::Truncated(o))
    };
    let u32_at = |o: usize| -> Result<usize, ElfError> {
        bytes
            .get(o..o + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
            .ok_or(ElfError::Truncated(o))
    };
    let u64_at = |o: usize| -> Result<usize, ElfError> {
        bytes
            .get(o..o + 8)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap_or_default()) as usize)
            .ok_or(ElfError::Truncated(o))
    };
    if bytes.len() < 64 || &bytes[..4] != b"\x7fELF" || bytes[4] != 2 || bytes[5] != 1 {
        return Err(ElfError::NotElf64);
    }
    let (shoff, shentsize, shnum) = (u64_at(0x28)?, u16_at(0x3a)?, u16_at(0x3c)?);
    let section = |i: usize| shoff + i * shentsize;
    const SHT_GNU_VERNEED: usize = 0x6fff_fffe;
    let mut found = std::collections::BTreeSet::new();
    for i in 0..shnum {
        let sh = section(i);
        if u32_at(sh + 4)? != SHT_GNU_VERNEED {
            continue;
        }
        let (offset, count) = (u64_at(sh + 24)?, u32_at(sh + 44)?);
        let strtab = u64_at(section(u32_at(sh + 40)?) + 24)?;
        let name = |o: usize| -> Result<String, ElfError> {
            let start = strtab + o;
            let tail = bytes.get(start..).ok_or(ElfError::NameOutside(start))?;
            let end = tail.iter().position(|&b| b == 0).unwrap_or(tail.len());
            Ok(String::from_utf8_lossy(&tail[..end]).into_owned())
        };
        let mut need = offset;
        for _ in 0..count {
            let (cnt, aux, next) = (u16_at(need + 2)?, u32_at(need + 8)?, u32_at(need + 12)?);
            let mut a = need + aux;
            for _ in 0..cnt {
                if let Some(v) = name(u32_at(a + 8)?)?.strip_prefix("GLIBC_") {
                    found.insert(v.to_string());
                }
                a += u32_at(a + 12)?;
            }
            if next == 0 {
                break;
            }
            need += next;
        }
    }
    let mut out: Vec<String> = found
        .into_iter()
        .filter(|v| v.starts_with(|c: char| c.is_ascii_digit()))
        .collect();
    out.sort_by_key(|v| version_key(v));
    Ok(out)
}

/// Refuses an agent that needs a glibc newer than `max`.
pub fn check_glibc(path: &Utf8Path, max: &str) -> Result<(), AgentError> {
    let bytes = std::fs::read(path).map_err(|source| AgentError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let needs = glibc_needs(&bytes).map_err(|source| AgentError::Elf {
        path: path.to_string(),
        source,
    })?;
    let too_new: Vec<String> = needs
        .iter()
        .filter(|v| version_key(v) > version_key(max))
        .map(|v| format!("GLIBC_{v}"))
        .collect();
    match needs.last() {
        Some(newest) if !too_new.is_empty() => Err(AgentError::Glibc {
            path: path.to_string(),
            newest: newest.clone(),
            too_new: too_new.join(" "),
            max: max.to_string(),
        }),
        _ => Ok(()),
    }
}

fn newest_mtime(root: &Utf8Path) -> Option<SystemTime> {
    let mut newest = None;
    for p in ["src", "Cargo.toml", "Cargo.lock"] {
        for e in walkdir::WalkDir::new(root.join(p)).into_iter().flatten() {
            if let Ok(t) = std::fs::metadata(e.path()).and_then(|m| m.modified()) {
                newest = newest.max(Some(t));
            }
        }
    }
    newest
}

/// What to pack for each arch: the binary, or None (emulated builds only).
pub struct AgentPlan {
    pub path: Option<Utf8PathBuf>,
    pub note: Option<String>,
}

/// Cargo's target directory for the tree at `root`, as cargo itself resolves it
/// (`CARGO_TARGET_DIR`, `build.target-dir` in a cargo config, or `<root>/target`).
fn target_dir(cargo: &str, root: &Utf8Path) -> Result<Utf8PathBuf, MetadataError> {
    metadata_target_dir(
        duct::cmd(cargo, ["metadata", "--format-version", "1", "--no-deps"]).dir(root),
    )
}

/// The `target_directory` that a `cargo metadata` command reports.
fn metadata_target_dir(metadata: duct::Expression) -> Result<Utf8PathBuf, MetadataError> {
    let out = metadata
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run()
        .map_err(MetadataError::Run)?;
    if !out.status.success() {
        return Err(MetadataError::Failed {
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    #[derive(serde::Deserialize)]
    struct Metadata {
        target_directory: Utf8PathBuf,
    }
    serde_json::from_slice::<Metadata>(&out.stdout)
        .map(|m| m.target_directory)
        .map_err(MetadataError::Parse)
}

/// Finds (and for the host arch, builds when missing or stale) `dir/<arch>/lava-rc`.
/// `build_from`: the source tree to build from, when there is one and building is allowed.
/// `required`: false for emulated builds, where the tarball never reaches an instance.
pub fn prepare(
    dir: &Utf8Path,
    arch: &str,
    build_from: Option<&Utf8Path>,
    required: bool,
) -> Result<AgentPlan, AgentError> {
    let path = dir.join(arch).join("lava-rc");
    let host = host_arch();
    if arch == host
        && let Some(root) = build_from
    {
        let stale = match std::fs::metadata(&path).and_then(|m| m.modified()) {
            Ok(t) => newest_mtime(root).is_some_and(|n| n > t),
            Err(_) => true,
        };
        if stale {
            crate::output::progress::line(
                "[lava-build]",
                format_args!(
                    "building the boot agent for {arch}: cargo build --release --no-default-features --bin lava-rc"
                ),
            );
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            duct::cmd(
                &cargo,
                [
                    "build",
                    "--release",
                    "--no-default-features",
                    "--bin",
                    "lava-rc",
                ],
            )
            .dir(root)
            .stdout_to_stderr()
            .run()
            .map_err(|source| AgentError::Build {
                arch: arch.into(),
                source,
            })?;
            let built = target_dir(&cargo, root)
                .map_err(|source| AgentError::TargetDir {
                    arch: arch.into(),
                    source,
                })?
                .join("release/lava-rc");
            let copy = |source| AgentError::Copy {
                from: built.clone(),
                to: path.clone(),
                source,
            };
            std::fs::create_dir_all(dir.join(arch)).map_err(copy)?;
            std::fs::copy(&built, &path).map_err(copy)?;
        }
    }
    if !path.exists() {
        if required {
            return Err(AgentError::Missing {
                arch: arch.into(),
                path: path.to_string(),
                triple: triple(arch),
                host: host.into(),
            });
        }
        return Ok(AgentPlan {
            path: None,
            note: Some(format!(
                "no boot agent for {arch} ({path} is missing): packed without it; a real build would stop here"
            )),
        });
    }
    check_elf(&path, arch)?;
    if required {
        // Before packer starts: an agent that cannot start on AL2023 would be found only at the
        // instance's first boot (or in step 12 of the build, after the upload).
        check_glibc(&path, MAX_GLIBC)?;
    }
    Ok(AgentPlan {
        path: Some(path),
        note: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The agent is copied from cargo's own target directory, not a hard-coded `target/`.
    #[test]
    fn target_dir_is_the_one_cargo_uses() {
        let dir = tempfile::tempdir().unwrap();
        let root = Utf8PathBuf::from_path_buf(dir.path().canonicalize().unwrap()).unwrap();
        std::fs::write(
            root.join("Cargo.toml"),
            "[package]\nname = \"probe\"\nversion = \"0.1.0\"\nedition = \"2021\"\n[lib]\npath = \"lib.rs\"\n",
        )
        .unwrap();
        std::fs::write(root.join("lib.rs"), "").unwrap();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let cmd =
            || duct::cmd(&cargo, ["metadata", "--format-version", "1", "--no-deps"]).dir(&root);
        let metadata = || cmd().env_remove("CARGO_TARGET_DIR");
        assert_eq!(
            metadata_target_dir(metadata()).unwrap(),
            root.join("target")
        );
        assert_eq!(
            metadata_target_dir(cmd().env("CARGO_TARGET_DIR", "/var/tmp/lava-t")).unwrap(),
            Utf8PathBuf::from("/var/tmp/lava-t")
        );
        std::fs::create_dir(root.join(".cargo")).unwrap();
        std::fs::write(
            root.join(".cargo/config.toml"),
            "[build]\ntarget-dir = \"elsewhere\"\n",
        )
        .unwrap();
        assert_eq!(
            metadata_target_dir(metadata()).unwrap(),
            root.join("elsewhere")
        );
    }

    /// Our reading of the version needs is readelf's, on a real binary (the test binary itself).
    #[test]
    fn glibc_needs_are_what_readelf_reads() {
        let exe = std::env::current_exe().unwrap();
        let ours = glibc_needs(&std::fs::read(&exe).unwrap()).unwrap();
        let out = std::process::Command::new("readelf")
            .args(["--version-info", "--wide"])
            .arg(&exe)
            .output()
            .expect("readelf (Debian binutils)");
        let text = String::from_utf8_lossy(&out.stdout);
        let mut theirs: Vec<String> = text
            .split_whitespace()
            .filter_map(|w| w.strip_prefix("Name: GLIBC_").or(w.strip_prefix("GLIBC_")))
            .filter(|v| v.starts_with(|c: char| c.is_ascii_digit()))
            .map(String::from)
            .collect();
        theirs.sort_by_key(|v| version_key(v));
        theirs.dedup();
        assert!(!ours.is_empty());
        assert_eq!(ours, theirs);
        let path = Utf8PathBuf::from_path_buf(exe).unwrap();
        let newest = ours.last().unwrap().clone();
        assert!(check_glibc(&path, &newest).is_ok());
        let e = check_glibc(&path, "2.2").unwrap_err();
        assert!(
            matches!(&e, AgentError::Glibc { newest: n, too_new, .. } if *n == newest && too_new.contains(&format!("GLIBC_{newest}"))),
            "{e}"
        );
    }

    #[test]
    fn elf_machine_is_checked() {
        let dir = tempfile::tempdir().unwrap();
        let p = Utf8PathBuf::from_path_buf(dir.path().join("x")).unwrap();
        let mut hdr = vec![0x7f, b'E', b'L', b'F', 2, 1, 1, 0];
        hdr.resize(18, 0);
        hdr.extend_from_slice(&183u16.to_le_bytes());
        hdr.resize(64, 0);
        std::fs::write(&p, &hdr).unwrap();
        assert!(check_elf(&p, "arm64").is_ok());
        let e = check_elf(&p, "x86_64").unwrap_err();
        assert!(
            matches!(&e, AgentError::WrongArch { arch, found, .. } if arch == "x86_64" && found == "aarch64"),
            "{e}"
        );
        std::fs::write(&p, b"#!/bin/sh\n").unwrap();
        let e = check_elf(&p, "arm64").unwrap_err();
        assert!(
            matches!(&e, AgentError::WrongArch { found, .. } if found == "not an ELF file"),
            "{e}"
        );
    }

    #[test]
    fn a_missing_foreign_agent_explains_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let d = Utf8PathBuf::from_path_buf(dir.path().to_path_buf()).unwrap();
        let foreign = if host_arch() == "x86_64" {
            "arm64"
        } else {
            "x86_64"
        };
        let e = prepare(&d, foreign, None, true).err().unwrap();
        assert!(
            matches!(&e, AgentError::Missing { arch, triple, .. }
                if arch == foreign && triple.ends_with("-unknown-linux-gnu")),
            "{e}"
        );
        let path = d.join(foreign).join("lava-rc");
        let (triple, host) = (triple(foreign), host_arch());
        assert_eq!(
            e.to_string(),
            format!(
                "no boot agent for {foreign}: {path} is missing. Build lava-rc on an {foreign} machine (`make agent` there) or with a cross toolchain (`cargo build --release --no-default-features --target {triple} --bin lava-rc`) and put it at {path}; or build only the host arch with arch={host}"
            )
        );
        let plan = prepare(&d, foreign, None, false).unwrap();
        assert!(plan.path.is_none() && plan.note.is_some());
    }
}
