//! Which AMIs are in use and must never be pruned: any stack parameter (value or resolved SSM
//! value) naming the id, the latest and default versions of every launch template and every version
//! an auto scaling group pins (an image given as `resolve:ssm:NAME` is resolved), launch
//! configurations, instances not terminated, every AMI published under the prefix, and what EC2's
//! DescribeImageReferences names (instances, launch templates, SSM parameters, Image Builder recipes).
use super::error::LifecycleError;
use super::publish;
use std::collections::BTreeMap;

/// AMI id → why it is in use.
#[derive(Debug, Clone, Default)]
pub struct InUse(pub BTreeMap<String, Vec<String>>);

impl InUse {
    fn add(&mut self, value: &str, why: impl Fn() -> String) {
        for id in value.split(',').map(str::trim) {
            if id.starts_with("ami-") {
                let reasons = self.0.entry(id.to_string()).or_default();
                let why = why();
                if !reasons.contains(&why) {
                    reasons.push(why);
                }
            }
        }
    }

    /// The references DescribeImageReferences gave: (AMI, resource type, ARN).
    pub fn add_references<'a>(
        &mut self,
        refs: impl IntoIterator<Item = (&'a str, &'a str, &'a str)>,
    ) {
        for (ami, kind, arn) in refs {
            self.add(ami, || format!("{kind} {arn} (DescribeImageReferences)"));
        }
    }

    /// Why `id` is in use, or None.
    pub fn reasons(&self, id: &str) -> Option<&[String]> {
        self.0.get(id).map(Vec::as_slice)
    }
}

/// Clients of one region.
pub struct Clients<'a> {
    pub region: &'a str,
    pub ec2: &'a aws_sdk_ec2::Client,
    pub cfn: &'a aws_sdk_cloudformation::Client,
    pub ssm: &'a aws_sdk_ssm::Client,
    pub asg: &'a aws_sdk_autoscaling::Client,
}

/// Everything in `region` that uses an AMI.
pub async fn in_use(c: &Clients<'_>, prefix: &str) -> Result<InUse, LifecycleError> {
    let mut used = InUse::default();
    stacks(c, &mut used).await?;
    launch_templates(c, &mut used).await?;
    pinned_versions(c, &mut used).await?;
    launch_configurations(c, &mut used).await?;
    instances(c, &mut used).await?;
    for e in publish::list(c.ssm, c.region, prefix).await? {
        used.add(&e.ami, || format!("published in {}", e.parameter));
    }
    Ok(used)
}

async fn stacks(c: &Clients<'_>, used: &mut InUse) -> Result<(), LifecycleError> {
    let mut pages = c.cfn.describe_stacks().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page
            .map_err(|e| LifecycleError::aws("DescribeStacks", "of this region", c.region, &e))?;
        for s in page.stacks() {
            if s.stack_status().map(|x| x.as_str()) == Some("DELETE_COMPLETE") {
                continue;
            }
            let name = s.stack_name().unwrap_or_default();
            for p in s.parameters() {
                let key = p.parameter_key().unwrap_or_default();
                let why = || format!("stack {name} parameter {key}");
                used.add(p.parameter_value().unwrap_or_default(), why);
                used.add(p.resolved_value().unwrap_or_default(), why);
            }
        }
    }
    Ok(())
}

async fn launch_templates(c: &Clients<'_>, used: &mut InUse) -> Result<(), LifecycleError> {
    let mut token: Option<String> = None;
    loop {
        let page = c
            .ec2
            .describe_launch_template_versions()
            .versions("$Latest")
            .versions("$Default")
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| {
                LifecycleError::aws(
                    "DescribeLaunchTemplateVersions",
                    "$Latest and $Default of every launch template",
                    c.region,
                    &e,
                )
            })?;
        for v in page.launch_template_versions() {
            let which = if v.default_version().unwrap_or(false) {
                "default"
            } else {
                "latest"
            };
            add_version(c, used, v, which).await?;
        }
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => break,
        }
    }
    Ok(())
}

/// Records the image of one launch template version; `which` says why the version counts.
async fn add_version(
    c: &Clients<'_>,
    used: &mut InUse,
    v: &aws_sdk_ec2::types::LaunchTemplateVersion,
    which: &str,
) -> Result<(), LifecycleError> {
    let name = v.launch_template_name().unwrap_or_default();
    let number = v.version_number().unwrap_or_default();
    let Some(image) = v.launch_template_data().and_then(|d| d.image_id()) else {
        return Ok(());
    };
    if let Some(param) = image.strip_prefix("resolve:ssm:") {
        if let Some(id) = resolve_ssm(c, param).await? {
            used.add(&id, || {
                format!("launch template {name} version {number} ({which}) through {param}")
            });
        }
    } else {
        used.add(image, || {
            format!("launch template {name} version {number} ({which})")
        });
    }
    Ok(())
}

