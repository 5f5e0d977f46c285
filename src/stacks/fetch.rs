//! The AWS side of lava-ami: DescribeImages, DescribeStacks, UpdateStack and waiting.
use super::error::StackError;
use super::model::StackInfo;
use super::replace::{Activity, Replacement};
use super::wait::{self, Outcome, Step};
use crate::ami::model::ImageInfo;
use aws_sdk_cloudformation::types::{Capability, Parameter};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Self-owned, available AMIs named `lava-*` (and `sak-*` with `sak`). A copy whose build time
/// neither its tags nor its name give has the creation time of its source AMI looked up.
pub async fn images(ec2: &aws_sdk_ec2::Client, sak: bool) -> Result<Vec<ImageInfo>, StackError> {
    use aws_sdk_ec2::types::Filter;
    let mut names = vec!["lava-*".to_string()];
    if sak {
        names.push("sak-*".into());
    }
    let out = ec2
        .describe_images()
        .owners("self")
        .filters(Filter::builder().name("state").values("available").build())
        .filters(
            Filter::builder()
                .name("name")
                .set_values(Some(names))
                .build(),
        )
        .send()
        .await
        .map_err(StackError::on("DescribeImages", "of this account"))?;
    let mut infos = Vec::new();
    for i in out.images() {
        let mut info = ImageInfo {
            id: owned(i.image_id()),
            name: owned(i.name()),
            created: owned(i.creation_date()),
            arch: i.architecture().map(|a| a.as_str().to_string()),
            tags: pairs(i.tags(), |t| (t.key(), t.value())),
            source_created: None,
        };
        let undated = crate::ami::built::built(
            info.tags.get("BuildId").map(String::as_str),
            &info.name,
            None,
            "",
        )
        .at
        .is_empty();
        if undated && let Some((id, region)) = source_of(i, &info.tags) {
            info.source_created = source_creation(ec2, &id, &region).await?;
        }
        infos.push(info);
    }
    Ok(infos)
}

/// The AMI an AMI was copied from: EC2's `SourceImageId`/`SourceImageRegion`, else the
/// `SourceAmi`/`SourceRegion` tags `lava-ami copy` writes.
fn source_of(
    i: &aws_sdk_ec2::types::Image,
    tags: &BTreeMap<String, String>,
) -> Option<(String, String)> {
    match (i.source_image_id(), i.source_image_region()) {
        (Some(id), Some(r)) => Some((id.to_string(), r.to_string())),
        _ => Some((
            tags.get("SourceAmi")?.clone(),
            tags.get("SourceRegion")?.clone(),
        )),
    }
}

/// The CreationDate of AMI `id` in `region`; None when it is gone (code InvalidAMIID.*).
async fn source_creation(
    ec2: &aws_sdk_ec2::Client,
    id: &str,
    region: &str,
) -> Result<Option<String>, StackError> {
    use aws_sdk_ec2::error::ProvideErrorMetadata;
    let conf = ec2
        .config()
        .to_builder()
        .region(aws_config::Region::new(region.to_string()))
        .build();
    let there = aws_sdk_ec2::Client::from_conf(conf);
    match there.describe_images().image_ids(id).send().await {
        Ok(out) => Ok(out
            .images()
            .iter()
            .find(|i| i.image_id() == Some(id))
            .and_then(|i| i.creation_date().map(String::from))),
        Err(e) if e.code().is_some_and(|c| c.starts_with("InvalidAMIID.")) => Ok(None),
        Err(e) => Err(StackError::aws(
            "DescribeImages",
            format!("{id} (the source of a copy) in {region}"),
            &e,
        )),
    }
}

/// Key/value pairs (tags, parameters) as a map, a missing key or value as "".
fn pairs<T>(
    items: &[T],
    kv: impl Fn(&T) -> (Option<&str>, Option<&str>),
) -> BTreeMap<String, String> {
    items
        .iter()
        .map(|item| {
            let (k, v) = kv(item);
            (owned(k), owned(v))
        })
        .collect()
}

