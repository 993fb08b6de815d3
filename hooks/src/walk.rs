//! New-blob enumeration over a commit range, and scanning those blobs in parallel.
//!
//! A commit's tree is compared with its parents' trees path by path: a subtree or blob whose
//! id equals the parent's at the same path is unchanged and skipped whole, so a commit costs
//! what it changed, not the size of the repository. A blob is scanned once (the first commit,
//! oldest first, that adds it), and a finding whose secret the parent's version of the same
//! file already contained is not new.

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Mutex};
use std::time::Instant;

use gix::bstr::ByteSlice;
use gix::objs::tree::EntryMode;
use gix::objs::FindExt;
use gix::traverse::commit::simple::{CommitTimeOrder, Sorting};
use gix::ObjectId;
use leakgate_rules::{Match, Outcome, RuleSet, ScanOptions, Source};

use crate::objects::Objects;

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

fn walk_err<E: std::error::Error + Send + Sync + 'static>(
    what: impl Into<String>,
) -> impl FnOnce(E) -> HistoryError {
    let what = what.into();
    move |source| HistoryError::Walk { what, source: Box::new(source) }
}

/// Like [`walk_err`], formatting the context only when there is an error (hot paths).
fn object_err<E: std::error::Error + Send + Sync + 'static>(
    kind: &'static str,
    id: ObjectId,
) -> impl FnOnce(E) -> HistoryError {
    move |source| HistoryError::Walk { what: format!("{kind} {id}"), source: Box::new(source) }
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
    /// The blob.
    pub blob: ObjectId,
}

/// What a walk covered.
#[derive(Debug, Default, Clone)]
pub struct HistoryStats {
    /// New commits walked.
    pub commits: u64,
    /// Distinct blobs scanned.
    pub blobs: u64,
    /// Bytes scanned.
    pub bytes: u64,
    /// Blobs skipped as binary.
    pub binary: u64,
    /// Blobs the deadline stopped before they were scanned (0 when complete).
    pub unscanned: u64,
    /// Whether every new blob was scanned before the deadline.
    pub complete: bool,
    /// The new commits, oldest first.
    pub new_commits: Vec<ObjectId>,
}

/// How to scan blobs.
#[derive(Clone, Debug)]
pub struct WalkOptions {
    /// Engine options.
    pub scan: ScanOptions,
    /// Worker threads.
    pub threads: usize,
    /// Stop when this instant passes; the stats say what was left.
    pub deadline: Option<Instant>,
    /// Blobs above this size are streamed through `git cat-file` instead of read whole.
    pub stream_above: u64,
    /// The repository directory, for `git cat-file` on large blobs.
    pub git_dir: PathBuf,
    /// Skip blobs the repository had before the push (only with a quarantine).
    pub only_quarantined: bool,
    /// Treat every blob in the hidden commits' trees as known, so that a file moved after
    /// the boundary is not new (history ranges; the hook uses the quarantine instead).
    pub known_hidden_trees: bool,
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
    let id = repo.rev_parse_single(rev).map_err(|e| fail(Box::new(e)))?;
    let object = id.object().map_err(|e| fail(Box::new(e)))?;
    let commit = object.peel_to_commit().map_err(|e| fail(Box::new(e)))?;
    Ok(commit.id)
}

/// Every commit that a ref points to (through tags); refs to other objects are ignored.
pub fn all_ref_tips(repo: &gix::Repository) -> Result<Vec<ObjectId>, HistoryError> {
    let platform = repo.references().map_err(walk_err("refs"))?;
    let mut tips = Vec::new();
    for reference in platform.all().map_err(walk_err("refs"))? {
        let Ok(mut reference) = reference else { continue };
        if let Ok(commit) = reference.peel_to_commit() {
            tips.push(commit.id);
        }
    }
    tips.sort();
    tips.dedup();
    Ok(tips)
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
        Selection::Head => (vec![repo.head_id().map_err(walk_err("HEAD"))?.detach()], vec![]),
        Selection::All => (all_ref_tips(&repo)?, vec![]),
        Selection::Range { exclude, include } => (
            include.iter().map(|r| resolve(&repo, r)).collect::<Result<Vec<_>, _>>()?,
            exclude.iter().map(|r| resolve(&repo, r)).collect::<Result<Vec<_>, _>>()?,
        ),
    };
    let objects = Objects::new(&repo, None).map_err(walk_err("objects"))?;
    let walk = WalkOptions {
        scan: options,
        threads,
        deadline: None,
        stream_above: 256 << 20,
        git_dir: repo.git_dir().to_owned(),
        only_quarantined: false,
        known_hidden_trees: true,
    };
    scan_new_blobs(&objects, &tips, &hidden, rules, &walk, sink, warn)
}

