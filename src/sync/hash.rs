//! Content hashes of local files, with a cache so an unchanged tree is not read again.
//!
//! A file that goes up in one request is known by its SHA-256 (sent as `x-amz-meta-sha256` and as the
//! request's checksum) and its MD5 (what a plain single-part ETag is). A file that goes up in parts is
//! known by S3's composite SHA-256 checksum for our part size: the SHA-256 of the parts' SHA-256s,
//! `-<parts>` appended. Those part hashes are computed anyway for the upload, so a new large file is
//! hashed while it is read for upload, and a cold one is hashed part by part on every core.
use super::walk::LocalFile;
use base64::Engine as _;
use md5::Md5;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// What a local file is compared by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hashes {
    /// Hex SHA-256 of the file when it goes up in one request; else S3's composite checksum for our
    /// part size (`<base64>-<parts>`).
    pub sha256: String,
    /// Hex MD5, only for files that go up in one request.
    pub md5: Option<String>,
}

impl Hashes {
    /// The hashes of a file that goes up in one request, from its bytes: SHA-256 and MD5 side by
    /// side on two threads when the file is large enough for it to pay.
    pub fn of_bytes(bytes: &[u8]) -> Hashes {
        let (sha, md5) = if bytes.len() >= 1 << 20 {
            std::thread::scope(|s| {
                let md5 = s.spawn(|| Md5::digest(bytes));
                let sha = Sha256::digest(bytes);
                // A panic in a digest is a bug in the hash crate; carry it on as one.
                (
                    sha,
                    md5.join().unwrap_or_else(|p| std::panic::resume_unwind(p)),
                )
            })
        } else {
            (Sha256::digest(bytes), Md5::digest(bytes))
        };
        Hashes {
            sha256: hex::encode(sha),
            md5: Some(hex::encode(md5)),
        }
    }

    /// The hashes of a file that goes up in parts, from the parts' SHA-256s in order.
    pub fn of_parts(parts: &[[u8; 32]]) -> Hashes {
        let mut outer = Sha256::new();
        for p in parts {
            outer.update(p);
        }
        Hashes {
            sha256: format!("{}-{}", b64(&outer.finalize()), parts.len()),
            md5: None,
        }
    }

    /// This file's checksum as S3 reports it (`x-amz-checksum-sha256` of a HEAD with checksum mode).
    pub fn s3_checksum(&self) -> String {
        if self.md5.is_some() {
            b64(&hex::decode(&self.sha256).unwrap_or_default())
        } else {
            self.sha256.clone()
        }
    }
}

pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct FileEntry {
    size: u64,
    mtime_ns: i128,
    inode: u64,
    hashes: Hashes,
}

/// What a remote object was last seen as, with the checksum we confirmed for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteEntry {
    pub size: u64,
    pub etag: String,
    /// [`Hashes::sha256`] of the content confirmed.
    pub sha256: String,
}

/// The cache file (`build/sync-cache.json`): local hashes by path, confirmed remote objects by URL.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Cache {
    version: u32,
    files: BTreeMap<String, FileEntry>,
    #[serde(default)]
    pub remote: BTreeMap<String, RemoteEntry>,
}

/// 2: multipart files are known by their composite checksum, and carry no MD5.
const CACHE_VERSION: u32 = 2;

impl Cache {
    /// Reads the cache; a missing, unreadable, corrupt or old-format cache is an empty one.
    pub fn load(path: &Path) -> Self {
        // Read as a stream, not into a buffer the size of the file (see `save`).
        std::fs::File::open(path)
            .ok()
            .and_then(|f| serde_json::from_reader::<_, Cache>(std::io::BufReader::new(f)).ok())
            .filter(|c| c.version == CACHE_VERSION)
            .unwrap_or_else(|| Cache {
                version: CACHE_VERSION,
                ..Default::default()
            })
    }

    /// Writes the cache atomically (temp file + rename). Failing to write it only costs time later.
    pub fn save(&self, path: &Path) {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        // Streamed to the file: the cache of 100,000 files is 40 MB of JSON, which a buffer would
        // add to the peak memory of the sync.
        let written = std::fs::File::create(&tmp).is_ok_and(|f| {
            let mut w = std::io::BufWriter::new(f);
            serde_json::to_writer(&mut w, self).is_ok() && std::io::Write::flush(&mut w).is_ok()
        });
        if !written || std::fs::rename(&tmp, path).is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
    }

    fn key(file: &LocalFile) -> String {
        std::fs::canonicalize(&file.path)
            .unwrap_or_else(|_| file.path.clone())
            .to_string_lossy()
            .into_owned()
    }

    /// The cached hashes of `file`, if its size, mtime and inode are unchanged.
    pub fn get(&self, file: &LocalFile) -> Option<Hashes> {
        self.files
            .get(&Self::key(file))
            .filter(|e| e.size == file.size && e.mtime_ns == file.mtime_ns && e.inode == file.inode)
            .map(|e| e.hashes.clone())
    }

    pub fn put(&mut self, file: &LocalFile, hashes: Hashes) {
        self.files.insert(
            Self::key(file),
            FileEntry {
                size: file.size,
                mtime_ns: file.mtime_ns,
                inode: file.inode,
                hashes,
            },
        );
    }
}

/// Part size of a multipart upload: 8 MiB, or more so that no file needs over 10,000 parts
/// (rounded up to whole MiB).
pub fn part_size(size: u64) -> u64 {
    const MIB: u64 = 1024 * 1024;
    let min = 8 * MIB;
    let needed = size.div_ceil(10_000).div_ceil(MIB) * MIB;
    needed.max(min)
}