fn owned(text: Option<&str>) -> String {
    text.unwrap_or_default().to_string()
}

fn status_text(s: &aws_sdk_cloudformation::types::Stack) -> String {
    owned(s.stack_status().map(|x| x.as_str()))
}

fn stack_info(s: &aws_sdk_cloudformation::types::Stack) -> StackInfo {
    StackInfo {
        name: owned(s.stack_name()),
        status: status_text(s),
        last_updated: s
            .last_updated_time()
            .or(s.creation_time())
            .and_then(|t| t.fmt(aws_smithy_types::date_time::Format::DateTime).ok())
            .unwrap_or_default(),
        parameters: pairs(s.parameters(), |p| (p.parameter_key(), p.parameter_value())),
        capabilities: s
            .capabilities()
            .iter()
            .map(|c| c.as_str().to_string())
            .collect(),
    }
}

/// Every stack that is not deleted.
pub async fn stacks(cfn: &aws_sdk_cloudformation::Client) -> Result<Vec<StackInfo>, StackError> {
    let mut out = Vec::new();
    let mut pages = cfn.describe_stacks().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(StackError::on("DescribeStacks", "of this region"))?;
        for s in page.stacks() {
            if s.stack_status().map(|x| x.as_str()) != Some("DELETE_COMPLETE") {
                out.push(stack_info(s));
            }
        }
    }
    Ok(out)
}

/// UpdateStack keeping the template, the capabilities and every other parameter's value.
/// The caller has already ruled out an update to the AMI the stack runs.
pub async fn update(
    cfn: &aws_sdk_cloudformation::Client,
    stack: &StackInfo,
    ami_parameter: &str,
    ami_id: &str,
) -> Result<(), StackError> {
    let params: Vec<Parameter> = stack
        .parameters
        .keys()
        .map(|k| {
            let p = Parameter::builder().parameter_key(k);
            if k == ami_parameter {
                p.parameter_value(ami_id).build()
            } else {
                p.use_previous_value(true).build()
            }
        })
        .collect();
    let caps: Vec<Capability> = stack
        .capabilities
        .iter()
        .map(|c| Capability::from(c.as_str()))
        .collect();
    cfn.update_stack()
        .stack_name(&stack.name)
        .use_previous_template(true)
        .set_parameters(Some(params))
        .set_capabilities((!caps.is_empty()).then_some(caps))
        .send()
        .await
        .map_err(StackError::on("UpdateStack", &stack.name))?;
    Ok(())
}

/// One stack by name.
async fn describe(
    cfn: &aws_sdk_cloudformation::Client,
    name: &str,
) -> Result<aws_sdk_cloudformation::types::Stack, StackError> {
    let req = cfn.describe_stacks().stack_name(name);
    let out = req
        .send()
        .await
        .map_err(StackError::on("DescribeStacks", name))?;
    out.stacks()
        .first()
        .cloned()
        .ok_or_else(|| StackError::Gone(name.to_string()))
}

/// The current value of one parameter of a stack (`None`: the stack has no such parameter).
pub async fn parameter(
    cfn: &aws_sdk_cloudformation::Client,
    name: &str,
    key: &str,
) -> Result<Option<String>, StackError> {
    let s = describe(cfn, name).await?;
    Ok(s.parameters()
        .iter()
        .find(|p| p.parameter_key() == Some(key))
        .map(|p| owned(p.parameter_value())))
}

/// How waiting for an update ended: the outcome, the stack status and why.
#[derive(Debug, Clone)]
pub struct Waited {
    pub outcome: Outcome,
    pub status: String,
    pub reason: String,
}

