//! Staging an exported image for a push by digest: the engine's export (`docker save`, the legacy
//! layout with `<id>/layer.tar` or the OCI layout with `blobs/sha256/…`) is read in place, each
//! uncompressed layer is gzip-compressed beside it, and the OCI manifest over the config and the
//! compressed layers is written. Compression is deterministic (no name, no time in the gzip
//! header, one level), so the same image always gives the same blobs and the same manifest digest.
use super::export::{Export, ExportError, Region, read_err, read_region};
use flate2::Compression;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
const BUF: usize = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum StageError {
    #[error(transparent)]
    Export(#[from] ExportError),
    #[error("writing {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the export's {what} is not what an image export holds")]
    Json {
        what: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("the export's manifest.json lists no image")]
    NoImage,
    #[error("the image has {layers} layers but its config lists {diff_ids} diff ids")]
    LayerCount { layers: usize, diff_ids: usize },
    #[error("layer {index} ({path}) has content {got}, but the image config says {expected}")]
    DiffId {
        index: usize,
        path: String,
        got: String,
        expected: String,
    },
}

/// One blob to send: the config or a layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    pub digest: String,
    pub media_type: &'static str,
    pub at: Region,
}

/// An image ready to push: the manifest (bytes and digest) and its blobs, config first.
#[derive(Debug)]
pub struct Staged {
    pub manifest: Vec<u8>,
    pub digest: String,
    pub blobs: Vec<Blob>,
}

#[derive(serde::Deserialize)]
struct SavedImage {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "Layers")]
    layers: Vec<String>,
}

#[derive(serde::Deserialize)]
struct RootFs {
    diff_ids: Vec<String>,
}

#[derive(serde::Deserialize)]
struct ImageConfig {
    rootfs: RootFs,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Descriptor<'a> {
    media_type: &'a str,
    digest: &'a str,
    size: u64,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Manifest<'a> {
    schema_version: u32,
    media_type: &'a str,
    config: Descriptor<'a>,
    layers: Vec<Descriptor<'a>>,
}

