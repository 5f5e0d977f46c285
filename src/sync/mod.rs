//! Sync of the AMI build resources (`ami/resources.s3/`) to `s3://bucket/prefix` by content.
//!
//! Walk the tree (dot files, swap files and excludes left out) → list the prefix → decide per file
//! (pure, [`plan`]) → hash only the files an object of the same size may match (cache in build/) →
//! HEAD the objects the listing cannot decide → upload concurrently with checksums, hashing new files
//! as they are read → delete only with `--delete`.
mod apply;
pub mod etag;
pub mod hash;
mod multipart;
pub mod plan;
mod put;
pub mod remote;
pub mod report;
pub mod uploads;
pub mod walk;

use futures::StreamExt;
use globset::GlobSet;
use hash::{Cache, Hashes, RemoteEntry};
use plan::{Decision, Reason, RemoteObject};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Instant;
use uploads::{Journal, Signal, Stop};
use walk::LocalFile;

pub use report::{Failure, SyncReport, Upload, human_bytes};

/// What to sync and how.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    pub source: PathBuf,
    pub bucket: String,
    /// Empty or ending in `/`.
    pub prefix: String,
    pub dry_run: bool,
    pub delete: bool,
    pub excludes: Vec<String>,
    /// Requests in flight at most.
    pub concurrency: usize,
    pub cache_path: PathBuf,
    /// A progress bar on stderr (only on a TTY); else one line per uploaded file.
    pub progress: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Walk(#[from] walk::WalkError),
    #[error("s3://{bucket}/{prefix}")]
    List {
        bucket: String,
        prefix: String,
        #[source]
        source: Box<remote::RemoteError>,
    },
    #[error("hashing {}", .path.display())]
    Hash {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "stopped by {signal}: {uploaded} of {planned} uploads done{}; run the sync again to finish",
        if .aborted.is_empty() { String::new() } else {
            format!(", {} multipart upload(s) under way aborted ({})", .aborted.len(), .aborted.join(", "))
        }
    )]
    Stopped {
        signal: Signal,
        uploaded: usize,
        planned: usize,
        aborted: Vec<String>,
    },
    #[error("{what} did not finish")]
    Task {
        what: String,
        #[source]
        source: tokio::task::JoinError,
    },
}

/// Hashes the files `todo` (indexes into `files`), several at once and the parts of a large file
/// on every core, and puts the hashes in the cache and in `out`.
async fn hash_some(
    files: &[LocalFile],
    todo: Vec<usize>,
    cache: &mut Cache,
    out: &mut [Option<Hashes>],
) -> Result<(), SyncError> {
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut results = futures::stream::iter(todo.into_iter().map(|i| {
        let path = files[i].path.clone();
        let size = files[i].size;
        async move {
            let r =
                tokio::task::spawn_blocking(move || hash::hash_file(&path, size, workers)).await;
            (i, r)
        }
    }))
    .buffer_unordered(workers);
    while let Some((i, r)) = results.next().await {
        let path = files[i].path.clone();
        match r {
            Ok(Ok(h)) => {
                cache.put(&files[i], h.clone());
                out[i] = Some(h);
            }
            Ok(Err(source)) => return Err(SyncError::Hash { path, source }),
            Err(source) => {
                return Err(SyncError::Task {
                    what: format!("hashing {}", path.display()),
                    source,
                });
            }
        }
    }
    Ok(())
}

/// Whether `file` still has the size, times and inode the walk saw (its hashes may be cached).
fn unchanged_since_walk(file: &LocalFile) -> bool {
    std::fs::metadata(&file.path).is_ok_and(|m| walk::Stamp::of(&m) == file.stamp())
}

fn progress_bar(total: u64, files: usize) -> indicatif::ProgressBar {
    let pb = indicatif::ProgressBar::new(total);
    pb.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta} {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    pb.set_message(format!("0/{files} files"));
    pb
}

