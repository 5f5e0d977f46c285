//! `lava-ami`: lava AMIs and the AMI of every worker stack; updates stacks.
fn main() {
    lava_build::tls::install_crypto_provider();
    std::process::exit(lava_build::cli::ami::main());
}
