//! What `lava-build ami` does after a build: publish the new AMIs (`--publish`) and copy them to
//! `ami.regions` / `regions=`, publishing the copies there too.
use super::copy::target_regions;
use super::copy::{self, CopyOptions, CopyResult};
use super::images;
use super::publish::{self, Published};
use crate::config::AmiParams;
use crate::output;
use crate::packer::manifest::BuiltAmi;
use serde::Serialize;
use std::time::Duration;

/// Publishing and copies of one build.
#[derive(Debug, Serialize)]
pub struct Distribution {
    pub published: Vec<Published>,
    pub copies: Vec<CopyResult>,
}

impl Distribution {
    /// The tables of what was published and copied (region × arch).
    pub fn print_text(&self) {
        if !self.published.is_empty() {
            let mut t = output::table(&["region", "kind", "parameter", "AMI id", "version"]);
            for p in &self.published {
                t.add_row(p.cells());
            }
            println!("published\n{t}");
        }
        if !self.copies.is_empty() {
            println!("copies");
            // Text only: the JSON form is part of the build report.
            let _ = super::copy::print_copies(&self.copies, output::Format::Text);
        }
    }

    /// The regions whose copies failed, when any did.
    pub fn failed(&self) -> Option<String> {
        let mut regions: Vec<&str> = self
            .copies
            .iter()
            .filter(|c| c.status == "failed")
            .map(|c| c.region.as_str())
            .collect();
        regions.dedup();
        (!regions.is_empty()).then(|| regions.join(", "))
    }
}

/// Before the build: the regions to copy to exist and are enabled (one DescribeRegions call), so
/// a typo stops the run before an hour of packer. Nothing to check without regions.
pub async fn preflight(params: &AmiParams, aws: &crate::aws::AwsConfig) -> anyhow::Result<()> {
    if params.regions.is_none() {
        return Ok(());
    }
    let sdk = aws.in_region(&params.region.value).await;
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    target_regions(
        &ec2,
        &params.region.value,
        "regions",
        &params.copy_regions(),
    )
    .await?;
    Ok(())
}

/// After the build: publishes the AMIs built (with `publish`) and copies them to the regions.
/// None when there is nothing to do. Copies that fail are in the result (see `failed`).
pub async fn distribute(
    params: &AmiParams,
    publish: bool,
    aws: &crate::aws::AwsConfig,
    built: &[BuiltAmi],
) -> anyhow::Result<Option<Distribution>> {
    let regions = params.copy_regions();
    if built.is_empty() || (!publish && regions.is_empty()) {
        return Ok(None);
    }
    let home = &params.region.value;
    let sdk = aws.in_region(home).await;
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let ssm = aws_sdk_ssm::Client::new(&sdk);
    let prefix = &params.publish_prefix.value;
    let mut sources = Vec::new();
    for b in built {
        sources.push(images::by_id(&ec2, &b.region, &b.ami_id).await?);
    }
    let mut published = Vec::new();
    if publish {
        for a in &sources {
            published.push(publish::publish(&ssm, prefix, a).await?);
        }
    }
    let opts = CopyOptions {
        regions: regions.into_iter().filter(|r| r != home).collect(),
        publish_prefix: publish.then(|| prefix.clone()),
        wait: Duration::from_secs(3600),
        poll: Duration::from_secs(15),
    };
    let copies = copy::copy_all(&sdk, &sources, &opts).await;
    Ok(Some(Distribution { published, copies }))
}
