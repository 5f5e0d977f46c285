//! Lava AMIs: the kind that says which AMIs replace each other, a lava AMI read from its name and
//! tags, and the order of "newest" (build time, see `built`). Used by lava-ami's stack view and the
//! AMI lifecycle (publish, copy, prune). Pure.
use super::built::{self, BuiltFrom};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Which AMIs replace each other: same OS, Python major.minor and arch.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Kind {
    pub os: String,
    pub python: String,
    pub arch: String,
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/py{}/{}", self.os, self.python, self.arch)
    }
}

/// A kind not written OS/pyX.Y/ARCH (clap names the option and the value before this).
#[derive(Debug, thiserror::Error)]
#[error("expected OS/pyX.Y/ARCH, e.g. amzn2023/py3.11/arm64")]
pub struct KindError(pub String);

impl std::str::FromStr for Kind {
    type Err = KindError;
    /// `amzn2023/py3.11/x86_64` (the `py` is optional).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.split('/').collect();
        match parts.as_slice() {
            [os, py, arch] if !os.is_empty() && !py.is_empty() && !arch.is_empty() => Ok(Kind {
                os: os.to_string(),
                python: py.trim_start_matches("py").to_string(),
                arch: arch.to_string(),
            }),
            _ => Err(KindError(s.to_string())),
        }
    }
}

/// One AMI as DescribeImages shows it.
#[derive(Debug, Clone, Default)]
pub struct ImageInfo {
    pub id: String,
    pub name: String,
    pub created: String,
    pub arch: Option<String>,
    pub tags: BTreeMap<String, String>,
    /// For a copy: the creation time of the AMI it was copied from, when that could be read.
    pub source_created: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct LavaAmi {
    pub id: String,
    pub name: String,
    pub created: String,
    /// The build time (`YYYY-MM-DDTHH:MM:SSZ`), the order of "newest" (see `built`).
    pub built: String,
    pub built_from: BuiltFrom,
    /// Full Python version from the PythonVersion (or PYTHON_VERSION) tag (major.minor from the
    /// name otherwise).
    pub python: String,
    pub arch: String,
    pub kind: Kind,
    /// The newest of its kind.
    pub newest: bool,
}

fn arch_name(a: &str) -> String {
    match a {
        "aarch64" | "arm64" => "arm64".into(),
        "x86_64" | "amd64" => "x86_64".into(),
        other => other.into(),
    }
}

/// A lava AMI from its name (`lava-<ver>-<os>-py<X.Y>-<arch>-<time>`) and tags; SAK-style names
/// (`sak-…`) only with `sak`. None for anything else.
pub fn lava_ami(img: &ImageInfo, sak: bool) -> Option<LavaAmi> {
    let name = img.name.as_str();
    let from_name = if let Some(rest) = name.strip_prefix("lava-") {
        // <ver>-<os>-py<X.Y>-<arch>-<time>; the time has dashes of its own.
        let parts: Vec<&str> = rest.splitn(5, '-').collect();
        match parts.as_slice() {
            [_ver, os, py, arch, _time] if py.starts_with("py") => Some((
                os.to_string(),
                py.trim_start_matches("py").to_string(),
                arch_name(arch),
            )),
            _ => None,
        }
    } else if sak && name.starts_with("sak-") {
        Some((String::new(), String::new(), String::new()))
    } else {
        None
    };
    let (name_os, name_py, name_arch) = from_name?;
    let tag = |k: &str| img.tags.get(k).filter(|v| !v.is_empty()).cloned();
    // `PythonVersion` is what our builds and existing tooling write; the lava docs name
    // `PYTHON_VERSION`. Both carry the same value; either will do.
    let python_full = tag("PythonVersion").or_else(|| tag("PYTHON_VERSION"));
    let python_minor = python_full
        .as_deref()
        .map(|v| v.splitn(3, '.').take(2).collect::<Vec<_>>().join("."))
        .filter(|_| name_py.is_empty())
        .unwrap_or(name_py.clone());
    let arch = tag("Arch")
        .map(|a| arch_name(&a))
        .or_else(|| (!name_arch.is_empty()).then_some(name_arch))
        .or_else(|| img.arch.as_deref().map(arch_name))
        .unwrap_or_else(|| "?".into());
    let os = tag("OS")
        .or_else(|| (!name_os.is_empty()).then_some(name_os))
        .unwrap_or_else(|| if sak { "sak".into() } else { "?".into() });
    let built = built::built(
        tag("BuildId").as_deref(),
        &img.name,
        img.source_created.as_deref(),
        &img.created,
    );
    Some(LavaAmi {
        id: img.id.clone(),
        name: img.name.clone(),
        created: img.created.clone(),
        built: built.at,
        built_from: built.from,
        python: python_full.unwrap_or_else(|| python_minor.clone()),
        arch: arch.clone(),
        kind: Kind {
            os,
            python: python_minor,
            arch,
        },
        newest: false,
    })
}

/// Sorts newest first by build time (never CreationDate, which a region copy resets), then name,
/// marks the newest of each kind, and keeps at most `n` per kind.
pub fn group(mut amis: Vec<LavaAmi>, n: usize) -> Vec<LavaAmi> {
    amis.sort_by(|a, b| (&b.built, &b.name).cmp(&(&a.built, &a.name)));
    let mut count: BTreeMap<Kind, usize> = BTreeMap::new();
    let mut out = Vec::new();
    for mut a in amis {
        let c = count.entry(a.kind.clone()).or_default();
        a.newest = *c == 0;
        *c += 1;
        if *c <= n {
            out.push(a);
        }
    }
    out.sort_by(|a, b| (&a.kind, &b.built, &b.name).cmp(&(&b.kind, &a.built, &a.name)));
    out
}

/// The newest lava AMI of `kind`.
pub fn latest<'a>(amis: &'a [LavaAmi], kind: &Kind) -> Option<&'a LavaAmi> {
    amis.iter().find(|a| a.newest && &a.kind == kind)
}

