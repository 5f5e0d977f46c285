//! Sync of the AMI build resources (`ami/resources.s3/`) to `s3://bucket/prefix` by content.
//!
//! Walk the tree (dot files, swap files and excludes left out) → list the prefix → decide per file
//! (pure, [`plan`]) → hash only the files an object of the same size may match (cache in build/) →
//! HEAD the objects the listing cannot decide → upload concurrently with checksums, hashing new files
//! as they are read → delete only with `--delete`.
pub mod hash;
pub mod plan;
pub mod remote;
pub mod walk;

use futures::StreamExt;
use hash::{Cache, Hashes, RemoteEntry};
use plan::{Decision, Reason, RemoteObject};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;
use walk::LocalFile;

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

pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Walk(#[from] walk::WalkError),
    #[error("s3://{bucket}/{prefix}: {message}")]
    Remote {
        bucket: String,
        prefix: String,
        message: String,
    },
    #[error("hashing {path}: {message}")]
    Hash { path: String, message: String },
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
        let message = match r {
            Ok(Ok(h)) => {
                cache.put(&files[i], h.clone());
                out[i] = Some(h);
                continue;
            }
            Ok(Err(e)) => e.to_string(),
            Err(e) => e.to_string(),
        };
        return Err(SyncError::Hash {
            path: files[i].path.display().to_string(),
            message,
        });
    }
    Ok(())
}

/// Whether `file` still has the size, mtime and inode the walk saw (its hashes may be cached).
fn unchanged_since_walk(file: &LocalFile) -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(&file.path).is_ok_and(|m| {
        m.len() == file.size
            && m.ino() == file.inode
            && m.mtime() as i128 * 1_000_000_000 + m.mtime_nsec() as i128 == file.mtime_ns
    })
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

