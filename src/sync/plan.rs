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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteHead {
    pub etag: String,
    /// Our `x-amz-meta-sha256`, when the object was uploaded by us.
    pub sha256: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// No object with that key.
    New,
    /// Different size or content.
    Changed,
    /// Uploaded without our checksum metadata, and its ETag cannot prove the content.
    NoChecksum,
    /// Our metadata matches but the ETag does not: the stored bytes are not what we sent.
    EtagMismatch,
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Reason::New => "new",
            Reason::Changed => "changed",
            Reason::NoChecksum => "no checksum metadata",
            Reason::EtagMismatch => "ETag does not match the content",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Unchanged,
    Upload(Reason),
    /// The listing alone cannot tell: HEAD the object and call [`after_head`].
    Head,
}

/// Whether an ETag is a plain MD5 (single-part upload without KMS).
fn plain_md5(etag: &str) -> bool {
    etag.len() == 32 && etag.bytes().all(|b| b.is_ascii_hexdigit())
}

/// First decision, from the listing and what we confirmed about the object before.
pub fn decide(
    local: &Hashes,
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
    match known {
        // Same size and ETag as when we confirmed its SHA-256: the object has not changed since.
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

/// Second decision, with the object's metadata.
pub fn after_head(local: &Hashes, head: &RemoteHead) -> Decision {
    match &head.sha256 {
        Some(sha) if *sha != local.sha256 => Decision::Upload(Reason::Changed),
        Some(_) => {
            if plain_md5(&head.etag) && head.etag != local.md5 {
                Decision::Upload(Reason::EtagMismatch)
            } else {
                Decision::Unchanged
            }
        }
        None => {
            if plain_md5(&head.etag) {
                if head.etag == local.md5 {
                    Decision::Unchanged
                } else {
                    Decision::Upload(Reason::Changed)
                }
            } else if local.multipart_etag.as_deref() == Some(head.etag.as_str()) {
                // A multipart ETag computed with our part size matches: same parts, same bytes.
                Decision::Unchanged
            } else {
                Decision::Upload(Reason::NoChecksum)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(sha: &str, md5: &str) -> Hashes {
        Hashes {
            sha256: sha.into(),
            md5: md5.into(),
            multipart_etag: None,
        }
    }
    const MD5: &str = "5d41402abc4b2a76b9719d911017c592";
    const OTHER: &str = "00000000000000000000000000000000";

    fn obj(size: u64, etag: &str) -> RemoteObject {
        RemoteObject {
            key: "k".into(),
            size,
            etag: etag.into(),
        }
    }

    #[test]
    fn listing_decides_new_resized_and_confirmed_objects() {
        let l = h("s1", MD5);
        assert_eq!(decide(&l, 5, None, None), Decision::Upload(Reason::New));
        assert_eq!(
            decide(&l, 5, Some(&obj(6, MD5)), None),
            Decision::Upload(Reason::Changed)
        );
        assert_eq!(decide(&l, 5, Some(&obj(5, MD5)), None), Decision::Head);
        let known = RemoteEntry {
            size: 5,
            etag: MD5.into(),
            sha256: "s1".into(),
        };
        assert_eq!(
            decide(&l, 5, Some(&obj(5, MD5)), Some(&known)),
            Decision::Unchanged
        );
        let changed_locally = h("s2", OTHER);
        assert_eq!(
            decide(&changed_locally, 5, Some(&obj(5, MD5)), Some(&known)),
            Decision::Upload(Reason::Changed)
        );
        // The object was replaced since we confirmed it: ask again.
        assert_eq!(
            decide(&l, 5, Some(&obj(5, OTHER)), Some(&known)),
            Decision::Head
        );
    }

    #[test]
    fn head_decides_by_checksum_then_by_md5() {
        let l = h("s1", MD5);
        let head = |etag: &str, sha: Option<&str>| RemoteHead {
            etag: etag.into(),
            sha256: sha.map(String::from),
        };
        assert_eq!(after_head(&l, &head(MD5, Some("s1"))), Decision::Unchanged);
        assert_eq!(
            after_head(&l, &head(MD5, Some("s0"))),
            Decision::Upload(Reason::Changed)
        );
        assert_eq!(
            after_head(&l, &head(OTHER, Some("s1"))),
            Decision::Upload(Reason::EtagMismatch)
        );
        assert_eq!(after_head(&l, &head(MD5, None)), Decision::Unchanged);
        assert_eq!(
            after_head(&l, &head(OTHER, None)),
            Decision::Upload(Reason::Changed)
        );
        assert_eq!(
            after_head(&l, &head("abc-3", None)),
            Decision::Upload(Reason::NoChecksum)
        );
        let mut mp = l.clone();
        mp.multipart_etag = Some("abc-3".into());
        assert_eq!(after_head(&mp, &head("abc-3", None)), Decision::Unchanged);
        assert_eq!(
            after_head(&mp, &head("abc-3", Some("s1"))),
            Decision::Unchanged
        );
    }
}
