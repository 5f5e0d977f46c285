//! The AMI lifecycle's settings of a build: `ami.regions` (or `regions=`) to copy the AMIs to,
//! and `ami.publish.prefix` (or `publish_prefix=`), the SSM path they are published under.
use super::error::ConfigError;
use super::source::{Source, Sourced};
use super::yaml::{YamlDoc, scalar_text, type_name};
use serde_yaml::Value;

/// Reads `<env>.ami.regions` (a list of region names, or one comma-separated string) or
/// `<env>.ami.publish` (a mapping with `prefix`) as the parameter it sets and its value.
pub fn from_file(
    doc: &YamlDoc,
    env: &str,
    key: &str,
    v: &Value,
) -> Result<(String, Sourced<String>), ConfigError> {
    let wrong = |at: &[&str], expected: &str, found: &Value| ConfigError::WrongType {
        location: doc.location(at),
        key: at.join("."),
        expected: expected.into(),
        found: type_name(found).into(),
    };
    let here = |at: &[&str]| Source::File {
        path: doc.path.clone(),
        line: doc.line(at),
    };
    if key == "regions" {
        let at = [env, "ami", "regions"];
        let text = match v {
            Value::String(s) => s.clone(),
            Value::Sequence(items) => {
                let mut names = Vec::new();
                for item in items {
                    match item {
                        Value::String(s) => names.push(s.clone()),
                        other => return Err(wrong(&at, "a list of region names", other)),
                    }
                }
                names.join(",")
            }
            other => return Err(wrong(&at, "a list of region names", other)),
        };
        return Ok(("regions".into(), Sourced::new(text, here(&at))));
    }
    let at = [env, "ami", "publish"];
    let Some(map) = v.as_mapping() else {
        return Err(wrong(&at, "a mapping with a prefix key", v));
    };
    let mut prefix = None;
    for (k, pv) in map {
        let k = scalar_text(k).unwrap_or_default();
        if k != "prefix" {
            return Err(ConfigError::UnknownFileKey {
                location: doc.location(&[env, "ami", "publish", &k]),
                nearest: super::error::nearest(&k, ["prefix"]),
                section: format!("{env}.ami.publish"),
                key: k,
            });
        }
        let at = [env, "ami", "publish", "prefix"];
        let Value::String(s) = pv else {
            return Err(wrong(&at, "a string", pv));
        };
        prefix = Some(Sourced::new(s.clone(), here(&at)));
    }
    let prefix = prefix.ok_or_else(|| ConfigError::Yaml {
        location: doc.location(&at),
        message: format!("{env}.ami.publish has no prefix"),
    })?;
    Ok(("publish_prefix".into(), prefix))
}

/// Checks the regions to copy to: region names, each once. None when none are set.
pub fn regions(v: Option<Sourced<String>>) -> Result<Option<Sourced<String>>, ConfigError> {
    let Some(v) = v else { return Ok(None) };
    let mut seen: Vec<&str> = Vec::new();
    for r in v.value.split(',').map(str::trim) {
        if r.is_empty() || super::validate::region(r).is_err() {
            return Err(ConfigError::invalid(
                "regions",
                &v.value,
                &format!(
                    "region names separated by commas, e.g. eu-west-1,us-east-1 ({r:?} is not one) [source: {}]",
                    v.source
                ),
            ));
        }
        if seen.contains(&r) {
            return Err(ConfigError::invalid(
                "regions",
                &v.value,
                &format!("each region once ({r} is listed twice)"),
            ));
        }
        seen.push(r);
    }
    Ok((!seen.is_empty()).then_some(v))
}

/// The publish prefix: given, or `/lava/ami`.
pub fn publish_prefix(v: Option<Sourced<String>>) -> Result<Sourced<String>, ConfigError> {
    let v = v.unwrap_or_else(|| {
        Sourced::new(
            crate::ami::prefix::DEFAULT_PREFIX.to_string(),
            Source::Default,
        )
    });
    crate::ami::prefix::check_prefix(&v.value)
        .map_err(|why| ConfigError::invalid("publish_prefix", &v.value, &why.to_string()))?;
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DeployAmi;

    fn load(text: &str) -> Result<DeployAmi, ConfigError> {
        DeployAmi::from_doc(&YamlDoc::parse("d.yaml", text).unwrap(), "dev")
    }

    #[test]
    fn reads_regions_and_prefix() {
        let d = load("dev:\n  ami:\n    regions: [eu-west-1, us-east-1]\n    publish:\n      prefix: /team/ami\n").unwrap();
        assert_eq!(d.values["regions"].value, "eu-west-1,us-east-1");
        assert_eq!(d.values["regions"].source.to_string(), "d.yaml:3");
        assert_eq!(d.values["publish_prefix"].value, "/team/ami");
        assert_eq!(d.values["publish_prefix"].source.to_string(), "d.yaml:5");
    }

    #[test]
    fn bad_settings_are_named() {
        let e = load("dev:\n  ami:\n    regions: [1]\n")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "d.yaml:3: dev.ami.regions: wrong type: expected a list of region names, found a number"
        );
        let e = load("dev:\n  ami:\n    publish:\n      prefx: /a\n")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "d.yaml:4: unknown key \"prefx\" under dev.ami.publish (did you mean \"prefix\"?)"
        );
        let e = regions(Some(Sourced::new("eu-west-1,nowhere".into(), Source::Cli)))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("regions: invalid value \"eu-west-1,nowhere\": expected region names"),
            "{e}"
        );
        let e = regions(Some(Sourced::new(
            "eu-west-1,eu-west-1".into(),
            Source::Cli,
        )))
        .unwrap_err()
        .to_string();
        assert!(
            e.ends_with("each region once (eu-west-1 is listed twice)"),
            "{e}"
        );
        let e = publish_prefix(Some(Sourced::new("lava/ami/".into(), Source::Cli)))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(
                "publish_prefix: invalid value \"lava/ami/\": expected an SSM parameter path"
            ),
            "{e}"
        );
    }
}