/// The local tree and the hash cache, read off the async threads (both touch every file).
async fn scan(
    source: &Path,
    excludes: &GlobSet,
    cache_path: &Path,
) -> Result<(Vec<LocalFile>, Cache), SyncError> {
    let (source, excludes, cache_path) = (
        source.to_path_buf(),
        excludes.clone(),
        cache_path.to_path_buf(),
    );
    let what = format!("walking {}", source.display());
    tokio::task::spawn_blocking(move || {
        let files = walk::walk(&source, &excludes)?;
        Ok((files, Cache::load(&cache_path)))
    })
    .await
    .map_err(|source| SyncError::Task { what, source })?
}

/// What a HEAD told of one file's object.
enum Headed {
    /// No local hashes to compare (not asked for such files).
    Skip,
    /// The decision from the object's metadata, and its ETag.
    Decided(Decision, String),
    /// No object any more.
    Gone,
    /// The HEAD failed: the error chain.
    Failed(String),
}

/// One sync under way: the local files with what is known of them, and the remote listing.
struct Run<'a> {
    opts: &'a SyncOptions,
    client: aws_sdk_s3::Client,
    excludes: GlobSet,
    files: Vec<LocalFile>,
    /// Hashes of `files[i]`, when cached or computed.
    hashes: Vec<Option<Hashes>>,
    cache: Cache,
    remote: BTreeMap<String, RemoteObject>,
    failed: Vec<Failure>,
    journal: Journal,
    stop: Stop,
}

