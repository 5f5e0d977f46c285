//! The command line of the commands that read a deploy file: the `key=value` parameters
//! `lava-build ami` knows, their parsing, and `config`/`env`, which go together.
use super::deploy::DeployAmi;
use super::error::{ConfigError, nearest};
use std::collections::BTreeMap;

/// One parameter a user can set.
pub struct ParamSpec {
    pub name: &'static str,
    pub required: bool,
    pub help: &'static str,
}

/// Every parameter `lava-build ami` accepts as `key=value`, in the order `--plan` shows them.
pub const PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "config",
        required: false,
        help: "deploy-format YAML file to read <env>.ami from (needs env)",
    },
    ParamSpec {
        name: "env",
        required: false,
        help: "environment key inside the config file (needs config)",
    },
    ParamSpec {
        name: "os",
        required: true,
        help: "key of os in ami/ami-build.yaml with a tree in ami/os/: amzn2023 (default; amzn2 is refused)",
    },
    ParamSpec {
        name: "arch",
        required: false,
        help: "x86_64 (default), arm64, or both as x86_64,arm64",
    },
    ParamSpec {
        name: "ami_ref",
        required: false,
        help: "tail of the SSM public parameter holding the base AMI id; may use {{ arch }}; default from ami-build.yaml",
    },
    ParamSpec {
        name: "ami_id",
        required: false,
        help: "base AMI id (ami-…); default: read from SSM via ami_ref",
    },
    ParamSpec {
        name: "instance_type",
        required: false,
        help: "build instance type; default per arch from ami-build.yaml; arm64 needs Graviton (t4g, m7g…)",
    },
    ParamSpec {
        name: "ip",
        required: true,
        help: "public or private: the address packer connects to (public also gets a public IP)",
    },
    ParamSpec {
        name: "ssh_interface",
        required: false,
        help: "how packer reaches the build instance: public_ip or private_ip (default from ip), or session_manager (SSM, no inbound SSH: private subnets)",
    },
    ParamSpec {
        name: "instance_profile",
        required: false,
        help: "existing IAM instance profile for the build instance instead of a temporary one (e.g. one with your permissions boundary)",
    },
    ParamSpec {
        name: "s3_kms_key",
        required: false,
        help: "ARN of the KMS key of the resource bucket, for the build instance's kms:Decrypt; default: read from the bucket's default encryption",
    },
    ParamSpec {
        name: "kms_key_id",
        required: false,
        help: "KMS key (id, ARN or alias/NAME) encrypting the AMI's volumes; default the account's EBS key",
    },
    ParamSpec {
        name: "python_version",
        required: true,
        help: "full Python version built on the AMI, e.g. 3.11.12 (config: python.version)",
    },
    ParamSpec {
        name: "s3bucket",
        required: true,
        help: "bucket holding the build resources (config: ami.s3 with _.s3base)",
    },
    ParamSpec {
        name: "s3prefix",
        required: true,
        help: "key prefix of the build resources, ending in / (config: ami.s3)",
    },
    ParamSpec {
        name: "sg",
        required: true,
        help: "security group id(s) for the build instance, comma-separated, no spaces",
    },
    ParamSpec {
        name: "subnet",
        required: true,
        help: "subnet id for the build instance",
    },
    ParamSpec {
        name: "tz",
        required: true,
        help: "IANA time zone set on instances, e.g. Australia/Sydney",
    },
    ParamSpec {
        name: "region",
        required: true,
        help: "AWS region; default AWS_REGION or the profile's region",
    },
    ParamSpec {
        name: "lava_version",
        required: false,
        help: "lava release the AMI is for; default this tool's version",
    },
    ParamSpec {
        name: "regions",
        required: false,
        help: "regions to copy the AMIs to after the build, comma-separated (config: ami.regions)",
    },
    ParamSpec {
        name: "publish_prefix",
        required: false,
        help: "SSM path the AMIs are published under with --publish; default /lava/ami (config: ami.publish.prefix)",
    },
];

fn known_names() -> impl Iterator<Item = &'static str> {
    PARAMS.iter().map(|p| p.name)
}

/// Parameters from the command line: name → value.
pub type CliParams = BTreeMap<String, String>;

/// Parses `key=value` words from the command line. Later words win over earlier ones.
pub fn parse_cli(words: &[String]) -> Result<CliParams, ConfigError> {
    let mut out = BTreeMap::new();
    for w in words {
        let Some((k, v)) = w.split_once('=') else {
            return Err(ConfigError::Usage {
                message: format!(
                    "argument {w:?}: expected key=value, e.g. python_version=3.11.12 (see --help for the keys)"
                ),
            });
        };
        let k = k.trim();
        if !known_names().any(|n| n == k) {
            return Err(ConfigError::UnknownCliKey {
                key: k.to_string(),
                nearest: nearest(k, known_names()),
            });
        }
        out.insert(k.to_string(), v.to_string());
    }
    Ok(out)
}

/// The names in `checks` whose flag says they are missing, in order.
pub fn missing<'a>(checks: &[(&'a str, bool)]) -> Vec<&'a str> {
    checks.iter().filter(|(_, m)| *m).map(|(n, _)| *n).collect()
}

/// The deploy file a command reads: `--config`/`--env` (or `config=`/`env=`, which the flags win
/// over), loaded when both are given; one without the other is an error.
#[derive(Debug, Clone, Default)]
pub struct DeployChoice {
    pub config: Option<String>,
    pub env: Option<String>,
    pub file: Option<DeployAmi>,
}

impl DeployChoice {
    /// Takes `config` and `env` out of the parsed `key=value` words and loads the file.
    pub fn resolve(
        config_flag: Option<&str>,
        env_flag: Option<&str>,
        cli: &mut BTreeMap<String, String>,
    ) -> Result<Self, ConfigError> {
        let (config_word, env_word) = (cli.remove("config"), cli.remove("env"));
        let config = config_flag.map(String::from).or(config_word);
        let env = env_flag.map(String::from).or(env_word);
        let file = match (&config, &env) {
            (Some(c), Some(e)) => Some(DeployAmi::load(c, e)?),
            (None, None) => None,
            (given, _) => {
                let (given, needed) = if given.is_some() {
                    ("config", "env")
                } else {
                    ("env", "config")
                };
                return Err(ConfigError::ConfigEnvPair {
                    given: given.into(),
                    needed: needed.into(),
                });
            }
        };
        Ok(DeployChoice { config, env, file })
    }
}
