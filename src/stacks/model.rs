//! Worker stacks: parsing, marking (which AMI each runs) and selection. Pure.
use crate::ami::model::{Kind, LavaAmi};
use globset::{Glob, GlobSet, GlobSetBuilder};
use serde::Serialize;
use std::collections::BTreeMap;

/// What is wrong with the selection asked for (a usage error).
#[derive(Debug, thiserror::Error)]
pub enum SelectError {
    #[error("-U/--update needs at least one stack pattern (e.g. 'lava-prod-*')")]
    NoPattern,
    #[error("-U/--update refuses the pattern '*': name the stacks to update (e.g. 'lava-prod-*')")]
    Star,
    #[error("stack pattern {0:?}")]
    Pattern(String, #[source] globset::Error),
}

/// One stack as DescribeStacks shows it.
#[derive(Debug, Clone, Default)]
pub struct StackInfo {
    pub name: String,
    pub status: String,
    pub last_updated: String,
    pub parameters: BTreeMap<String, String>,
    pub capabilities: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AmiState {
    /// The newest lava AMI of its kind.
    Newest,
    /// A lava AMI with a newer one of the same kind.
    Older,
    /// Not a lava AMI we can see (deregistered, someone else's, or not lava).
    Unknown,
}

#[derive(Debug, Clone, Serialize)]
pub struct WorkerStack {
    pub name: String,
    pub realm: String,
    pub worker: String,
    pub last_updated: String,
    pub status: String,
    /// `amiId`, or `sakAmiId` on stacks older than lava 7.1.
    pub ami_parameter: String,
    pub ami_id: String,
    pub ami_state: AmiState,
    pub kind: Option<Kind>,
    #[serde(skip)]
    pub parameters: BTreeMap<String, String>,
    #[serde(skip)]
    pub capabilities: Vec<String>,
}

/// A lava worker stack: parameters realm, worker and amiId (or sakAmiId) and a machine type: an
/// instance type, or attribute-based selection when that is empty (`workerVCpuMin` in lava's
/// template and ours, `vCpuMin` in our template before it took lava's names).
/// Anything else — not a worker, or a parasitic worker without an AMI or machine type — is None.
pub fn worker_stack(s: &StackInfo, all_amis: &[LavaAmi]) -> Option<WorkerStack> {
    let p = &s.parameters;
    let realm = p.get("realm")?;
    let worker = p.get("worker")?;
    let (ami_parameter, ami_id) = ["amiId", "sakAmiId"].iter().find_map(|k| {
        p.get(*k)
            .filter(|v| !v.is_empty())
            .map(|v| (k.to_string(), v.clone()))
    })?;
    let has_type = p
        .iter()
        .any(|(k, v)| k.to_ascii_lowercase().contains("instancetype") && !v.is_empty());
    let has_attributes = ["workerVCpuMin", "vCpuMin"]
        .iter()
        .any(|k| p.get(*k).is_some_and(|v| !v.is_empty()));
    if !has_type && !has_attributes {
        return None;
    }
    let ami = all_amis.iter().find(|a| a.id == ami_id);
    let (ami_state, kind) = match ami {
        Some(a) if a.newest => (AmiState::Newest, Some(a.kind.clone())),
        Some(a) => (AmiState::Older, Some(a.kind.clone())),
        None => (AmiState::Unknown, None),
    };
    Some(WorkerStack {
        name: s.name.clone(),
        realm: realm.clone(),
        worker: worker.clone(),
        last_updated: s.last_updated.clone(),
        status: s.status.clone(),
        ami_parameter,
        ami_id,
        ami_state,
        kind,
        parameters: s.parameters.clone(),
        capabilities: s.capabilities.clone(),
    })
}

/// Stack-name globs. An update needs at least one, and a bare `*` is refused.
pub fn patterns(globs: &[String], update: bool) -> Result<Option<GlobSet>, SelectError> {
    if update && globs.is_empty() {
        return Err(SelectError::NoPattern);
    }
    if update && globs.iter().any(|g| g.trim() == "*") {
        return Err(SelectError::Star);
    }
    if globs.is_empty() {
        return Ok(None);
    }
    let mut b = GlobSetBuilder::new();
    for g in globs {
        b.add(Glob::new(g).map_err(|e| SelectError::Pattern(g.clone(), e))?);
    }
    b.build()
        .map(Some)
        .map_err(|e| SelectError::Pattern(globs.join(" "), e))
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::ami::model::{ImageInfo, group, lava_ami};

    fn img(id: &str, name: &str, created: &str, tags: &[(&str, &str)]) -> ImageInfo {
        crate::ami::model::test_image(id, name, created, tags)
    }

    #[test]
    fn update_patterns_refuse_nothing_and_star() {
        assert!(matches!(patterns(&[], true), Err(SelectError::NoPattern)));
        assert!(
            patterns(&["*".into()], true)
                .unwrap_err()
                .to_string()
                .contains("refuses")
        );
        assert!(patterns(&["*".into()], false).unwrap().is_some());
        let g = patterns(&["lava-prod-*".into()], true).unwrap().unwrap();
        assert!(g.is_match("lava-prod-core") && !g.is_match("lava-dev-core"));
        assert!("amzn2023/py3.11/arm64".parse::<Kind>().is_ok());
        assert!("amzn2023".parse::<Kind>().is_err());
    }

    #[test]
    fn worker_stacks_need_realm_worker_ami_and_type() {
        let amis = group(
            vec![
                lava_ami(
                    &img(
                        "ami-1",
                        "lava-8.3.0-amzn2023-py3.11-x86_64-2025-01-01T00-00-00Z",
                        "2025",
                        &[],
                    ),
                    false,
                )
                .unwrap(),
            ],
            5,
        );
        let stack = |params: &[(&str, &str)]| StackInfo {
            name: "s".into(),
            parameters: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        };
        let w = worker_stack(
            &stack(&[
                ("realm", "r"),
                ("worker", "w"),
                ("amiId", "ami-1"),
                ("workerInstanceType", "t3.small"),
            ]),
            &amis,
        )
        .unwrap();
        assert_eq!(w.ami_state, AmiState::Newest);
        let old = worker_stack(
            &stack(&[
                ("realm", "r"),
                ("worker", "w"),
                ("sakAmiId", "ami-9"),
                ("InstanceType", "m5.large"),
            ]),
            &amis,
        )
        .unwrap();
        assert_eq!(
            (old.ami_parameter.as_str(), old.ami_state),
            ("sakAmiId", AmiState::Unknown)
        );
        assert!(
            worker_stack(
                &stack(&[("realm", "r"), ("worker", "w"), ("amiId", "ami-1")]),
                &amis
            )
            .is_none(),
            "parasitic"
        );
        assert!(worker_stack(&stack(&[("bucket", "b")]), &amis).is_none());
        let by_attributes = worker_stack(
            &stack(&[
                ("realm", "r"),
                ("worker", "w"),
                ("amiId", "ami-1"),
                ("workerInstanceType", ""),
                ("vCpuMin", "4"),
            ]),
            &amis,
        );
        assert!(by_attributes.is_some(), "attribute-based selection");
        // lava's own template: workerVCpuMin, 0 by default, with an empty instance type.
        let lava_template = worker_stack(
            &stack(&[
                ("realm", "r"),
                ("worker", "w"),
                ("amiId", "ami-1"),
                ("workerInstanceType", ""),
                ("workerVCpuMin", "0"),
                ("workerMemoryMin", "0"),
            ]),
            &amis,
        );
        assert!(lava_template.is_some(), "lava's attribute-based selection");
        assert!(
            worker_stack(
                &stack(&[
                    ("realm", "r"),
                    ("worker", "w"),
                    ("amiId", "ami-1"),
                    ("workerInstanceType", "")
                ]),
                &amis
            )
            .is_none(),
            "no type and no attributes"
        );
    }
}