/// Every kind present, for messages.
pub fn kinds(amis: &[LavaAmi]) -> String {
    let k: BTreeSet<String> = amis.iter().map(|a| a.kind.to_string()).collect();
    k.into_iter().collect::<Vec<_>>().join(", ")
}

/// An x86_64 image as DescribeImages would show it, for tests.
#[cfg(test)]
pub(crate) fn test_image(id: &str, name: &str, created: &str, tags: &[(&str, &str)]) -> ImageInfo {
    ImageInfo {
        id: id.into(),
        name: name.into(),
        created: created.into(),
        arch: Some("x86_64".into()),
        tags: tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        source_created: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn img(id: &str, name: &str, created: &str, tags: &[(&str, &str)]) -> ImageInfo {
        test_image(id, name, created, tags)
    }

    #[test]
    fn names_and_tags_give_the_kind() {
        let a = lava_ami(
            &img(
                "ami-1",
                "lava-8.1.0-amzn2023-py3.11-arm64-2025-07-02T08-43-48Z",
                "2025-07-02",
                &[("PythonVersion", "3.11.12")],
            ),
            false,
        )
        .unwrap();
        assert_eq!(a.kind.to_string(), "amzn2023/py3.11/arm64");
        assert_eq!(a.python, "3.11.12");
        assert!(lava_ami(&img("ami-2", "other-ami", "", &[]), false).is_none());
        assert!(lava_ami(&img("ami-3", "sak-2024-01", "", &[]), false).is_none());
        assert!(lava_ami(&img("ami-3", "sak-2024-01", "", &[]), true).is_some());
    }

    #[test]
    fn python_version_from_either_tag() {
        let name = "lava-8.3.0-amzn2023-py3.12-x86_64-2025-07-02T08-43-48Z";
        for key in ["PythonVersion", "PYTHON_VERSION"] {
            let a = lava_ami(&img("ami-1", name, "2025", &[(key, "3.12.11")]), false).unwrap();
            assert_eq!(a.python, "3.12.11", "{key}");
        }
        let sak = lava_ami(
            &img("ami-2", "sak-2024", "2024", &[("PYTHON_VERSION", "3.9.18")]),
            true,
        )
        .unwrap();
        assert_eq!(
            (sak.python.as_str(), sak.kind.python.as_str()),
            ("3.9.18", "3.9"),
            "the kind's X.Y from the tag when the name has none"
        );
        let none = lava_ami(&img("ami-3", name, "2025", &[]), false).unwrap();
        assert_eq!(none.python, "3.12", "X.Y from the name without a tag");
    }

    #[test]
    fn grouping_limits_and_marks_the_newest() {
        let mk = |id: &str, t: &str, arch: &str| {
            lava_ami(
                &img(
                    id,
                    &format!("lava-8.3.0-amzn2023-py3.11-{arch}-{t}"),
                    t,
                    &[],
                ),
                false,
            )
            .unwrap()
        };
        let g = group(
            vec![
                mk("a1", "2025-01-01T00-00-00Z", "x86_64"),
                mk("a3", "2025-03-01T00-00-00Z", "x86_64"),
                mk("a2", "2025-02-01T00-00-00Z", "x86_64"),
                mk("b1", "2025-01-01T00-00-00Z", "arm64"),
            ],
            2,
        );
        let ids: Vec<_> = g.iter().map(|a| (a.id.as_str(), a.newest)).collect();
        assert_eq!(ids, [("b1", true), ("a3", true), ("a2", false)]);
    }
}
