//! Validation of single parameter values (pure functions; no I/O).
use super::error::ConfigError;

fn is_hex_id(s: &str, prefix: &str) -> bool {
    s.strip_prefix(prefix).is_some_and(|hex| {
        (8..=17).contains(&hex.len())
            && hex
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    })
}

/// `Ok` when `ok`, else the error naming `param`, the value and what is expected.
fn expect(ok: bool, param: &str, v: &str, expected: &str) -> Result<(), ConfigError> {
    if ok {
        Ok(())
    } else {
        Err(ConfigError::invalid(param, v, expected))
    }
}

pub fn ami_id(v: &str) -> Result<(), ConfigError> {
    expect(
        is_hex_id(v, "ami-"),
        "ami_id",
        v,
        "an AMI id: ami- followed by 8 to 17 lower-case hex digits",
    )
}

pub fn subnet(v: &str) -> Result<(), ConfigError> {
    expect(
        is_hex_id(v, "subnet-"),
        "subnet",
        v,
        "a subnet id: subnet- followed by 8 to 17 lower-case hex digits",
    )
}

/// Validated security group ids (at least one), shown comma-separated as they are given.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct SecurityGroups(Vec<String>);

impl SecurityGroups {
    pub fn ids(&self) -> &[String] {
        &self.0
    }
}

impl std::fmt::Display for SecurityGroups {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.join(","))
    }
}

/// One or more security group ids, comma-separated, no spaces.
pub fn sg(v: &str) -> Result<SecurityGroups, ConfigError> {
    let ids: Vec<&str> = v.split(',').collect();
    if v.is_empty() || !ids.iter().all(|id| is_hex_id(id, "sg-")) {
        return Err(ConfigError::invalid(
            "sg",
            v,
            "security group ids (sg- followed by 8 to 17 hex digits), comma-separated without spaces",
        ));
    }
    Ok(SecurityGroups(ids.into_iter().map(String::from).collect()))
}

/// A processor architecture the tool builds AMIs and boot agents for, spelled as in AMI names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum Arch {
    #[serde(rename = "x86_64")]
    X86_64,
    #[serde(rename = "arm64")]
    Arm64,
}

impl Arch {
    pub const ALL: [Arch; 2] = [Arch::X86_64, Arch::Arm64];

    pub fn as_str(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Arm64 => "arm64",
        }
    }

    /// The architecture named `name` (`x86_64`, `arm64`), if the tool knows it.
    pub fn parse(name: &str) -> Option<Arch> {
        Arch::ALL.into_iter().find(|a| a.as_str() == name)
    }
}

impl std::fmt::Display for Arch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The address packer connects to on the build instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IpMode {
    /// A public IP, and packer connects to it.
    Public,
    /// Packer connects to the private address (from inside the VPC).
    Private,
}

impl std::fmt::Display for IpMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            IpMode::Public => "public",
            IpMode::Private => "private",
        })
    }
}

pub fn ip(v: &str) -> Result<IpMode, ConfigError> {
    match v {
        "public" => Ok(IpMode::Public),
        "private" => Ok(IpMode::Private),
        _ => Err(ConfigError::invalid("ip", v, "public or private")),
    }
}

/// How packer reaches the build instance (packer's `ssh_interface`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SshInterface {
    PublicIp,
    PrivateIp,
    /// SSH tunnelled through SSM Session Manager: no inbound port, no route from the runner to
    /// the instance (private subnets); needs the session-manager-plugin where packer runs.
    SessionManager,
}

impl SshInterface {
    pub fn as_str(self) -> &'static str {
        match self {
            SshInterface::PublicIp => "public_ip",
            SshInterface::PrivateIp => "private_ip",
            SshInterface::SessionManager => "session_manager",
        }
    }

    /// The interface `ip` implies when `ssh_interface` is not given.
    pub fn from_ip(ip: IpMode) -> Self {
        match ip {
            IpMode::Public => SshInterface::PublicIp,
            IpMode::Private => SshInterface::PrivateIp,
        }
    }
}

