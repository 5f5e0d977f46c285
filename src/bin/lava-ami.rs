//! `lava-ami`: lava AMIs and the AMI of every worker stack; updates stacks.
use clap::Parser;
use lava_build::stacks::cli::{Args, run};

fn main() {
    lava_build::tls::install_crypto_provider();
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) if !e.use_stderr() => e.exit(),
        Err(e) => {
            // One line, like every other usage error: clap's first line names the argument,
            // the bad value and what is expected.
            let text = e.render().to_string();
            eprintln!("{}", text.lines().next().unwrap_or("error: bad arguments"));
            std::process::exit(lava_build::error::EXIT_USAGE);
        }
    };
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