impl Run<'_> {
    fn key_of(&self, i: usize) -> String {
        format!("{}{}", self.opts.prefix, self.files[i].rel)
    }

    fn url_of(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.opts.bucket)
    }

    /// The decision for file `i` from what is known now (listing, cache, hashes).
    fn decide(&self, i: usize) -> Decision {
        let key = self.key_of(i);
        plan::decide(
            self.hashes[i].as_ref(),
            self.files[i].size,
            self.remote.get(&key),
            self.cache.remote.get(&self.url_of(&key)),
        )
    }

    /// Decides every file: from the listing and the cache, then by hashing the files an object of
    /// the same size may match, then by a HEAD of the objects the listing cannot decide.
    async fn decisions(&mut self) -> Result<Vec<Decision>, SyncError> {
        let mut decisions: Vec<Decision> = (0..self.files.len()).map(|i| self.decide(i)).collect();
        let todo: Vec<usize> = (0..self.files.len())
            .filter(|&i| decisions[i] == Decision::Hash)
            .collect();
        if !todo.is_empty() {
            hash_some(&self.files, todo.clone(), &mut self.cache, &mut self.hashes).await?;
            for i in todo {
                decisions[i] = self.decide(i);
            }
        }
        self.head_undecided(&mut decisions).await;
        Ok(decisions)
    }

    /// HEADs the objects of the files decided `Head` and decides them from the answer; a failed
    /// HEAD leaves the file alone and records the failure.
    async fn head_undecided(&mut self, decisions: &mut [Decision]) {
        let heads: Vec<usize> = (0..self.files.len())
            .filter(|&i| decisions[i] == Decision::Head)
            .collect();
        // Each answer is decided as it arrives and only the decision kept (a HEAD's answer is a few
        // hundred bytes: 100,000 of them held to the end would be tens of MB).
        let results: Vec<(usize, Headed)> = {
            let this = &*self;
            futures::stream::iter(heads.into_iter().map(|i| {
                let key = this.key_of(i);
                async move {
                    let r = remote::head(&this.client, &this.opts.bucket, &key).await;
                    // A HEAD is asked only for files whose hashes are known (decide returns Hash
                    // before Head).
                    let headed = match (r, this.hashes[i].as_ref()) {
                        (_, None) => Headed::Skip,
                        (Ok(Some(head)), Some(local)) => {
                            Headed::Decided(plan::after_head(local, &head), head.etag)
                        }
                        (Ok(None), Some(_)) => Headed::Gone,
                        (Err(e), Some(_)) => Headed::Failed(crate::error::chain(&e)),
                    };
                    (i, headed)
                }
            }))
            .buffer_unordered(self.opts.concurrency.max(1) * 4)
            .collect()
            .await
        };
        let mut etags = Vec::new();
        for (i, headed) in results {
            match headed {
                Headed::Skip => {}
                Headed::Decided(decision, etag) => {
                    decisions[i] = decision;
                    match decisions[i] {
                        Decision::Unchanged => self.confirmed(i, etag),
                        Decision::Etag => etags.push((i, etag)),
                        _ => {}
                    }
                }
                Headed::Gone => decisions[i] = Decision::Upload(Reason::New),
                Headed::Failed(error) => {
                    decisions[i] = Decision::Unchanged;
                    self.failed.push(Failure {
                        key: self.key_of(i),
                        error,
                    });
                }
            }
        }
        self.compare_etags(etags, decisions).await;
    }

    /// Records that the object of file `i`, with `etag`, holds the file's content: the next sync
    /// decides it from the listing.
    fn confirmed(&mut self, i: usize, etag: String) {
        let Some(local) = &self.hashes[i] else {
            return;
        };
        let entry = RemoteEntry {
            size: self.files[i].size,
            etag,
            sha256: local.sha256.clone(),
        };
        let url = self.url_of(&self.key_of(i));
        self.cache.remote.insert(url, entry);
    }

    /// Decides the files whose object has only a multipart ETag to go by: the ETag is computed
    /// for the file for the part sizes that give the object's part count; equal is unchanged,
    /// none equal is an upload. A file that cannot be read is a failure.
    async fn compare_etags(&mut self, etags: Vec<(usize, String)>, decisions: &mut [Decision]) {
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
        for (i, etag) in etags {
            let (path, size, e) = (self.files[i].path.clone(), self.files[i].size, etag.clone());
            let r =
                tokio::task::spawn_blocking(move || etag::matches(&path, size, &e, workers)).await;
            match r {
                Ok(Ok(true)) => {
                    decisions[i] = Decision::Unchanged;
                    self.confirmed(i, etag);
                }
                Ok(Ok(false)) => decisions[i] = Decision::Upload(Reason::EtagDiffers),
                Ok(Err(e)) => {
                    decisions[i] = Decision::Unchanged;
                    self.failed.push(Failure {
                        key: self.key_of(i),
                        error: format!(
                            "reading {} to compare its multipart ETag: {e}",
                            self.files[i].path.display()
                        ),
                    });
                }
                Err(e) => {
                    decisions[i] = Decision::Unchanged;
                    self.failed.push(Failure {
                        key: self.key_of(i),
                        error: format!("comparing the multipart ETag {etag}: {e}"),
                    });
                }
            }
        }
    }

    /// Remote keys under the prefix with no local file (and not left out by the ignore rules).
    fn deletions(&self) -> Vec<String> {
        let local_keys: BTreeSet<String> = (0..self.files.len()).map(|i| self.key_of(i)).collect();
        self.remote
            .keys()
            .filter(|k| !k.ends_with('/') && !local_keys.contains(*k))
            .filter(|k| {
                let rel = k.strip_prefix(&self.opts.prefix).unwrap_or(k);
                !walk::skipped(rel, &self.excludes)
            })
            .cloned()
            .collect()
    }

    /// The report of the plan: what would be uploaded and deleted.
    fn planned(&self, decisions: &[Decision], deletions: Vec<String>) -> SyncReport {
        let uploads = decisions
            .iter()
            .enumerate()
            .filter_map(|(i, d)| match d {
                Decision::Upload(reason) => Some(Upload {
                    key: self.key_of(i),
                    size: self.files[i].size,
                    reason: *reason,
                }),
                _ => None,
            })
            .collect();
        let unchanged = decisions
            .iter()
            .filter(|d| **d == Decision::Unchanged)
            .count();
        SyncReport {
            url: format!("s3://{}/{}", self.opts.bucket, self.opts.prefix),
            dry_run: self.opts.dry_run,
            checked: self.files.len(),
            uploaded: 0,
            unchanged: unchanged - self.failed.len(),
            deleted: 0,
            bytes_sent: 0,
            elapsed_seconds: 0.0,
            uploads,
            deletions,
            failed: Vec::new(),
            stale_uploads_aborted: Vec::new(),
        }
    }
}

