//! The OCI image index that ties the per-platform images together. Pure.
use serde::Serialize;
use std::collections::BTreeMap;

pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// One pushed single-platform image.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PlatformImage {
    /// `linux/amd64`.
    pub platform: String,
    pub digest: String,
    pub size: i64,
    /// The manifest's own media type (Docker schema2 from the engine, or OCI).
    pub media_type: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Index<'a> {
    schema_version: u8,
    media_type: &'a str,
    manifests: Vec<Entry<'a>>,
    annotations: &'a BTreeMap<String, String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Entry<'a> {
    media_type: &'a str,
    digest: &'a str,
    size: i64,
    platform: PlatformSpec<'a>,
    annotations: &'a BTreeMap<String, String>,
}

#[derive(Serialize)]
struct PlatformSpec<'a> {
    architecture: &'a str,
    os: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    variant: Option<&'a str>,
}

/// The index document (media type set explicitly: registries reject an index over schema2
/// children without it).
pub fn document(images: &[PlatformImage], annotations: &BTreeMap<String, String>) -> Vec<u8> {
    let manifests = images
        .iter()
        .map(|i| {
            let mut parts = i.platform.split('/');
            let os = parts.next().unwrap_or("linux");
            let arch = parts.next().unwrap_or("amd64");
            let variant = parts.next().or((arch == "arm64").then_some("v8"));
            Entry {
                media_type: &i.media_type,
                digest: &i.digest,
                size: i.size,
                platform: PlatformSpec {
                    architecture: arch,
                    os,
                    variant,
                },
                annotations,
            }
        })
        .collect();
    serde_json::to_vec(&Index {
        schema_version: 2,
        media_type: OCI_INDEX,
        manifests,
        annotations,
    })
    .unwrap_or_default()
}

/// The content digest of a manifest or index document: `sha256:<hex>`.
pub fn digest(doc: &[u8]) -> String {
    use sha2::Digest as _;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(doc)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_lists_each_platform_with_annotations() {
        let ann = BTreeMap::from([(
            "org.opencontainers.image.version".to_string(),
            "8.3.0".to_string(),
        )]);
        let doc = document(
            &[
                PlatformImage {
                    platform: "linux/amd64".into(),
                    digest: "sha256:aa".into(),
                    size: 10,
                    media_type: "application/vnd.docker.distribution.manifest.v2+json".into(),
                },
                PlatformImage {
                    platform: "linux/arm64".into(),
                    digest: "sha256:bb".into(),
                    size: 11,
                    media_type: "application/vnd.docker.distribution.manifest.v2+json".into(),
                },
            ],
            &ann,
        );
        let v: serde_json::Value = serde_json::from_slice(&doc).unwrap();
        assert_eq!(v["mediaType"], OCI_INDEX);
        assert_eq!(v["schemaVersion"], 2);
        assert_eq!(v["manifests"][1]["platform"]["architecture"], "arm64");
        assert_eq!(v["manifests"][1]["platform"]["variant"], "v8");
        assert_eq!(v["manifests"][0]["digest"], "sha256:aa");
        assert_eq!(
            v["annotations"]["org.opencontainers.image.version"],
            "8.3.0"
        );
        assert_eq!(
            digest(&doc),
            digest(&doc.clone()),
            "the same document, the same digest"
        );
        assert_eq!(
            digest(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
