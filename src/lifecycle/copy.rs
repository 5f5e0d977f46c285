//! Copying AMIs to other regions: encrypted, with the source's tags plus `SourceRegion` and
//! `SourceAmi`, all copies in parallel, each waited for until available, then published there.
//! Idempotent by those two tags: a region that already has a copy (pending or available) of the
//! AMI gets none again. A failed copy names its region and leaves the others as they are.
use super::error::LifecycleError;
use super::images::{self, Ami};
use super::publish::{self, Published};
use crate::config::ConfigError;
use aws_config::{Region, SdkConfig};
use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification};
use serde::Serialize;
use std::time::{Duration, Instant};

/// How copies are made and waited for.
#[derive(Debug, Clone)]
pub struct CopyOptions {
    /// Target regions (the source region, when listed, is left out).
    pub regions: Vec<String>,
    /// Publish each copy in its region under this prefix.
    pub publish_prefix: Option<String>,
    /// How long to wait for each copy to become available.
    pub wait: Duration,
    /// Time between two looks at a pending copy.
    pub poll: Duration,
}

/// What happened to one AMI in one region.
#[derive(Debug, Clone, Serialize)]
pub struct CopyResult {
    pub region: String,
    pub arch: String,
    pub source: String,
    /// The copy's id, when there is one.
    pub ami: Option<String>,
    /// `copied`, `existing` (a copy was already there) or `failed`.
    pub status: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published: Option<Published>,
}

/// Tags a copy carries: the source's own (not `aws:`), the source's `SourceAmi` (the base AMI it
/// was built from) as `BaseAmi`, then `SourceRegion` and `SourceAmi` naming the copied AMI.
pub fn copy_tags(source: &Ami) -> Vec<(String, String)> {
    let mut tags: Vec<(String, String)> = source
        .tags
        .iter()
        .filter(|(k, _)| !k.starts_with("aws:") && *k != "SourceRegion" && *k != "SourceAmi")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if let Some(base) = source.tags.get("SourceAmi")
        && !source.tags.contains_key("BaseAmi")
    {
        tags.push(("BaseAmi".into(), base.clone()));
    }
    tags.push(("SourceRegion".into(), source.region.clone()));
    tags.push(("SourceAmi".into(), source.id.clone()));
    tags
}

/// An EC2 client for `region` with everything else from `sdk` (credentials, endpoint, timeouts).
pub fn ec2_in(sdk: &SdkConfig, region: &str) -> aws_sdk_ec2::Client {
    let conf = aws_sdk_ec2::config::Builder::from(sdk)
        .region(Region::new(region.to_string()))
        .build();
    aws_sdk_ec2::Client::from_conf(conf)
}

/// An SSM client for `region`.
pub fn ssm_in(sdk: &SdkConfig, region: &str) -> aws_sdk_ssm::Client {
    let conf = aws_sdk_ssm::config::Builder::from(sdk)
        .region(Region::new(region.to_string()))
        .build();
    aws_sdk_ssm::Client::from_conf(conf)
}

/// Refuses regions this account does not have enabled (DescribeRegions in `home`): a
/// configuration error naming the first unknown one, before anything is copied or pruned.
pub async fn check_regions(
    ec2: &aws_sdk_ec2::Client,
    home: &str,
    field: &str,
    regions: &[String],
) -> anyhow::Result<()> {
    let out = ec2
        .describe_regions()
        .send()
        .await
        .map_err(|e| LifecycleError::aws("DescribeRegions", "of this account", home, &e))?;
    let known: Vec<&str> = out
        .regions()
        .iter()
        .filter_map(|r| r.region_name())
        .collect();
    for r in regions {
        if !known.contains(&r.as_str()) {
            return Err(ConfigError::invalid(
                field,
                r,
                &format!(
                    "a region enabled for this account ({} of them, e.g. {})",
                    known.len(),
                    known.iter().take(3).copied().collect::<Vec<_>>().join(", ")
                ),
            )
            .into());
        }
    }
    Ok(())
}

/// Copies every AMI to every target region, all in parallel; one result per (region, AMI), in
/// the order regions × AMIs. Never fails as a whole: a failure is that pair's result.
pub async fn copy_all(sdk: &SdkConfig, amis: &[Ami], opts: &CopyOptions) -> Vec<CopyResult> {
    let mut jobs = Vec::new();
    for region in &opts.regions {
        for ami in amis.iter().filter(|a| &a.region != region) {
            jobs.push(copy_one(sdk, ami, region, opts));
        }
    }
    futures::future::join_all(jobs).await
}

async fn copy_one(sdk: &SdkConfig, source: &Ami, region: &str, opts: &CopyOptions) -> CopyResult {
    let mut result = CopyResult {
        region: region.to_string(),
        arch: source
            .kind
            .as_ref()
            .map(|k| k.arch.clone())
            .unwrap_or_else(|| "?".into()),
        source: source.id.clone(),
        ami: None,
        status: "failed".into(),
        reason: String::new(),
        published: None,
    };
    let ec2 = ec2_in(sdk, region);
    let outcome: Result<(), LifecycleError> = async {
        let (id, copied) = match existing(&ec2, region, source).await? {
            Some(id) => (id, false),
            None => (start_copy(&ec2, region, source).await?, true),
        };
        result.ami = Some(id.clone());
        let copy = wait_available(&ec2, region, &source.id, &id, opts).await?;
        result.status = if copied { "copied" } else { "existing" }.into();
        if let Some(prefix) = &opts.publish_prefix {
            let ssm = ssm_in(sdk, region);
            result.published = Some(publish::publish(&ssm, prefix, &copy).await?);
        }
        Ok(())
    }
    .await;
    if let Err(e) = outcome {
        result.status = "failed".into();
        result.reason = crate::error::one_line(&e.into());
    }
    result
}

