//! Pruning: per kind, the AMIs beyond the newest N are deprecated (EnableImageDeprecation at now
//! plus `--deprecate-after`), or with `--deregister` deregistered together with the EBS snapshots
//! of their block devices. An AMI in use (see `usage`) is never touched, whatever its age.
use super::error::LifecycleError;
use super::images::Ami;
use super::usage::InUse;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;

/// Standard EBS snapshot storage price, USD per GB-month (us-east-1; other regions differ).
pub const SNAPSHOT_USD_PER_GB_MONTH: f64 = 0.05;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Keep,
    Deprecate,
    Deregister,
}

/// What prune decides for one AMI, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Decision {
    pub region: String,
    pub kind: String,
    pub ami: String,
    pub name: String,
    pub created: String,
    pub age_days: i64,
    pub snapshots: Vec<String>,
    pub size_gib: i64,
    pub action: Action,
    pub reason: String,
    /// After applying: `done`, `failed: …`, or empty in a dry run.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub outcome: String,
}

/// A `--deprecate-after` that is not a duration of at least an hour.
#[derive(Debug, thiserror::Error)]
#[error("{0:?}: expected a duration such as 7d or 12h (at least 1h)")]
pub struct DurationError(String);

/// Parses `--deprecate-after`: `<n>d` or `<n>h`, at least one hour.
pub fn parse_after(text: &str) -> Result<chrono::Duration, DurationError> {
    let expected = || DurationError(text.to_string());
    let (n, unit) = text.split_at(text.len().saturating_sub(1));
    let n: i64 = n.parse().map_err(|_| expected())?;
    let d = match unit {
        "d" => chrono::Duration::try_days(n),
        "h" => chrono::Duration::try_hours(n),
        _ => None,
    }
    .ok_or_else(expected)?;
    if d < chrono::Duration::hours(1) {
        return Err(expected());
    }
    Ok(d)
}

fn age_days(created: &str, now: DateTime<Utc>) -> i64 {
    DateTime::parse_from_rfc3339(created)
        .map(|c| (now - c.with_timezone(&Utc)).num_days())
        .unwrap_or(0)
}

/// Decides for every lava AMI in `amis`: per kind, newest first, the first `keep` stay; of the
/// others, those in use stay and name the user; the rest are deprecated or, with `deregister`,
/// deregistered. An AMI already deprecated is not deprecated again. Pure.
pub fn plan(
    amis: &[Ami],
    used: &InUse,
    keep: usize,
    deregister: bool,
    now: DateTime<Utc>,
) -> Vec<Decision> {
    let mut by_kind: BTreeMap<String, Vec<&Ami>> = BTreeMap::new();
    for a in amis {
        if let Some(k) = &a.kind {
            by_kind.entry(k.to_string()).or_default().push(a);
        }
    }
    let mut out = Vec::new();
    for (kind, mut list) in by_kind {
        list.sort_by(|a, b| (&b.created, &b.name).cmp(&(&a.created, &a.name)));
        let total = list.len();
        for (i, a) in list.into_iter().enumerate() {
            let (action, reason) = if i < keep {
                (Action::Keep, format!("newest {} of {total}", i + 1))
            } else if let Some(why) = used.reasons(&a.id) {
                (Action::Keep, format!("in use: {}", why.join("; ")))
            } else if deregister {
                (Action::Deregister, format!("beyond the newest {keep}"))
            } else if let Some(t) = &a.deprecation_time {
                (Action::Keep, format!("already deprecated ({t})"))
            } else {
                (Action::Deprecate, format!("beyond the newest {keep}"))
            };
            out.push(Decision {
                region: a.region.clone(),
                kind: kind.clone(),
                ami: a.id.clone(),
                name: a.name.clone(),
                created: a.created.clone(),
                age_days: age_days(&a.created, now),
                snapshots: a.snapshots.iter().map(|(s, _)| s.clone()).collect(),
                size_gib: a.size_gib(),
                action,
                reason,
                outcome: String::new(),
            });
        }
    }
    out
}

/// The EnableImageDeprecation request for one AMI.
pub fn deprecate_request(
    ec2: &aws_sdk_ec2::Client,
    ami: &str,
    at: DateTime<Utc>,
) -> aws_sdk_ec2::operation::enable_image_deprecation::builders::EnableImageDeprecationFluentBuilder
{
    ec2.enable_image_deprecation()
        .image_id(ami)
        .deprecate_at(aws_smithy_types::DateTime::from_secs(at.timestamp()))
}

/// Sets the deprecation time of one AMI.
pub async fn deprecate(
    ec2: &aws_sdk_ec2::Client,
    region: &str,
    ami: &str,
    at: DateTime<Utc>,
) -> Result<(), LifecycleError> {
    deprecate_request(ec2, ami, at)
        .send()
        .await
        .map_err(|e| LifecycleError::aws("EnableImageDeprecation", ami, region, &e))?;
    Ok(())
}

