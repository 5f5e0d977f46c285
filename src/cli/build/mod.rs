//! The `lava-build` command line: one module per subcommand, each owning its clap `Args` and an
//! async `run`; `main` parses, runs and turns an error into its exit status.
pub mod ami;
pub mod bundle;
pub mod images;
pub mod install;
pub mod job;
pub mod payload;
pub mod sync;

use clap::{Parser, Subcommand};

/// The `lava-build` command line.
#[derive(Debug, Parser)]
#[command(
    name = "lava-build",
    version = crate::version::LONG,
    about = "Build lava AMIs (packer) and Docker images",
    long_about = None
)]
pub struct Cli {
    /// More log output on stderr (-v debug, -vv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    #[command(flatten)]
    Work(Box<Work>),
    /// Print the shell completion script of lava-build, lava-ami or lava-rc on stdout.
    Completions(install::CompletionsArgs),
    /// Write the man pages of lava-build (one per subcommand), lava-ami and lava-rc into a folder.
    Man(install::ManArgs),
}

/// The subcommands that do the work (they run on the async runtime).
#[derive(Debug, Subcommand)]
enum Work {
    /// Build lava AMIs for x86_64 and/or arm64 with packer (or --plan to show what would happen).
    Ami(ami::AmiArgs),
    /// Sync ami/resources.s3/ to S3 by content (the first step of `ami`).
    Sync(sync::SyncArgs),
    /// Build, check and push the multi-platform lava Docker images.
    Images(images::ImagesArgs),
    /// Build the offline lava code bundle of a runtime (<os>-py<X.Y>) inside its builder container.
    Bundle(bundle::BundleArgs),
    /// Build, install (push to ECR), index or uninstall the Docker payloads of a lava job framework
    /// project.
    Payload(payload::PayloadArgs),
    /// Run a lava docker job as a worker would (`job run --help`).
    Job(job::JobArgs),
}

/// Runs `lava-build` with the process's arguments; returns the exit status.
pub fn main() -> i32 {
    let cli: Cli = crate::cli::args::parse_or_exit();
    let done = |result: anyhow::Result<()>| match result {
        Ok(()) => 0,
        Err(e) => crate::output::progress::report(&e),
    };
    match &cli.command {
        Command::Completions(args) => {
            done(install::completions(args, &mut std::io::stdout().lock()))
        }
        Command::Man(args) => done(install::man(args)),
        Command::Work(work) => {
            crate::cli::args::run(cli.verbose, async { run(work).await.map(|()| 0) })
        }
    }
}

async fn run(work: &Work) -> anyhow::Result<()> {
    match work {
        Work::Ami(args) => ami::run(args).await,
        Work::Sync(args) => sync::run(args).await,
        Work::Images(args) => images::run(args).await,
        Work::Bundle(args) => bundle::run(args).await,
        Work::Payload(args) => payload::run(args).await,
        Work::Job(args) => job::run(args).await,
    }
}