/// A launch template version an auto scaling group or its instances use, by template id (or
/// name) and version number.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pinned {
    pub template_id: Option<String>,
    pub template_name: Option<String>,
    pub version: String,
    pub why: String,
}

/// The numbered versions a group pins (its own launch template, a mixed instances policy's
/// template and overrides) and its instances run. `$Latest`/`$Default` are scanned for every
/// template already. Pure.
pub fn pinned_by(g: &aws_sdk_autoscaling::types::AutoScalingGroup) -> Vec<Pinned> {
    use aws_sdk_autoscaling::types::LaunchTemplateSpecification as Spec;
    let group = g.auto_scaling_group_name().unwrap_or_default();
    let mut specs: Vec<(&Spec, String)> = Vec::new();
    if let Some(s) = g.launch_template() {
        specs.push((s, format!("group {group}")));
    }
    if let Some(lt) = g.mixed_instances_policy().and_then(|m| m.launch_template()) {
        if let Some(s) = lt.launch_template_specification() {
            specs.push((s, format!("group {group}")));
        }
        for o in lt.overrides() {
            if let Some(s) = o.launch_template_specification() {
                specs.push((s, format!("group {group} (override)")));
            }
        }
    }
    for i in g.instances() {
        if let Some(s) = i.launch_template() {
            let id = i.instance_id().unwrap_or_default();
            specs.push((s, format!("instance {id} of group {group}")));
        }
    }
    let mut out: Vec<Pinned> = specs
        .into_iter()
        .filter_map(|(s, why)| {
            let version = s.version()?;
            version.parse::<i64>().ok()?;
            Some(Pinned {
                template_id: s.launch_template_id().map(String::from),
                template_name: s.launch_template_name().map(String::from),
                version: version.to_string(),
                why,
            })
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Every numbered launch template version an auto scaling group pins or its instances run.
async fn pinned_versions(c: &Clients<'_>, used: &mut InUse) -> Result<(), LifecycleError> {
    let mut pinned = Vec::new();
    let mut pages = c.asg.describe_auto_scaling_groups().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            LifecycleError::aws("DescribeAutoScalingGroups", "of this region", c.region, &e)
        })?;
        for g in page.auto_scaling_groups() {
            pinned.extend(pinned_by(g));
        }
    }
    for p in pinned {
        let template = p
            .template_id
            .clone()
            .or(p.template_name.clone())
            .unwrap_or_default();
        let out = c
            .ec2
            .describe_launch_template_versions()
            .set_launch_template_id(p.template_id.clone())
            .set_launch_template_name(p.template_name.clone().filter(|_| p.template_id.is_none()))
            .versions(&p.version)
            .send()
            .await
            .map_err(|e| {
                LifecycleError::aws(
                    "DescribeLaunchTemplateVersions",
                    format!("{template} version {} ({})", p.version, p.why),
                    c.region,
                    &e,
                )
            })?;
        for v in out.launch_template_versions() {
            add_version(c, used, v, &format!("pinned by {}", p.why)).await?;
        }
    }
    Ok(())
}

/// Every launch configuration's image.
async fn launch_configurations(c: &Clients<'_>, used: &mut InUse) -> Result<(), LifecycleError> {
    let mut pages = c
        .asg
        .describe_launch_configurations()
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            LifecycleError::aws(
                "DescribeLaunchConfigurations",
                "of this region",
                c.region,
                &e,
            )
        })?;
        for lc in page.launch_configurations() {
            let name = lc.launch_configuration_name().unwrap_or_default();
            used.add(lc.image_id().unwrap_or_default(), || {
                format!("launch configuration {name}")
            });
        }
    }
    Ok(())
}

