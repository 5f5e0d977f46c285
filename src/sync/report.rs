//! What a sync did (or, dry, would do): the report, its summary line and its failures.
use super::plan::Reason;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Upload {
    pub key: String,
    pub size: u64,
    pub reason: Reason,
}

#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    pub key: String,
    pub error: String,
}

/// The outcome of a sync (or, with `dry_run`, of its plan).
#[derive(Debug, Clone, Serialize)]
pub struct SyncReport {
    pub url: String,
    pub dry_run: bool,
    pub checked: usize,
    pub uploaded: usize,
    pub unchanged: usize,
    pub deleted: usize,
    pub bytes_sent: u64,
    pub elapsed_seconds: f64,
    /// Uploads done (or, for a dry run, that would be done).
    pub uploads: Vec<Upload>,
    /// Keys deleted (or that would be); with `delete` off, remote keys that have no local file.
    pub deletions: Vec<String>,
    pub failed: Vec<Failure>,
    /// Keys of multipart uploads of an earlier sync that was killed, aborted by this one.
    pub stale_uploads_aborted: Vec<String>,
}

impl SyncReport {
    /// The human summary.
    pub fn summary(&self) -> String {
        let verb = if self.dry_run {
            "would upload"
        } else {
            "uploaded"
        };
        let upload_bytes: u64 = self.uploads.iter().map(|u| u.size).sum();
        let mut s = format!(
            "{}: {} files checked, {} {verb} ({}), {} unchanged",
            self.url,
            self.checked,
            self.uploads.len(),
            human_bytes(upload_bytes),
            self.unchanged,
        );
        if self.dry_run {
            s.push_str(&format!(", {} would be deleted", self.deletions.len()));
        } else {
            s.push_str(&format!(
                ", {} deleted, {} sent in {:.2}s",
                self.deleted,
                human_bytes(self.bytes_sent),
                self.elapsed_seconds
            ));
        }
        if !self.stale_uploads_aborted.is_empty() {
            s.push_str(&format!(
                ", {} stale multipart upload(s) aborted",
                self.stale_uploads_aborted.len()
            ));
        }
        if !self.failed.is_empty() {
            s.push_str(&format!(", {} FAILED", self.failed.len()));
        }
        s
    }
}

impl SyncReport {
    /// `key (error); key (error)` of every failed file, or None when nothing failed.
    pub fn failures(&self) -> Option<String> {
        (!self.failed.is_empty()).then(|| {
            self.failed
                .iter()
                .map(|f| format!("{} ({})", f.key, f.error))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }
}

/// A size for people: `512 B`, `1.50 MiB`.
pub fn human_bytes(n: u64) -> String {
    indicatif::HumanBytes(n).to_string()
}
