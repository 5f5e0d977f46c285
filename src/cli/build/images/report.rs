//! What `lava-build images` prints: the images built and pushed, the indexes, and the check table.
use crate::engine::Platform;
use crate::images::checks::CheckResult;
use crate::output::{self, Format};
use serde::Serialize;

/// One image of one platform, as reported on stdout.
#[derive(Debug, Serialize)]
pub(super) struct Row {
    pub image: String,
    pub platform: Platform,
    pub local: String,
    pub rebuilt: bool,
    /// `<repo>@<digest>` once pushed.
    pub pushed: Option<String>,
    /// Whether this run sent the image (false: the registry already held it).
    pub uploaded: Option<bool>,
    /// The tags of the index listing this image (empty when no index was pushed).
    pub tags: Vec<String>,
}

/// One index, as reported by `images index` (and logged by `--push`).
#[derive(Debug, Serialize)]
pub(super) struct IndexRow {
    pub repository: String,
    pub digest: String,
    pub platforms: Vec<Platform>,
    pub tags: Vec<String>,
    /// The tags this run wrote (the others already pointed at this index).
    pub written: Vec<String>,
}

pub(super) fn report_checks(results: &[CheckResult], format: Format) -> anyhow::Result<()> {
    if format == Format::Json {
        output::print_json(&results)?;
    } else {
        let mut t = output::table(&["image", "platform", "check", "result", "output"]);
        for r in results {
            t.add_row(vec![
                r.image.clone(),
                r.platform.clone(),
                r.check.clone(),
                if r.passed { "pass" } else { "FAIL" }.to_string(),
                r.output.clone(),
            ]);
        }
        println!("{t}");
    }
    let failed: Vec<String> = results
        .iter()
        .filter(|r| !r.passed)
        .map(|r| format!("{} {} {}", r.image, r.platform, r.check))
        .collect();
    if !failed.is_empty() {
        anyhow::bail!(
            "{} image check(s) failed: {}",
            failed.len(),
            failed.join("; ")
        );
    }
    Ok(())
}

pub(super) fn report_rows(rows: &[Row], format: Format) -> anyhow::Result<()> {
    if format == Format::Json {
        return output::print_json(&rows);
    }
    let mut t = output::table(&[
        "image",
        "platform",
        "local tag",
        "built",
        "pushed digest",
        "tags",
    ]);
    for r in rows {
        let digest = r
            .pushed
            .as_deref()
            .and_then(|p| p.rsplit_once('@'))
            .map(|(_, d)| d.to_string());
        let pushed = match (digest, r.uploaded) {
            (Some(d), Some(false)) => format!("{d} (already there)"),
            (Some(d), _) => d,
            (None, _) => String::new(),
        };
        t.add_row(vec![
            r.image.clone(),
            r.platform.to_string(),
            r.local.clone(),
            if r.rebuilt { "built" } else { "unchanged" }.to_string(),
            pushed,
            r.tags.join(", "),
        ]);
    }
    println!("{t}");
    Ok(())
}

pub(super) fn report_indexes(rows: &[IndexRow], format: Format) -> anyhow::Result<()> {
    if format == Format::Json {
        return output::print_json(&rows);
    }
    let mut t = output::table(&["repository", "platforms", "index digest", "tags", "pushed"]);
    for r in rows {
        t.add_row(vec![
            r.repository.clone(),
            r.platforms
                .iter()
                .map(|p| p.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            r.digest.clone(),
            r.tags.join(", "),
            if r.written.is_empty() {
                "already there".to_string()
            } else {
                r.written.join(", ")
            },
        ]);
    }
    println!("{t}");
    Ok(())
}
