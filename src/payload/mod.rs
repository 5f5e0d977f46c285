//! Docker payloads of lava job framework projects: the project model (`config/<env>.yaml`,
//! `lava-payloads/*.docker`), the copy with `<{ }>` rendering and notebook conversion, the build on
//! the shared engine code, and the ECR repositories and pushes on the shared registry code.
pub mod build;
pub mod dockerignore;
pub mod index;
pub mod notebook;
pub mod prepare;
pub mod project;
pub mod push;
pub mod render;
pub mod run;

use crate::config::ConfigError;

/// What stops a payload run. A [`ConfigError`] (exit status 2) is kept as the source, so the
/// binary tells usage errors from failures.
#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    #[error("{0}")]
    Config(#[source] ConfigError),
    #[error("{0}")]
    Prepare(
        #[from]
        #[source]
        prepare::PrepareError,
    ),
    #[error(transparent)]
    Engine(#[from] crate::engine::EngineError),
    #[error(transparent)]
    Build(#[from] build::BuildError),
    #[error(transparent)]
    Ecr(#[from] crate::aws::ecr::EcrError),
    #[error(transparent)]
    Registry(#[from] crate::registry::RegistryError),
    /// A digests file, or what it lists, when the registry or a write failed (a run-time error).
    #[error("{0}")]
    Digests(#[source] crate::registry::digests::DigestsError),
    /// A digests file, or what it lists, that is wrong (a usage error).
    #[error("{0}")]
    DigestsInput(#[source] crate::error::UsageError),
    #[error("ECR repository {0} does not exist: nothing to index (install creates it)")]
    NoRepository(String),
    #[error("{failed} of {total} payloads failed ({names}); the first: {first}")]
    Failed {
        failed: usize,
        total: usize,
        names: String,
        first: String,
    },
}

impl From<crate::registry::digests::DigestsError> for PayloadError {
    fn from(e: crate::registry::digests::DigestsError) -> Self {
        if e.is_usage() {
            PayloadError::DigestsInput(crate::error::UsageError::new(e))
        } else {
            PayloadError::Digests(e)
        }
    }
}

impl From<ConfigError> for PayloadError {
    fn from(e: ConfigError) -> Self {
        PayloadError::Config(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_error_stays_in_the_chain_once() {
        let e = anyhow::Error::from(PayloadError::from(ConfigError::invalid(
            "config/dev.yaml: docker.platform",
            "linux/s390x",
            "host or linux/amd64",
        )));
        assert_eq!(crate::error::exit_code(&e), crate::error::EXIT_USAGE);
        assert_eq!(
            crate::error::one_line(&e),
            "config/dev.yaml: docker.platform: invalid value \"linux/s390x\": expected host or linux/amd64"
        );
        let e = anyhow::Error::from(PayloadError::Failed {
            failed: 1,
            total: 2,
            names: "etl".into(),
            first: "[etl linux/amd64] build failed: step \"RUN x\" failed".into(),
        });
        assert_eq!(crate::error::exit_code(&e), crate::error::EXIT_FAILURE);
    }

    #[test]
    fn a_digests_files_input_error_is_a_usage_error_and_a_registrys_is_not() {
        use crate::engine::Platform;
        use crate::registry::digests::DigestsError;
        let input = anyhow::Error::from(PayloadError::from(DigestsError::Empty));
        assert_eq!(crate::error::exit_code(&input), crate::error::EXIT_USAGE);
        assert_eq!(
            crate::error::one_line(&input),
            DigestsError::Empty.to_string(),
            "the marker adds no text"
        );
        let absent = anyhow::Error::from(PayloadError::from(DigestsError::Absent {
            repository: "r/x".into(),
            platform: Platform::Arm64,
            digest: "sha256:0".into(),
        }));
        assert_eq!(crate::error::exit_code(&absent), crate::error::EXIT_FAILURE);
    }
}