/// The AMI of every instance not terminated (pending, running, stopping, stopped, shutting down):
/// an instance of it still runs or may start again, and whoever launched it may launch it again.
async fn instances(c: &Clients<'_>, used: &mut InUse) -> Result<(), LifecycleError> {
    let states = ["pending", "running", "stopping", "stopped", "shutting-down"];
    let mut pages = c
        .ec2
        .describe_instances()
        .filters(super::images::filter("instance-state-name", &states))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            LifecycleError::aws("DescribeInstances", "of this region", c.region, &e)
        })?;
        for i in page.reservations().iter().flat_map(|r| r.instances()) {
            let id = i.instance_id().unwrap_or_default();
            let state = i
                .state()
                .and_then(|s| s.name())
                .map(|n| n.as_str().to_string())
                .unwrap_or_default();
            used.add(i.image_id().unwrap_or_default(), || {
                format!("instance {id} ({state})")
            });
        }
    }
    Ok(())
}

/// What DescribeImageReferences says of `ids` (every resource type it knows), into `used`.
pub async fn image_references(
    c: &Clients<'_>,
    ids: &[String],
    used: &mut InUse,
) -> Result<(), LifecycleError> {
    for chunk in ids.chunks(50) {
        let mut pages = c
            .ec2
            .describe_image_references()
            .set_image_ids(Some(chunk.to_vec()))
            .include_all_resource_types(true)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| {
                LifecycleError::aws(
                    "DescribeImageReferences",
                    format!("of {} AMI(s)", chunk.len()),
                    c.region,
                    &e,
                )
            })?;
            used.add_references(page.image_references().iter().map(|r| {
                (
                    r.image_id().unwrap_or_default(),
                    r.resource_type().map(|t| t.as_str()).unwrap_or_default(),
                    r.arn().unwrap_or_default(),
                )
            }));
        }
    }
    Ok(())
}

/// The value of an SSM parameter a launch template names (`NAME`, `NAME:VERSION` or
/// `NAME:LABEL`); None when it does not exist (code ParameterNotFound).
async fn resolve_ssm(c: &Clients<'_>, param: &str) -> Result<Option<String>, LifecycleError> {
    use aws_sdk_ssm::error::ProvideErrorMetadata;
    match c.ssm.get_parameter().name(param).send().await {
        Ok(out) => Ok(out.parameter().and_then(|p| p.value()).map(String::from)),
        Err(e) if e.code() == Some("ParameterNotFound") => Ok(None),
        Err(e) => Err(LifecycleError::aws("GetParameter", param, c.region, &e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_autoscaling::types::{
        AutoScalingGroup, Instance, LaunchTemplate, LaunchTemplateOverrides,
        LaunchTemplateSpecification as Spec, MixedInstancesPolicy,
    };

    fn spec(id: &str, version: &str) -> Spec {
        Spec::builder()
            .launch_template_id(id)
            .version(version)
            .build()
    }

    #[test]
    fn numbered_versions_of_groups_overrides_and_instances() {
        let g = AutoScalingGroup::builder()
            .auto_scaling_group_name("lava-prod-core")
            .mixed_instances_policy(
                MixedInstancesPolicy::builder()
                    .launch_template(
                        LaunchTemplate::builder()
                            .launch_template_specification(spec("lt-1", "4"))
                            .overrides(
                                LaunchTemplateOverrides::builder()
                                    .launch_template_specification(spec("lt-2", "$Latest"))
                                    .build(),
                            )
                            .build(),
                    )
                    .build(),
            )
            .instances(
                Instance::builder()
                    .instance_id("i-old")
                    .launch_template(spec("lt-1", "3"))
                    .build(),
            )
            .build();
        let got: Vec<(String, String)> = pinned_by(&g)
            .into_iter()
            .map(|p| (p.version, p.why))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "3".to_string(),
                    "instance i-old of group lava-prod-core".to_string()
                ),
                ("4".to_string(), "group lava-prod-core".to_string()),
            ],
            "$Latest is scanned with every template already"
        );
    }

    #[test]
    fn image_references_mark_their_amis() {
        let mut used = InUse::default();
        used.add_references([
            (
                "ami-1",
                "ec2:Instance",
                "arn:aws:ec2:eu-west-1:1:instance/i-1",
            ),
            (
                "ami-1",
                "ssm:Parameter",
                "arn:aws:ssm:eu-west-1:1:parameter/x",
            ),
            ("", "ec2:Instance", "arn:none"),
        ]);
        assert_eq!(
            used.reasons("ami-1").unwrap(),
            [
                "ec2:Instance arn:aws:ec2:eu-west-1:1:instance/i-1 (DescribeImageReferences)",
                "ssm:Parameter arn:aws:ssm:eu-west-1:1:parameter/x (DescribeImageReferences)",
            ]
        );
        assert_eq!(used.0.len(), 1);
    }
}
