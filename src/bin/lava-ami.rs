//! `lava-ami`: shows lava AMIs and the AMI of every worker stack, and updates stacks.
use clap::Parser;

#[derive(Debug, Parser)]
#[command(
    name = "lava-ami",
    version,
    about = "Show lava AMIs and worker stack AMIs; update stacks (not yet implemented)"
)]
struct Cli {
    /// Stack name globs.
    #[arg(value_name = "STACK-GLOB")]
    patterns: Vec<String>,
}

fn main() {
    let _cli = Cli::parse();
    eprintln!("error: lava-ami is not implemented yet; see --help");
    std::process::exit(1);
}