/// Files up to this size go up in one PutObject.
pub const SINGLE_PART_MAX: u64 = 16 * 1024 * 1024;

/// Whether a file of `size` bytes goes up in parts.
pub fn multipart(size: u64) -> bool {
    size > SINGLE_PART_MAX
}

/// Reads `len` bytes at `offset` (the whole range, or an error saying the file is shorter).
pub fn read_range(file: &std::fs::File, offset: u64, len: u64) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0u8; len as usize];
    file.read_exact_at(&mut buf, offset)?;
    Ok(buf)
}

/// The digest `D` of `len` bytes at `offset`, read in blocks of `buf`'s size into `buf`.
fn digest_range<D: Digest>(
    file: &std::fs::File,
    offset: u64,
    len: u64,
    buf: &mut [u8],
) -> std::io::Result<sha2::digest::Output<D>> {
    let mut digest = D::new();
    let mut done = 0u64;
    while done < len {
        let n = (buf.len() as u64).min(len - done) as usize;
        file.read_exact_at(&mut buf[..n], offset + done)?;
        digest.update(&buf[..n]);
        done += n as u64;
    }
    Ok(digest.finalize())
}

/// The digests `D` of the parts of `psize` bytes of a file of `size` bytes, in order, hashed on
/// `workers` threads (worker w hashes parts w, w + workers, …: neighbours read neighbouring ranges).
pub fn digest_parts<D, const N: usize>(
    file: &std::fs::File,
    size: u64,
    psize: u64,
    workers: usize,
) -> std::io::Result<Vec<[u8; N]>>
where
    D: Digest,
    sha2::digest::Output<D>: Into<[u8; N]>,
{
    let count = size.div_ceil(psize) as usize;
    let workers = workers.clamp(1, count.max(1));
    let mut digests = vec![[0u8; N]; count];
    std::thread::scope(|s| -> std::io::Result<()> {
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                s.spawn(move || -> std::io::Result<Vec<(usize, [u8; N])>> {
                    let mut buf = vec![0u8; 1 << 20];
                    (w..count)
                        .step_by(workers)
                        .map(|i| {
                            let offset = i as u64 * psize;
                            let len = psize.min(size - offset);
                            Ok((i, digest_range::<D>(file, offset, len, &mut buf)?.into()))
                        })
                        .collect()
                })
            })
            .collect();
        for h in handles {
            for (i, d) in h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))? {
                digests[i] = d;
            }
        }
        Ok(())
    })?;
    Ok(digests)
}

/// Reads `path` once and computes its [`Hashes`]; the parts of a large file on `workers` threads.
pub fn hash_file(path: &Path, size: u64, workers: usize) -> std::io::Result<Hashes> {
    let file = std::fs::File::open(path)?;
    if !multipart(size) {
        return Ok(Hashes::of_bytes(&read_range(&file, 0, size)?));
    }
    let digests = digest_parts::<Sha256, 32>(&file, size, part_size(size), workers)?;
    Ok(Hashes::of_parts(&digests))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_sizes_keep_under_ten_thousand_parts() {
        const MIB: u64 = 1024 * 1024;
        assert_eq!(part_size(64 * MIB), 8 * MIB);
        let huge = 200 * 1024 * MIB; // 200 GiB
        let p = part_size(huge);
        assert!(huge.div_ceil(p) <= 10_000 && p.is_multiple_of(MIB), "{p}");
    }

    #[test]
    fn single_part_hashes_are_sha256_and_md5() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f");
        std::fs::write(&p, b"hello").unwrap();
        let h = hash_file(&p, 5, 2).unwrap();
        assert_eq!(h.md5.as_deref(), Some("5d41402abc4b2a76b9719d911017c592"));
        assert_eq!(
            h.sha256,
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        assert_eq!(
            h.s3_checksum(),
            "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ="
        );
        // The two-thread path for larger files gives the same digests as the one-thread path.
        let big = vec![3u8; 3 << 20];
        let h = Hashes::of_bytes(&big);
        assert_eq!(h.sha256, hex::encode(Sha256::digest(&big)));
        assert_eq!(h.md5, Some(hex::encode(Md5::digest(&big))));
    }

    #[test]
    fn multipart_files_are_known_by_the_composite_checksum_without_md5() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f");
        let big: Vec<u8> = (0..SINGLE_PART_MAX + 1).map(|i| (i % 251) as u8).collect();
        std::fs::write(&p, &big).unwrap();
        let psize = part_size(big.len() as u64) as usize;
        let parts: Vec<[u8; 32]> = big
            .chunks(psize)
            .map(|c| Sha256::digest(c).into())
            .collect();
        let concat: Vec<u8> = parts.concat();
        let expected = format!("{}-3", b64(&Sha256::digest(&concat)));
        for workers in [1, 2, 8] {
            let h = hash_file(&p, big.len() as u64, workers).unwrap();
            assert_eq!(h.sha256, expected, "{workers} workers");
            assert_eq!(h.md5, None);
            assert_eq!(h.s3_checksum(), expected);
        }
    }

    #[test]
    fn a_corrupt_cache_is_an_empty_one() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("cache.json");
        std::fs::write(&p, b"{not json").unwrap();
        let c = Cache::load(&p);
        assert!(c.files.is_empty() && c.remote.is_empty());
        c.save(&p);
        assert_eq!(Cache::load(&p).version, CACHE_VERSION);
    }
}
