//! Publishing: the current AMI of each kind in an SSM parameter
//! `<prefix>/<os>/py<X.Y>/<arch>/latest` (String, data type `aws:ec2:image`), so CloudFormation can
//! take it with `{{resolve:ssm:…}}` or an `AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>`
//! parameter. Overwriting keeps the previous value as the parameter's history (SSM keeps 100).
use super::error::LifecycleError;
use super::images::{self, Ami};
use crate::ami::model::Kind;
pub use crate::ami::prefix::{DEFAULT_PREFIX, PrefixError, check_prefix};
use aws_sdk_ssm::types::ParameterType;
use serde::Serialize;

/// The parameter that holds the published AMI of `kind`.
pub fn parameter_name(prefix: &str, kind: &Kind) -> String {
    format!(
        "{prefix}/{}/py{}/{}/latest",
        kind.os, kind.python, kind.arch
    )
}

/// What publishing one AMI did.
#[derive(Debug, Clone, Serialize)]
pub struct Published {
    pub region: String,
    pub kind: String,
    pub parameter: String,
    pub ami: String,
    /// The value before, when there was one.
    pub previous: Option<String>,
    /// The parameter's version after the call.
    pub version: i64,
    /// `published`, or `unchanged` when the parameter already held this AMI.
    pub status: String,
}

impl Published {
    /// The table cells region, kind, parameter, AMI id and version.
    pub fn cells(&self) -> Vec<String> {
        vec![
            self.region.clone(),
            self.kind.clone(),
            self.parameter.clone(),
            self.ami.clone(),
            self.version.to_string(),
        ]
    }
}

/// Publishes one lava AMI of `region` as the current AMI of its kind.
pub async fn publish(
    ssm: &aws_sdk_ssm::Client,
    prefix: &str,
    ami: &Ami,
) -> Result<Published, LifecycleError> {
    let kind = ami.kind.as_ref().ok_or_else(|| LifecycleError::NotLava {
        ami: ami.id.clone(),
        name: ami.name.clone(),
        region: ami.region.clone(),
    })?;
    let name = parameter_name(prefix, kind);
    let current = current(ssm, &ami.region, &name).await?;
    let mut out = Published {
        region: ami.region.clone(),
        kind: kind.to_string(),
        parameter: name.clone(),
        ami: ami.id.clone(),
        previous: current.as_ref().map(|c| c.0.clone()),
        version: current.as_ref().map(|c| c.1).unwrap_or(0),
        status: "unchanged".into(),
    };
    if out.previous.as_deref() == Some(ami.id.as_str()) {
        return Ok(out);
    }
    let put = ssm
        .put_parameter()
        .name(&name)
        .value(&ami.id)
        .r#type(ParameterType::String)
        .data_type("aws:ec2:image")
        .description(
            format!("lava AMI {} ({})", ami.name, kind)
                .chars()
                .take(1024)
                .collect::<String>(),
        )
        .overwrite(true)
        .send()
        .await
        .map_err(|e| LifecycleError::aws("PutParameter", &name, &ami.region, &e))?;
    out.version = put.version();
    out.status = "published".into();
    Ok(out)
}

/// The value and version of parameter `name`, None when it does not exist (code ParameterNotFound).
async fn current(
    ssm: &aws_sdk_ssm::Client,
    region: &str,
    name: &str,
) -> Result<Option<(String, i64)>, LifecycleError> {
    use aws_sdk_ssm::error::ProvideErrorMetadata;
    match ssm.get_parameter().name(name).send().await {
        Ok(out) => Ok(out
            .parameter()
            .map(|p| (p.value().unwrap_or_default().to_string(), p.version()))),
        Err(e) if e.code() == Some("ParameterNotFound") => Ok(None),
        Err(e) => Err(LifecycleError::aws("GetParameter", name, region, &e)),
    }
}

/// One published kind, as listed.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub parameter: String,
    pub ami: String,
    pub version: i64,
    pub modified: String,
}

/// Every parameter under `prefix` (recursively), sorted by name.
pub async fn list(
    ssm: &aws_sdk_ssm::Client,
    region: &str,
    prefix: &str,
) -> Result<Vec<Entry>, LifecycleError> {
    let mut out = Vec::new();
    let mut pages = ssm
        .get_parameters_by_path()
        .path(prefix)
        .recursive(true)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page =
            page.map_err(|e| LifecycleError::aws("GetParametersByPath", prefix, region, &e))?;
        for p in page.parameters() {
            out.push(Entry {
                parameter: p.name().unwrap_or_default().to_string(),
                ami: p.value().unwrap_or_default().to_string(),
                version: p.version(),
                modified: p
                    .last_modified_date()
                    .and_then(|t| t.fmt(aws_smithy_types::date_time::Format::DateTime).ok())
                    .unwrap_or_default(),
            });
        }
    }
    out.sort_by(|a, b| a.parameter.cmp(&b.parameter));
    Ok(out)
}

/// Publishes the given AMIs of one region, one after the other (each its own parameter).
pub async fn publish_ids(
    ec2: &aws_sdk_ec2::Client,
    ssm: &aws_sdk_ssm::Client,
    region: &str,
    prefix: &str,
    ids: &[String],
) -> Result<Vec<Published>, LifecycleError> {
    let mut out = Vec::new();
    for id in ids {
        let ami = images::by_id(ec2, region, id).await?;
        out.push(publish(ssm, prefix, &ami).await?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_checked() {
        assert!(check_prefix("/lava/ami").is_ok());
        assert!(check_prefix("/team-a/lava_ami.v2").is_ok());
        for bad in ["lava/ami", "/lava/ami/", "/", "/lava//ami", "/lava ami", ""] {
            assert!(check_prefix(bad).is_err(), "{bad}");
        }
        assert_eq!(
            check_prefix("/aws/lava").unwrap_err(),
            PrefixError::Reserved("aws".into())
        );
    }

    #[test]
    fn names_one_parameter_per_kind() {
        let k = Kind {
            os: "amzn2023".into(),
            python: "3.11".into(),
            arch: "arm64".into(),
        };
        assert_eq!(
            parameter_name("/lava/ami", &k),
            "/lava/ami/amzn2023/py3.11/arm64/latest"
        );
    }
}
