//! `lava-build`: builds lava AMIs and Docker images.
use clap::{Parser, Subcommand};
use lava_build::cmd;

#[derive(Debug, Parser)]
#[command(name = "lava-build", version, about = "Build lava AMIs (packer) and Docker images", long_about = None)]
struct Cli {
    /// More log output on stderr (-v debug, -vv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Build lava AMIs for x86_64 and/or arm64 with packer (or --plan to show what would happen).
    Ami(cmd::ami::AmiArgs),
    /// Sync ami/resources.s3/ to S3 by content (the first step of `ami`).
    Sync(cmd::sync::SyncArgs),
    /// Build, check and push the multi-platform lava Docker images.
    Images(cmd::images::ImagesArgs),
    /// Build the offline lava code bundle of a runtime (<os>-py<X.Y>) inside its builder container.
    Bundle(cmd::bundle::BundleArgs),
    /// Build, install (push to ECR) or uninstall the Docker payloads of a lava job framework project.
    Payload(cmd::payload::PayloadArgs),
}

fn main() {
    lava_build::tls::install_crypto_provider();
    let cli = Cli::parse();
    lava_build::output::init_logging(cli.verbose);
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    let result = rt.block_on(async {
        match &cli.command {
            Command::Ami(args) => cmd::ami::run(args).await,
            Command::Sync(args) => cmd::sync::run(args).await,
            Command::Images(args) => cmd::images::run(args).await,
            Command::Bundle(args) => cmd::bundle::run(args).await,
            Command::Payload(args) => cmd::payload::run(args).await,
        }
    });
    if let Err(e) = result {
        std::process::exit(lava_build::error::report(&e));
    }
}
