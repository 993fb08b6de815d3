//! New-blob enumeration over a commit range, and scanning those blobs in parallel.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Mutex};

use gix::bstr::ByteSlice;
use gix::objs::FindExt;
use gix::revision::walk::Sorting;
use gix::traverse::commit::simple::CommitTimeOrder;
use gix::ObjectId;
use leakgate_rules::{Match, Outcome, RuleSet, ScanOptions, Source};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why history could not be walked.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// The path is not a git repository.
    #[error("cannot open git repository {path}")]
    Open {
        /// The path given.
        path: PathBuf,
        /// gix's reason.
        #[source]
        source: BoxError,
    },
    /// A revision does not resolve to a commit.
    #[error("cannot resolve revision {rev:?}")]
    Revision {
        /// The revision as given.
        rev: String,
        /// gix's reason.
        #[source]
        source: BoxError,
    },
    /// Reading refs, commits or trees failed.
    #[error("cannot walk history: {what}")]
    Walk {
        /// What was being read.
        what: String,
        /// gix's reason.
        #[source]
        source: BoxError,
    },
}

fn walk_err(what: impl Into<String>) -> impl FnOnce(BoxError) -> HistoryError {
    let what = what.into();
    move |source| HistoryError::Walk { what, source }
}

/// Which commits to scan.
#[derive(Clone, Debug)]
pub enum Selection {
    /// Everything reachable from `HEAD`.
    Head,
    /// Everything reachable from any ref.
    All,
    /// `A..B`: reachable from the `include` revisions, not from the `exclude` ones.
    Range {
        /// Revisions whose history is already known (`A`).
        exclude: Vec<String>,
        /// Tips to scan (`B`).
        include: Vec<String>,
    },
}

impl Selection {
    /// Parses `A..B` (or a single revision, meaning its whole history).
    pub fn range(spec: &str) -> Self {
        match spec.split_once("..") {
            Some((a, b)) => Selection::Range {
                exclude: if a.is_empty() { vec![] } else { vec![a.to_owned()] },
                include: vec![if b.is_empty() { "HEAD".to_owned() } else { b.to_owned() }],
            },
            None => Selection::Range { exclude: vec![], include: vec![spec.to_owned()] },
        }
    }
}

/// A finding in history: the engine's match plus where it was introduced.
#[derive(Debug)]
pub struct HistoryFinding<'r> {
    /// The match.
    pub found: Match<'r>,
    /// Path of the blob in the first commit that added it.
    pub path: String,
    /// That commit.
    pub commit: ObjectId,
}

/// What a history scan covered.
#[derive(Debug, Default)]
pub struct HistoryStats {
    /// Commits walked.
    pub commits: u64,
    /// Distinct blobs scanned.
    pub blobs: u64,
    /// Bytes scanned.
    pub bytes: u64,
    /// Blobs skipped as binary.
    pub binary: u64,
}

/// Opens a repository (bare or with a work tree) for reading.
///
/// # Errors
///
/// [`HistoryError::Open`] when `path` is not a repository.
pub fn open_repository(path: &Path) -> Result<gix::Repository, HistoryError> {
    let mut repo = gix::open(path)
        .map_err(|e| HistoryError::Open { path: path.to_owned(), source: Box::new(e) })?;
    repo.object_cache_size_if_unset(64 << 20);
    Ok(repo)
}

fn resolve(repo: &gix::Repository, rev: &str) -> Result<ObjectId, HistoryError> {
    let fail = |source: BoxError| HistoryError::Revision { rev: rev.to_owned(), source };
    let object = repo
        .rev_parse_single(rev)
        .map_err(|e| fail(Box::new(e)))?
        .object()
        .map_err(|e| fail(Box::new(e)))?;
    let commit = object.peel_to_commit().map_err(|e| fail(Box::new(e)))?;
    Ok(commit.id)
}

