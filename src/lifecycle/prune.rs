//! Pruning: per kind, the AMIs beyond the newest N by build time are deprecated
//! (EnableImageDeprecation at now plus `--deprecate-after`); with `--deregister`, those deprecated
//! at least `--min-deprecated-days` ago are deregistered together with the EBS snapshots of their
//! block devices (the others are deprecated first: a later run deregisters them). An AMI in use
//! (see `usage`), public, or shared with another account is never touched, whatever its age.
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

/// What prune is asked to do.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    /// AMIs kept per kind, newest first.
    pub keep: usize,
    /// Deregister (with snapshots) instead of only deprecating.
    pub deregister: bool,
    /// Days an AMI must have been deprecated (its DeprecationTime at least this long ago) before
    /// it is deregistered; 0 deregisters without deprecating first.
    pub min_deprecated_days: i64,
}

/// What becomes of an AMI beyond the newest `keep`, not in use and not shared.
fn prune_one(a: &Ami, r: &Rules, now: DateTime<Utc>) -> (Action, String) {
    let beyond = format!("beyond the newest {}", r.keep);
    let deprecated = a.deprecation_time.as_deref().and_then(|t| {
        DateTime::parse_from_rfc3339(t)
            .ok()
            .map(|d| (t, d.with_timezone(&Utc)))
    });
    if !r.deregister {
        return match a.deprecation_time.as_deref() {
            Some(t) => (Action::Keep, format!("already deprecated ({t})")),
            None => (Action::Deprecate, beyond),
        };
    }
    if r.min_deprecated_days == 0 {
        return (
            Action::Deregister,
            format!("{beyond} (--min-deprecated-days 0)"),
        );
    }
    let days = r.min_deprecated_days;
    match deprecated {
        Some((t, at)) if now - at >= chrono::Duration::days(days) => (
            Action::Deregister,
            format!("{beyond}, deprecated since {t} (at least {days} day(s))"),
        ),
        Some((t, at)) => (
            Action::Keep,
            format!(
                "deprecated at {t}: deregistered from {} ({days} day(s) after)",
                (at + chrono::Duration::days(days)).format("%Y-%m-%dT%H:%M:%SZ")
            ),
        ),
        None => (
            Action::Deprecate,
            format!(
                "{beyond}; not deprecated yet: deprecated now, deregistered {days} day(s) after its deprecation time"
            ),
        ),
    }
}

/// Why an AMI other accounts can launch is kept, or None.
fn shared(a: &Ami) -> Option<String> {
    if a.public {
        Some("public (launch permission for all): other accounts may run it".into())
    } else if !a.shared_with.is_empty() {
        Some(format!(
            "shared with {}: other accounts may run it",
            a.shared_with.join(", ")
        ))
    } else {
        None
    }
}

