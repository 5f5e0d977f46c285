//! Multipart uploads of ours that may be left behind (S3 bills their parts until they are aborted).
//!
//! Ctrl-C or SIGTERM ([`Stop`]) ends a sync early: nothing new starts, the parts under way are
//! dropped and every multipart upload under way is aborted. A sync killed outright cannot do that,
//! so every multipart upload we start is first written to a journal beside the hash cache
//! (`<cache>.uploads`, a line `bucket TAB key TAB upload id` each); the next sync to the same bucket
//! and prefix lists the multipart uploads under its prefix and aborts the ones its journal names (a
//! server that does not list them, such as s3s-fs, gets an abort for each one the journal names).
//! Uploads started by anything else (another tool, another machine) are never touched.
use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use tokio::sync::watch;

/// Which signal asked a sync to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Interrupt,
    Terminate,
}

impl std::fmt::Display for Signal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Signal::Interrupt => "Ctrl-C (SIGINT)",
            Signal::Terminate => "SIGTERM",
        })
    }
}

/// Whether a sync is asked to stop, and by which signal.
#[derive(Debug, Clone)]
pub struct Stop(watch::Receiver<Option<Signal>>);

impl Stop {
    /// A stop that never comes (library callers, tests).
    pub fn never() -> Stop {
        let (tx, rx) = watch::channel(None);
        // The sender is gone: `stopped` then waits forever, `requested` stays None.
        drop(tx);
        Stop(rx)
    }

    /// Stops on the first SIGINT or SIGTERM of the process; a second one exits at once (status
    /// 130). Must be called inside the Tokio runtime. A signal handler that cannot be installed
    /// leaves that signal's default (the process ends).
    pub fn on_signals() -> Stop {
        use tokio::signal::unix::{SignalKind, signal};
        let (tx, rx) = watch::channel(None);
        let (int, term) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        );
        let (Ok(mut int), Ok(mut term)) = (int, term) else {
            return Stop(rx);
        };
        tokio::spawn(async move {
            let first = tokio::select! {
                _ = int.recv() => Signal::Interrupt,
                _ = term.recv() => Signal::Terminate,
            };
            tx.send_replace(Some(first));
            tokio::select! {
                _ = int.recv() => {},
                _ = term.recv() => {},
            }
            std::process::exit(130);
        });
        Stop(rx)
    }

    /// The signal that asked to stop, if one did.
    pub fn requested(&self) -> Option<Signal> {
        *self.0.borrow()
    }

    /// Waits until a stop is asked for (forever for [`Stop::never`]).
    pub async fn stopped(&self) -> Signal {
        let mut rx = self.0.clone();
        match rx.wait_for(Option::is_some).await {
            Ok(s) => s.unwrap_or(Signal::Interrupt),
            Err(_) => std::future::pending().await,
        }
    }
}

/// One multipart upload of ours, as the journal has it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Entry {
    pub bucket: String,
    pub key: String,
    pub upload_id: String,
}

impl Entry {
    fn line(&self) -> String {
        format!("{}\t{}\t{}\n", self.bucket, self.key, self.upload_id)
    }

    fn parse(line: &str) -> Option<Entry> {
        let mut f = line.split('\t');
        let (bucket, key, id) = (f.next()?, f.next()?, f.next()?);
        (f.next().is_none() && !bucket.is_empty() && !key.is_empty() && !id.is_empty()).then(|| {
            Entry {
                bucket: bucket.into(),
                key: key.into(),
                upload_id: id.into(),
            }
        })
    }
}

/// The journal of a sync's multipart uploads: written when one starts, and rewritten at the end
/// of the sync without the ones that were completed or aborted.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    /// Upload ids completed or aborted by this sync.
    finished: Mutex<BTreeSet<String>>,
    /// Keys of the uploads this sync aborted (on a failure or a stop).
    aborted: Mutex<Vec<String>>,
    /// Whether writing to the journal failed already (said once).
    warned: std::sync::atomic::AtomicBool,
}

impl Journal {
    /// The journal of the hash cache at `cache`.
    pub fn beside(cache: &Path) -> Journal {
        Journal {
            path: cache.with_extension("uploads"),
            finished: Mutex::default(),
            aborted: Mutex::default(),
            warned: Default::default(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every entry of the journal (none when there is no journal; unreadable lines are skipped).
    pub fn entries(&self) -> Vec<Entry> {
        std::fs::read_to_string(&self.path)
            .map(|s| s.lines().filter_map(Entry::parse).collect())
            .unwrap_or_default()
    }

    /// Records an upload that has started, before any of its parts is sent. A journal that cannot
    /// be written costs only the clean-up after a kill: said once, the sync goes on.
    pub fn started(&self, entry: &Entry) {
        let write = || -> std::io::Result<()> {
            if let Some(dir) = self.path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)?
                .write_all(entry.line().as_bytes())
        };
        if let Err(e) = write()
            && !self.warned.swap(true, std::sync::atomic::Ordering::Relaxed)
        {
            tracing::warn!(journal = %self.path.display(), error = %e, "cannot record a multipart upload: if this sync is killed, the next one will not find it to abort it");
        }
    }

    /// Records an upload completed or aborted (`aborted_key`: the key of an aborted one).
    pub fn finished(&self, upload_id: &str, aborted_key: Option<&str>) {
        lock(&self.finished).insert(upload_id.to_string());
        if let Some(k) = aborted_key {
            lock(&self.aborted).push(k.to_string());
        }
    }

    /// Keys of the uploads this sync aborted.
    pub fn aborted(&self) -> Vec<String> {
        lock(&self.aborted).clone()
    }

    /// Rewrites the journal without `gone` and the uploads this sync finished; removes it when
    /// nothing is left. Failing to rewrite it only leaves entries that are dropped next time.
    pub fn rewrite(&self, gone: &BTreeSet<String>) {
        let finished = lock(&self.finished).clone();
        let left: String = self
            .entries()
            .into_iter()
            .filter(|e| !finished.contains(&e.upload_id) && !gone.contains(&e.upload_id))
            .map(|e| e.line())
            .collect();
        if left.is_empty() {
            let _ = std::fs::remove_file(&self.path);
            return;
        }
        let tmp = self
            .path
            .with_extension(format!("uploads.tmp{}", std::process::id()));
        if std::fs::write(&tmp, left).is_err() || std::fs::rename(&tmp, &self.path).is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
    }
}

/// A poisoned lock only means another upload task panicked; the set is still whole.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_journal_keeps_what_was_not_finished() {
        let d = tempfile::tempdir().unwrap();
        let j = Journal::beside(&d.path().join("cache.json"));
        assert!(j.entries().is_empty());
        let e = |k: &str, id: &str| Entry {
            bucket: "b".into(),
            key: k.into(),
            upload_id: id.into(),
        };
        j.started(&e("res/a", "1"));
        j.started(&e("res/b", "2"));
        j.started(&e("res/c", "3"));
        std::fs::OpenOptions::new()
            .append(true)
            .open(j.path())
            .unwrap()
            .write_all(b"torn line\n")
            .unwrap();
        assert_eq!(
            j.entries(),
            [e("res/a", "1"), e("res/b", "2"), e("res/c", "3")]
        );
        j.finished("1", None);
        j.finished("3", Some("res/c"));
        j.rewrite(&BTreeSet::new());
        assert_eq!(j.entries(), [e("res/b", "2")]);
        assert_eq!(j.aborted(), ["res/c"]);
        j.rewrite(&["2".to_string()].into());
        assert!(!j.path().exists(), "an empty journal is removed");
    }
}
