//! `ami/ami-build.yaml`: the operating systems and architectures an AMI can be built for.
use super::error::ConfigError;
use super::yaml::YamlDoc;
use serde::Deserialize;
use std::collections::BTreeMap;

/// The whole of `ami-build.yaml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmiBuild {
    /// The os used when none is given.
    pub default_os: String,
    /// The architecture used when none is given.
    pub default_arch: String,
    pub os: BTreeMap<String, OsSpec>,
    pub arch: BTreeMap<String, ArchSpec>,
    #[serde(skip)]
    doc_path: String,
    #[serde(skip)]
    lines: BTreeMap<Vec<String>, usize>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OsSpec {
    /// Human name, used in AMI descriptions.
    pub description: String,
    /// Template for the tail of the SSM public parameter holding the base AMI id; sees `arch`.
    pub ami_ref: String,
    /// SSM namespace the `ami_ref` is appended to.
    pub ssm_prefix: String,
    /// The login user packer connects as.
    pub ssh_user: String,
    /// Still buildable, but no longer recommended.
    #[serde(default)]
    pub legacy: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArchSpec {
    /// Default build instance type for this architecture.
    pub instance_type: String,
}

impl AmiBuild {
    /// Refuses an os that has no provisioning tree `<ami_dir>/os/<os>/` (the legacy amzn2 is listed
    /// for its base AMI but is no longer provisioned): a configuration error before anything runs.
    pub fn require_tree(&self, os: &str, ami_dir: &std::path::Path) -> Result<(), ConfigError> {
        if ami_dir.join("os").join(os).is_dir() {
            return Ok(());
        }
        let buildable: Vec<&str> = self
            .os
            .keys()
            .filter(|k| ami_dir.join("os").join(k).is_dir())
            .map(String::as_str)
            .collect();
        let tree = ami_dir.join("os");
        let expected = if buildable.is_empty() {
            format!(
                "an os with a provisioning tree in {} (there is none: is --ami-build in the right folder?)",
                tree.display()
            )
        } else {
            format!(
                "{} (an os with a provisioning tree in {}; {os} has none and is not built any more)",
                buildable.join(" or "),
                tree.display()
            )
        };
        Err(ConfigError::invalid("os", os, &expected))
    }

    pub fn load(path: &str) -> Result<Self, ConfigError> {
        let doc = YamlDoc::load(path)?;
        Self::from_doc(&doc)
    }

    pub fn from_doc(doc: &YamlDoc) -> Result<Self, ConfigError> {
        let mut me: AmiBuild =
            serde_yaml::from_value(doc.root.clone()).map_err(|source| ConfigError::Shape {
                location: doc.path.clone(),
                source,
            })?;
        me.doc_path = doc.path.clone();
        for (name, os) in &me.os {
            me.lines.insert(
                vec!["os".into(), name.clone()],
                doc.line(&["os", name, "ami_ref"]).unwrap_or(0),
            );
            if !os.ssm_prefix.starts_with('/') || !os.ssm_prefix.ends_with('/') {
                return Err(ConfigError::Yaml {
                    location: doc.location(&["os", name, "ssm_prefix"]),
                    message: format!("ssm_prefix {:?} must start and end with '/'", os.ssm_prefix),
                });
            }
        }
        for key in ["default_os", "default_arch"] {
            if let Some(l) = doc.line(&[key]) {
                me.lines.insert(vec![key.to_string(), String::new()], l);
            }
        }
        for name in me.arch.keys() {
            me.lines.insert(
                vec!["arch".into(), name.clone()],
                doc.line(&["arch", name, "instance_type"]).unwrap_or(0),
            );
        }
        if !me.os.contains_key(&me.default_os) {
            return Err(ConfigError::Yaml {
                location: doc.location(&["default_os"]),
                message: format!("default_os {:?} is not a key of os", me.default_os),
            });
        }
        if !me.arch.contains_key(&me.default_arch) {
            return Err(ConfigError::Yaml {
                location: doc.location(&["default_arch"]),
                message: format!("default_arch {:?} is not a key of arch", me.default_arch),
            });
        }
        Ok(me)
    }

    pub fn path(&self) -> &str {
        &self.doc_path
    }

    /// Line of `os.<name>.ami_ref` or `arch.<name>.instance_type`, for sources.
    pub fn line_of(&self, section: &str, name: &str) -> Option<usize> {
        self.lines
            .get(&vec![section.to_string(), name.to_string()])
            .copied()
            .filter(|l| *l > 0)
    }

    /// The `ami_ref` of `os` rendered for `arch` (strict: an unknown variable is an error).
    pub fn render_ami_ref(&self, os: &str, arch: &str) -> Result<String, ConfigError> {
        let spec = self.os.get(os).ok_or_else(|| {
            ConfigError::invalid("os", os, &format!("one of {}", self.os_names()))
        })?;
        render_strict(&spec.ami_ref, arch).map_err(|source| ConfigError::Template {
            location: format!("{} (os.{os}.ami_ref)", self.doc_path),
            template: spec.ami_ref.clone(),
            source,
        })
    }

    pub fn os_names(&self) -> String {
        self.os.keys().cloned().collect::<Vec<_>>().join(", ")
    }

    pub fn arch_names(&self) -> String {
        self.arch.keys().cloned().collect::<Vec<_>>().join(", ")
    }
}

/// Renders a one-line template whose only variable is `arch`.
pub fn render_strict(template: &str, arch: &str) -> Result<String, minijinja::Error> {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.render_str(template, minijinja::context! { arch => arch })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "default_os: amzn2023\ndefault_arch: x86_64\nos:\n  amzn2023:\n    description: Amazon Linux 2023\n    ami_ref: \"al2023-ami-kernel-default-{{ arch }}\"\n    ssm_prefix: /aws/service/ami-amazon-linux-latest/\n    ssh_user: ec2-user\narch:\n  x86_64:\n    instance_type: t3.large\n";

    #[test]
    fn renders_ami_ref_with_arch() {
        let b = AmiBuild::from_doc(&YamlDoc::parse("a.yaml", SAMPLE).unwrap()).unwrap();
        assert_eq!(
            b.render_ami_ref("amzn2023", "arm64").unwrap(),
            "al2023-ami-kernel-default-arm64"
        );
        assert_eq!(b.line_of("os", "amzn2023"), Some(6));
        assert_eq!(b.line_of("arch", "x86_64"), Some(11));
        assert_eq!(b.line_of("default_os", ""), Some(1));
        assert_eq!(b.line_of("default_arch", ""), Some(2));
    }

    #[test]
    fn undefined_template_variables_are_errors() {
        let e = render_strict("x-{{ arc }}", "arm64").unwrap_err();
        assert_eq!(e.kind(), minijinja::ErrorKind::UndefinedError);
    }
}
