//! Deploy-format config files: environments at the top level, AMI settings under `<env>.ami`.
use super::error::{ConfigError, nearest};
use super::source::{Source, Sourced};
use super::yaml::{YamlDoc, scalar_text, type_name};
use serde_yaml::Value;
use std::collections::BTreeMap;

/// Keys allowed under `<env>.ami`, with the parameter each one sets.
pub const AMI_KEYS: &[&str] = &[
    "s3",
    "ip",
    "ssh_interface",
    "instance_profile",
    "kms_key_id",
    "s3_kms_key",
    "subnet",
    "sg",
    "tz",
    "python",
    "os",
    "arch",
    "instance_type",
    "ami_ref",
    "ami_id",
    "region",
    "lava_version",
    "regions",
    "publish",
];

/// What the AMI build takes from one environment of a deploy file.
#[derive(Debug, Clone, Default)]
pub struct DeployAmi {
    /// Parameter name → value, for every scalar key set under `<env>.ami` (and `python.version`).
    pub values: BTreeMap<String, Sourced<String>>,
    /// `<env>.ami.s3`, unresolved (may be relative to s3base and contain `${version}`).
    pub s3: Option<Sourced<String>>,
    /// `<env>._.s3base`.
    pub s3base: Option<Sourced<String>>,
}

fn get<'a>(map: &'a Value, key: &str) -> Option<&'a Value> {
    map.as_mapping().and_then(|m| m.get(key))
}

fn key_text(k: &Value) -> String {
    scalar_text(k).unwrap_or_else(|| format!("{k:?}"))
}

impl DeployAmi {
    /// Reads `<env>` of the deploy file at `path`.
    pub fn load(path: &str, env: &str) -> Result<Self, ConfigError> {
        let doc = YamlDoc::load(path)?;
        Self::from_doc(&doc, env)
    }

    pub fn from_doc(doc: &YamlDoc, env: &str) -> Result<Self, ConfigError> {
        let Some(root) = doc.root.as_mapping() else {
            return Err(ConfigError::WrongType {
                location: doc.path.clone(),
                key: "(top level)".into(),
                expected: "a mapping of environment names".into(),
                found: type_name(&doc.root).into(),
            });
        };
        let Some(env_value) = root.get(env) else {
            let mut present: Vec<String> = root.keys().map(key_text).collect();
            present.sort();
            return Err(ConfigError::UnknownEnv {
                env: env.to_string(),
                path: doc.path.clone(),
                present: if present.is_empty() {
                    "none".into()
                } else {
                    present.join(", ")
                },
            });
        };
        if !env_value.is_mapping() {
            return Err(wrong_type(doc, &[env], "a mapping", env_value));
        }
        let mut out = DeployAmi::default();

        if let Some(under) = get(env_value, "_") {
            if !under.is_mapping() && !under.is_null() {
                return Err(wrong_type(doc, &[env, "_"], "a mapping", under));
            }
            if let Some(base) = get(under, "s3base") {
                let text = scalar_text(base)
                    .filter(|_| base.is_string())
                    .ok_or_else(|| wrong_type(doc, &[env, "_", "s3base"], "a string", base))?;
                out.s3base = Some(Sourced::new(text, source(doc, &[env, "_", "s3base"])));
            }
        }

        let Some(ami) = get(env_value, "ami") else {
            return Err(ConfigError::Yaml {
                location: doc.location(&[env]),
                message: format!("environment {env:?} has no ami section"),
            });
        };
        let Some(ami_map) = ami.as_mapping() else {
            return Err(wrong_type(doc, &[env, "ami"], "a mapping", ami));
        };
        for (k, v) in ami_map {
            let key = key_text(k);
            if !AMI_KEYS.contains(&key.as_str()) {
                return Err(ConfigError::UnknownFileKey {
                    location: doc.location(&[env, "ami", &key]),
                    nearest: nearest(&key, AMI_KEYS.iter().copied()),
                    section: format!("{env}.ami"),
                    key,
                });
            }
            let at = [env, "ami", key.as_str()];
            match key.as_str() {
                "python" => {
                    let Some(pm) = v.as_mapping() else {
                        return Err(wrong_type(doc, &at, "a mapping with a version key", v));
                    };
                    for (pk, pv) in pm {
                        let pkey = key_text(pk);
                        if pkey != "version" {
                            return Err(ConfigError::UnknownFileKey {
                                location: doc.location(&[env, "ami", "python", &pkey]),
                                nearest: nearest(&pkey, ["version"]),
                                section: format!("{env}.ami.python"),
                                key: pkey,
                            });
                        }
                        let at = [env, "ami", "python", "version"];
                        let text = string_or_number(doc, &at, pv)?;
                        out.values.insert(
                            "python_version".into(),
                            Sourced::new(text, source(doc, &at)),
                        );
                    }
                }
                "regions" | "publish" => {
                    let (name, value) = super::lifecycle::from_file(doc, env, &key, v)?;
                    out.values.insert(name, value);
                }
                "s3" => {
                    let text = scalar_text(v)
                        .filter(|_| v.is_string())
                        .ok_or_else(|| wrong_type(doc, &at, "a string", v))?;
                    out.s3 = Some(Sourced::new(text, source(doc, &at)));
                }
                _ => {
                    let text = string_or_number(doc, &at, v)?;
                    out.values
                        .insert(key.clone(), Sourced::new(text, source(doc, &at)));
                }
            }
        }
        Ok(out)
    }
}

