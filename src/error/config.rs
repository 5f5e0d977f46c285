//! Configuration errors: each names the parameter (or file position), the bad value and what is expected.
use thiserror::Error;

/// An error in the user's configuration or command line. Always exit status 2.
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("{param}: invalid value {value:?}: expected {expected}")]
    Invalid {
        param: String,
        value: String,
        expected: String,
    },
    #[error("{param}: required parameter is missing: {hint}")]
    Missing { param: String, hint: String },
    #[error("unknown parameter {key:?} on the command line{}", suggestion(.nearest))]
    UnknownCliKey {
        key: String,
        nearest: Option<String>,
    },
    #[error("{location}: unknown key {key:?} under {section}{}", suggestion(.nearest))]
    UnknownFileKey {
        location: String,
        key: String,
        section: String,
        nearest: Option<String>,
    },
    #[error("{location}: {key}: wrong type: expected {expected}, found {found}")]
    WrongType {
        location: String,
        key: String,
        expected: String,
        found: String,
    },
    #[error("{location}: {message}")]
    Yaml { location: String, message: String },
    #[cfg(feature = "build")]
    #[error("{location}")]
    Shape {
        location: String,
        #[source]
        source: serde_yaml::Error,
    },
    #[error("{path}: cannot read")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[cfg(feature = "build")]
    #[error("{location}: cannot render {template:?}")]
    Template {
        location: String,
        template: String,
        #[source]
        source: minijinja::Error,
    },
    #[error("env {env:?} is not in {path} (environments there: {present})")]
    UnknownEnv {
        env: String,
        path: String,
        present: String,
    },
    #[error("{given} is set but {needed} is not: config and env go together")]
    ConfigEnvPair { given: String, needed: String },
    #[error("{message}")]
    Usage { message: String },
}

fn suggestion(nearest: &Option<String>) -> String {
    match nearest {
        Some(n) => format!(" (did you mean {n:?}?)"),
        None => String::new(),
    }
}

impl ConfigError {
    /// A usage error that is a sentence of its own (a flag that needs another, a wrong word).
    pub fn usage(message: impl Into<String>) -> Self {
        ConfigError::Usage {
            message: message.into(),
        }
    }

    pub fn invalid(param: &str, value: &str, expected: &str) -> Self {
        ConfigError::Invalid {
            param: param.to_string(),
            value: value.to_string(),
            expected: expected.to_string(),
        }
    }
}

/// The known name closest to `key`, if it is close enough to be a plausible typo.
pub fn nearest<'a>(key: &str, known: impl IntoIterator<Item = &'a str>) -> Option<String> {
    known
        .into_iter()
        .map(|k| (strsim::damerau_levenshtein(key, k), k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        let known = ["subnet", "sg", "python_version", "instance_type"];
        assert_eq!(nearest("subnt", known), Some("subnet".into()));
        assert_eq!(
            nearest("pyton_version", known),
            Some("python_version".into())
        );
        assert_eq!(nearest("colour", known), None);
    }

    #[test]
    fn messages_read_as_one_line() {
        let e = ConfigError::invalid("ip", "pubic", "public or private");
        assert_eq!(
            e.to_string(),
            "ip: invalid value \"pubic\": expected public or private"
        );
        let e = ConfigError::UnknownCliKey {
            key: "subnt".into(),
            nearest: Some("subnet".into()),
        };
        assert_eq!(
            e.to_string(),
            "unknown parameter \"subnt\" on the command line (did you mean \"subnet\"?)"
        );
    }
}
