//! The ETag of a multipart object, computed locally, for objects that carry no checksum we can
//! compare (uploaded by another client without checksums, or kept by a server that stores none for
//! multipart objects).
//!
//! Without SSE-KMS or SSE-C, S3 makes a multipart object's ETag the MD5 of the concatenated MD5s of
//! its parts, `-<parts>` appended. The part size is not stored, but the part count is: the part
//! sizes that give that count for the file's size are tried, the usual ones first, and an equal
//! ETag means the same content (an MD5 collision between a file and the object it replaced aside).
use super::hash::{digest_parts, part_size};
use md5::{Digest, Md5};
use std::path::Path;

const MIB: u64 = 1024 * 1024;

/// Part sizes other clients use: the AWS CLI and boto3 (8 MiB), rclone and the S3 minimum (5 MiB),
/// s3cmd (15 MiB), and round sizes people configure.
const USUAL: [u64; 9] = [8, 5, 16, 15, 32, 64, 100, 128, 256];

/// At most this many part sizes are tried (each one reads the file).
const TRIES: usize = 6;

/// The part count of a multipart ETag (`<32 hex digits>-<parts>`), or None for any other ETag.
pub fn parts(etag: &str) -> Option<u64> {
    let (digest, n) = etag.rsplit_once('-')?;
    let n: u64 = n.parse().ok()?;
    (digest.len() == 32 && digest.bytes().all(|b| b.is_ascii_hexdigit()) && n >= 1).then_some(n)
}

/// The part sizes that split `size` bytes into exactly `n` parts, to try in order: ours, the usual
/// ones, then the smallest whole MiB and the smallest byte count that give `n` parts.
pub fn candidates(size: u64, n: u64) -> Vec<u64> {
    if n == 0 || size == 0 {
        return Vec::new();
    }
    if n == 1 {
        // One part holds the whole file, whatever the part size.
        return vec![size];
    }
    let even = size.div_ceil(n);
    let mut out: Vec<u64> = Vec::new();
    let all = std::iter::once(part_size(size))
        .chain(USUAL.iter().map(|m| m * MIB))
        .chain([even.div_ceil(MIB) * MIB, even]);
    for p in all {
        if size.div_ceil(p) == n && !out.contains(&p) {
            out.push(p);
        }
    }
    out.truncate(TRIES);
    out
}

/// The multipart ETag of the file at `path` (`size` bytes) uploaded in parts of `psize`; the parts
/// are hashed on `workers` threads.
pub fn of_file(path: &Path, size: u64, psize: u64, workers: usize) -> std::io::Result<String> {
    let file = std::fs::File::open(path)?;
    let digests = digest_parts::<Md5, 16>(&file, size, psize, workers)?;
    Ok(of_part_md5s(&digests))
}

/// A multipart ETag from the parts' MD5s in order.
pub fn of_part_md5s(parts: &[[u8; 16]]) -> String {
    let mut outer = Md5::new();
    for p in parts {
        outer.update(p);
    }
    format!("{}-{}", hex::encode(outer.finalize()), parts.len())
}

/// Whether the file at `path` has the multipart ETag `etag` for one of the [`candidates`] part
/// sizes. False when `etag` is not a multipart ETag.
pub fn matches(path: &Path, size: u64, etag: &str, workers: usize) -> std::io::Result<bool> {
    let Some(n) = parts(etag) else {
        return Ok(false);
    };
    let want = etag.to_ascii_lowercase();
    for psize in candidates(size, n) {
        if of_file(path, size, psize, workers)? == want {
            return Ok(true);
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_etags_are_recognised_by_form() {
        assert_eq!(parts("5d41402abc4b2a76b9719d911017c592-3"), Some(3));
        assert_eq!(parts("5d41402abc4b2a76b9719d911017c592"), None);
        assert_eq!(parts("5d41402abc4b2a76b9719d911017c592-0"), None);
        assert_eq!(parts("abc-3"), None);
        assert_eq!(
            parts("LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=-3"),
            None
        );
    }

    #[test]
    fn candidates_give_the_part_count_ours_and_the_usual_first() {
        let size = 100 * MIB;
        let c = candidates(size, 13);
        assert_eq!(c[0], 8 * MIB, "{c:?}");
        assert!(c.iter().all(|p| size.div_ceil(*p) == 13), "{c:?}");
        // 5 MiB parts: 20 of them.
        assert_eq!(candidates(size, 20)[0], 5 * MIB);
        // A count no usual size gives: the even split.
        let c = candidates(size, 7);
        assert!(
            !c.is_empty() && c.iter().all(|p| size.div_ceil(*p) == 7),
            "{c:?}"
        );
        assert_eq!(candidates(size, 1), vec![size]);
        assert!(candidates(size, 0).is_empty());
        assert!(candidates(size, 20).len() <= TRIES);
    }

    #[test]
    fn a_files_multipart_etag_is_the_md5_of_its_part_md5s() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f");
        let data: Vec<u8> = (0..(11 * MIB + 5)).map(|i| (i % 253) as u8).collect();
        std::fs::write(&p, &data).unwrap();
        let psize = 5 * MIB as usize;
        let parts: Vec<[u8; 16]> = data.chunks(psize).map(|c| Md5::digest(c).into()).collect();
        let expected = of_part_md5s(&parts);
        assert!(expected.ends_with("-3"), "{expected}");
        for workers in [1, 2, 8] {
            assert_eq!(
                of_file(&p, data.len() as u64, psize as u64, workers).unwrap(),
                expected
            );
        }
        assert!(matches(&p, data.len() as u64, &expected, 2).unwrap());
        assert!(matches(&p, data.len() as u64, &expected.to_uppercase(), 2).unwrap());
        let other = of_part_md5s(&[[0; 16], [1; 16], [2; 16]]);
        assert!(!matches(&p, data.len() as u64, &other, 2).unwrap());
    }
}