fn string_or_number(doc: &YamlDoc, at: &[&str], v: &Value) -> Result<String, ConfigError> {
    match v {
        Value::String(_) | Value::Number(_) => Ok(scalar_text(v).unwrap_or_default()),
        _ => Err(wrong_type(doc, at, "a string", v)),
    }
}

fn source(doc: &YamlDoc, keys: &[&str]) -> Source {
    Source::File {
        path: doc.path.clone(),
        line: doc.line(keys),
    }
}

fn wrong_type(doc: &YamlDoc, keys: &[&str], expected: &str, found: &Value) -> ConfigError {
    ConfigError::WrongType {
        location: doc.location(keys),
        key: keys.join("."),
        expected: expected.into(),
        found: type_name(found).into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, env: &str) -> Result<DeployAmi, ConfigError> {
        DeployAmi::from_doc(&YamlDoc::parse("d.yaml", text).unwrap(), env)
    }

    const DEV: &str = "dev:\n  account_id: \"123\"\n  pkg:\n    s3: x\n  _:\n    s3base: bucket/base\n  ami:\n    s3: lava/ami/\n    ip: public\n    python:\n      version: \"3.11.12\"\n";

    #[test]
    fn reads_values_with_lines_and_ignores_other_deploy_keys() {
        let d = parse(DEV, "dev").unwrap();
        assert_eq!(d.values["ip"].value, "public");
        assert_eq!(d.values["ip"].source.to_string(), "d.yaml:9");
        assert_eq!(d.values["python_version"].value, "3.11.12");
        assert_eq!(d.s3.unwrap().value, "lava/ami/");
        assert_eq!(d.s3base.unwrap().value, "bucket/base");
    }

    #[test]
    fn unknown_env_lists_present_ones() {
        let e = parse(DEV, "prod").unwrap_err().to_string();
        assert_eq!(e, "env \"prod\" is not in d.yaml (environments there: dev)");
    }

    #[test]
    fn unknown_ami_key_is_located_and_suggested() {
        let e = parse("dev:\n  ami:\n    subnt: subnet-12345678\n", "dev")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "d.yaml:3: unknown key \"subnt\" under dev.ami (did you mean \"subnet\"?)"
        );
    }

    #[test]
    fn wrong_types_are_named() {
        let e = parse("dev:\n  ami:\n    ip: [public]\n", "dev")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "d.yaml:3: dev.ami.ip: wrong type: expected a string, found a list"
        );
        let e = parse("dev:\n  ami:\n    python: \"3.11.12\"\n", "dev")
            .unwrap_err()
            .to_string();
        assert!(e.contains("dev.ami.python: wrong type"), "{e}");
    }
}
