//! Deciding what to upload and delete. Pure: the inputs are what was read locally and remotely.
use super::hash::{Hashes, RemoteEntry};
use serde::Serialize;

/// A remote object as a listing shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteObject {
    pub key: String,
    pub size: u64,
    /// Without quotes.
    pub etag: String,
}

/// What a HEAD of the object says, for objects the listing cannot decide.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RemoteHead {
    pub etag: String,
    /// Our `x-amz-meta-sha256`, when the object was uploaded by us in one request.
    pub sha256: Option<String>,
    /// S3's SHA-256 checksum of the object (`<base64>`, or `<base64>-<parts>` for a multipart one).
    pub checksum: Option<String>,
    /// Encrypted with SSE-KMS or SSE-C: the ETag is not the MD5 of the content.
    pub encrypted: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// No object with that key.
    New,
    /// Different size or content.
    Changed,
    /// Uploaded without a checksum we can compare, and its ETag cannot prove the content.
    NoChecksum,
    /// Our checksum matches but the ETag does not: the stored bytes are not what we sent.
    EtagMismatch,
    /// Only a multipart ETag to compare, and the file's differs for every part size tried.
    EtagDiffers,
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Reason::New => "new",
            Reason::Changed => "changed",
            Reason::NoChecksum => "no checksum to compare",
            Reason::EtagMismatch => "ETag does not match the content",
            Reason::EtagDiffers => "multipart ETag differs for every part size tried",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Unchanged,
    Upload(Reason),
    /// The local hashes are needed (not cached): hash the file and call [`decide`] again.
    Hash,
    /// The listing alone cannot tell: HEAD the object and call [`after_head`].
    Head,
    /// The object's multipart ETag is the only evidence (no checksum we can compare, not
    /// encrypted): compute it for the file ([`super::etag::matches`]); equal is unchanged.
    Etag,
}