fn digest_of(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// A writer that hashes and counts what passes through it.
struct Hashing<W> {
    inner: W,
    hash: Sha256,
    len: u64,
}

impl<W> Hashing<W> {
    fn new(inner: W) -> Self {
        Hashing {
            inner,
            hash: Sha256::new(),
            len: 0,
        }
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// The blob of layer `index`: as it is when the export holds it compressed, else gzip-compressed
/// into `dir`, its content checked against the config's diff id on the way.
fn layer_blob(
    index: usize,
    name: &str,
    at: Region,
    diff_id: &str,
    dir: &Path,
) -> Result<Blob, StageError> {
    let export = at.file.clone();
    let err = read_err(&export);
    let mut f = File::open(&at.file).map_err(&err)?;
    f.seek(SeekFrom::Start(at.offset)).map_err(&err)?;
    let mut src = BufReader::with_capacity(BUF, f.take(at.len));
    let head = src.fill_buf().map_err(&err)?;
    let compressed = match &head[..head.len().min(4)] {
        [0x1f, 0x8b, ..] => Some(OCI_LAYER_GZIP),
        [0x28, 0xb5, 0x2f, 0xfd] => Some(OCI_LAYER_ZSTD),
        _ => None,
    };
    if let Some(media_type) = compressed {
        let mut hash = Hashing::new(std::io::sink());
        std::io::copy(&mut src, &mut hash).map_err(&err)?;
        return Ok(Blob {
            digest: format!("sha256:{}", hex::encode(hash.hash.finalize())),
            media_type,
            at,
        });
    }
    let path = dir.join(format!("layer-{index}.tar.gz"));
    let werr = |source| StageError::Write {
        path: path.clone(),
        source,
    };
    let out = File::create(&path).map_err(werr)?;
    let sink = Hashing::new(BufWriter::with_capacity(BUF, out));
    let mut gz = GzEncoder::new(sink, Compression::default());
    let mut plain = Sha256::new();
    let mut buf = vec![0u8; BUF];
    loop {
        let n = src.read(&mut buf).map_err(&err)?;
        if n == 0 {
            break;
        }
        plain.update(&buf[..n]);
        gz.write_all(&buf[..n]).map_err(werr)?;
    }
    let mut sink = gz.finish().map_err(werr)?;
    sink.flush().map_err(werr)?;
    let got = format!("sha256:{}", hex::encode(plain.finalize()));
    if got != diff_id {
        return Err(StageError::DiffId {
            index,
            path: name.to_string(),
            got,
            expected: diff_id.to_string(),
        });
    }
    Ok(Blob {
        digest: format!("sha256:{}", hex::encode(sink.hash.finalize())),
        media_type: OCI_LAYER_GZIP,
        at: Region {
            file: path,
            offset: 0,
            len: sink.len,
        },
    })
}

/// Stages the image exported to `export`, writing compressed layers into `dir`. The layers are
/// compressed side by side, one per core.
pub fn stage(export: &Path, dir: &Path) -> Result<Staged, StageError> {
    let export = Export::open(export)?;
    let manifest_at = export.locate("manifest.json")?;
    let saved: Vec<SavedImage> =
        serde_json::from_slice(&read_region(&manifest_at)?).map_err(|source| StageError::Json {
            what: "manifest.json".into(),
            source,
        })?;
    let image = saved.into_iter().next().ok_or(StageError::NoImage)?;
    let config_at = export.locate(&image.config)?;
    let config = read_region(&config_at)?;
    let parsed: ImageConfig =
        serde_json::from_slice(&config).map_err(|source| StageError::Json {
            what: format!("image config {}", image.config),
            source,
        })?;
    let diff_ids = parsed.rootfs.diff_ids;
    if diff_ids.len() != image.layers.len() {
        return Err(StageError::LayerCount {
            layers: image.layers.len(),
            diff_ids: diff_ids.len(),
        });
    }
    let places = image
        .layers
        .iter()
        .map(|l| export.locate(l))
        .collect::<Result<Vec<_>, _>>()?;

    let next = AtomicUsize::new(0);
    let done: Mutex<Vec<Option<Result<Blob, StageError>>>> =
        Mutex::new((0..places.len()).map(|_| None).collect());
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(places.len().max(1));
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(at) = places.get(i) else { break };
                    let r = layer_blob(i, &image.layers[i], at.clone(), &diff_ids[i], dir);
                    done.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(r);
                }
            });
        }
    });
    let mut blobs = vec![Blob {
        digest: digest_of(&config),
        media_type: OCI_CONFIG,
        at: config_at,
    }];
    for r in done.into_inner().unwrap_or_else(|p| p.into_inner()) {
        blobs.push(r.ok_or(StageError::Export(ExportError::Missing(
            "a compressed layer".into(),
        )))??);
    }
    let manifest = manifest(&blobs);
    Ok(Staged {
        digest: digest_of(&manifest),
        manifest,
        blobs,
    })
}

