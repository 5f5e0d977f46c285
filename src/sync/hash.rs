//! Content hashes of local files, with a cache so an unchanged tree is not read again.
use super::walk::LocalFile;
use md5::Md5;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

/// Hashes of one file: SHA-256 (what we compare), MD5 (what a single-part ETag is) and the
/// ETag our multipart upload of it would get.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hashes {
    pub sha256: String,
    pub md5: String,
    /// `md5-of-part-md5s-N` for our part size, or None when the file goes up in one request.
    pub multipart_etag: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct FileEntry {
    size: u64,
    mtime_ns: i128,
    inode: u64,
    hashes: Hashes,
}

/// What a remote object was last seen as, with the SHA-256 we confirmed for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteEntry {
    pub size: u64,
    pub etag: String,
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

const CACHE_VERSION: u32 = 1;

impl Cache {
    /// Reads the cache; a missing, unreadable, corrupt or old-format cache is an empty one.
    pub fn load(path: &Path) -> Self {
        std::fs::read(path)
            .ok()
            .and_then(|b| serde_json::from_slice::<Cache>(&b).ok())
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
        if let Ok(bytes) = serde_json::to_vec(self)
            && std::fs::write(&tmp, bytes).is_ok()
            && std::fs::rename(&tmp, path).is_err()
        {
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

/// Reads `path` once and computes every hash.
pub fn hash_file(path: &Path, size: u64) -> std::io::Result<Hashes> {
    let mut f = std::fs::File::open(path)?;
    let mut sha = Sha256::new();
    let mut md5 = Md5::new();
    let multipart = size > SINGLE_PART_MAX;
    let psize = part_size(size);
    let mut part_md5 = Md5::new();
    let mut in_part = 0u64;
    let mut part_digests: Vec<u8> = Vec::new();
    let mut parts = 0u32;
    let mut buf = vec![0u8; 1024 * 1024];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        let mut chunk = &buf[..n];
        sha.update(chunk);
        md5.update(chunk);
        if multipart {
            while !chunk.is_empty() {
                let take = ((psize - in_part) as usize).min(chunk.len());
                part_md5.update(&chunk[..take]);
                in_part += take as u64;
                chunk = &chunk[take..];
                if in_part == psize {
                    part_digests.extend_from_slice(&part_md5.finalize_reset());
                    parts += 1;
                    in_part = 0;
                }
            }
        }
    }
    if multipart && in_part > 0 {
        part_digests.extend_from_slice(&part_md5.finalize_reset());
        parts += 1;
    }
    Ok(Hashes {
        sha256: hex::encode(sha.finalize()),
        md5: hex::encode(md5.finalize()),
        multipart_etag: multipart
            .then(|| format!("{}-{parts}", hex::encode(Md5::digest(&part_digests)))),
    })
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
    fn hashes_and_multipart_etag() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f");
        std::fs::write(&p, b"hello").unwrap();
        let h = hash_file(&p, 5).unwrap();
        assert_eq!(h.md5, "5d41402abc4b2a76b9719d911017c592");
        assert_eq!(
            h.sha256,
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        assert!(h.multipart_etag.is_none());
        let big = vec![7u8; (SINGLE_PART_MAX + 1) as usize];
        std::fs::write(&p, &big).unwrap();
        let h = hash_file(&p, big.len() as u64).unwrap();
        let etag = h.multipart_etag.unwrap();
        // 16 MiB + 1 byte with 8 MiB parts: three parts.
        assert!(etag.ends_with("-3"), "{etag}");
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
