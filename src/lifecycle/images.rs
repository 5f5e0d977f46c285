//! The AMIs the lifecycle works on, as DescribeImages shows them: name, kind, tags, state,
//! deprecation time and the EBS snapshots behind them.
use super::error::LifecycleError;
use crate::ami::model::{self, ImageInfo, Kind};
use aws_sdk_ec2::types::{Filter, Image};
use std::collections::BTreeMap;

/// One AMI of this account in one region.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Ami {
    pub id: String,
    pub name: String,
    pub region: String,
    /// `YYYY-MM-DDTHH:MM:SS.000Z`, as EC2 gives it.
    pub created: String,
    /// The build time (see `ami::built`): the order of "newest" per kind.
    pub built: String,
    /// Launchable by every account (DescribeImages `Public`).
    pub public: bool,
    /// Accounts, organisations or `all` the AMI's launch permission names (DescribeImageAttribute).
    pub shared_with: Vec<String>,
    pub state: String,
    /// The lava kind (OS, Python X.Y, arch) from the name and tags; None for other AMIs.
    pub kind: Option<Kind>,
    pub description: Option<String>,
    pub deprecation_time: Option<String>,
    #[serde(skip)]
    pub tags: BTreeMap<String, String>,
    /// EBS snapshot id → volume size in GiB, for every block device with a snapshot.
    pub snapshots: Vec<(String, i32)>,
}

impl Ami {
    pub fn size_gib(&self) -> i64 {
        self.snapshots.iter().map(|(_, s)| i64::from(*s)).sum()
    }
}

fn from_image(i: &Image, region: &str) -> Ami {
    let tags: BTreeMap<String, String> = i
        .tags()
        .iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().to_string(),
                t.value().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let info = ImageInfo {
        id: i.image_id().unwrap_or_default().to_string(),
        name: i.name().unwrap_or_default().to_string(),
        created: i.creation_date().unwrap_or_default().to_string(),
        arch: i.architecture().map(|a| a.as_str().to_string()),
        tags: tags.clone(),
        source_created: None,
    };
    let lava = model::lava_ami(&info, false);
    let built = lava.as_ref().map(|a| a.built.clone()).unwrap_or_default();
    let kind = lava.map(|a| a.kind);
    Ami {
        id: info.id,
        name: info.name,
        region: region.to_string(),
        created: info.created,
        built,
        public: i.public().unwrap_or(false),
        shared_with: Vec::new(),
        state: i
            .state()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        kind,
        description: i.description().map(String::from),
        deprecation_time: i.deprecation_time().map(String::from),
        tags,
        snapshots: i
            .block_device_mappings()
            .iter()
            .filter_map(|m| m.ebs())
            .filter_map(|e| {
                e.snapshot_id()
                    .map(|s| (s.to_string(), e.volume_size().unwrap_or(0)))
            })
            .collect(),
    }
}

/// The account's own AMIs in `region` that match `filters` (deprecated ones included).
pub async fn describe(
    ec2: &aws_sdk_ec2::Client,
    region: &str,
    filters: Vec<Filter>,
) -> Result<Vec<Ami>, LifecycleError> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = ec2
            .describe_images()
            .owners("self")
            .include_deprecated(true)
            .set_filters(Some(filters.clone()))
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| LifecycleError::aws("DescribeImages", "of this account", region, &e))?;
        out.extend(page.images().iter().map(|i| from_image(i, region)));
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => break,
        }
    }
    Ok(out)
}

/// One AMI by id; `NoSuchAmi` when EC2 does not know it (code InvalidAMIID.*) or it is not ours.
pub async fn by_id(
    ec2: &aws_sdk_ec2::Client,
    region: &str,
    id: &str,
) -> Result<Ami, LifecycleError> {
    let missing = || LifecycleError::NoSuchAmi {
        ami: id.to_string(),
        region: region.to_string(),
    };
    let out = ec2
        .describe_images()
        .owners("self")
        .include_deprecated(true)
        .image_ids(id)
        .send()
        .await
        .map_err(|e| {
            use aws_sdk_ec2::error::ProvideErrorMetadata;
            match e.code() {
                Some(c) if c.starts_with("InvalidAMIID.") => missing(),
                _ => LifecycleError::aws("DescribeImages", id, region, &e),
            }
        })?;
    out.images()
        .iter()
        .find(|i| i.image_id() == Some(id))
        .map(|i| from_image(i, region))
        .ok_or_else(missing)
}

/// A filter on one name with the given values.
pub fn filter(name: &str, values: &[&str]) -> Filter {
    Filter::builder()
        .name(name)
        .set_values(Some(values.iter().map(|v| v.to_string()).collect()))
        .build()
}

/// Who else may launch AMI `id` (DescribeImageAttribute `launchPermission`): account ids,
/// organisation or OU ARNs, or `all` (public).
pub async fn launch_permissions(
    ec2: &aws_sdk_ec2::Client,
    region: &str,
    id: &str,
) -> Result<Vec<String>, LifecycleError> {
    let out = ec2
        .describe_image_attribute()
        .image_id(id)
        .attribute(aws_sdk_ec2::types::ImageAttributeName::LaunchPermission)
        .send()
        .await
        .map_err(|e| {
            LifecycleError::aws("DescribeImageAttribute launchPermission", id, region, &e)
        })?;
    Ok(out
        .launch_permissions()
        .iter()
        .filter_map(|p| {
            p.user_id()
                .or(p.organization_arn())
                .or(p.organizational_unit_arn())
                .map(String::from)
                .or_else(|| p.group().map(|g| g.as_str().to_string()))
        })
        .collect())
}
