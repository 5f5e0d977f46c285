//! `lava-rc`: the boot agent of lava AMIs (also `s3run` when called by that name).
fn main() {
    std::process::exit(lava_build::rc::cli::main());
}