/// Syncs `opts.source` to `s3://opts.bucket/opts.prefix`. Files that fail are listed in the report;
/// errors that stop the whole sync (no bucket, no access, no endpoint, unreadable tree) are returned.
pub async fn sync(
    sdk: &aws_config::SdkConfig,
    opts: &SyncOptions,
) -> Result<SyncReport, SyncError> {
    let started = Instant::now();
    let url = format!("s3://{}/{}", opts.bucket, opts.prefix);
    let remote_err = |message: String| SyncError::Remote {
        bucket: opts.bucket.clone(),
        prefix: opts.prefix.clone(),
        message,
    };
    let excludes = walk::excludes(&opts.excludes)?;
    let files = walk::walk(&opts.source, &excludes)?;
    let mut cache = Cache::load(&opts.cache_path);
    let mut hashes: Vec<Option<Hashes>> = files.iter().map(|f| cache.get(f)).collect();

    let client = remote::client(sdk);
    let listing = remote::list(&client, &opts.bucket, &opts.prefix)
        .await
        .map_err(remote_err)?;
    let remote_by_key: BTreeMap<&str, &RemoteObject> =
        listing.iter().map(|o| (o.key.as_str(), o)).collect();
    let url_of = |key: &str| format!("s3://{}/{key}", opts.bucket);
    let key_of = |i: usize| format!("{}{}", opts.prefix, files[i].rel);

    // Decide from the listing and the cache; hash what may match an object; HEAD what is left.
    let decide = |i: usize, hashes: &[Option<Hashes>], cache: &Cache| {
        let key = key_of(i);
        plan::decide(
            hashes[i].as_ref(),
            files[i].size,
            remote_by_key.get(key.as_str()).copied(),
            cache.remote.get(&url_of(&key)),
        )
    };
    let mut decisions: Vec<Decision> = (0..files.len())
        .map(|i| decide(i, &hashes, &cache))
        .collect();
    let todo: Vec<usize> = (0..files.len())
        .filter(|&i| decisions[i] == Decision::Hash)
        .collect();
    if !todo.is_empty() {
        hash_some(&files, todo.clone(), &mut cache, &mut hashes).await?;
        for i in todo {
            decisions[i] = decide(i, &hashes, &cache);
        }
    }
    let mut failed = Vec::new();
    let heads: Vec<usize> = (0..files.len())
        .filter(|&i| decisions[i] == Decision::Head)
        .collect();
    let head_results: Vec<(usize, Result<Option<plan::RemoteHead>, String>)> =
        futures::stream::iter(heads.into_iter().map(|i| {
            let client = &client;
            let key = key_of(i);
            async move { (i, remote::head(client, &opts.bucket, &key).await) }
        }))
        .buffer_unordered(opts.concurrency.max(1) * 4)
        .collect()
        .await;
    for (i, r) in head_results {
        let key = key_of(i);
        // A HEAD is asked only for files whose hashes are known (decide returns Hash before Head).
        let Some(local) = hashes[i].as_ref() else {
            continue;
        };
        match r {
            Ok(Some(head)) => {
                decisions[i] = plan::after_head(local, &head);
                if decisions[i] == Decision::Unchanged {
                    cache.remote.insert(
                        url_of(&key),
                        RemoteEntry {
                            size: files[i].size,
                            etag: head.etag.clone(),
                            sha256: local.sha256.clone(),
                        },
                    );
                }
            }
            Ok(None) => decisions[i] = Decision::Upload(Reason::New),
            Err(e) => {
                decisions[i] = Decision::Unchanged;
                failed.push(Failure { key, error: e });
            }
        }
    }

    let local_keys: BTreeSet<String> = (0..files.len()).map(key_of).collect();
    let deletions: Vec<String> = listing
        .iter()
        .filter(|o| !o.key.ends_with('/') && !local_keys.contains(&o.key))
        .filter(|o| {
            let rel = o.key.strip_prefix(&opts.prefix).unwrap_or(&o.key);
            !walk::skipped(rel, &excludes)
        })
        .map(|o| o.key.clone())
        .collect();

    let to_upload: Vec<(usize, Reason)> = decisions
        .iter()
        .enumerate()
        .filter_map(|(i, d)| match d {
            Decision::Upload(r) => Some((i, *r)),
            _ => None,
        })
        .collect();
    let mut report = SyncReport {
        url: url.clone(),
        dry_run: opts.dry_run,
        checked: files.len(),
        uploaded: 0,
        unchanged: decisions
            .iter()
            .filter(|d| **d == Decision::Unchanged)
            .count()
            - failed.len(),
        deleted: 0,
        bytes_sent: 0,
        elapsed_seconds: 0.0,
        uploads: to_upload
            .iter()
            .map(|(i, r)| Upload {
                key: key_of(*i),
                size: files[*i].size,
                reason: *r,
            })
            .collect(),
        deletions: deletions.clone(),
        failed: Vec::new(),
    };
    if opts.dry_run {
        cache.save(&opts.cache_path);
        report.failed = failed;
        report.elapsed_seconds = started.elapsed().as_secs_f64();
        return Ok(report);
    }

    // Uploads: every read of file bytes and every request holds one permit of one pool.
    let total: u64 = report.uploads.iter().map(|u| u.size).sum();
    let pb = (opts.progress && !to_upload.is_empty()).then(|| progress_bar(total, to_upload.len()));
    let sent = AtomicU64::new(0);
    let done_files = AtomicU64::new(0);
    let pool = remote::Pool::new(opts.concurrency);
    let on_sent = |n: u64| {
        sent.fetch_add(n, Ordering::Relaxed);
        if let Some(pb) = &pb {
            pb.inc(n);
        }
    };
    let results: Vec<(usize, Result<remote::Uploaded, String>)> =
        futures::stream::iter(to_upload.iter().map(|(i, _)| {
            let i = *i;
            let (client, pool, on_sent, pb) = (&client, &pool, &on_sent, &pb);
            let (done_files, n_files) = (&done_files, to_upload.len());
            let (files, hashes) = (&files, &hashes);
            let key = key_of(i);
            async move {
                let dest = remote::Dest {
                    client,
                    bucket: &opts.bucket,
                    key: &key,
                };
                let f = &files[i];
                let r =
                    remote::upload(&dest, &f.path, f.size, hashes[i].as_ref(), pool, on_sent).await;
                let done = done_files.fetch_add(1, Ordering::Relaxed) + 1;
                match (pb, &r) {
                    (Some(pb), _) => pb.set_message(format!("{done}/{n_files} files")),
                    (None, Ok(_)) => {
                        eprintln!("sync: uploaded {key} ({})", human_bytes(f.size))
                    }
                    (None, Err(e)) => eprintln!("sync: FAILED {key}: {e}"),
                }
                (i, r)
            }
        }))
        .buffer_unordered(opts.concurrency.max(1))
        .collect()
        .await;
    if let Some(pb) = &pb {
        pb.finish_and_clear();
    }
    let mut uploaded_keys = BTreeSet::new();
    for (i, r) in results {
        let key = key_of(i);
        match r {
            Ok(up) => {
                cache.remote.insert(
                    url_of(&key),
                    RemoteEntry {
                        size: files[i].size,
                        etag: up.etag,
                        sha256: up.hashes.sha256.clone(),
                    },
                );
                // What was sent is the file's content only if the file was not changed meanwhile.
                if unchanged_since_walk(&files[i]) {
                    cache.put(&files[i], up.hashes);
                }
                uploaded_keys.insert(key);
            }
            Err(e) => {
                cache.remote.remove(&url_of(&key));
                failed.push(Failure { key, error: e });
            }
        }
    }
    report.uploads.retain(|u| uploaded_keys.contains(&u.key));
    report.uploaded = report.uploads.len();
    if opts.delete && !deletions.is_empty() {
        match remote::delete(&client, &opts.bucket, &deletions).await {
            Ok(not_deleted) => {
                let bad: BTreeSet<&str> = not_deleted.iter().map(|(k, _)| k.as_str()).collect();
                report.deleted = deletions.len() - bad.len();
                for k in &deletions {
                    if !bad.contains(k.as_str()) {
                        cache.remote.remove(&url_of(k));
                    }
                }
                for (key, error) in not_deleted {
                    failed.push(Failure { key, error });
                }
            }
            Err(e) => failed.push(Failure {
                key: format!("{} objects to delete", deletions.len()),
                error: e,
            }),
        }
    } else if !deletions.is_empty() {
        tracing::info!(
            count = deletions.len(),
            "remote objects without a local file kept (pass --delete to remove them)"
        );
    }
    cache.save(&opts.cache_path);
    report.bytes_sent = sent.load(Ordering::Relaxed);
    report.failed = failed;
    report.elapsed_seconds = started.elapsed().as_secs_f64();
    Ok(report)
}