/// A blob to scan.
struct Job {
    blob: ObjectId,
    path: String,
    commit: ObjectId,
    /// The first parent's blob at the same path, when it differs.
    parent_blob: Option<ObjectId>,
}

/// Commits reachable from `tips` and not from `hidden`, oldest first, with their parents.
pub fn new_commits(
    objects: &Objects,
    tips: &[ObjectId],
    hidden: &[ObjectId],
) -> Result<Vec<(ObjectId, Vec<ObjectId>)>, HistoryError> {
    if tips.is_empty() {
        return Ok(Vec::new());
    }
    let walk = gix::traverse::commit::Simple::new(tips.iter().copied(), objects.clone())
        .hide(hidden.iter().copied())
        .map_err(walk_err("commits"))?
        .sorting(Sorting::ByCommitTime(CommitTimeOrder::NewestFirst))
        .map_err(walk_err("commits"))?;
    let mut commits = Vec::new();
    for info in walk {
        let info = info.map_err(walk_err("commits"))?;
        commits.push((info.id, info.parent_ids.to_vec()));
    }
    // Oldest first, so that a blob is attributed to the first commit that adds it.
    commits.reverse();
    Ok(commits)
}

/// Walks the commits `tips` add over `hidden` and scans their new blobs: the one "new commits
/// between tips" routine behind the hook, `scan --git` and the service's push jobs.
///
/// # Errors
///
/// Refs, commits or trees that cannot be read.
pub fn scan_new_blobs<F, W>(
    objects: &Objects,
    tips: &[ObjectId],
    hidden: &[ObjectId],
    rules: &RuleSet,
    options: &WalkOptions,
    sink: F,
    warn: W,
) -> Result<HistoryStats, HistoryError>
where
    F: Fn(HistoryFinding<'_>) + Sync,
    W: Fn(String) + Sync,
{
    let commits = new_commits(objects, tips, hidden)?;
    let stop = AtomicBool::new(false);
    let counters: [AtomicU64; 4] = Default::default();
    let (tx, rx) = mpsc::sync_channel::<Job>(1024);
    let rx = Mutex::new(rx);
    let expired = || options.deadline.is_some_and(|d| Instant::now() >= d);
    let walked = std::thread::scope(|scope| {
        for _ in 0..options.threads.max(1) {
            let (rx, counters, sink, warn, stop) = (&rx, &counters, &sink, &warn, &stop);
            let objects = objects.clone();
            scope.spawn(move || {
                let mut worker = Worker {
                    objects,
                    scanner: rules.scanner(options.scan),
                    buf: Vec::new(),
                    options,
                };
                loop {
                    let job = match rx.lock() {
                        Ok(guard) => guard.recv(),
                        Err(_) => return,
                    };
                    let Ok(job) = job else { return };
                    if stop.load(Ordering::Relaxed) || expired() {
                        stop.store(true, Ordering::Relaxed);
                        counters[3].fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    match worker.scan(&job, sink) {
                        Ok(Outcome::Scanned(n)) => {
                            counters[0].fetch_add(1, Ordering::Relaxed);
                            counters[1].fetch_add(n, Ordering::Relaxed);
                        }
                        Ok(Outcome::Binary) => {
                            counters[2].fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(Outcome::PathAllowed) => {}
                        Err(e) => {
                            warn(format!("cannot read blob {} ({}): {e}", job.blob, job.path))
                        }
                    }
                }
            });
        }
        let mut walker = NewBlobs::new(objects);
        let mut result = Ok(());
        if options.known_hidden_trees {
            for id in hidden {
                if let Err(e) = walker.mark_known(*id) {
                    result = Err(e);
                }
            }
        }
        'commits: for (commit, parents) in commits.iter().filter(|_| result.is_ok()) {
            let mut jobs = Vec::new();
            if let Err(e) = walker.commit(*commit, parents, &mut |blob, path, parent_blob| {
                jobs.push(Job { blob, path, commit: *commit, parent_blob })
            }) {
                result = Err(e);
                break;
            }
            for job in jobs {
                if options.only_quarantined && objects.known_before_push(&job.blob) {
                    continue;
                }
                if stop.load(Ordering::Relaxed) || expired() {
                    stop.store(true, Ordering::Relaxed);
                    counters[3].fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                if tx.send(job).is_err() {
                    break 'commits;
                }
            }
        }
        drop(tx);
        result
    });
    walked?;
    let unscanned = counters[3].load(Ordering::Relaxed);
    Ok(HistoryStats {
        commits: commits.len() as u64,
        blobs: counters[0].load(Ordering::Relaxed),
        bytes: counters[1].load(Ordering::Relaxed),
        binary: counters[2].load(Ordering::Relaxed),
        unscanned,
        complete: unscanned == 0 && !stop.load(Ordering::Relaxed),
        new_commits: commits.into_iter().map(|(c, _)| c).collect(),
    })
}

struct Worker<'r, 'o> {
    objects: Objects,
    scanner: leakgate_rules::Scanner<'r>,
    buf: Vec<u8>,
    options: &'o WalkOptions,
}

impl<'r> Worker<'r, '_> {
    fn scan<F: Fn(HistoryFinding<'_>)>(
        &mut self,
        job: &Job,
        sink: &F,
    ) -> Result<Outcome, BoxError> {
        let objects = &self.objects;
        let mut parent: Option<Vec<u8>> = None;
        let mut emit = |found: Match<'r>| {
            // Not new: the parent's version of this file already held the same secret.
            if let Some(parent_blob) = job.parent_blob {
                let parent = parent.get_or_insert_with(|| {
                    let mut buf = Vec::new();
                    objects
                        .find(&parent_blob, &mut buf)
                        .map(|d| d.data.to_vec())
                        .unwrap_or_default()
                });
                if memchr::memmem::find(parent, found.secret.expose()).is_some() {
                    return;
                }
            }
            sink(HistoryFinding {
                found,
                path: job.path.clone(),
                commit: job.commit,
                blob: job.blob,
            });
        };
        let source = Source { path: Some(&job.path) };
        let size = objects.size(&job.blob).unwrap_or(0);
        if size > self.options.stream_above {
            // Never load a huge blob whole: stream it out of git.
            let mut child = Command::new("git")
                .arg("--git-dir")
                .arg(&self.options.git_dir)
                .args(["cat-file", "blob", &job.blob.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()?;
            let stdout = child.stdout.take().ok_or("git cat-file has no stdout")?;
            let outcome = self.scanner.scan_reader(stdout.take(size), source, &mut emit);
            let _ = child.kill();
            let _ = child.wait();
            return Ok(outcome?);
        }
        let data = objects.find(&job.blob, &mut self.buf)?;
        Ok(self.scanner.scan_bytes(data.data, source, &mut emit))
    }
}

/// Walks commit trees against their parents', yielding each blob not seen before.
pub(crate) struct NewBlobs<'a> {
    objects: &'a Objects,
    seen: HashSet<ObjectId>,
    buf: Vec<u8>,
}

/// A decoded tree: entries in git's order, names in one buffer.
#[derive(Default)]
struct Tree {
    names: Vec<u8>,
    entries: Vec<(EntryMode, usize, usize, ObjectId)>,
}

impl Tree {
    /// The id of the entry called `name` that is (or is not) a tree, by binary search in git's
    /// tree order (a tree's name sorts as if it ended in `/`).
    fn find(&self, name: &[u8], is_tree: bool) -> Option<ObjectId> {
        self.entries
            .binary_search_by(|(mode, start, end, _)| {
                git_order(&self.names[*start..*end], mode.is_tree(), name, is_tree)
            })
            .ok()
            .map(|i| self.entries[i].3)
    }
}

/// Git's tree entry order: bytewise, with a tree's name followed by an implicit `/`.
fn git_order(a: &[u8], a_tree: bool, b: &[u8], b_tree: bool) -> std::cmp::Ordering {
    let common = a.len().min(b.len());
    match a[..common].cmp(&b[..common]) {
        std::cmp::Ordering::Equal => {
            let next = |name: &[u8], tree: bool| {
                name.get(common).copied().or(if tree { Some(b'/') } else { None })
            };
            let (x, y) = (next(a, a_tree), next(b, b_tree));
            match (x, y) {
                (Some(x), Some(y)) if a.len() == b.len() || x != y => x.cmp(&y),
                _ => (a.len() + usize::from(a_tree)).cmp(&(b.len() + usize::from(b_tree))),
            }
        }
        other => other,
    }
}

impl<'a> NewBlobs<'a> {
    pub(crate) fn new(objects: &'a Objects) -> Self {
        NewBlobs { objects, seen: HashSet::new(), buf: Vec::new() }
    }

    fn tree_of(&mut self, commit: ObjectId) -> Result<ObjectId, HistoryError> {
        let mut iter = self
            .objects
            .find_commit_iter(&commit, &mut self.buf)
            .map_err(object_err("commit", commit))?;
        iter.tree_id().map_err(object_err("commit", commit))
    }

    fn entries(&mut self, tree: ObjectId) -> Result<Tree, HistoryError> {
        let iter =
            self.objects.find_tree_iter(&tree, &mut self.buf).map_err(object_err("tree", tree))?;
        let mut out = Tree::default();
        for entry in iter {
            let entry = entry.map_err(object_err("tree", tree))?;
            let start = out.names.len();
            out.names.extend_from_slice(entry.filename);
            out.entries.push((entry.mode, start, out.names.len(), entry.oid.to_owned()));
        }
        Ok(out)
    }

    /// Marks everything in `commit`'s tree as known.
    pub(crate) fn mark_known(&mut self, commit: ObjectId) -> Result<(), HistoryError> {
        let tree = self.tree_of(commit)?;
        self.tree(tree, &[], &mut Vec::new(), &mut |_, _, _| {})
    }

    /// Yields the blobs of `commit` that neither an earlier commit nor a parent at the same
    /// path had, with the first parent's blob at that path.
    pub(crate) fn commit(
        &mut self,
        commit: ObjectId,
        parents: &[ObjectId],
        emit: &mut dyn FnMut(ObjectId, String, Option<ObjectId>),
    ) -> Result<(), HistoryError> {
        let tree = self.tree_of(commit)?;
        let mut parent_trees = Vec::with_capacity(parents.len());
        for parent in parents {
            // A parent missing from the object store (shallow history) counts as empty.
            parent_trees.push(self.tree_of(*parent).ok());
        }
        self.tree(tree, &parent_trees, &mut Vec::new(), emit)
    }

    fn tree(
        &mut self,
        tree: ObjectId,
        parents: &[Option<ObjectId>],
        path: &mut Vec<u8>,
        emit: &mut dyn FnMut(ObjectId, String, Option<ObjectId>),
    ) -> Result<(), HistoryError> {
        if parents.contains(&Some(tree)) || !self.seen.insert(tree) {
            return Ok(());
        }
        let current = self.entries(tree)?;
        let mut before = Vec::with_capacity(parents.len());
        for parent in parents.iter().flatten() {
            before.push(self.entries(*parent)?);
        }
        for (mode, start, end, id) in current.entries.iter().copied() {
            let name = &current.names[start..end];
            let is_tree = mode.is_tree();
            if before.iter().any(|p| p.find(name, is_tree) == Some(id)) {
                continue;
            }
            let len = path.len();
            if !path.is_empty() {
                path.push(b'/');
            }
            path.extend_from_slice(name);
            if is_tree {
                let sub: Vec<Option<ObjectId>> =
                    before.iter().map(|p| p.find(name, true)).collect();
                self.tree(id, &sub, path, emit)?;
            } else if mode.is_blob() && self.seen.insert(id) {
                // Submodules (commits) and symlinks are not content of this repository.
                let parent_blob = before.iter().find_map(|p| p.find(name, false));
                emit(id, path.to_str_lossy().into_owned(), parent_blob);
            }
            path.truncate(len);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::git_order;
    use std::cmp::Ordering;

    #[test]
    fn git_order_sorts_trees_as_if_they_ended_in_a_slash() {
        // git sorts "a.b" (blob) before "a" (tree, as "a/") and "a" (blob) before "a.b".
        assert_eq!(git_order(b"a.b", false, b"a", true), Ordering::Less);
        assert_eq!(git_order(b"a", false, b"a.b", false), Ordering::Less);
        assert_eq!(git_order(b"a", true, b"a", true), Ordering::Equal);
        assert_eq!(git_order(b"a", true, b"a", false), Ordering::Greater);
        assert_eq!(git_order(b"a-b", false, b"a", true), Ordering::Less);
        assert_eq!(git_order(b"a0", false, b"a", true), Ordering::Greater);
    }
}
