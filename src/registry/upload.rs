//! Pushing one platform's image by digest alone, with no tag: the engine's push always pushes a
//! tag, so the image is exported from the engine, staged (`stage`: layers gzip-compressed, the OCI
//! manifest written), the blobs the registry lacks are sent (one streamed PUT each), and the
//! manifest is put at its digest. An image the registry already holds sends nothing.
use super::index::PlatformImage;
use super::push::{Pushed, platform_image};
use super::stage::{self, Blob, OCI_MANIFEST, Staged};
use super::{Registry, RegistryError, at, is_unknown};
use crate::engine;
use crate::output::progress;
use bollard::Docker;
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use oci_client::RegistryOperation;
use oci_client::errors::OciDistributionError;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

/// Blobs sent at once (the engine's own push sends up to five layers at once).
const UPLOADS: usize = 4;
/// How much of a blob is read per piece of its request body.
const PIECE: u64 = 1 << 20;

/// The body of a blob's PUT: its region of a file, read a piece at a time.
fn body(b: &Blob) -> impl futures::Stream<Item = Result<Bytes, OciDistributionError>> + use<> {
    let start = (None::<tokio::fs::File>, b.at.clone(), b.at.len);
    futures::stream::try_unfold(start, |(file, at, left)| async move {
        if left == 0 {
            return Ok(None);
        }
        let mut f = match file {
            Some(f) => f,
            None => {
                let mut f = tokio::fs::File::open(&at.file).await?;
                f.seek(std::io::SeekFrom::Start(at.offset)).await?;
                f
            }
        };
        let n = left.min(PIECE);
        let mut piece = vec![0u8; n as usize];
        f.read_exact(&mut piece).await?;
        Ok(Some((Bytes::from(piece), (Some(f), at, left - n))))
    })
}

/// Exports `local` from the engine into a private temporary folder and stages it there.
async fn export_and_stage(
    docker: &Docker,
    local: &str,
) -> Result<(Staged, tempfile::TempDir), RegistryError> {
    let staging = |source| RegistryError::Staging {
        image: local.to_string(),
        source,
    };
    let dir = tempfile::Builder::new()
        .prefix("lava-push-")
        .tempdir()
        .map_err(|source| {
            staging(stage::StageError::Write {
                path: std::env::temp_dir(),
                source,
            })
        })?;
    let export = dir.path().join("image.tar");
    engine::export_to(docker, local, &export).await?;
    let into = dir.path().to_path_buf();
    let staged = tokio::task::spawn_blocking(move || stage::stage(&export, &into))
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
        .map_err(staging)?;
    Ok((staged, dir))
}

impl Registry {
    /// Whether the registry has the manifest `r` (by digest).
    async fn has_manifest(&self, r: &oci_client::Reference) -> Result<bool, RegistryError> {
        match self
            .client
            .fetch_manifest_digest(r, &self.creds.oci())
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if is_unknown(&e) => Ok(false),
            Err(source) => Err(RegistryError::Lookup {
                reference: r.to_string(),
                source,
            }),
        }
    }

    /// Sends `b` to the repository of `r` unless the registry has it. Returns whether it was sent.
    async fn send_blob(&self, r: &oci_client::Reference, b: &Blob) -> Result<bool, RegistryError> {
        let failed = |source| RegistryError::Blob {
            digest: b.digest.clone(),
            repository: r.repository().to_string(),
            source,
        };
        if self
            .client
            .blob_exists(r, &b.digest)
            .await
            .map_err(failed)?
        {
            return Ok(false);
        }
        self.client
            .push_blob_stream(r, body(b), &b.digest, Some(b.at.len))
            .await
            .map_err(failed)?;
        Ok(true)
    }
}

/// Pushes the local image `local` to `repo` by digest only: no tag is created or moved. Returns
/// the image as an index lists it, and whether anything was sent.
pub async fn push_untagged(
    reg: &Registry,
    docker: &Docker,
    local: &str,
    repo: &str,
    platform: &str,
) -> Result<Pushed, RegistryError> {
    progress::line(
        "[push]",
        format_args!("{local} ({platform}): exporting from the engine and compressing its layers"),
    );
    let (staged, _dir) = export_and_stage(docker, local).await?;
    let r = at(repo, None, Some(&staged.digest));
    let image =
        || -> PlatformImage { platform_image(platform, &staged.manifest, staged.digest.clone()) };
    // Tokens are kept per operation: the checks read, the uploads write.
    for op in [RegistryOperation::Pull, RegistryOperation::Push] {
        reg.client
            .auth(&r, &reg.creds.oci(), op)
            .await
            .map_err(|source| RegistryError::Auth {
                reference: r.to_string(),
                source,
            })?;
    }
    if reg.has_manifest(&r).await? {
        progress::line("[push]", format_args!("{r} ({platform}): already there"));
        return Ok(Pushed {
            image: image(),
            uploaded: false,
        });
    }
    // In the order of the blobs (several in flight), to add up what was sent.
    let sent: Vec<bool> = futures::stream::iter(&staged.blobs)
        .map(|b| reg.send_blob(&r, b))
        .buffered(UPLOADS)
        .try_collect()
        .await?;
    let bytes: u64 = (staged.blobs.iter().zip(&sent))
        .filter(|(_, s)| **s)
        .map(|(b, _)| b.at.len)
        .sum();
    let sent = sent.into_iter().filter(|s| *s).count();
    reg.put_manifest(&r, staged.manifest.clone(), OCI_MANIFEST, "manifest")
        .await?;
    progress::line(
        "[push]",
        format_args!(
            "{r} ({platform}): sent {sent} of {} blobs ({:.1} MiB), then the manifest",
            staged.blobs.len(),
            bytes as f64 / (1u64 << 20) as f64
        ),
    );
    Ok(Pushed {
        image: image(),
        uploaded: true,
    })
}