/// A copy of `source` already in `region` (pending or available), found by its tags.
async fn existing(
    ec2: &aws_sdk_ec2::Client,
    region: &str,
    source: &Ami,
) -> Result<Option<String>, LifecycleError> {
    let found = images::describe(
        ec2,
        region,
        vec![
            images::filter("tag:SourceAmi", &[&source.id]),
            images::filter("tag:SourceRegion", &[&source.region]),
            images::filter("state", &["pending", "available"]),
        ],
    )
    .await?;
    Ok(found.into_iter().next().map(|a| a.id))
}

fn tags(source: &Ami) -> Vec<Tag> {
    copy_tags(source)
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// The CopyImage request for `source` (sent by the client's region): encrypted with the target
/// region's default EBS key, same name and description, tagged as `copy_tags` says.
pub fn copy_request(
    ec2: &aws_sdk_ec2::Client,
    source: &Ami,
) -> aws_sdk_ec2::operation::copy_image::builders::CopyImageFluentBuilder {
    let req = ec2
        .copy_image()
        .source_image_id(&source.id)
        .source_region(&source.region)
        .name(&source.name)
        .encrypted(true)
        .copy_image_tags(false)
        .tag_specifications(
            TagSpecification::builder()
                .resource_type(ResourceType::Image)
                .set_tags(Some(tags(source)))
                .build(),
        );
    match &source.description {
        Some(d) => req.description(d),
        None => req,
    }
}

async fn start_copy(
    ec2: &aws_sdk_ec2::Client,
    region: &str,
    source: &Ami,
) -> Result<String, LifecycleError> {
    let out = copy_request(ec2, source)
        .send()
        .await
        .map_err(|e| LifecycleError::aws("CopyImage", &source.id, region, &e))?;
    let id = out.image_id().unwrap_or_default().to_string();
    // The tags are in the request (set atomically by EC2); tagging again makes sure they are there
    // where the service ignored them (the emulator does), since finding copies relies on them.
    ec2.create_tags()
        .resources(&id)
        .set_tags(Some(tags(source)))
        .send()
        .await
        .map_err(|e| LifecycleError::aws("CreateTags", &id, region, &e))?;
    Ok(id)
}

async fn wait_available(
    ec2: &aws_sdk_ec2::Client,
    region: &str,
    source: &str,
    id: &str,
    opts: &CopyOptions,
) -> Result<Ami, LifecycleError> {
    let start = Instant::now();
    loop {
        let ami = images::by_id(ec2, region, id).await?;
        match ami.state.as_str() {
            "available" => return Ok(ami),
            "pending" | "transient" => {}
            other => {
                return Err(LifecycleError::CopyFailed {
                    ami: source.to_string(),
                    region: region.to_string(),
                    state: other.to_string(),
                });
            }
        }
        if start.elapsed() >= opts.wait {
            return Err(LifecycleError::CopyTimedOut {
                ami: source.to_string(),
                region: region.to_string(),
                minutes: opts.wait.as_secs() / 60,
            });
        }
        tokio::time::sleep(opts.poll).await;
    }
}

/// Checks target regions (syntax, duplicates, enabled for the account) and leaves out `home`.
pub async fn target_regions(
    ec2: &aws_sdk_ec2::Client,
    home: &str,
    field: &str,
    regions: &[String],
) -> anyhow::Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for r in regions {
        crate::config::validate::region(r).map_err(|_| {
            crate::config::ConfigError::invalid(field, r, "an AWS region name such as eu-west-1")
        })?;
        if out.contains(r) {
            return Err(crate::config::ConfigError::invalid(field, r, "each region once").into());
        }
        out.push(r.clone());
    }
    check_regions(ec2, home, field, &out).await?;
    out.retain(|r| r != home);
    Ok(out)
}

/// The table of copies: region × arch, with the copy, its status and what was published.
pub fn print_copies(results: &[CopyResult], format: crate::output::Format) -> anyhow::Result<()> {
    if format == crate::output::Format::Json {
        return crate::output::print_json(&results);
    }
    let mut t =
        crate::output::table(&["region", "arch", "source", "AMI id", "status", "published"]);
    for r in results {
        let status = if r.reason.is_empty() {
            r.status.clone()
        } else {
            format!("{}: {}", r.status, r.reason)
        };
        t.add_row(vec![
            r.region.clone(),
            r.arch.clone(),
            r.source.clone(),
            r.ami.clone().unwrap_or_else(|| "-".into()),
            status,
            r.published
                .as_ref()
                .map(|p| p.parameter.clone())
                .unwrap_or_else(|| "-".into()),
        ]);
    }
    println!("{t}");
    Ok(())
}
