//! Payload releases on native runners (issue 18): `payload install --push-by-digest`, one run per
//! platform on its own test engine, writes one digests file; `payload index` pushes each payload's
//! OCI index over those digests, once; a missing platform, a digest the registry lacks and two
//! digests for one platform are refused before anything is pushed. The fixture project's COPY-only
//! payload, the local registry, the AWS emulator's ECR.
use crate::common::{path_str, with_moto};
use crate::images::{
    assert_refusal, docker_host, docker2_host, exists, refused_digests, registry, skopeo_raw, tags,
    unique,
};
use crate::payload::{json as stdout_json, manifest_puts, ok, payload, project, row, text};
use serde_json::{Value, json};
use std::path::Path;
use std::process::Output;

/// (architecture, digest) of each manifest an index lists.
fn listed(index: &Value) -> Vec<(String, String)> {
    index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["platform"]["architecture"].as_str().unwrap().to_string(),
                m["digest"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn two_runs_by_digest_on_two_engines_write_one_file_and_index_pushes_one_index_once() {
    let (dir, repo) = project();
    let reg = registry();
    let work = tempfile::tempdir().unwrap();
    let digests = work.path().join("digests.json");
    let name = format!("{repo}/copyonly");
    let full = format!("{reg}/{name}");

    // One run per platform, each on its own engine (as on two native runners).
    for (platform, engine) in [
        ("linux/amd64", docker_host()),
        ("linux/arm64", docker2_host()),
    ] {
        let mut c = payload(
            dir.path(),
            "install",
            &["copyonly", "--env", "multi", "--network", "none"],
        );
        c.env("DOCKER_HOST", &engine)
            .env("AWS_REGION", "us-east-1")
            .args(["--registry", &reg, "--platform", platform])
            .args(["--push-by-digest", "--digests-file", &path_str(&digests)])
            .args(["--output", "json"]);
        let out = ok(with_moto(&mut c).output().unwrap());
        let r = row(&stdout_json(&out), "copyonly").clone();
        assert_eq!(r["push"], "pushed", "{r}");
        assert_eq!(r["images"].as_array().unwrap().len(), 1, "{r}");
        assert_eq!(r["images"][0]["platform"], platform);
        assert_eq!(r["by_digest"]["repository"], full.as_str());
        assert_eq!(
            r["by_digest"]["digests"].as_object().unwrap().len(),
            1,
            "{r}"
        );
        assert!(r.get("pushed").is_none(), "no index, no tag: {r}");
    }
    let file: Value = serde_json::from_slice(&std::fs::read(&digests).unwrap()).unwrap();
    assert_eq!(file.as_object().unwrap().len(), 1, "{file}");
    let amd = file[&full]["linux/amd64"].as_str().unwrap().to_string();
    let arm = file[&full]["linux/arm64"].as_str().unwrap().to_string();
    assert!(
        amd.starts_with("sha256:") && arm.starts_with("sha256:") && amd != arm,
        "{file}"
    );
    assert!(
        !exists(&format!("{full}:latest")),
        "no index before `payload index`"
    );
    assert_eq!(tags(&full), Vec::<String>::new(), "by digest alone: no tag");

    let tag = unique();
    let index = |files: &[&Path], tag: &str| -> Output {
        let mut c = payload(
            dir.path(),
            "index",
            &["copyonly", "--env", "multi", "--registry", &reg],
        );
        c.arg("--digests")
            .args(files.iter().map(|f| path_str(f)))
            .args(["--tag", tag, "--output", "json"]);
        c.output().unwrap()
    };

    // A dry run checks and pushes nothing.
    let mut c = payload(
        dir.path(),
        "index",
        &[
            "copyonly",
            "--env",
            "multi",
            "--registry",
            &reg,
            "--dry-run",
        ],
    );
    let out = ok(c
        .args(["--digests", &path_str(&digests), "--output", "json"])
        .output()
        .unwrap());
    assert_eq!(row(&stdout_json(&out), "copyonly")["status"], "would push");
    assert!(!exists(&format!("{full}:latest")), "the dry run pushed");

    // The index over both digests, tagged latest and the tag, with the payload's annotations.
    let out = index(&[&digests], &tag);
    assert!(out.status.success(), "{}", text(&out));
    let rows = stdout_json(&out);
    let r = row(&rows, "copyonly");
    assert_eq!(r["repository"], full.as_str());
    assert_eq!(r["status"], "pushed");
    assert_eq!(r["written"], json!(["latest", tag]), "{rows}");
    let (doc, digest) = skopeo_raw(&format!("{full}:latest"));
    assert_eq!(doc["mediaType"], "application/vnd.oci.image.index.v1+json");
    assert_eq!(
        listed(&doc),
        [
            ("amd64".to_string(), amd.clone()),
            ("arm64".to_string(), arm.clone())
        ]
    );
    assert_eq!(r["digest"], digest.as_str());
    assert_eq!(skopeo_raw(&format!("{full}:{tag}")).1, digest);
    assert_eq!(doc["annotations"]["lava.payload"], "copyonly");
    assert_eq!(doc["annotations"]["lava.env"], "multi");
    assert_eq!(
        doc["annotations"]["org.opencontainers.image.title"],
        name.as_str()
    );

    // Again: every tag already points at this index, nothing is written.
    let puts = manifest_puts(&name);
    let out = index(&[&digests], &tag);
    assert!(out.status.success(), "{}", text(&out));
    let rows = stdout_json(&out);
    let r = row(&rows, "copyonly");
    assert_eq!(r["status"], "unchanged", "{rows}");
    assert_eq!(r["written"], json!([]), "{rows}");
    assert_eq!(r["digest"], digest.as_str());
    assert!(
        text(&out).contains("already there, nothing pushed"),
        "{}",
        text(&out)
    );
    assert_eq!(manifest_puts(&name), puts, "the re-run pushed a manifest");

    // Refusals, each before anything is pushed: a fresh tag that must not appear.
    let refused = |files: &[&Path], code: i32, needles: &[String]| {
        let t = unique();
        let puts = manifest_puts(&name);
        let out = index(files, &t);
        let err = assert_refusal(&out, code, needles);
        assert_eq!(manifest_puts(&name), puts, "pushed after: {err}");
        assert!(!exists(&format!("{full}:{t}")), "{t} was pushed");
    };
    refused_digests(work.path(), &full, (&amd, &arm), &digests, refused);
    assert_eq!(
        skopeo_raw(&format!("{full}:latest")).1,
        digest,
        "latest unchanged"
    );
}

#[test]
fn a_platform_outside_docker_platform_or_a_bad_digests_file_is_refused_before_building() {
    let (dir, _) = project();
    let work = tempfile::tempdir().unwrap();
    let bad = work.path().join("bad.json");
    std::fs::write(&bad, r#"{"r.io/x/copyonly": "sha256:a"}"#).unwrap();
    let run = |verb: &str, args: &[&str]| {
        let mut c = payload(dir.path(), verb, args);
        // An engine that does not exist: reaching it would be exit 1, not 2.
        c.env("DOCKER_HOST", "unix:///nonexistent/docker.sock");
        let out = c.output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        err
    };
    let err = run(
        "build",
        &["copyonly", "--env", "dev", "--platform", "linux/arm64"],
    );
    assert!(
        err.contains("--platform: invalid value \"linux/arm64\": expected one of docker.platform in config/dev.yaml: linux/amd64"),
        "{err}"
    );
    let by_digest = [
        "copyonly",
        "--env",
        "dev",
        "--registry",
        "127.0.0.1:9",
        "--push-by-digest",
    ];
    let err = run("install", &by_digest);
    assert!(err.contains("--digests-file"), "{err}");
    let bad_file = path_str(&bad);
    let err = run(
        "install",
        &[&by_digest[..], &["--digests-file", &bad_file]].concat(),
    );
    assert!(err.contains("bad.json: not a digests file"), "{err}");
    assert_eq!(
        std::fs::read_to_string(&bad).unwrap(),
        r#"{"r.io/x/copyonly": "sha256:a"}"#,
        "left as it was"
    );
    // docker.platform: host names no platform list: index needs --platform.
    let f = dir.path().join("config/dev.yaml");
    let s = std::fs::read_to_string(&f).unwrap();
    std::fs::write(&f, s.replace("docker:\n", "docker:\n  platform: host\n")).unwrap();
    let err = run(
        "index",
        &[
            "copyonly",
            "--env",
            "dev",
            "--registry",
            "127.0.0.1:9",
            "--digests",
            &path_str(&bad),
        ],
    );
    assert!(err.contains("--platform"), "{err}");
    assert!(err.contains("is host"), "{err}");
}