/// The OCI image manifest over `blobs` (config first).
fn manifest(blobs: &[Blob]) -> Vec<u8> {
    fn d(b: &Blob) -> Descriptor<'_> {
        Descriptor {
            media_type: b.media_type,
            digest: &b.digest,
            size: b.at.len,
        }
    }
    let m = Manifest {
        schema_version: 2,
        media_type: OCI_MANIFEST,
        config: d(&blobs[0]),
        layers: blobs[1..].iter().map(d).collect(),
    };
    serde_json::to_vec(&m).expect("a manifest of strings and numbers serialises")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn append(b: &mut tar::Builder<Vec<u8>>, name: &str, data: &[u8]) {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, data).unwrap();
    }

    fn link(b: &mut tar::Builder<Vec<u8>>, name: &str, to: &str) {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        h.set_cksum();
        b.append_link(&mut h, name, to).unwrap();
    }

    /// A layer: a tar of one file.
    fn layer(file: &str, body: &[u8]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        append(&mut b, file, body);
        b.into_inner().unwrap()
    }

    fn sha(b: &[u8]) -> String {
        digest_of(b)
    }

    /// A legacy `docker save` of an image with three layers, the third a link to the first.
    fn export(dir: &Path, config_diff_ids: &[String]) -> PathBuf {
        let (one, two) = (layer("a", b"alpha"), layer("b", b"beta"));
        let config = serde_json::json!({
            "architecture": "amd64", "os": "linux",
            "rootfs": { "type": "layers", "diff_ids": config_diff_ids },
        });
        let config = serde_json::to_vec(&config).unwrap();
        let manifest = serde_json::json!([{
            "Config": "abc.json", "RepoTags": ["x:1"],
            "Layers": ["l1/layer.tar", "l2/layer.tar", "l3/layer.tar"],
        }]);
        let mut b = tar::Builder::new(Vec::new());
        append(&mut b, "l1/layer.tar", &one);
        append(&mut b, "l2/layer.tar", &two);
        link(&mut b, "l3/layer.tar", "../l1/layer.tar");
        append(&mut b, "abc.json", &config);
        append(
            &mut b,
            "manifest.json",
            &serde_json::to_vec(&manifest).unwrap(),
        );
        let path = dir.join("image.tar");
        std::fs::write(&path, b.into_inner().unwrap()).unwrap();
        path
    }

    fn ids() -> Vec<String> {
        let (one, two) = (layer("a", b"alpha"), layer("b", b"beta"));
        vec![sha(&one), sha(&two), sha(&one)]
    }

    #[test]
    fn layers_are_compressed_and_checked_and_the_manifest_names_them() {
        let dir = tempfile::tempdir().unwrap();
        let staged = stage(&export(dir.path(), &ids()), dir.path()).unwrap();
        assert_eq!(staged.blobs.len(), 4);
        assert_eq!(staged.blobs[0].media_type, OCI_CONFIG);
        // Every blob's bytes have the digest the manifest gives, and each layer unpacks to the
        // layer the config names.
        let m: serde_json::Value = serde_json::from_slice(&staged.manifest).unwrap();
        assert_eq!(m["mediaType"], OCI_MANIFEST);
        assert_eq!(staged.digest, sha(&staged.manifest));
        for (i, b) in staged.blobs.iter().enumerate() {
            let bytes = read_region(&b.at).unwrap();
            assert_eq!(b.digest, sha(&bytes));
            let d = if i == 0 {
                &m["config"]
            } else {
                &m["layers"][i - 1]
            };
            assert_eq!(d["digest"], b.digest.as_str());
            assert_eq!(d["size"], bytes.len() as u64);
            if i > 0 {
                assert_eq!(b.media_type, OCI_LAYER_GZIP);
                let mut plain = Vec::new();
                flate2::read::GzDecoder::new(bytes.as_slice())
                    .read_to_end(&mut plain)
                    .unwrap();
                assert_eq!(sha(&plain), ids()[i - 1]);
            }
        }
        // The linked layer is the first one again.
        assert_eq!(staged.blobs[3].digest, staged.blobs[1].digest);
    }

    #[test]
    fn the_same_export_stages_to_the_same_digest() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let one = stage(&export(a.path(), &ids()), a.path()).unwrap();
        let two = stage(&export(b.path(), &ids()), b.path()).unwrap();
        assert_eq!(one.digest, two.digest);
        assert_eq!(one.manifest, two.manifest);
    }

    #[test]
    fn a_layer_that_is_not_what_the_config_says_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut wrong = ids();
        wrong[1] = sha(b"something else");
        let e = stage(&export(dir.path(), &wrong), dir.path()).unwrap_err();
        assert!(
            matches!(&e, StageError::DiffId { index: 1, path, .. } if path == "l2/layer.tar"),
            "{e}"
        );
        let e = stage(&export(dir.path(), &ids()[..2]), dir.path()).unwrap_err();
        assert!(
            matches!(
                e,
                StageError::LayerCount {
                    layers: 3,
                    diff_ids: 2
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn a_compressed_layer_is_sent_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
        gz.write_all(&layer("a", b"alpha")).unwrap();
        let blob = gz.finish().unwrap();
        let path = dir.path().join("blob");
        std::fs::write(&path, &blob).unwrap();
        let at = Region {
            file: path,
            offset: 0,
            len: blob.len() as u64,
        };
        let b = layer_blob(0, "blobs/sha256/x", at.clone(), "unused", dir.path()).unwrap();
        assert_eq!(b.media_type, OCI_LAYER_GZIP);
        assert_eq!(b.at, at);
        assert_eq!(b.digest, sha(&blob));
    }
}
