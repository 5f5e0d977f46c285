//! Provisioning tarball: TEMPORARY minimal version, replaced by the amicontent branch.
use std::path::{Path, PathBuf};
pub struct TarballSpec {
    pub ami_dir: PathBuf,
    pub os: String,
    pub agent: Option<PathBuf>,
    pub rc_dir: Option<PathBuf>,
}
pub struct TarballSummary;
pub fn build_tarball(spec: &TarballSpec, out: &Path) -> std::io::Result<TarballSummary> {
    let f = std::fs::File::create(out)?;
    let gz = flate2::write::GzEncoder::new(f, flate2::Compression::default());
    let mut t = tar::Builder::new(gz);
    t.append_dir_all(".", spec.ami_dir.join("os").join(&spec.os))?;
    if let Some(a) = &spec.agent {
        t.append_path_with_name(a, "agent/lava-rc")?;
    }
    let _ = &spec.rc_dir;
    t.into_inner()?.finish()?;
    Ok(TarballSummary)
}