/// Every commit that a ref points to (through tags); refs to other objects are ignored.
fn all_ref_tips(repo: &gix::Repository) -> Result<Vec<ObjectId>, HistoryError> {
    let platform = repo.references().map_err(|e| walk_err("refs")(Box::new(e)))?;
    let mut tips = Vec::new();
    for reference in platform.all().map_err(|e| walk_err("refs")(Box::new(e)))? {
        let Ok(mut reference) = reference else { continue };
        if let Ok(commit) = reference.peel_to_commit() {
            tips.push(commit.id);
        }
    }
    tips.sort();
    tips.dedup();
    Ok(tips)
}

struct Job {
    blob: ObjectId,
    path: String,
    commit: ObjectId,
}

/// Scans every blob that the selected commits add, once each, in parallel.
///
/// `sink` receives each finding (from several threads); `warn` receives each blob that could
/// not be read, once, and the scan goes on.
///
/// # Errors
///
/// A revision that does not resolve, or refs/commits/trees that cannot be read.
pub fn scan_history<F, W>(
    path: &Path,
    rules: &RuleSet,
    selection: &Selection,
    options: ScanOptions,
    threads: usize,
    sink: F,
    warn: W,
) -> Result<HistoryStats, HistoryError>
where
    F: Fn(HistoryFinding<'_>) + Sync,
    W: Fn(String) + Sync,
{
    let repo = open_repository(path)?;
    let (tips, hidden) = match selection {
        Selection::Head => {
            let head = repo.head_id().map_err(|e| walk_err("HEAD")(Box::new(e)))?.detach();
            (vec![head], vec![])
        }
        Selection::All => (all_ref_tips(&repo)?, vec![]),
        Selection::Range { exclude, include } => (
            include.iter().map(|r| resolve(&repo, r)).collect::<Result<Vec<_>, _>>()?,
            exclude.iter().map(|r| resolve(&repo, r)).collect::<Result<Vec<_>, _>>()?,
        ),
    };
    let mut commits: Vec<ObjectId> = Vec::new();
    if !tips.is_empty() {
        let walk = repo
            .rev_walk(tips)
            .with_hidden(hidden.iter().copied())
            .sorting(Sorting::ByCommitTime(CommitTimeOrder::NewestFirst))
            .all()
            .map_err(|e| walk_err("commits")(Box::new(e)))?;
        for info in walk {
            commits.push(info.map_err(|e| walk_err("commits")(Box::new(e)))?.id);
        }
    }
    // Oldest first, so that a blob is attributed to the first commit that adds it.
    commits.reverse();

    let stats = HistoryStats { commits: commits.len() as u64, ..HistoryStats::default() };
    let counters = [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)];
    let sync_repo = repo.clone().into_sync();
    let (tx, rx) = mpsc::sync_channel::<Job>(4096);
    let rx = Mutex::new(rx);
    let walk_result = std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            let (rx, sync_repo, counters, sink, warn) = (&rx, &sync_repo, &counters, &sink, &warn);
            scope.spawn(move || {
                let repo = sync_repo.to_thread_local();
                let mut scanner = rules.scanner(options);
                let mut buf = Vec::new();
                loop {
                    let job = match rx.lock() {
                        Ok(guard) => guard.recv(),
                        Err(_) => return,
                    };
                    let Ok(job) = job else { return };
                    let data = match repo.objects.find(&job.blob, &mut buf) {
                        Ok(data) => data.data,
                        Err(e) => {
                            warn(format!("cannot read blob {} ({}): {e}", job.blob, job.path));
                            continue;
                        }
                    };
                    let outcome =
                        scanner.scan_bytes(data, Source { path: Some(&job.path) }, |found| {
                            sink(HistoryFinding {
                                found,
                                path: job.path.clone(),
                                commit: job.commit,
                            })
                        });
                    match outcome {
                        Outcome::Scanned(n) => {
                            counters[0].fetch_add(1, Ordering::Relaxed);
                            counters[1].fetch_add(n, Ordering::Relaxed);
                        }
                        Outcome::Binary => {
                            counters[2].fetch_add(1, Ordering::Relaxed);
                        }
                        Outcome::PathAllowed => {}
                    }
                }
            });
        }
        let mut walker = NewBlobs::new(&repo);
        for id in &hidden {
            walker.mark_known(*id)?;
        }
        let result = commits.iter().try_for_each(|&commit| {
            walker.commit(commit, &mut |blob, path| {
                // A send fails only when every worker has gone, which they do only on a
                // poisoned lock; stop walking then.
                let _ = tx.send(Job { blob, path, commit });
            })
        });
        drop(tx);
        result
    });
    walk_result?;
    Ok(HistoryStats {
        blobs: counters[0].load(Ordering::Relaxed),
        bytes: counters[1].load(Ordering::Relaxed),
        binary: counters[2].load(Ordering::Relaxed),
        ..stats
    })
}