/// Deregisters one AMI, then deletes its snapshots (a snapshot already gone, code
/// InvalidSnapshot.NotFound, counts as deleted).
pub async fn deregister(
    ec2: &aws_sdk_ec2::Client,
    region: &str,
    ami: &str,
    snapshots: &[String],
) -> Result<(), LifecycleError> {
    use aws_sdk_ec2::error::ProvideErrorMetadata;
    ec2.deregister_image()
        .image_id(ami)
        .send()
        .await
        .map_err(|e| LifecycleError::aws("DeregisterImage", ami, region, &e))?;
    for s in snapshots {
        match ec2.delete_snapshot().snapshot_id(s).send().await {
            Ok(_) => {}
            Err(e) if e.code() == Some("InvalidSnapshot.NotFound") => {}
            Err(e) => {
                return Err(LifecycleError::aws(
                    "DeleteSnapshot",
                    format!("{s} of deregistered {ami}"),
                    region,
                    &e,
                ));
            }
        }
    }
    Ok(())
}

/// Carries out the decisions of one region; records each outcome. Returns whether all went well.
pub async fn apply(
    ec2: &aws_sdk_ec2::Client,
    region: &str,
    decisions: &mut [Decision],
    deprecate_at: DateTime<Utc>,
) -> bool {
    let mut ok = true;
    for d in decisions.iter_mut().filter(|d| d.region == region) {
        let r = match d.action {
            Action::Keep => continue,
            Action::Deprecate => deprecate(ec2, region, &d.ami, deprecate_at).await,
            Action::Deregister => deregister(ec2, region, &d.ami, &d.snapshots).await,
        };
        d.outcome = match r {
            Ok(()) => "done".into(),
            Err(e) => {
                ok = false;
                format!("failed: {}", crate::error::one_line(&e.into()))
            }
        };
    }
    ok
}

/// GiB of snapshots deleted (or to be deleted, in a dry run) and its monthly cost estimate.
pub fn freed(decisions: &[Decision], dry_run: bool) -> (i64, f64) {
    let gib: i64 = decisions
        .iter()
        .filter(|d| d.action == Action::Deregister && (dry_run || d.outcome == "done"))
        .map(|d| d.size_gib)
        .sum();
    (gib, gib as f64 * SNAPSHOT_USD_PER_GB_MONTH)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stacks::model::Kind;

    fn ami(id: &str, created: &str) -> Ami {
        Ami {
            id: id.into(),
            name: format!("lava-8.3.0-amzn2023-py3.11-x86_64-{created}"),
            region: "eu-west-1".into(),
            created: created.into(),
            state: "available".into(),
            kind: Some(Kind {
                os: "amzn2023".into(),
                python: "3.11".into(),
                arch: "x86_64".into(),
            }),
            description: None,
            deprecation_time: None,
            tags: BTreeMap::new(),
            snapshots: vec![(format!("snap-{id}"), 8)],
        }
    }

    #[test]
    fn keeps_newest_and_used_prunes_the_rest() {
        let amis = [
            ami("ami-1", "2025-01-01T00:00:00.000Z"),
            ami("ami-3", "2025-03-01T00:00:00.000Z"),
            ami("ami-2", "2025-02-01T00:00:00.000Z"),
            ami("ami-0", "2024-12-01T00:00:00.000Z"),
        ];
        let mut used = InUse::default();
        used.0
            .insert("ami-0".into(), vec!["stack s parameter amiId".into()]);
        let now = DateTime::parse_from_rfc3339("2025-03-11T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let p = plan(&amis, &used, 2, true, now);
        let got: Vec<(&str, Action)> = p.iter().map(|d| (d.ami.as_str(), d.action)).collect();
        assert_eq!(
            got,
            [
                ("ami-3", Action::Keep),
                ("ami-2", Action::Keep),
                ("ami-1", Action::Deregister),
                ("ami-0", Action::Keep),
            ]
        );
        assert_eq!(p[0].age_days, 10);
        assert_eq!(p[3].reason, "in use: stack s parameter amiId");
        assert_eq!(freed(&p, true), (8, 0.4));
    }

    #[test]
    fn deprecate_after_is_parsed() {
        assert_eq!(parse_after("7d").unwrap(), chrono::Duration::days(7));
        assert_eq!(parse_after("12h").unwrap(), chrono::Duration::hours(12));
        for bad in ["0h", "7", "d", "7w", "-1d", ""] {
            assert!(parse_after(bad).is_err(), "{bad}");
        }
    }
}
