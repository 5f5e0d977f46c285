//! `lava-build`: builds lava AMIs and Docker images (the command line is `lava_build::cli::build`).
fn main() {
    lava_build::tls::install_crypto_provider();
    std::process::exit(lava_build::cli::build::main());
}
