//! The delivery spool: deliveries the database could not take when they arrived, kept on
//! local disk (one file each, written to a temporary name, synced and renamed, so a crash
//! leaves either the whole delivery or nothing) and recorded once the database is back.
//!
//! GitHub does not redeliver a failed delivery by itself, so answering 503 would lose the
//! push: a spooled delivery is acknowledged with 202 instead. The spool is local to the
//! replica that received the delivery; its directory must survive restarts (the data
//! directory does).

use std::io::Write;
use std::path::{Path, PathBuf};

use leakgate_store::{Delivery, NewJob, Store};
use serde::{Deserialize, Serialize};

/// A spool directory.
pub struct Spool {
    dir: PathBuf,
}

#[derive(Serialize, Deserialize)]
struct Entry {
    source: String,
    delivery_id: String,
    event: String,
    outcome: String,
    job: Option<SpooledJob>,
}

#[derive(Serialize, Deserialize)]
struct SpooledJob {
    kind: String,
    payload: String,
    idempotency_key: Option<String>,
    max_attempts: i64,
}

impl Spool {
    /// Opens (creating, owner-only) the spool at `dir`.
    ///
    /// # Errors
    ///
    /// The directory cannot be created.
    pub fn open(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
        Ok(Spool { dir: dir.to_owned() })
    }

    /// Keeps `delivery` and its job until [`Spool::replay`] records them.
    ///
    /// # Errors
    ///
    /// The file cannot be written and synced (the delivery is then not acknowledged).
    pub fn put(&self, delivery: &Delivery, job: Option<&NewJob>) -> Result<(), String> {
        let entry = Entry {
            source: delivery.source.clone(),
            delivery_id: delivery.delivery_id.clone(),
            event: delivery.event.clone(),
            outcome: delivery.outcome.clone(),
            job: job.map(|j| SpooledJob {
                kind: j.kind.clone(),
                payload: j.payload.clone(),
                idempotency_key: j.idempotency_key.clone(),
                max_attempts: j.max_attempts,
            }),
        };
        let text = serde_json::to_vec(&entry).map_err(|e| e.to_string())?;
        let mut nonce = [0u8; 8];
        let _ = getrandom::fill(&mut nonce);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let name = format!("{now:032}-{}", hex::encode(nonce));
        let temp = self.dir.join(format!(".{name}.tmp"));
        let path = self.dir.join(format!("{name}.json"));
        let write = || -> std::io::Result<()> {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(&temp)?;
            file.write_all(&text)?;
            file.sync_all()?;
            std::fs::rename(&temp, &path)?;
            std::fs::File::open(&self.dir)?.sync_all()
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&temp);
            format!("{}: {e}", self.dir.display())
        })
    }

    /// The spooled deliveries, oldest first.
    fn entries(&self) -> Vec<PathBuf> {
        let Ok(dir) = std::fs::read_dir(&self.dir) else { return Vec::new() };
        let mut paths: Vec<PathBuf> = dir
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        paths.sort();
        paths
    }

    /// How many deliveries wait.
    pub fn len(&self) -> usize {
        self.entries().len()
    }

    /// Whether none waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Records the spooled deliveries, oldest first, deleting each once recorded; stops at
    /// the first the database refuses (it is tried again later). An unreadable file is
    /// renamed `*.bad` and reported, never deleted. Returns how many were recorded.
    pub async fn replay(&self, store: &Store) -> usize {
        let mut done = 0;
        for path in self.entries() {
            let entry = std::fs::read(&path)
                .ok()
                .and_then(|bytes| serde_json::from_slice::<Entry>(&bytes).ok());
            let Some(entry) = entry else {
                tracing::error!(file = %path.display(), "an unreadable spooled delivery: kept as .bad");
                let _ = std::fs::rename(&path, path.with_extension("bad"));
                continue;
            };
            let delivery = Delivery {
                source: entry.source,
                delivery_id: entry.delivery_id,
                event: entry.event,
                outcome: entry.outcome,
            };
            let job = entry.job.map(|j| {
                let mut job = NewJob::new(&j.kind, &j.payload);
                job.idempotency_key = j.idempotency_key;
                job.max_attempts = j.max_attempts;
                job
            });
            match store.record_deliveries(&[(delivery, job)]).await {
                Ok(_) => {
                    if let Err(e) = std::fs::remove_file(&path) {
                        tracing::warn!(file = %path.display(), error = %e, "a replayed delivery's file stays");
                    }
                    done += 1;
                }
                Err(e) => {
                    tracing::warn!(error = %e, waiting = self.len(), "the database still refuses spooled deliveries");
                    break;
                }
            }
        }
        done
    }
}
