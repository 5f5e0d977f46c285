//! Releases on native runners (issue 18): one `--push-by-digest` run per platform writes one
//! digests file, and `images index` pushes the OCI index over those digests, against the local
//! registry. Also the tags of a push: the run's tag, the lava version and latest.
use crate::common::{bin, ok, path_str};
use crate::images::{
    assert_refusal, blob_uploads, exists, fixture, lava_build_images, refused_digests, registry,
    skopeo_raw, tags, unique,
};
use serde_json::Value;
use std::path::Path;

/// Manifests (and indexes) this test's prefix had written to the registry, from its log.
fn manifest_puts(prefix: &str) -> usize {
    let log = std::fs::read_to_string(crate::images::registry_log()).unwrap_or_default();
    let needle = format!("\"PUT /v2/{prefix}/");
    log.lines()
        .filter(|l| l.contains(&needle) && l.contains("/manifests/"))
        .count()
}

/// The id of `image` in the engine at `host`.
fn image_id(host: &str, image: &str) -> String {
    let out = std::process::Command::new("docker")
        .args(["-H", host, "image", "inspect", "--format", "{{.Id}}", image])
        .output()
        .expect("docker CLI");
    String::from_utf8(ok(out).stdout)
        .unwrap()
        .trim()
        .to_string()
}