/// Polls the stack until `wait::decide` says it is done; a failure names the first resource that
/// failed in this update (from the stack events) rather than CloudFormation's summary.
pub async fn wait(
    cfn: &aws_sdk_cloudformation::Client,
    name: &str,
    limit: Duration,
    every: Duration,
) -> Result<Waited, StackError> {
    let started = Instant::now();
    loop {
        let s = describe(cfn, name).await?;
        let status = status_text(&s);
        let outcome = match wait::decide(&status, started.elapsed(), limit) {
            Step::Wait => {
                tokio::time::sleep(every).await;
                continue;
            }
            Step::Done(o) => o,
        };
        let reason = match outcome {
            Outcome::Complete => String::new(),
            Outcome::TimedOut => format!(
                "still {status} after {} min: check the stack in the console",
                limit.as_secs() / 60
            ),
            Outcome::RolledBack | Outcome::Failed => {
                let summary = owned(s.stack_status_reason());
                match events(cfn, name).await {
                    Ok(events) => wait::first_failure(&events).unwrap_or(summary),
                    Err(e) => {
                        crate::output::progress::warn(format!(
                            "{}: the stack's own reason is shown instead",
                            crate::error::one_line(&e.into())
                        ));
                        summary
                    }
                }
            }
        };
        return Ok(Waited {
            outcome,
            status,
            reason,
        });
    }
}

/// The stack's events, newest first (the first page is enough for the latest update).
async fn events(
    cfn: &aws_sdk_cloudformation::Client,
    name: &str,
) -> Result<Vec<wait::Event>, StackError> {
    let req = cfn.describe_stack_events().stack_name(name);
    let out = req
        .send()
        .await
        .map_err(StackError::on("DescribeStackEvents", name))?;
    Ok(out
        .stack_events()
        .iter()
        .map(|e| wait::Event {
            logical_id: owned(e.logical_resource_id()),
            resource_type: owned(e.resource_type()),
            status: e
                .resource_status()
                .map(|x| x.as_str().to_string())
                .unwrap_or_default(),
            reason: owned(e.resource_status_reason()),
        })
        .collect())
}

/// The auto scaling groups of a stack after an update begun at `since`: launch template version,
/// instances on it, scaling activities since then.
pub async fn replacement(
    cfn: &aws_sdk_cloudformation::Client,
    asg: &aws_sdk_autoscaling::Client,
    stack: &str,
    since: aws_smithy_types::DateTime,
) -> Result<Vec<Replacement>, StackError> {
    let req = cfn.describe_stack_resources().stack_name(stack);
    let res = req
        .send()
        .await
        .map_err(StackError::on("DescribeStackResources", stack))?;
    let names: Vec<String> = res
        .stack_resources()
        .iter()
        .filter(|r| r.resource_type() == Some("AWS::AutoScaling::AutoScalingGroup"))
        .filter_map(|r| r.physical_resource_id().map(String::from))
        .collect();
    let mut out = Vec::new();
    for name in names {
        let req = asg
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(&name);
        let groups = req
            .send()
            .await
            .map_err(StackError::on("DescribeAutoScalingGroups", &name))?;
        let Some(g) = groups.auto_scaling_groups().first() else {
            continue;
        };
        let version = g
            .launch_template()
            .or_else(|| {
                g.mixed_instances_policy()
                    .and_then(|m| m.launch_template())
                    .and_then(|l| l.launch_template_specification())
            })
            .and_then(|l| l.version());
        let instance_versions: Vec<Option<&str>> = g
            .instances()
            .iter()
            .map(|i| i.launch_template().and_then(|l| l.version()))
            .collect();
        let req = asg
            .describe_scaling_activities()
            .auto_scaling_group_name(&name);
        let acts = req
            .send()
            .await
            .map_err(StackError::on("DescribeScalingActivities", &name))?;
        // Newest first from the service; keep this update's, oldest first.
        let activities: Vec<Activity> = acts
            .activities()
            .iter()
            .filter(|a| a.start_time().is_some_and(|t| t.secs() >= since.secs()))
            .rev()
            .map(|a| Activity {
                description: owned(a.description()),
                status: a
                    .status_code()
                    .map(|c| c.as_str().to_string())
                    .unwrap_or_default(),
            })
            .collect();
        out.push(Replacement::new(
            &name,
            version,
            &instance_versions,
            activities,
        ));
    }
    Ok(out)
}