/// Walks commit trees, yielding each blob not seen before, with its path.
pub(crate) struct NewBlobs<'a> {
    repo: &'a gix::Repository,
    seen: HashSet<ObjectId>,
    buf: Vec<u8>,
}

impl<'a> NewBlobs<'a> {
    pub(crate) fn new(repo: &'a gix::Repository) -> Self {
        NewBlobs { repo, seen: HashSet::new(), buf: Vec::new() }
    }

    fn tree_of(&mut self, commit: ObjectId) -> Result<ObjectId, HistoryError> {
        let mut iter = self
            .repo
            .objects
            .find_commit_iter(&commit, &mut self.buf)
            .map_err(|e| walk_err(format!("commit {commit}"))(Box::new(e)))?;
        iter.tree_id().map_err(|e| walk_err(format!("commit {commit}"))(Box::new(e)))
    }

    /// Marks everything in `commit`'s tree as known (the range's boundary).
    pub(crate) fn mark_known(&mut self, commit: ObjectId) -> Result<(), HistoryError> {
        let tree = self.tree_of(commit)?;
        self.tree(tree, &mut Vec::new(), &mut |_, _| {})
    }

    /// Yields the blobs of `commit`'s tree that no earlier commit had.
    pub(crate) fn commit(
        &mut self,
        commit: ObjectId,
        emit: &mut dyn FnMut(ObjectId, String),
    ) -> Result<(), HistoryError> {
        let tree = self.tree_of(commit)?;
        self.tree(tree, &mut Vec::new(), emit)
    }

    fn tree(
        &mut self,
        tree: ObjectId,
        path: &mut Vec<u8>,
        emit: &mut dyn FnMut(ObjectId, String),
    ) -> Result<(), HistoryError> {
        if !self.seen.insert(tree) {
            return Ok(());
        }
        let entries: Vec<(gix::objs::tree::EntryMode, Vec<u8>, ObjectId)> = {
            let iter = self
                .repo
                .objects
                .find_tree_iter(&tree, &mut self.buf)
                .map_err(|e| walk_err(format!("tree {tree}"))(Box::new(e)))?;
            let mut entries = Vec::new();
            for entry in iter {
                let entry = entry.map_err(|e| walk_err(format!("tree {tree}"))(Box::new(e)))?;
                entries.push((entry.mode, entry.filename.to_vec(), entry.oid.to_owned()));
            }
            entries
        };
        for (mode, name, id) in entries {
            let len = path.len();
            if !path.is_empty() {
                path.push(b'/');
            }
            path.extend_from_slice(&name);
            if mode.is_tree() {
                self.tree(id, path, emit)?;
            } else if mode.is_blob() && self.seen.insert(id) {
                // Submodules (commits) and symlinks are not content of this repository.
                emit(id, path.to_str_lossy().into_owned());
            }
            path.truncate(len);
        }
        Ok(())
    }
}
