//! `lava-ami`: lava AMIs and the AMI of every worker stack; updates stacks.
use clap::Parser;
use lava_build::stacks::cli::{Args, run};

fn main() {
    lava_build::tls::install_crypto_provider();
    let args = Args::parse();
    lava_build::output::init_logging(0);
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    match rt.block_on(run(&args)) {
        Ok(code) => std::process::exit(code),
        Err(e) => std::process::exit(lava_build::error::report(&e)),
    }
}
