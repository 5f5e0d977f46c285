//! Which AMIs are in use and must never be pruned: any stack parameter (value or resolved SSM
//! value) naming the id, the latest and default versions of every launch template (an image given
//! as `resolve:ssm:NAME` is resolved), and every AMI published under the prefix.
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
}

/// Everything in `region` that uses an AMI.
pub async fn in_use(c: &Clients<'_>, prefix: &str) -> Result<InUse, LifecycleError> {
    let mut used = InUse::default();
    stacks(c, &mut used).await?;
    launch_templates(c, &mut used).await?;
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
            let name = v.launch_template_name().unwrap_or_default();
            let number = v.version_number().unwrap_or_default();
            let which = if v.default_version().unwrap_or(false) {
                "default"
            } else {
                "latest"
            };
            let Some(image) = v.launch_template_data().and_then(|d| d.image_id()) else {
                continue;
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
        }
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => break,
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