/// Syncs `opts.source` to `s3://opts.bucket/opts.prefix`. Files that fail are listed in the report;
/// errors that stop the whole sync (no bucket, no access, no endpoint, unreadable tree) are returned.
pub async fn sync(
    sdk: &aws_config::SdkConfig,
    opts: &SyncOptions,
) -> Result<SyncReport, SyncError> {
    sync_until(sdk, opts, Stop::never()).await
}

/// [`sync`] that ends early on `stop`: the multipart uploads under way are aborted, what was
/// uploaded is kept in the cache, and [`SyncError::Stopped`] says how far it got.
pub async fn sync_until(
    sdk: &aws_config::SdkConfig,
    opts: &SyncOptions,
    stop: Stop,
) -> Result<SyncReport, SyncError> {
    let started = Instant::now();
    let excludes = walk::excludes(&opts.excludes)?;
    let (files, cache) = scan(&opts.source, &excludes, &opts.cache_path).await?;
    let client = remote::client(sdk);
    let listing = remote::list(&client, &opts.bucket, &opts.prefix)
        .await
        .map_err(|source| SyncError::List {
            bucket: opts.bucket.clone(),
            prefix: opts.prefix.clone(),
            source: Box::new(source),
        })?;
    let mut run = Run {
        opts,
        client,
        excludes,
        hashes: files.iter().map(|f| cache.get(f)).collect(),
        files,
        cache,
        remote: listing.into_iter().map(|o| (o.key.clone(), o)).collect(),
        failed: Vec::new(),
        journal: Journal::beside(&opts.cache_path),
        stop: stop.clone(),
    };

    // Hashing and HEADs are dropped on a stop: nothing has been sent yet.
    let decisions = tokio::select! {
        d = run.decisions() => d?,
        signal = stop.stopped() => {
            return Err(SyncError::Stopped { signal, uploaded: 0, planned: 0, aborted: Vec::new() });
        }
    };
    let deletions = run.deletions();
    let mut report = run.planned(&decisions, deletions.clone());
    if !opts.dry_run {
        report.stale_uploads_aborted = run.abort_stale().await;
        let (sent, uploaded) = run.upload(&report.uploads).await;
        let planned = report.uploads.len();
        report.uploads.retain(|u| uploaded.contains(&u.key));
        report.uploaded = report.uploads.len();
        report.bytes_sent = sent;
        if let Some(signal) = stop.requested() {
            run.journal.rewrite(&BTreeSet::new());
            let aborted = run.journal.aborted();
            save_cache(run.cache, &opts.cache_path).await?;
            return Err(SyncError::Stopped {
                signal,
                uploaded: report.uploaded,
                planned,
                aborted,
            });
        }
        run.journal.rewrite(&BTreeSet::new());
        if opts.delete && !deletions.is_empty() {
            report.deleted = run.delete(&deletions).await;
        } else if !deletions.is_empty() {
            tracing::info!(
                count = deletions.len(),
                "remote objects without a local file kept (pass --delete to remove them)"
            );
        }
    }
    save_cache(run.cache, &opts.cache_path).await?;
    report.failed = run.failed;
    report.elapsed_seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

async fn save_cache(cache: Cache, path: &Path) -> Result<(), SyncError> {
    let p = path.to_path_buf();
    tokio::task::spawn_blocking(move || cache.save(&p))
        .await
        .map_err(|source| SyncError::Task {
            what: format!("saving the hash cache {}", path.display()),
            source,
        })
}
