//! The AWS side of lava-ami: DescribeImages, DescribeStacks, UpdateStack and waiting.
use super::model::{ImageInfo, StackInfo};
use aws_sdk_cloudformation::types::{Capability, Parameter};
use std::time::{Duration, Instant};

fn describe<E, R>(err: &aws_sdk_ec2::error::SdkError<E, R>) -> String
where
    E: aws_sdk_ec2::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    crate::aws::describe(err)
}

/// Self-owned, available AMIs named `lava-*` (and `sak-*` with `sak`).
pub async fn images(ec2: &aws_sdk_ec2::Client, sak: bool) -> Result<Vec<ImageInfo>, String> {
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
        .map_err(|e| format!("DescribeImages: {}", describe(&e)))?;
    Ok(out
        .images()
        .iter()
        .map(|i| ImageInfo {
            id: i.image_id().unwrap_or_default().to_string(),
            name: i.name().unwrap_or_default().to_string(),
            created: i.creation_date().unwrap_or_default().to_string(),
            arch: i.architecture().map(|a| a.as_str().to_string()),
            tags: i
                .tags()
                .iter()
                .map(|t| {
                    (
                        t.key().unwrap_or_default().to_string(),
                        t.value().unwrap_or_default().to_string(),
                    )
                })
                .collect(),
        })
        .collect())
}

fn stack_info(s: &aws_sdk_cloudformation::types::Stack) -> StackInfo {
    StackInfo {
        name: s.stack_name().unwrap_or_default().to_string(),
        status: s
            .stack_status()
            .map(|x| x.as_str().to_string())
            .unwrap_or_default(),
        last_updated: s
            .last_updated_time()
            .or(s.creation_time())
            .and_then(|t| t.fmt(aws_smithy_types::date_time::Format::DateTime).ok())
            .unwrap_or_default(),
        parameters: s
            .parameters()
            .iter()
            .map(|p| {
                (
                    p.parameter_key().unwrap_or_default().to_string(),
                    p.parameter_value().unwrap_or_default().to_string(),
                )
            })
            .collect(),
        capabilities: s
            .capabilities()
            .iter()
            .map(|c| c.as_str().to_string())
            .collect(),
    }
}

/// Every stack that is not deleted.
pub async fn stacks(cfn: &aws_sdk_cloudformation::Client) -> Result<Vec<StackInfo>, String> {
    let mut out = Vec::new();
    let mut pages = cfn.describe_stacks().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| format!("DescribeStacks: {}", crate::aws::describe(&e)))?;
        for s in page.stacks() {
            if s.stack_status().map(|x| x.as_str()) != Some("DELETE_COMPLETE") {
                out.push(stack_info(s));
            }
        }
    }
    Ok(out)
}

/// What an update request led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Started {
    Updating,
    AlreadyCurrent,
}

/// UpdateStack keeping the template, the capabilities and every other parameter's value.
pub async fn update(
    cfn: &aws_sdk_cloudformation::Client,
    stack: &StackInfo,
    ami_parameter: &str,
    ami_id: &str,
) -> Result<Started, String> {
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
    match cfn
        .update_stack()
        .stack_name(&stack.name)
        .use_previous_template(true)
        .set_parameters(Some(params))
        .set_capabilities((!caps.is_empty()).then_some(caps))
        .send()
        .await
    {
        Ok(_) => Ok(Started::Updating),
        Err(e) => {
            let text = crate::aws::describe(&e);
            if text.contains("No updates are to be performed") {
                Ok(Started::AlreadyCurrent)
            } else {
                Err(format!("UpdateStack: {text}"))
            }
        }
    }
}

/// Final status of a stack update: (status, reason).
pub async fn wait(
    cfn: &aws_sdk_cloudformation::Client,
    name: &str,
    limit: Duration,
    every: Duration,
) -> Result<(String, String), String> {
    let started = Instant::now();
    loop {
        let out = cfn
            .describe_stacks()
            .stack_name(name)
            .send()
            .await
            .map_err(|e| format!("DescribeStacks {name}: {}", crate::aws::describe(&e)))?;
        let s = out
            .stacks()
            .first()
            .ok_or(format!("stack {name} is gone"))?;
        let status = s
            .stack_status()
            .map(|x| x.as_str().to_string())
            .unwrap_or_default();
        if !status.ends_with("_IN_PROGRESS") {
            return Ok((
                status,
                s.stack_status_reason().unwrap_or_default().to_string(),
            ));
        }
        if started.elapsed() >= limit {
            return Err(format!(
                "still {status} after {} min: check the stack in the console",
                limit.as_secs() / 60
            ));
        }
        tokio::time::sleep(every).await;
    }
}