fn index_cmd(files: &[&Path], tag: &str, version: &str) -> std::process::Output {
    let mut c = bin("lava-build");
    c.env_remove("LAVA_REGISTRY_USER")
        .args(["images", "index", "--digests"])
        .args(files.iter().map(|f| path_str(f)))
        .args(["--tag", tag, "--version", version, "--output", "json"]);
    c.output().unwrap()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn two_runs_by_digest_write_one_file_and_index_pushes_one_index_once() {
    let fx = fixture();
    let (tag, prefix, reg) = (unique(), unique(), registry());
    let version = format!("8.{}.0", uuid::Uuid::new_v4().as_u128() % 100_000);
    let time = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
    let work = tempfile::tempdir().unwrap();
    let digests = work.path().join("digests.json");
    let repo = format!("{reg}/{prefix}/lava/tiny/base");

    let by_digest = |platform: &str| -> Value {
        let out = ok(lava_build_images(fx.path())
            .env("LAVA_BUILD_TIME", &time)
            .args(["--tag", &tag, "--version", &version, "--type", "base"])
            .args(["--platform", platform, "--push-by-digest"])
            .args(["--digests-file", &path_str(&digests)])
            .args(["--registry", &reg, "--prefix", &prefix, "--output", "json"])
            .output()
            .unwrap());
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let mut local = Vec::new();
    for platform in ["linux/amd64", "linux/arm64"] {
        let rows = by_digest(platform);
        local.push(rows[0]["local"].as_str().unwrap().to_string());
    }
    let file: Value = serde_json::from_slice(&std::fs::read(&digests).unwrap()).unwrap();
    let amd = file[&repo]["linux/amd64"].as_str().unwrap().to_string();
    let arm = file[&repo]["linux/arm64"].as_str().unwrap().to_string();
    assert!(
        amd.starts_with("sha256:") && arm.starts_with("sha256:") && amd != arm,
        "{file}"
    );
    assert_eq!(file.as_object().unwrap().len(), 1, "{file}");
    assert!(
        !exists(&format!("{repo}:{tag}")) && !exists(&format!("{repo}:latest")),
        "no index before `images index`"
    );
    // By digest alone: the repository has no tag at all.
    assert_eq!(tags(&repo), Vec::<String>::new());
    // What went up is the engine's image: another engine pulls it by digest and gets the same
    // image (its id is the config's digest; each layer is checked against it on the way).
    let pulled = format!("{repo}@{amd}");
    let docker2 = crate::images::docker2_host();
    ok(std::process::Command::new("docker")
        .args(["-H", &docker2, "pull", "-q", &pulled])
        .output()
        .expect("docker CLI"));
    assert_eq!(
        image_id(&docker2, &pulled),
        image_id(&crate::images::docker_host(), &local[0])
    );
    // Again for amd64: the registry has it all, nothing is sent and the file is unchanged.
    let (uploads, puts) = (blob_uploads(&prefix), manifest_puts(&prefix));
    let before = std::fs::read(&digests).unwrap();
    let rows = by_digest("linux/amd64");
    assert_eq!(
        rows[0]["pushed"],
        format!("{repo}@{amd}").as_str(),
        "{rows}"
    );
    assert_eq!(rows[0]["uploaded"], false, "{rows}");
    assert_eq!(
        (blob_uploads(&prefix), manifest_puts(&prefix)),
        (uploads, puts)
    );
    assert_eq!(std::fs::read(&digests).unwrap(), before);

    // The index over both digests, as the tag, the version and latest.
    let out = index_cmd(&[&digests], &tag, &version);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    let rows: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows[0]["repository"], repo.as_str());
    assert_eq!(
        rows[0]["written"],
        serde_json::json!([tag, version, "latest"]),
        "{rows}"
    );
    let (index, digest) = skopeo_raw(&format!("{repo}:{tag}"));
    let listed: Vec<(String, String)> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["platform"]["architecture"].as_str().unwrap().to_string(),
                m["digest"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            ("amd64".to_string(), amd.clone()),
            ("arm64".to_string(), arm.clone())
        ]
    );
    assert_eq!(rows[0]["digest"], digest.as_str());
    for other in [version.as_str(), "latest"] {
        assert_eq!(skopeo_raw(&format!("{repo}:{other}")).1, digest, "{other}");
    }
    let mut want = vec![tag.clone(), version.clone(), "latest".to_string()];
    want.sort();
    let mut got = tags(&repo);
    got.sort();
    assert_eq!(got, want, "the index tags and nothing else");
    assert_eq!(
        index["annotations"]["org.opencontainers.image.version"],
        version.as_str()
    );

    // Again: the tags already point at this index, nothing is written.
    let puts = manifest_puts(&prefix);
    let out = index_cmd(&[&digests], &tag, &version);
    assert!(out.status.success(), "{}", stderr(&out));
    let rows: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows[0]["written"], serde_json::json!([]), "{rows}");
    assert_eq!(manifest_puts(&prefix), puts, "the re-run pushed a manifest");

    // The version as the tag: pushed once, with latest.
    let out = index_cmd(&[&digests], &version, &version);
    let rows: Value = serde_json::from_slice(&ok(out).stdout).unwrap();
    assert_eq!(rows[0]["tags"], serde_json::json!([version, "latest"]));

    // Refusals, each before anything is pushed: a fresh tag and version that must not appear.
    let refused = |files: &[&Path], code: i32, needles: &[String]| {
        let (t, v) = (
            unique(),
            format!("9.{}.1", uuid::Uuid::new_v4().as_u128() % 100_000),
        );
        let puts = manifest_puts(&prefix);
        let out = index_cmd(files, &t, &v);
        let err = assert_refusal(&out, code, needles);
        assert_eq!(manifest_puts(&prefix), puts, "pushed after: {err}");
        assert!(!exists(&format!("{repo}:{t}")) && !exists(&format!("{repo}:{v}")));
    };
    refused_digests(work.path(), &repo, (&amd, &arm), &digests, refused);
    assert_eq!(
        skopeo_raw(&format!("{repo}:latest")).1,
        digest,
        "latest unchanged"
    );
}

#[test]
fn a_push_tags_the_index_with_the_tag_the_version_and_latest() {
    let fx = fixture();
    let (tag, prefix, reg) = (unique(), unique(), registry());
    let out = ok(lava_build_images(fx.path())
        .args(["--tag", &tag, "--version", "8.3.0", "--type", "base"])
        .args(["--platform", "linux/amd64", "--push", "--output", "json"])
        .args(["--registry", &reg, "--prefix", &prefix])
        .output()
        .unwrap());
    let rows: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows[0]["tags"], serde_json::json!([tag, "8.3.0", "latest"]));
    let repo = format!("{reg}/{prefix}/lava/tiny/base");
    let (_, digest) = skopeo_raw(&format!("{repo}:{tag}"));
    for t in ["8.3.0", "latest"] {
        assert_eq!(skopeo_raw(&format!("{repo}:{t}")).1, digest, "{t}");
    }
    // In the table too.
    let out = ok(lava_build_images(fx.path())
        .args(["--tag", &tag, "--version", "8.3.0", "--type", "base"])
        .args(["--platform", "linux/amd64", "--push"])
        .args(["--registry", &reg, "--prefix", &prefix])
        .output()
        .unwrap());
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains(&format!("{tag}, 8.3.0, latest")), "{table}");
}
