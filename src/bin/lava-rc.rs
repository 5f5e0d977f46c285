//! `lava-rc`: the boot agent of lava AMIs (also `s3run` when called by that name).
fn main() {
    lava_build::tls::install_crypto_provider();
    std::process::exit(lava_build::cli::rc::main());
}
