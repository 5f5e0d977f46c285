//! `lava-rc`: the boot agent of lava instances.
use clap::Parser;

#[derive(Debug, Parser)]
#[command(
    name = "lava-rc",
    version,
    about = "Boot agent of lava instances: runs the user data steps (not yet implemented)"
)]
struct Cli {}

fn main() {
    let _cli = Cli::parse();
    eprintln!("error: lava-rc is not implemented yet; see --help");
    std::process::exit(1);
}
