//! Command-line parsing shared by the binaries: a bad argument ends the program with one line on
//! stderr (clap's first paragraph: the argument, the bad value, what is expected) and exit status 2;
//! help and version are printed as clap prints them. Then the command runs to an exit status.
use anyhow::Context;
use aws_config::SdkConfig;
use clap::Parser;

/// `--profile`: the one definition, flattened into every command that calls AWS.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ProfileArg {
    /// AWS profile (else AWS_PROFILE or the default chain).
    #[arg(long = "profile", env = "AWS_PROFILE", value_name = "NAME")]
    pub name: Option<String>,
}

impl ProfileArg {
    pub fn get(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The command's AWS configuration: this profile, the region from the environment or the
    /// profile (loaded once, at its first use).
    pub fn aws(&self) -> crate::aws::AwsConfig {
        crate::aws::AwsConfig::new(self.get(), None)
    }
}

/// `--profile` and `--region`, flattened into every command that calls AWS with the SDK defaults.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct AwsArgs {
    #[command(flatten)]
    pub profile: ProfileArg,
    /// AWS region (else AWS_REGION or the profile's).
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
}

impl AwsArgs {
    /// The SDK configuration these arguments select ([`crate::aws::sdk_config`]): built once per
    /// command and passed down.
    pub async fn sdk_config(&self) -> SdkConfig {
        crate::aws::sdk_config(self.profile.get(), self.region.as_deref()).await
    }

    /// The command's AWS configuration (loaded once, at its first use).
    pub fn aws(&self) -> crate::aws::AwsConfig {
        crate::aws::AwsConfig::new(self.profile.get(), self.region.as_deref())
    }
}

#[cfg(feature = "build")]
/// Registry credentials on the command line (images, payloads): how to authenticate and with what.
#[derive(Debug, Clone, clap::Args)]
pub struct RegistryArgs {
    /// How to authenticate to the registry.
    #[arg(long, value_enum, default_value_t = crate::registry::auth::AuthMode::Auto, value_name = "MODE")]
    pub registry_auth: crate::registry::auth::AuthMode,
    /// Registry user (token from LAVA_REGISTRY_TOKEN or --token-ssm).
    #[arg(long, env = "LAVA_REGISTRY_USER", value_name = "USER")]
    pub user: Option<String>,
    /// SSM SecureString parameter holding the registry token.
    #[arg(long, value_name = "NAME")]
    pub token_ssm: Option<String>,
    /// For ECR registries and --token-ssm (and the command's other AWS calls).
    #[command(flatten)]
    pub profile: ProfileArg,
}

#[cfg(feature = "build")]
impl RegistryArgs {
    /// The credentials asked for: these arguments, LAVA_REGISTRY_TOKEN, and the command's AWS
    /// configuration (used for ECR tokens and `--token-ssm`).
    pub fn request(&self) -> crate::registry::auth::AuthRequest {
        self.request_with(&self.profile.aws())
    }

    /// [`Self::request`] with the command's AWS configuration, when the command makes other calls
    /// with it too.
    pub fn request_with(&self, aws: &crate::aws::AwsConfig) -> crate::registry::auth::AuthRequest {
        crate::registry::auth::AuthRequest {
            mode: self.registry_auth,
            user: self.user.clone().filter(|u| !u.is_empty()),
            token: std::env::var("LAVA_REGISTRY_TOKEN")
                .ok()
                .filter(|t| !t.is_empty())
                .map(secrecy::SecretString::from),
            token_ssm: self.token_ssm.clone(),
            aws: aws.clone(),
        }
    }
}

/// The parsed arguments, or the end of the program.
pub fn parse_or_exit<T: Parser>() -> T {
    T::try_parse().unwrap_or_else(|e| {
        use clap::error::ErrorKind;
        // Help (also when a subcommand is missing) and version: as clap prints them.
        if !e.use_stderr() || e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
            e.exit();
        }
        crate::output::progress::line("", one_line(&e.render().to_string()));
        std::process::exit(crate::error::EXIT_USAGE);
    })
}

/// Sets up logging at info (raised by `-v` flags), runs `main` on a new multi-threaded runtime and
/// returns its exit status; an error is reported once, on one line (`progress::report`).
pub fn run(verbose: u8, main: impl Future<Output = anyhow::Result<i32>>) -> i32 {
    let setup = crate::output::logging::Setup {
        level: crate::output::logging::Level::Info.raised(verbose),
        ..Default::default()
    };
    let result = crate::output::logging::init(setup)
        .map_err(anyhow::Error::from)
        .and_then(|()| tokio::runtime::Runtime::new().context("cannot start the async runtime"))
        .and_then(|rt| rt.block_on(main));
    match result {
        Ok(code) => code,
        Err(e) => crate::output::progress::report(&e),
    }
}

/// The first paragraph of clap's message, its lines joined.
fn one_line(text: &str) -> String {
    let head: Vec<&str> = text
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .map(str::trim)
        .collect();
    if head.is_empty() {
        "error: bad arguments".to_string()
    } else {
        head.join(" ")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_first_paragraph_on_one_line() {
        let text = "error: invalid value '0' for '--deadline <SECS>': 0 is not in 1..=604800\n\nFor more information, try '--help'.\n";
        assert_eq!(
            super::one_line(text),
            "error: invalid value '0' for '--deadline <SECS>': 0 is not in 1..=604800"
        );
        assert_eq!(super::one_line(""), "error: bad arguments");
    }
}
