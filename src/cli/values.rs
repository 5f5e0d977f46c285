//! How the rooms' enums are spelled on the command line: clap's `ValueEnum` for each, here so that
//! no room below `cli` knows clap. Each `match` is exhaustive: a new variant does not compile until
//! it has its spelling here.
#[cfg(feature = "build")]
use crate::engine::Platform;
#[cfg(feature = "build")]
use crate::job::connector::PullPolicy;
use crate::output::Format;
use crate::output::logging::Level;
#[cfg(feature = "build")]
use crate::registry::auth::AuthMode;

/// `impl clap::ValueEnum` from `Type { Variant => "spelling" [, "help"]; … }`.
macro_rules! value_enum {
    ($ty:ty { $($variant:path => $name:literal $(, $help:literal)?;)+ }) => {
        impl clap::ValueEnum for $ty {
            fn value_variants<'a>() -> &'a [Self] {
                &[$($variant),+]
            }

            fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
                Some(match self {
                    $($variant => clap::builder::PossibleValue::new($name)$(.help($help))?,)+
                })
            }
        }
    };
}

#[cfg(feature = "build")]
value_enum!(Platform {
    Platform::Amd64 => "linux/amd64";
    Platform::Arm64 => "linux/arm64";
});

value_enum!(Level {
    Level::Error => "error";
    Level::Warn => "warn";
    Level::Info => "info";
    Level::Debug => "debug";
    Level::Trace => "trace";
});

value_enum!(Format {
    Format::Text => "text", "Tables and lines for people";
    Format::Json => "json", "One JSON document for machines";
});

#[cfg(feature = "build")]
value_enum!(PullPolicy {
    PullPolicy::Always => "always", "Every run, as a lava worker does";
    PullPolicy::Missing => "missing", "Only when the engine has no image of that name";
    PullPolicy::Never => "never", "Never: the engine must have the image";
});

#[cfg(feature = "build")]
value_enum!(AuthMode {
    AuthMode::Auto => "auto",
        "ECR for <account>.dkr.ecr.<region>.amazonaws.com, else user + token when a user is set, else none";
    AuthMode::Ecr => "ecr",
        "A fresh ECR token from GetAuthorizationToken (region from the host name, else the AWS config)";
    AuthMode::Token => "token",
        "User (--user/LAVA_REGISTRY_USER) and token (LAVA_REGISTRY_TOKEN or --token-ssm)";
    AuthMode::None => "none", "Anonymous";
});

#[cfg(test)]
mod tests {
    use clap::ValueEnum;

    /// The spellings are what the rooms print and parse themselves.
    #[test]
    fn spellings_match_the_rooms() {
        #[cfg(feature = "build")]
        for p in crate::engine::Platform::ALL {
            assert_eq!(p.to_possible_value().unwrap().get_name(), p.as_str());
        }
        for l in super::Level::value_variants() {
            let name = l.to_possible_value().unwrap().get_name().to_string();
            assert_eq!(super::Level::from_str(&name, false), Ok(*l));
        }
    }
}