impl std::fmt::Display for SshInterface {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `ssh_interface`: public_ip (only with ip=public), private_ip or session_manager.
pub fn ssh_interface(v: &str, ip: IpMode) -> Result<SshInterface, ConfigError> {
    let parsed = match v {
        "public_ip" => SshInterface::PublicIp,
        "private_ip" => SshInterface::PrivateIp,
        "session_manager" => SshInterface::SessionManager,
        _ => {
            return Err(ConfigError::invalid(
                "ssh_interface",
                v,
                "public_ip, private_ip or session_manager",
            ));
        }
    };
    if parsed == SshInterface::PublicIp && ip == IpMode::Private {
        return Err(ConfigError::invalid(
            "ssh_interface",
            v,
            "private_ip or session_manager with ip=private (the instance gets no public address)",
        ));
    }
    Ok(parsed)
}

/// An IAM instance profile name: 1 to 128 of letters, digits and `+=,.@_-`.
pub fn instance_profile(v: &str) -> Result<(), ConfigError> {
    expect(
        (1..=128).contains(&v.len())
            && v.chars()
                .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c)),
        "instance_profile",
        v,
        "an IAM instance profile name (1 to 128 of letters, digits and +=,.@_-), not an ARN",
    )
}

/// A KMS key as packer's `kms_key_id` takes it: a key id, a key ARN, `alias/NAME` or an alias ARN.
pub fn kms_key_id(v: &str) -> Result<(), ConfigError> {
    let is_uuid = v.len() == 36
        && v.split('-').map(str::len).eq([8, 4, 4, 4, 12])
        && v.chars().all(|c| c == '-' || c.is_ascii_hexdigit());
    let is_mrk =
        v.starts_with("mrk-") && v.len() > 4 && v[4..].chars().all(|c| c.is_ascii_hexdigit());
    let name_ok = |n: &str| {
        !n.is_empty()
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || "/_-".contains(c))
    };
    let is_alias = v.strip_prefix("alias/").is_some_and(name_ok);
    let is_arn = v.starts_with("arn:aws")
        && v.split(':').count() == 6
        && v.split(':').nth(2) == Some("kms")
        && v.rsplit(':')
            .next()
            .is_some_and(|r| r.starts_with("key/") || r.starts_with("alias/"));
    expect(
        is_uuid || is_mrk || is_alias || is_arn,
        "kms_key_id",
        v,
        "a KMS key id, key ARN, alias/NAME or alias ARN",
    )
}