/// Whether an ETag looks like a plain MD5 (single-part upload; only an MD5 when not encrypted).
fn plain_md5(etag: &str) -> bool {
    etag.len() == 32 && etag.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The number of parts a checksum or ETag says the object was uploaded in (None: one request).
fn parts_of(value: &str) -> Option<&str> {
    value.rsplit_once('-').map(|(_, n)| n)
}

/// First decision, from the listing, what we confirmed about the object before, and the local
/// hashes when they are cached (a new or resized file needs none: it is hashed as it goes up).
pub fn decide(
    local: Option<&Hashes>,
    size: u64,
    remote: Option<&RemoteObject>,
    known: Option<&RemoteEntry>,
) -> Decision {
    let Some(r) = remote else {
        return Decision::Upload(Reason::New);
    };
    if r.size != size {
        return Decision::Upload(Reason::Changed);
    }
    let Some(local) = local else {
        return Decision::Hash;
    };
    match known {
        // Same size and ETag as when we confirmed its checksum: the object has not changed since.
        Some(k) if k.size == r.size && k.etag == r.etag => {
            if k.sha256 == local.sha256 {
                Decision::Unchanged
            } else {
                Decision::Upload(Reason::Changed)
            }
        }
        _ => Decision::Head,
    }
}

/// Second decision, with the object's metadata: S3's checksum first, then our `sha256` metadata,
/// then (only for objects that are not encrypted) a plain MD5 ETag, or a multipart ETag to
/// compute locally.
pub fn after_head(local: &Hashes, head: &RemoteHead) -> Decision {
    let md5_etag = !head.encrypted && plain_md5(&head.etag);
    let etag_contradicts = |md5: Option<&String>| md5_etag && md5.is_some_and(|m| *m != head.etag);
    let ours = local.s3_checksum();
    // Comparable when both were computed over the same parts (or both over the whole object).
    if let Some(c) = &head.checksum
        && parts_of(c) == parts_of(&ours)
    {
        return if *c != ours {
            Decision::Upload(Reason::Changed)
        } else if etag_contradicts(local.md5.as_ref()) {
            Decision::Upload(Reason::EtagMismatch)
        } else {
            Decision::Unchanged
        };
    }
    if let (Some(sha), Some(md5)) = (&head.sha256, &local.md5) {
        return if *sha != local.sha256 {
            Decision::Upload(Reason::Changed)
        } else if etag_contradicts(Some(md5)) {
            Decision::Upload(Reason::EtagMismatch)
        } else {
            Decision::Unchanged
        };
    }
    match &local.md5 {
        Some(md5) if md5_etag => {
            if *md5 == head.etag {
                Decision::Unchanged
            } else {
                Decision::Upload(Reason::Changed)
            }
        }
        _ if !head.encrypted && super::etag::parts(&head.etag).is_some() => Decision::Etag,
        _ => Decision::Upload(Reason::NoChecksum),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(sha: &str, md5: &str) -> Hashes {
        Hashes {
            sha256: sha.into(),
            md5: Some(md5.into()),
        }
    }
    const MD5: &str = "5d41402abc4b2a76b9719d911017c592";
    const OTHER: &str = "00000000000000000000000000000000";
    /// The SHA-256 of "hello" in hex and as S3 shows it (base64).
    const SHA: &str = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
    const SHA_B64: &str = "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=";

    fn obj(size: u64, etag: &str) -> RemoteObject {
        RemoteObject {
            key: "k".into(),
            size,
            etag: etag.into(),
        }
    }

    fn head(etag: &str, sha: Option<&str>, checksum: Option<&str>, encrypted: bool) -> RemoteHead {
        RemoteHead {
            etag: etag.into(),
            sha256: sha.map(String::from),
            checksum: checksum.map(String::from),
            encrypted,
        }
    }

    #[test]
    fn listing_decides_new_resized_and_confirmed_objects() {
        let l = h("s1", MD5);
        assert_eq!(
            decide(Some(&l), 5, None, None),
            Decision::Upload(Reason::New)
        );
        assert_eq!(
            decide(Some(&l), 5, Some(&obj(6, MD5)), None),
            Decision::Upload(Reason::Changed)
        );
        assert_eq!(
            decide(Some(&l), 5, Some(&obj(5, MD5)), None),
            Decision::Head
        );
        let known = RemoteEntry {
            size: 5,
            etag: MD5.into(),
            sha256: "s1".into(),
        };
        assert_eq!(
            decide(Some(&l), 5, Some(&obj(5, MD5)), Some(&known)),
            Decision::Unchanged
        );
        let changed_locally = h("s2", OTHER);
        assert_eq!(
            decide(Some(&changed_locally), 5, Some(&obj(5, MD5)), Some(&known)),
            Decision::Upload(Reason::Changed)
        );
        // The object was replaced since we confirmed it: ask again.
        assert_eq!(
            decide(Some(&l), 5, Some(&obj(5, OTHER)), Some(&known)),
            Decision::Head
        );
    }

    #[test]
    fn hashes_are_needed_only_when_an_object_of_the_same_size_exists() {
        assert_eq!(decide(None, 5, None, None), Decision::Upload(Reason::New));
        assert_eq!(
            decide(None, 5, Some(&obj(6, MD5)), None),
            Decision::Upload(Reason::Changed)
        );
        assert_eq!(decide(None, 5, Some(&obj(5, MD5)), None), Decision::Hash);
    }

    #[test]
    fn head_decides_by_checksum_then_by_md5() {
        let l = h(SHA, MD5);
        assert_eq!(
            after_head(&l, &head(MD5, Some(SHA), None, false)),
            Decision::Unchanged
        );
        assert_eq!(
            after_head(&l, &head(MD5, Some("s0"), None, false)),
            Decision::Upload(Reason::Changed)
        );
        assert_eq!(
            after_head(&l, &head(OTHER, Some(SHA), None, false)),
            Decision::Upload(Reason::EtagMismatch)
        );
        assert_eq!(
            after_head(&l, &head(MD5, None, None, false)),
            Decision::Unchanged
        );
        assert_eq!(
            after_head(&l, &head(OTHER, None, None, false)),
            Decision::Upload(Reason::Changed)
        );
        assert_eq!(
            after_head(&l, &head("abc-3", None, None, false)),
            Decision::Upload(Reason::NoChecksum)
        );
        // S3's own checksum decides, whoever uploaded the object.
        assert_eq!(
            after_head(&l, &head(MD5, None, Some(SHA_B64), false)),
            Decision::Unchanged
        );
        assert_eq!(
            after_head(&l, &head(MD5, Some(SHA), Some("AAAA"), false)),
            Decision::Upload(Reason::Changed)
        );
    }

    #[test]
    fn an_encrypted_objects_etag_is_never_compared() {
        let l = h(SHA, MD5);
        // SSE-KMS: the ETag is not the MD5; our checksum decides.
        assert_eq!(
            after_head(&l, &head(OTHER, Some(SHA), None, true)),
            Decision::Unchanged
        );
        assert_eq!(
            after_head(&l, &head(OTHER, None, Some(SHA_B64), true)),
            Decision::Unchanged
        );
        assert_eq!(
            after_head(&l, &head(OTHER, Some("s0"), None, true)),
            Decision::Upload(Reason::Changed)
        );
        // Nothing but an ETag, which proves nothing here, even when it happens to look right.
        assert_eq!(
            after_head(&l, &head(MD5, None, None, true)),
            Decision::Upload(Reason::NoChecksum)
        );
    }

    #[test]
    fn multipart_files_compare_by_composite_checksum_over_the_same_parts() {
        let mp = Hashes {
            sha256: "abc=-3".into(),
            md5: None,
        };
        assert_eq!(
            after_head(&mp, &head("e-3", None, Some("abc=-3"), true)),
            Decision::Unchanged
        );
        assert_eq!(
            after_head(&mp, &head("e-3", None, Some("xyz=-3"), false)),
            Decision::Upload(Reason::Changed)
        );
        // Other parts (someone else's part size), or no checksum: only an ETag of MD5 form can
        // tell, computed locally; another one cannot, upload once.
        assert_eq!(
            after_head(&mp, &head("e-5", None, Some("xyz=-5"), false)),
            Decision::Upload(Reason::NoChecksum)
        );
        assert_eq!(
            after_head(&mp, &head("e-3", Some(SHA), None, false)),
            Decision::Upload(Reason::NoChecksum)
        );
        let mp_etag = "5d41402abc4b2a76b9719d911017c592-5";
        assert_eq!(
            after_head(&mp, &head(mp_etag, None, Some("xyz=-5"), false)),
            Decision::Etag
        );
        assert_eq!(
            after_head(&mp, &head(mp_etag, None, None, false)),
            Decision::Etag
        );
        // A single-part file another client uploaded in parts.
        assert_eq!(
            after_head(&h(SHA, MD5), &head(mp_etag, None, None, false)),
            Decision::Etag
        );
        // Encrypted (SSE-KMS, SSE-C): the ETag is no MD5, never computed.
        assert_eq!(
            after_head(&mp, &head(mp_etag, None, None, true)),
            Decision::Upload(Reason::NoChecksum)
        );
    }
}