/// Decides for every lava AMI in `amis`: per kind, newest first by build time, the first `keep`
/// stay; of the others, those in use stay and name the user, public and shared ones stay; the rest
/// are deprecated or deregistered by `prune_one`. Pure.
pub fn plan(amis: &[Ami], used: &InUse, rules: &Rules, now: DateTime<Utc>) -> Vec<Decision> {
    let keep = rules.keep;
    let mut by_kind: BTreeMap<String, Vec<&Ami>> = BTreeMap::new();
    for a in amis {
        if let Some(k) = &a.kind {
            by_kind.entry(k.to_string()).or_default().push(a);
        }
    }
    let mut out = Vec::new();
    for (kind, mut list) in by_kind {
        list.sort_by(|a, b| (&b.built, &b.name).cmp(&(&a.built, &a.name)));
        let total = list.len();
        for (i, a) in list.into_iter().enumerate() {
            let (action, reason) = if i < keep {
                (Action::Keep, format!("newest {} of {total}", i + 1))
            } else if let Some(why) = used.reasons(&a.id) {
                (Action::Keep, format!("in use: {}", why.join("; ")))
            } else if let Some(why) = shared(a) {
                (Action::Keep, why)
            } else {
                prune_one(a, rules, now)
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
    use crate::ami::model::Kind;

    fn ami(id: &str, created: &str) -> Ami {
        Ami {
            id: id.into(),
            name: format!("lava-8.3.0-amzn2023-py3.11-x86_64-{created}"),
            region: "eu-west-1".into(),
            created: created.into(),
            built: created.into(),
            public: false,
            shared_with: Vec::new(),
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
        let rules = Rules {
            keep: 2,
            deregister: true,
            min_deprecated_days: 0,
        };
        let p = plan(&amis, &used, &rules, now);
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

    fn at(t: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(t).unwrap().with_timezone(&Utc)
    }

    fn actions(p: &[Decision]) -> Vec<(&str, Action)> {
        p.iter().map(|d| (d.ami.as_str(), d.action)).collect()
    }

    #[test]
    fn public_and_shared_amis_are_never_pruned() {
        let mut public = ami("ami-p", "2025-01-01T00:00:00.000Z");
        public.public = true;
        let mut shared = ami("ami-s", "2025-01-02T00:00:00.000Z");
        shared.shared_with = vec!["123456789012".into()];
        let plain = ami("ami-x", "2025-01-03T00:00:00.000Z");
        let newest = ami("ami-n", "2025-02-01T00:00:00.000Z");
        for deregister in [false, true] {
            let rules = Rules {
                keep: 1,
                deregister,
                min_deprecated_days: 0,
            };
            let p = plan(
                &[
                    public.clone(),
                    shared.clone(),
                    plain.clone(),
                    newest.clone(),
                ],
                &InUse::default(),
                &rules,
                at("2025-03-01T00:00:00Z"),
            );
            let pruned = if deregister {
                Action::Deregister
            } else {
                Action::Deprecate
            };
            assert_eq!(
                actions(&p),
                [
                    ("ami-n", Action::Keep),
                    ("ami-x", pruned),
                    ("ami-s", Action::Keep),
                    ("ami-p", Action::Keep),
                ]
            );
            assert!(
                p[2].reason.starts_with("shared with 123456789012"),
                "{}",
                p[2].reason
            );
            assert!(p[3].reason.starts_with("public"), "{}", p[3].reason);
        }
    }

    #[test]
    fn deregistration_only_after_n_days_of_deprecation() {
        let now = at("2025-03-20T00:00:00Z");
        let newest = ami("ami-n", "2025-03-01T00:00:00.000Z");
        let never = ami("ami-0", "2025-01-01T00:00:00.000Z");
        let mut recent = ami("ami-1", "2025-01-02T00:00:00.000Z");
        recent.deprecation_time = Some("2025-03-14T00:00:00.000Z".into());
        let mut long_ago = ami("ami-2", "2025-01-03T00:00:00.000Z");
        long_ago.deprecation_time = Some("2025-03-13T00:00:00.000Z".into());
        let mut future = ami("ami-3", "2025-01-04T00:00:00.000Z");
        future.deprecation_time = Some("2025-03-27T00:00:00.000Z".into());
        let amis = [newest, never, recent, long_ago, future];
        let rules = Rules {
            keep: 1,
            deregister: true,
            min_deprecated_days: 7,
        };
        let p = plan(&amis, &InUse::default(), &rules, now);
        assert_eq!(
            actions(&p),
            [
                ("ami-n", Action::Keep),
                ("ami-3", Action::Keep),
                ("ami-2", Action::Deregister),
                ("ami-1", Action::Keep),
                ("ami-0", Action::Deprecate),
            ],
            "7 days after the deprecation time exactly, not before; never deprecated: deprecated first"
        );
        assert!(
            p[3].reason
                .contains("deregistered from 2025-03-21T00:00:00Z"),
            "{}",
            p[3].reason
        );
        // Without --deregister, deprecated ones are left as they are.
        let only = Rules {
            deregister: false,
            ..rules
        };
        let p = plan(&amis, &InUse::default(), &only, now);
        assert_eq!(
            actions(&p)[1..],
            [
                ("ami-3", Action::Keep),
                ("ami-2", Action::Keep),
                ("ami-1", Action::Keep),
                ("ami-0", Action::Deprecate),
            ]
        );
    }

    #[test]
    fn newest_by_build_time_not_creation_date() {
        // A region copy of an old build, made last: its CreationDate is the newest.
        let mut copy = ami("ami-copy", "2025-06-01T00:00:00.000Z");
        copy.built = "2025-01-01T00:00:00Z".into();
        let build = ami("ami-new", "2025-03-01T00:00:00.000Z");
        let rules = Rules {
            keep: 1,
            deregister: false,
            min_deprecated_days: 7,
        };
        let p = plan(
            &[copy, build],
            &InUse::default(),
            &rules,
            at("2025-07-01T00:00:00Z"),
        );
        assert_eq!(
            actions(&p),
            [("ami-new", Action::Keep), ("ami-copy", Action::Deprecate)]
        );
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
