//! `lava-build`: builds lava AMIs and Docker images (the command line is `lava_build::cmd`).
fn main() {
    lava_build::tls::install_crypto_provider();
    std::process::exit(lava_build::cmd::main());
}
