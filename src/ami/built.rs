//! When an AMI was built: the order of "newest". Pure.
//!
//! EC2's `CreationDate` is the time the image record was made in its region, and CopyImage sets it
//! anew: a region copy of an old AMI made today would be "newest" by it, and `--ami latest` would
//! roll back. So the build time comes, in this order, from the `BuildId` tag `lava-build ami`
//! writes (`<run>-YYYYMMDDTHHMMSSZ`, kept by copies), the time at the end of a lava AMI name
//! (`lava-…-2025-07-02T08-43-48Z`, lava's own builds name them so; copies keep the name), the
//! creation of the AMI a copy was made from, and only then the AMI's own `CreationDate`.
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Serialize;

/// Where the build time was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BuiltFrom {
    BuildId,
    Name,
    SourceAmi,
    CreationDate,
    /// Nothing readable: sorts as the oldest.
    Unknown,
}

/// The build time as `YYYY-MM-DDTHH:MM:SSZ` (sorts as text) and where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Built {
    pub at: String,
    pub from: BuiltFrom,
}

fn text(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The time at the end of a `BuildId` (`prod-20250702T084348Z`).
fn from_build_id(id: &str) -> Option<String> {
    let tail = id.rsplit('-').next()?;
    NaiveDateTime::parse_from_str(tail, "%Y%m%dT%H%M%SZ")
        .ok()
        .map(text)
}

/// The time at the end of a lava AMI name (`…-2025-07-02T08-43-48Z`, 20 characters).
fn from_name(name: &str) -> Option<String> {
    let start = name.len().checked_sub(20)?;
    let tail = name.get(start..)?;
    NaiveDateTime::parse_from_str(tail, "%Y-%m-%dT%H-%M-%SZ")
        .ok()
        .map(text)
}

/// An EC2 time (`2025-07-02T08:43:48.000Z`).
fn from_ec2(t: &str) -> Option<String> {
    DateTime::parse_from_rfc3339(t)
        .ok()
        .map(|d| text(d.with_timezone(&Utc).naive_utc()))
}

/// The build time of an AMI from its `BuildId` tag, its name, the creation of the AMI it was
/// copied from (`source_created`, when known) and its own creation, the first that reads.
pub fn built(
    build_id: Option<&str>,
    name: &str,
    source_created: Option<&str>,
    created: &str,
) -> Built {
    let found = build_id
        .and_then(from_build_id)
        .map(|at| (at, BuiltFrom::BuildId))
        .or_else(|| from_name(name).map(|at| (at, BuiltFrom::Name)))
        .or_else(|| {
            source_created
                .and_then(from_ec2)
                .map(|at| (at, BuiltFrom::SourceAmi))
        })
        .or_else(|| from_ec2(created).map(|at| (at, BuiltFrom::CreationDate)));
    match found {
        Some((at, from)) => Built { at, from },
        None => Built {
            at: String::new(),
            from: BuiltFrom::Unknown,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_id_then_name_then_source_then_creation() {
        let name = "lava-8.3.0-amzn2023-py3.11-x86_64-2025-07-02T08-43-48Z";
        let copied_today = "2026-12-06T10:00:00.000Z";
        assert_eq!(
            built(Some("prod-eu-20250101T000000Z"), name, None, copied_today),
            Built {
                at: "2025-01-01T00:00:00Z".into(),
                from: BuiltFrom::BuildId
            },
            "the BuildId wins over the name"
        );
        assert_eq!(
            built(None, name, None, copied_today),
            Built {
                at: "2025-07-02T08:43:48Z".into(),
                from: BuiltFrom::Name
            }
        );
        assert_eq!(
            built(
                Some("no time here"),
                "sak-ami",
                Some("2024-05-01T12:00:00.000Z"),
                copied_today
            ),
            Built {
                at: "2024-05-01T12:00:00Z".into(),
                from: BuiltFrom::SourceAmi
            },
            "a copy: the source AMI's creation, not the copy's"
        );
        assert_eq!(
            built(None, "sak-ami", None, copied_today),
            Built {
                at: "2026-12-06T10:00:00Z".into(),
                from: BuiltFrom::CreationDate
            }
        );
        assert_eq!(built(None, "x", None, "").from, BuiltFrom::Unknown);
    }

    #[test]
    fn times_sort_as_text_across_sources() {
        let a = built(Some("r-20250101T000000Z"), "", None, "").at;
        let b = built(None, "lava-x-2025-01-01T00-00-01Z", None, "").at;
        let c = built(None, "", None, "2025-01-01T00:00:02.000Z").at;
        assert!(a < b && b < c, "{a} {b} {c}");
    }
}
