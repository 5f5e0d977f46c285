//! Carrying out a sync's plan: the uploads, the abort of multipart uploads an earlier sync left
//! behind, and the deletions. Failures of single objects go to the run's list.
use super::hash::RemoteEntry;
use super::report::{Failure, Upload, human_bytes};
use super::{Run, progress_bar, remote, unchanged_since_walk, uploads};
use crate::output::progress;
use futures::StreamExt;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};

impl Run<'_> {
    /// Uploads `uploads` concurrently; every read of file bytes and every request holds one permit
    /// of one pool. Returns the bytes sent and the keys uploaded; failures go to `self.failed`.
    pub(super) async fn upload(&mut self, uploads: &[Upload]) -> (u64, BTreeSet<String>) {
        let index: BTreeMap<String, usize> =
            (0..self.files.len()).map(|i| (self.key_of(i), i)).collect();
        let total: u64 = uploads.iter().map(|u| u.size).sum();
        let pb =
            (self.opts.progress && !uploads.is_empty()).then(|| progress_bar(total, uploads.len()));
        let sent = AtomicU64::new(0);
        let done_files = AtomicU64::new(0);
        let pool = remote::Pool::new(self.opts.concurrency);
        let on_sent = |n: u64| {
            sent.fetch_add(n, Ordering::Relaxed);
            if let Some(pb) = &pb {
                pb.inc(n);
            }
        };
        let results: Vec<(usize, Result<remote::Uploaded, remote::RemoteError>)> = {
            let this = &*self;
            let (pool, on_sent, pb, done_files) = (&pool, &on_sent, &pb, &done_files);
            futures::stream::iter(uploads.iter().map(|u| {
                let i = index[&u.key];
                async move {
                    let dest = remote::Dest {
                        client: &this.client,
                        bucket: &this.opts.bucket,
                        key: &u.key,
                        journal: &this.journal,
                        stop: &this.stop,
                    };
                    let f = &this.files[i];
                    let local = remote::Local {
                        path: &f.path,
                        stamp: f.stamp(),
                        expected: this.hashes[i].as_ref(),
                    };
                    let r = super::put::upload(&dest, &local, pool, on_sent).await;
                    let done = done_files.fetch_add(1, Ordering::Relaxed) + 1;
                    match (pb, &r) {
                        (_, Err(remote::RemoteError::Stopped(_))) => {}
                        (Some(pb), _) => pb.set_message(format!("{done}/{} files", uploads.len())),
                        (None, Ok(_)) => progress::line(
                            "sync:",
                            format_args!("uploaded {} ({})", u.key, human_bytes(f.size)),
                        ),
                        (None, Err(e)) => progress::line(
                            "sync:",
                            format_args!("FAILED {}: {}", u.key, crate::error::chain(e)),
                        ),
                    }
                    (i, r)
                }
            }))
            .buffer_unordered(self.opts.concurrency.max(1))
            .collect()
            .await
        };
        if let Some(pb) = &pb {
            pb.finish_and_clear();
        }
        let mut uploaded = BTreeSet::new();
        for (i, r) in results {
            let key = self.key_of(i);
            let url = self.url_of(&key);
            match r {
                Ok(up) => {
                    let entry = RemoteEntry {
                        size: self.files[i].size,
                        etag: up.etag,
                        sha256: up.hashes.sha256.clone(),
                    };
                    self.cache.remote.insert(url, entry);
                    // What was sent is the file's content only if the file was not changed meanwhile.
                    if unchanged_since_walk(&self.files[i]) {
                        self.cache.put(&self.files[i], up.hashes);
                    }
                    uploaded.insert(key);
                }
                Err(e) => {
                    self.cache.remote.remove(&url);
                    self.failed.push(Failure {
                        key,
                        error: crate::error::chain(&e),
                    });
                }
            }
        }
        (sent.load(Ordering::Relaxed), uploaded)
    }

    /// Aborts the multipart uploads under the prefix that the journal names: those of an earlier
    /// sync that was killed. Returns their keys; one that cannot be aborted is a failure (and
    /// stays in the journal). Nothing is asked of S3 when the journal names none here. A server
    /// that does not list multipart uploads gets an abort for each one the journal names.
    pub(super) async fn abort_stale(&mut self) -> Vec<String> {
        let ours: Vec<uploads::Entry> = self
            .journal
            .entries()
            .into_iter()
            .filter(|e| e.bucket == self.opts.bucket && e.key.starts_with(&self.opts.prefix))
            .collect();
        if ours.is_empty() {
            return Vec::new();
        }
        // None: the server does not list multipart uploads (s3s-fs answers 501 NotImplemented);
        // then each upload the journal names is aborted directly, and one the server no longer
        // knows (NoSuchUpload) is gone.
        let live: Option<BTreeSet<(String, String)>> = match super::multipart::multipart_uploads(
            &self.client,
            &self.opts.bucket,
            &self.opts.prefix,
        )
        .await
        {
            Ok(l) => Some(l.into_iter().collect()),
            Err(super::remote::RemoteError::Aws(e))
                if e.code.as_deref() == Some("NotImplemented") =>
            {
                progress::line(
                    "sync:",
                    format_args!(
                        "the S3 server does not list multipart uploads (NotImplemented): aborting the {} upload(s) an earlier sync left unfinished under {} by their ids",
                        ours.len(),
                        self.url_of(&self.opts.prefix)
                    ),
                );
                None
            }
            Err(e) => {
                self.failed.push(Failure {
                    key: format!(
                        "listing the multipart uploads under {}",
                        self.url_of(&self.opts.prefix)
                    ),
                    error: crate::error::chain(&e),
                });
                return Vec::new();
            }
        };
        let mut gone = BTreeSet::new();
        let mut aborted = Vec::new();
        for e in ours {
            if let Some(live) = &live
                && !live.contains(&(e.key.clone(), e.upload_id.clone()))
            {
                // Completed or aborted since (its end was not recorded): nothing to do.
                gone.insert(e.upload_id);
                continue;
            }
            match super::multipart::abort_upload(
                &self.client,
                &self.opts.bucket,
                &e.key,
                &e.upload_id,
            )
            .await
            {
                Ok(()) => {
                    gone.insert(e.upload_id);
                    aborted.push(e.key);
                }
                Err(super::remote::RemoteError::Aws(err))
                    if live.is_none() && err.code.as_deref() == Some("NoSuchUpload") =>
                {
                    gone.insert(e.upload_id);
                }
                Err(err) => self.failed.push(Failure {
                    key: e.key,
                    error: format!(
                        "aborting a multipart upload left by an earlier sync: {}",
                        crate::error::chain(&err)
                    ),
                }),
            }
        }
        self.journal.rewrite(&gone);
        if !aborted.is_empty() {
            progress::line(
                "sync:",
                format_args!(
                    "aborted {} multipart upload(s) left by an earlier sync that was stopped: {}",
                    aborted.len(),
                    aborted.join(", ")
                ),
            );
        }
        aborted
    }

    /// Deletes `deletions`; returns how many are gone. Keys S3 kept go to `self.failed`.
    pub(super) async fn delete(&mut self, deletions: &[String]) -> usize {
        match remote::delete(&self.client, &self.opts.bucket, deletions).await {
            Ok(not_deleted) => {
                let bad: BTreeSet<&str> = not_deleted.iter().map(|(k, _)| k.as_str()).collect();
                for k in deletions.iter().filter(|k| !bad.contains(k.as_str())) {
                    let url = self.url_of(k);
                    self.cache.remote.remove(&url);
                }
                let deleted = deletions.len() - bad.len();
                for (key, error) in not_deleted {
                    self.failed.push(Failure { key, error });
                }
                deleted
            }
            Err(e) => {
                self.failed.push(Failure {
                    key: format!("{} objects to delete", deletions.len()),
                    error: crate::error::chain(&e),
                });
                0
            }
        }
    }
}