/// A KMS key ARN (`arn:PARTITION:kms:REGION:ACCOUNT:key/ID`): what an IAM policy can name as the
/// resource of `kms:Decrypt` (an alias cannot be).
pub fn kms_key_arn(param: &str, v: &str) -> Result<(), ConfigError> {
    let parts: Vec<&str> = v.split(':').collect();
    let ok = parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "kms"
        && !parts[3].is_empty()
        && parts[4].len() == 12
        && parts[4].chars().all(|c| c.is_ascii_digit())
        && parts[5].strip_prefix("key/").is_some_and(|id| {
            !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    expect(
        ok,
        param,
        v,
        "a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID; not an alias)",
    )
}

#[cfg(feature = "build")]
pub fn tz(v: &str) -> Result<(), ConfigError> {
    use std::str::FromStr;
    chrono_tz::Tz::from_str(v).map(|_| ()).map_err(|_| {
        ConfigError::invalid(
            "tz",
            v,
            "an IANA time zone name such as Australia/Sydney or UTC",
        )
    })
}

/// `X.Y.Z`; returns `X.Y`, which goes into the AMI name.
pub fn python_version(v: &str) -> Result<String, ConfigError> {
    let parts: Vec<&str> = v.split('.').collect();
    let numeric = |p: &&str| !p.is_empty() && p.len() <= 4 && p.chars().all(|c| c.is_ascii_digit());
    if parts.len() == 3 && parts.iter().all(numeric) && parts[0] == "3" {
        Ok(format!("{}.{}", parts[0], parts[1]))
    } else {
        Err(ConfigError::invalid(
            "python_version",
            v,
            "a full Python 3 version X.Y.Z such as 3.11.12",
        ))
    }
}

/// A lava release `X.Y.Z` (optionally with a pre-release suffix such as `8.3.0rc1`).
pub fn lava_version(v: &str) -> Result<(), ConfigError> {
    let mut parts = v.splitn(3, '.');
    let ok = match (parts.next(), parts.next(), parts.next()) {
        (Some(a), Some(b), Some(c)) => {
            let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
            let patch_digits: String = c.chars().take_while(|c| c.is_ascii_digit()).collect();
            let rest = &c[patch_digits.len()..];
            digits(a)
                && digits(b)
                && !patch_digits.is_empty()
                && rest.chars().all(|c| c.is_ascii_alphanumeric())
        }
        _ => false,
    };
    expect(ok, "lava_version", v, "a lava release X.Y.Z such as 8.3.0")
}

/// `s3prefix` must be empty (bucket root) or end with `/`, and not start with one.
pub fn s3prefix(v: &str) -> Result<(), ConfigError> {
    expect(
        v.is_empty() || (v.ends_with('/') && !v.starts_with('/') && !v.contains("//")),
        "s3prefix",
        v,
        "an S3 key prefix ending in '/' (and not starting with one), e.g. lava/ami/",
    )
}

/// S3 bucket naming rules (the common subset): 3-63 of a-z 0-9 . -, starting and ending alphanumeric.
pub fn s3bucket(v: &str) -> Result<(), ConfigError> {
    expect(
        crate::config::s3url::is_bucket(v),
        "s3bucket",
        v,
        "an S3 bucket name: 3 to 63 characters of a-z, 0-9, '.' and '-'",
    )
}

/// The one rule for AWS region names (`ap-southeast-2`, `us-gov-west-1`), for every tool:
/// `^[a-z]{2}(-[a-z]+)?-[a-z]+-[0-9]+$`.
pub fn is_region(r: &str) -> bool {
    let parts: Vec<&str> = r.split('-').collect();
    let letters = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase());
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match parts.as_slice() {
        [cc, area, n] => cc.len() == 2 && letters(cc) && letters(area) && digits(n),
        [cc, extra, area, n] => {
            cc.len() == 2 && letters(cc) && letters(extra) && letters(area) && digits(n)
        }
        _ => false,
    }
}

/// AWS region names such as `ap-southeast-2` or `us-gov-west-1` ([`is_region`]).
pub fn region(v: &str) -> Result<(), ConfigError> {
    expect(
        is_region(v),
        "region",
        v,
        "an AWS region name such as ap-southeast-2",
    )
}

/// Whether an instance type runs on Graviton (arm64) processors, by its family's attribute letters.
pub fn is_graviton(instance_type: &str) -> bool {
    let family = instance_type.split('.').next().unwrap_or("");
    if family == "a1" {
        return true;
    }
    // family = <series letters><generation digits><attribute letters>, e.g. m7gd, c7gn, im4gn, is4gen.
    let series_end = family
        .find(|c: char| c.is_ascii_digit())
        .unwrap_or(family.len());
    let after_gen = family[series_end..].trim_start_matches(|c: char| c.is_ascii_digit());
    after_gen.contains('g')
}

/// `family.size`, and the family must fit the architecture.
pub fn instance_type(v: &str, arch: &str) -> Result<(), ConfigError> {
    let well_formed = v.split_once('.').is_some_and(|(family, size)| {
        !family.is_empty()
            && family.starts_with(|c: char| c.is_ascii_lowercase())
            && family.chars().any(|c| c.is_ascii_digit())
            && family
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !size.is_empty()
            && size
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    });
    if !well_formed {
        return Err(ConfigError::invalid(
            "instance_type",
            v,
            "an EC2 instance type such as t3.large",
        ));
    }
    match (arch, is_graviton(v)) {
        ("arm64", false) => Err(ConfigError::invalid(
            "instance_type",
            v,
            "a Graviton instance type for arch arm64 (a family with a 'g' such as t4g, m7g, c7g, r8g)",
        )),
        ("x86_64", true) => Err(ConfigError::invalid(
            "instance_type",
            v,
            "an x86_64 instance type for arch x86_64 (not a Graviton family such as t4g; use arch=arm64 for those)",
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;
