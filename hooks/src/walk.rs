//! Scanning what a commit range adds, in parallel: the blobs [`crate::coverage`] decides are
//! new, and the messages of the new commits and tags.
//!
//! A blob is scanned once, reported with the first commit (parents before children) and path
//! that reach it, and a finding whose secret the first parent's version of the same file
//! already contained is not new.

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Instant;

use gix::objs::{FindExt, FindHeader};
use gix::ObjectId;
use leakgate_rules::{Match, Outcome, RuleSet, ScanOptions, Source};

use crate::bulk::{Bulk, Ledger};
use crate::coverage::{
    new_objects, Class, NewBlob, NewObject, ParentBlob, PathClasses, NEUTRAL, SKIPPED,
};
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
    /// A pushed object that cannot be read as git reads it: the push's content, not the
    /// server, is at fault.
    #[error("cannot read {what}")]
    Object {
        /// Which object.
        what: String,
        /// The reason.
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

pub(crate) fn walk_err<E: std::error::Error + Send + Sync + 'static>(
    what: impl Into<String>,
) -> impl FnOnce(E) -> HistoryError {
    let what = what.into();
    move |source| HistoryError::Walk { what, source: Box::new(source) }
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
    /// Path of the blob in the first commit that added it; `(commit message)` or
    /// `(tag message)` for a message.
    pub path: String,
    /// That commit (or tag).
    pub commit: ObjectId,
    /// The blob (or the commit or tag whose message it is).
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
    /// Binary blobs, scanned without the generic rules below `binary_generic_severity`.
    pub binary: u64,
    /// Commit and tag messages scanned.
    pub messages: u64,
    /// Blobs the deadline stopped before they were scanned, or that could not be read (0
    /// when complete).
    pub unscanned: u64,
    /// Of `unscanned`, the blobs and messages that could not be read (each logged as a
    /// warning). In a push they are content the hook cannot vouch for, whatever the time.
    pub unreadable: u64,
    /// Blobs whose decoding budget ran out ([`leakgate_rules::Scanner::cut_short`]): content
    /// crafted to be slow to decode, which may hide an encoded key past that point. Not
    /// counted in `complete`: scanning them again would end the same way.
    pub cut_short: u64,
    /// Bytes of blobs whose keyword hits were carried over from their delta base in a pack
    /// instead of searched for ([`leakgate_rules::RuleSet::derive_hits`]).
    pub derived: u64,
    /// Whether every new blob was scanned before the deadline.
    pub complete: bool,
    /// The new commits, oldest first.
    pub new_commits: Vec<ObjectId>,
}

/// How [`scan_history`] scans.
#[derive(Clone, Debug, Default)]
pub struct HistoryOptions {
    /// Engine options.
    pub scan: ScanOptions,
    /// Threads that decode and scan.
    pub threads: usize,
    /// Counters to watch the scan by (a progress bar).
    pub progress: Option<Arc<Progress>>,
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
    /// Counters to watch the scan by (a progress bar); `None` keeps them private.
    pub progress: Option<Arc<Progress>>,
    /// Paths that decide something about a finding after the scan (the hook's path-scoped
    /// waivers): like the rules' path conditions, a blob is scanned once per combination of
    /// these and those that hold at the paths it is met at.
    pub path_globs: Vec<globset::GlobMatcher>,
    /// Fail on new tree entries whose names git fsck reports, when paths matter (see
    /// [`PathClasses::strict_names`]): the hook.
    pub strict_names: bool,
    /// Also scan the names of new tree entries ([`TREE_NAMES`]): the hook.
    pub scan_names: bool,
    /// Where Git LFS objects are kept: a new blob that is an LFS pointer is scanned as the
    /// object it points to too, at its path ([`crate::lfs`]); one that is not there leaves
    /// the blob not scanned in full.
    pub lfs_objects: Option<PathBuf>,
}

/// Opens a repository (bare or with a work tree) for reading.
///
/// # Errors
///
/// [`HistoryError::Open`] when `path` is not a repository.
pub fn open_repository(path: &Path) -> Result<gix::Repository, HistoryError> {
    let fail = |source: BoxError| HistoryError::Open { path: path.to_owned(), source };
    // No object cache: the walk reads each tree once (it keeps a visited set), and on
    // rust-lang/cargo's history a 64 MiB cache made the walk slower (1.8 s against 1.5 s) and
    // the process 90 MB bigger. Delta bases are cached by the pack cache.
    //
    // No object replacement: by default git and gix read the object a `refs/replace/<id>` ref
    // names in place of `<id>`, and any pusher may push such a ref. Honoured, it would let a
    // pushed commit stand in for the protected branch's tip (its `.leakgate.toml` deciding
    // what is skipped), or for a stored commit a push makes reachable again (its tree deciding
    // which blobs are scanned). What is stored is what is read.
    let options = gix::open::Options::default().config_overrides(["core.useReplaceRefs=false"]);
    let repo = gix::open_opts(path, options).map_err(|e| fail(Box::new(e)))?;
    if repo.objects.store_ref().replacements().next().is_some() {
        return Err(fail("object replacement could not be turned off".into()));
    }
    Ok(repo)
}

fn resolve(repo: &gix::Repository, rev: &str) -> Result<ObjectId, HistoryError> {
    let fail = |source: BoxError| HistoryError::Revision { rev: rev.to_owned(), source };
    let id = repo.rev_parse_single(rev).map_err(|e| fail(Box::new(e)))?;
    let object = id.object().map_err(|e| fail(Box::new(e)))?;
    let commit = object.peel_to_commit().map_err(|e| fail(Box::new(e)))?;
    Ok(commit.id)
}

/// Every object a ref points to (what `--all` means to `git rev-list`): commits, tags, and
/// the rare ref to a tree or blob.
///
/// # Errors
///
/// The refs cannot be listed; a ref that cannot be read is a server fault too, since skipping
/// it would make its history look new or, worse, be taken as known.
pub fn all_ref_tips(repo: &gix::Repository) -> Result<Vec<ObjectId>, HistoryError> {
    ref_tips(repo, true)
}

/// The objects the refs name, tags as tags (`peeled`: what packed-refs records as a tag's
/// peeled object instead, which is enough to hide history but skips the tag itself: `scan
/// --git --all` missed every annotated tag's message after `git gc` until session 27).
fn ref_tips(repo: &gix::Repository, peeled: bool) -> Result<Vec<ObjectId>, HistoryError> {
    let platform = repo.references().map_err(walk_err("refs"))?;
    let mut tips = Vec::new();
    for reference in platform.all().map_err(walk_err("refs"))? {
        let mut reference = reference.map_err(|e| walk_err("refs")(std::io::Error::other(e)))?;
        // What packed-refs records as the peeled object, else a direct ref's target as it
        // is: the walk peels what is left itself, through the same object reads as
        // everything else. (gix's peeling read every ref's object through a second mapping
        // of the packs: ~20 MB on a mirror with 9,600 refs; and reading the objects of
        // packed tags here costs a typical push ~3 ms on a repository with 100 tags.)
        let direct = reference.target().try_id().map(ToOwned::to_owned);
        let id = if peeled { reference.inner.peeled.or(direct) } else { direct };
        if let Some(id) = id {
            tips.push(id);
            continue;
        }
        match reference.peel_to_id() {
            Ok(id) => tips.push(id.detach()),
            // A symbolic ref to nothing (HEAD of an empty repository) names no object.
            Err(_) if reference.target().try_id().is_none() => {}
            Err(e) => return Err(walk_err("refs")(e)),
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
    options: HistoryOptions,
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
        Selection::All => (ref_tips(&repo, false)?, vec![]),
        Selection::Range { exclude, include } => (
            include.iter().map(|r| resolve(&repo, r)).collect::<Result<Vec<_>, _>>()?,
            exclude.iter().map(|r| resolve(&repo, r)).collect::<Result<Vec<_>, _>>()?,
        ),
    };
    let objects = Objects::new(&repo, None).map_err(walk_err("objects"))?;
    let walk = WalkOptions {
        scan: options.scan,
        threads: options.threads.max(1),
        deadline: None,
        stream_above: 256 << 20,
        git_dir: repo.git_dir().to_owned(),
        progress: options.progress,
        path_globs: Vec::new(),
        strict_names: false,
        scan_names: false,
        lfs_objects: None,
    };
    scan_new_blobs(&objects, &tips, &hidden, rules, &walk, sink, warn)
}

/// Walks what `tips` add over `hidden` (any objects: commits, tags, trees, blobs) and scans
/// it: every new blob once, and the messages of new commits and tags. The one routine behind
/// the hook, `scan --git` and the service's push jobs.
///
/// When the deadline passes, the walk stops, what was already scanned stays reported, and the
/// stats say the scan is incomplete; a blob that cannot be read counts as unscanned too.
///
/// # Errors
///
/// Refs, commits or trees that cannot be read ([`HistoryError::Object`] when the object itself
/// is at fault).
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
    let stop = AtomicBool::new(false);
    let tally = options.progress.clone().unwrap_or_default();
    let (tx, rx) = mpsc::sync_channel::<NewObject>(1024);
    let rx = Mutex::new(rx);
    let expired = || options.deadline.is_some_and(|d| Instant::now() >= d);
    // A whole history, or a push's quarantine, is most of what its packs hold: traverse them
    // (see `crate::bulk`). A range of a repository's history reads its blobs by id.
    let mut objects = objects.clone();
    let packs: Arc<[gix::odb::pack::Bundle]> = if objects.has_quarantine() || hidden.is_empty() {
        objects.open_new_packs()
    } else {
        Arc::new([])
    };
    let objects = &objects;
    let ledger = (!packs.is_empty()).then(Ledger::default);
    if let Some(ledger) = ledger.as_ref().filter(|_| objects.has_quarantine() && options.scan_names)
    {
        ledger.keep_trees();
    }
    let pathless = rules.path_independent();
    let yields = Yields::default();
    let classifier = Classifier::new(rules, &options.path_globs);
    let class = |path: &[u8]| classifier.class(path);
    let classes = classifier.matters().then(|| PathClasses {
        class: &class,
        skips_only: classifier.skips_only(),
        strict_names: options.strict_names,
    });
    let worker = Worker {
        objects: objects.clone(),
        scanner: rules.scanner(options.scan),
        buf: Vec::new(),
        options,
        // A blob's yield stands for its children's parent only when paths change nothing.
        yields: classes.is_none().then_some(&yields),
    };
    let halt = || {
        if stop.load(Ordering::Relaxed) || expired() {
            stop.store(true, Ordering::Relaxed);
            return true;
        }
        false
    };
    let started = Instant::now();
    // With a quarantine: the objects the walk named, to tell the push's unreferenced objects.
    let quarantine = objects.has_quarantine();
    let mut named: HashSet<ObjectId> = HashSet::new();
    // The first blob whose scan panicked (a bug): the walk then fails.
    let panicked = Mutex::new(None);
    let panic_in = |what: String| {
        stop.store(true, Ordering::Relaxed);
        panicked.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get_or_insert(what);
    };
    let traverse = |ledger: &Ledger, worker: Worker<'_, '_>| {
        let bulk = Bulk { ledger, pathless, tally: &tally, stop: &stop, halt: &halt };
        // A panic in the traversal's scans fails the walk like one in the workers: neither a
        // crash of the whole scan nor, when the traversal runs on its own thread, a scan
        // merely left incomplete (which a server may accept).
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            bulk.traverse(&packs, &worker, &sink)
        }));
        if run.is_err() {
            panic_in("a blob of the new packs".to_owned());
        }
        tracing::debug!(ms = started.elapsed().as_millis(), "pack traversal finished");
    };
    let walked = std::thread::scope(|scope| {
        for _ in 0..options.threads.max(1) {
            let (rx, tally, sink, warn, stop) = (&rx, &*tally, &sink, &warn, &stop);
            let panic_in = &panic_in;
            let mut worker = worker.clone();
            scope.spawn(move || loop {
                let job = match rx.lock() {
                    Ok(guard) => guard.recv(),
                    Err(_) => return,
                };
                let Ok(job) = job else { return };
                if stop.load(Ordering::Relaxed) || expired() {
                    stop.store(true, Ordering::Relaxed);
                    tally.unscanned.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                let scanned = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    worker.scan(&job, sink)
                }));
                match scanned {
                    Ok(Ok((outcome, message))) => {
                        tally.settle(outcome, message, &worker.scanner, stop)
                    }
                    Ok(Err(e)) => {
                        tally.unscanned.fetch_add(1, Ordering::Relaxed);
                        tally.unreadable.fetch_add(1, Ordering::Relaxed);
                        warn(format!("cannot read {}: {e}", describe(&job)));
                    }
                    Err(_) => {
                        // A panic (a bug) while scanning: the scan stops and fails as if the
                        // blob could not be read, which rejects a push whatever the server
                        // accepts of incomplete scans. The worker stays to take the jobs
                        // still queued: were every worker gone, the walk would wait forever
                        // on a full queue.
                        tally.unscanned.fetch_add(1, Ordering::Relaxed);
                        panic_in(describe(&job));
                    }
                }
            });
        }
        // With path-independent rules the traversal runs while the walk names blobs; else
        // it waits for the walk, so that every blob it scans has its path.
        let early = ledger.as_ref().filter(|_| pathless).map(|ledger| {
            let (traverse, worker) = (&traverse, worker.clone());
            scope.spawn(move || traverse(ledger, worker))
        });
        let send = |job| {
            if tx.send(job).is_err() {
                stop.store(true, Ordering::Relaxed);
            }
        };
        let names = options.scan_names;
        let named = &mut named;
        let result = new_objects(objects, tips, hidden, classes, names, &halt, &mut |job| {
            if matches!(job, NewObject::Blob(_)) {
                tally.named.fetch_add(1, Ordering::Relaxed);
            }
            if quarantine {
                named.insert(match &job {
                    NewObject::Blob(blob) => blob.id,
                    NewObject::Commit(id) | NewObject::Tag(id) => *id,
                });
            }
            match &ledger {
                Some(ledger) => {
                    if let Some(again) = ledger.name(job, &tally) {
                        send(again);
                    }
                }
                None => send(job),
            }
        });
        tally.walked.store(true, Ordering::Relaxed);
        tracing::debug!(ms = started.elapsed().as_millis(), "walk finished");
        if let Some(ledger) = &ledger {
            let finished = match early {
                Some(handle) => handle.join().is_ok(),
                None if result.is_ok() => {
                    traverse(ledger, worker.clone());
                    true
                }
                None => true,
            };
            if !finished {
                stop.store(true, Ordering::Relaxed);
            }
            // Named blobs no traversed pack held (loose objects, other packs, a pack the
            // traversal could not read to the end) are read by id, as without packs.
            for job in ledger.unscanned() {
                send(job);
            }
        }
        drop(tx);
        result
    });
    if let Some(what) = panicked.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner) {
        return Err(HistoryError::Object {
            what,
            source: "scanning it panicked (a bug in leakgate)".into(),
        });
    }
    let walked = walked?;
    if quarantine && !walked.stopped && !stop.load(Ordering::Relaxed) {
        let opened = packs.len() == objects.new_packs().len();
        let mut orphans = ledger.as_ref().map(Ledger::never_named).unwrap_or_default();
        orphans.extend(ledger.as_ref().map(Ledger::trees).unwrap_or_default());
        orphans.extend(objects.quarantine_loose().into_iter().filter(|id| !named.contains(id)));
        // A thin pack's bases (`index-pack --fix-thin`) are in the quarantine's pack, and
        // the repository's already; the trees the walk met are reached.
        orphans.retain(|id| {
            !walked.skipped.contains(id) && !walked.met.contains(id) && !objects.in_repository(id)
        });
        let mut worker = worker.clone();
        scan_unreferenced(&orphans, opened, &mut worker, &tally, &stop, &expired, &sink, &warn);
    }
    // The names of new files and directories, without a path (no path condition applies
    // to them); small next to the content, and scanned here, to their end whatever the time.
    let mut scanner = rules.scanner(ScanOptions { deadline: None, ..options.scan });
    for (commit, names) in &walked.names {
        scanner.scan_bytes(names, Source { path: None }, |found| {
            let commit = *commit;
            sink(HistoryFinding { found, path: TREE_NAMES.to_owned(), commit, blob: commit });
        });
    }
    let unscanned = tally.unscanned.load(Ordering::Relaxed);
    Ok(HistoryStats {
        commits: walked.commits.len() as u64,
        blobs: tally.blobs.load(Ordering::Relaxed),
        bytes: tally.bytes.load(Ordering::Relaxed),
        binary: tally.binary.load(Ordering::Relaxed),
        messages: tally.messages.load(Ordering::Relaxed),
        unscanned,
        unreadable: tally.unreadable.load(Ordering::Relaxed),
        cut_short: tally.cut_short.load(Ordering::Relaxed),
        derived: tally.derived.load(Ordering::Relaxed),
        complete: unscanned == 0 && !walked.stopped && !stop.load(Ordering::Relaxed),
        new_commits: walked.commits,
    })
}

/// Scans the objects a push's quarantine holds that no pushed ref reaches (`orphans`: blobs,
/// commits and tags the walk never named; trees are not read). git keeps them, and serves
/// them to whoever asks by id (protocol v2 checks only that an object exists), or to
/// `clone --recurse-submodules` when a pushed tree names one of the commits as a submodule
/// with `url = ./` (review of session 30: a key landed that way, the walk and git's
/// connectivity check both stop at a gitlink). Findings are reported at [`UNREFERENCED`].
/// A quarantine pack that could not be opened (`opened` false) leaves the scan incomplete.
#[allow(clippy::too_many_arguments)] // the pieces of `scan_new_blobs` it runs after
fn scan_unreferenced<F, W>(
    orphans: &[ObjectId],
    opened: bool,
    worker: &mut Worker<'_, '_>,
    tally: &Progress,
    stop: &AtomicBool,
    expired: &dyn Fn() -> bool,
    sink: &F,
    warn: &W,
) where
    F: Fn(HistoryFinding<'_>) + Sync,
    W: Fn(String) + Sync,
{
    if !opened {
        tally.unscanned.fetch_add(1, Ordering::Relaxed);
        warn("a pack of the push could not be opened to look for objects no ref reaches".into());
    }
    // The names in the trees (when names are scanned: the hook), as the walk gathers a
    // commit's new names: a file named after a key is kept and served by id as its content
    // is.
    let mut names: Vec<(ObjectId, Vec<u8>)> = Vec::new();
    let mut raw = Vec::new();
    for &id in orphans {
        if stop.load(Ordering::Relaxed) || expired() {
            stop.store(true, Ordering::Relaxed);
            tally.unscanned.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let kind = worker.objects.try_header(&id).ok().flatten().map(|h| h.kind);
        let job = match kind {
            Some(gix::objs::Kind::Blob) => NewObject::Blob(NewBlob {
                id,
                path: UNREFERENCED.as_bytes().to_vec(),
                commit: id,
                parent_blob: ParentBlob::None,
            }),
            Some(gix::objs::Kind::Commit) => NewObject::Commit(id),
            Some(gix::objs::Kind::Tag) => NewObject::Tag(id),
            Some(gix::objs::Kind::Tree) => {
                if worker.options.scan_names {
                    use gix::objs::Find as _;
                    let hash = worker.objects.hash_kind();
                    let read = worker.objects.try_find(&id, &mut raw).ok().flatten().is_some();
                    match crate::tree::entries(&raw, hash) {
                        Ok(list) if read => {
                            let mut buf = Vec::new();
                            for entry in list {
                                buf.extend_from_slice(entry.name);
                                buf.push(b'\n');
                            }
                            names.push((id, buf));
                        }
                        _ => {
                            tally.unscanned.fetch_add(1, Ordering::Relaxed);
                            tally.unreadable.fetch_add(1, Ordering::Relaxed);
                            warn(format!("cannot read tree {id}, which the push carries"));
                        }
                    }
                }
                continue;
            }
            None => {
                tally.unscanned.fetch_add(1, Ordering::Relaxed);
                tally.unreadable.fetch_add(1, Ordering::Relaxed);
                warn(format!("cannot read object {id}, which the push carries"));
                continue;
            }
        };
        match worker.scan(&job, sink) {
            Ok((outcome, message)) => tally.settle(outcome, message, &worker.scanner, stop),
            Err(e) => {
                tally.unscanned.fetch_add(1, Ordering::Relaxed);
                tally.unreadable.fetch_add(1, Ordering::Relaxed);
                warn(format!("cannot read {}: {e}", describe(&job)));
            }
        }
    }
    for (tree, buf) in &names {
        worker.scanner.scan_bytes(buf, Source { path: None }, |found| {
            let path = UNREFERENCED.to_owned();
            sink(HistoryFinding { found, path, commit: *tree, blob: *tree });
        });
    }
}

/// The class of each path the walk meets (see [`PathClasses`]): the rules' path conditions
/// that hold there ([`RuleSet::path_class`]) and the extra globs that match, each distinct
/// combination numbered as it first appears.
struct Classifier<'a> {
    rules: &'a RuleSet,
    globs: &'a [globset::GlobMatcher],
    classes: std::cell::RefCell<std::collections::HashMap<Vec<u32>, Class>>,
}

impl<'a> Classifier<'a> {
    fn new(rules: &'a RuleSet, globs: &'a [globset::GlobMatcher]) -> Self {
        Classifier { rules, globs, classes: std::cell::RefCell::default() }
    }

    /// Whether paths bear on the scan at all.
    fn matters(&self) -> bool {
        self.rules.skips_paths() || self.rules.path_conditions() || !self.globs.is_empty()
    }

    /// Whether every path is neutral or skipped (see [`PathClasses::skips_only`]).
    fn skips_only(&self) -> bool {
        !self.rules.path_conditions() && self.globs.is_empty()
    }

    fn class(&self, path: &[u8]) -> Class {
        let path = String::from_utf8_lossy(path);
        let Some(mut holds) = self.rules.path_class(&path) else { return SKIPPED };
        // The rules' conditions that hold, then a mark and the globs that match (if any).
        let mut globs = (0..self.globs.len()).filter(|&g| self.globs[g].is_match(path.as_ref()));
        if let Some(first) = globs.next() {
            holds.push(u32::MAX);
            holds.extend([first].into_iter().chain(globs).map(|g| g as u32));
        }
        if holds.is_empty() {
            return NEUTRAL;
        }
        let mut classes = self.classes.borrow_mut();
        let next = Class::try_from(classes.len() + 1).unwrap_or(SKIPPED - 1);
        *classes.entry(holds).or_insert(next)
    }
}

/// Live counts of a running scan, for progress displays (and the final stats).
#[derive(Debug, Default)]
pub struct Progress {
    /// Blobs scanned.
    pub blobs: AtomicU64,
    /// Bytes of blobs and messages scanned.
    pub bytes: AtomicU64,
    /// Binary blobs scanned with the distinctive rules.
    pub binary: AtomicU64,
    /// Commit and tag messages scanned.
    pub messages: AtomicU64,
    /// Blobs the deadline stopped, or that could not be read.
    pub unscanned: AtomicU64,
    /// Blobs and messages that could not be read (counted in `unscanned` too).
    pub unreadable: AtomicU64,
    /// Blobs and messages whose decoding budget ran out.
    pub cut_short: AtomicU64,
    /// Bytes of blobs whose keyword hits were carried over from their delta base.
    pub derived: AtomicU64,
    /// New blobs the walk has named so far.
    pub named: AtomicU64,
    /// Whether the walk has named every new blob (`named` is then the total).
    pub walked: AtomicBool,
}

impl Progress {
    /// Counts an object `scanner` has just scanned: as not scanned when the deadline stopped
    /// it inside (the walk then stops too), else by its outcome.
    pub(crate) fn settle(
        &self,
        outcome: Outcome,
        message: bool,
        scanner: &leakgate_rules::Scanner<'_>,
        stop: &AtomicBool,
    ) {
        if scanner.stopped() {
            stop.store(true, Ordering::Relaxed);
            self.unscanned.fetch_add(1, Ordering::Relaxed);
        } else {
            self.record(outcome, message, scanner.cut_short());
        }
    }

    pub(crate) fn record(&self, outcome: Outcome, message: bool, cut_short: bool) {
        if cut_short {
            self.cut_short.fetch_add(1, Ordering::Relaxed);
        }
        match outcome {
            Outcome::Scanned(n) => {
                let count = if message { &self.messages } else { &self.blobs };
                count.fetch_add(1, Ordering::Relaxed);
                self.bytes.fetch_add(n, Ordering::Relaxed);
            }
            Outcome::Binary => {
                self.binary.fetch_add(1, Ordering::Relaxed);
            }
            Outcome::PathAllowed => {}
        }
    }
}

fn describe(job: &NewObject) -> String {
    match job {
        NewObject::Blob(b) => format!("blob {} ({})", b.id, String::from_utf8_lossy(&b.path)),
        NewObject::Commit(c) => format!("commit {c}"),
        NewObject::Tag(t) => format!("tag {t}"),
    }
}

/// The path shown for a finding in a commit message.
pub const COMMIT_MESSAGE: &str = "(commit message)";
/// The path shown for a finding in a tag message.
pub const TAG_MESSAGE: &str = "(tag message)";
/// The path shown for a finding in an object the push carries that none of its refs reaches
/// (a blob, or an unreferenced commit's message).
pub const UNREFERENCED: &str = "(an object the push carries that no ref reaches)";
/// The path shown for a finding in the names of a commit's new files and directories.
pub const TREE_NAMES: &str = "(file and directory names)";
/// The path shown for a finding in a commit's headers (author, committer, signature, any
/// header git keeps).
pub const COMMIT_HEADER: &str = "(commit header)";
/// The path shown for a finding in a tag's headers (its name, the tagger).
pub const TAG_HEADER: &str = "(tag header)";

#[derive(Clone)]
pub(crate) struct Worker<'r, 'o> {
    objects: Objects,
    pub(crate) scanner: leakgate_rules::Scanner<'r>,
    buf: Vec<u8>,
    options: &'o WalkOptions,
    /// What blobs with findings yielded, shared by the workers (see [`emitter`]).
    yields: Option<&'o Yields>,
}

/// A raw commit or tag: its headers (with the newline that ends the last) and its message.
fn split_message(raw: &[u8]) -> (&[u8], &[u8]) {
    match memchr::memmem::find(raw, b"\n\n") {
        Some(end) => (&raw[..=end], &raw[end + 2..]),
        None => (raw, &[][..]),
    }
}

/// The encoding a raw commit's or tag's `encoding` header names, when it is not UTF-8.
pub(crate) fn foreign_encoding(raw: &[u8]) -> Option<&[u8]> {
    let (headers, _) = split_message(raw);
    // A header's continuation lines (a signature, an embedded tag) start with a space.
    headers.split(|&b| b == b'\n').find_map(|line| line.strip_prefix(b"encoding ")).filter(
        |label| !label.eq_ignore_ascii_case(b"utf-8") && !label.eq_ignore_ascii_case(b"utf8"),
    )
}

/// What one blob's scan found: each finding's rule id and secret.
type Yield = Vec<(String, leakgate_rules::Secret)>;

/// What each blob with matches yielded, by blob: the next version of a file asks what its
/// parent yielded, and without this its parent would be scanned again (a test fixture
/// holding a key, changed in hundreds of commits, cost `scan --git` 5% on rust-lang/cargo).
#[derive(Default)]
pub(crate) struct Yields(Mutex<std::collections::HashMap<ObjectId, Yield>>);

impl Yields {
    fn get(&self, id: &ObjectId) -> Option<Yield> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(id).cloned()
    }

    fn put(&self, id: ObjectId, secrets: Yield) {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(id, secrets);
    }
}

impl<'r> Worker<'r, '_> {
    /// Scans one new object; the flag says it was a message.
    fn scan<F: Fn(HistoryFinding<'_>)>(
        &mut self,
        job: &NewObject,
        sink: &F,
    ) -> Result<(Outcome, bool), BoxError> {
        let blob = match job {
            NewObject::Blob(blob) => blob,
            NewObject::Commit(id) | NewObject::Tag(id) => {
                let mut buf = std::mem::take(&mut self.buf);
                let outcome = self
                    .objects
                    .find(id, &mut buf)
                    .map(|data| self.scan_message(job, data.data, sink));
                self.buf = buf;
                return Ok((outcome??, true));
            }
        };
        let size = self.objects.size(&blob.id).ok_or("blob is missing")?;
        if size > self.options.stream_above {
            // Never load a huge blob whole: stream it out of git.
            // What is stored, not what a `refs/replace/` ref names (see `open_repository`).
            let mut child = Command::new("git")
                .arg("--no-replace-objects")
                .arg("--git-dir")
                .arg(&self.options.git_dir)
                .args(["cat-file", "blob", &blob.id.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()?;
            let stdout = child.stdout.take().ok_or("git cat-file has no stdout")?;
            let path = String::from_utf8_lossy(&blob.path).into_owned();
            let rules = self.scanner.rule_set();
            let emit = emitter(&self.objects, self.options, None, rules, blob, &path, sink);
            let outcome =
                self.scanner.scan_reader(stdout.take(size), Source { path: Some(&path) }, emit);
            let _ = child.kill();
            let _ = child.wait();
            let outcome = outcome?;
            let whole =
                outcome == Outcome::Scanned(size) || !matches!(outcome, Outcome::Scanned(_));
            if whole || self.scanner.stopped() {
                return Ok((outcome, false));
            }
            return Err(format!("git cat-file ended after {outcome:?} of {size} bytes").into());
        }
        let mut buf = std::mem::take(&mut self.buf);
        let outcome = self
            .objects
            .find(&blob.id, &mut buf)
            .map(|data| self.scan_blob(blob, data.data, None, sink));
        self.buf = buf;
        Ok((outcome?, false))
    }

    pub(crate) fn options(&self) -> &WalkOptions {
        self.options
    }

    /// Scans a new commit or tag, `raw` as stored: its headers and its message, each an input
    /// of its own (a finding's line is its line in the message, or in the headers). Until
    /// session 26 only the message was scanned, and a key in the author's name or email, a
    /// tag's name, the tagger or a header of the pusher's own went through (review).
    ///
    /// A commit or tag whose `encoding` header names another encoding than UTF-8 is scanned
    /// as stored and as `git log` shows it, decoded to UTF-8 (a message in EBCDIC went through
    /// until session 26, review); one in an encoding leakgate cannot decode is an error (a
    /// push holding it is rejected as content).
    pub(crate) fn scan_message<F: Fn(HistoryFinding<'_>)>(
        &mut self,
        job: &NewObject,
        raw: &[u8],
        sink: &F,
    ) -> Result<Outcome, BoxError> {
        let (in_message, in_headers, id) = match job {
            NewObject::Commit(id) => (COMMIT_MESSAGE, COMMIT_HEADER, *id),
            NewObject::Tag(id) => (TAG_MESSAGE, TAG_HEADER, *id),
            NewObject::Blob(blob) => return Ok(self.scan_blob(blob, raw, None, sink)),
        };
        // An encoding `encoding_rs` does not know: what is stored is scanned, then the object
        // counts as unreadable (`git log` shows what leakgate cannot read). The label is not
        // quoted: it is pushed text (a key in it went to the log; review of session 27).
        let encoding = match foreign_encoding(raw) {
            None => Ok(None),
            Some(label) => encoding_rs::Encoding::for_label_no_replacement(label).map(Some).ok_or(
                "its `encoding` header names an encoding leakgate cannot decode (what is stored \
                 was scanned)",
            ),
        };
        let decoded = match encoding {
            Ok(Some(encoding)) => match encoding.decode_without_bom_handling(raw).0 {
                std::borrow::Cow::Owned(text) => Some(text),
                // ASCII only, or UTF-8 already: what is stored is what git shows.
                std::borrow::Cow::Borrowed(_) => None,
            },
            _ => None,
        };
        let mut scanned = 0;
        for raw in std::iter::once(raw).chain(decoded.as_deref().map(str::as_bytes)) {
            let (headers, message) = split_message(raw);
            let headers = self.scanner.scan_bytes(headers, Source { path: None }, |found| {
                sink(HistoryFinding { found, path: in_headers.to_owned(), commit: id, blob: id });
            });
            let message = self.scanner.scan_bytes(message, Source { path: None }, |found| {
                sink(HistoryFinding { found, path: in_message.to_owned(), commit: id, blob: id });
            });
            match (headers, message) {
                (Outcome::Scanned(a), Outcome::Scanned(b)) => scanned += a + b,
                (_, message) => return Ok(message),
            }
        }
        encoding?;
        Ok(Outcome::Scanned(scanned))
    }

    /// Scans a new blob's content, with its path.
    pub(crate) fn scan_blob<F: Fn(HistoryFinding<'_>)>(
        &mut self,
        blob: &NewBlob,
        data: &[u8],
        hits: Option<&leakgate_rules::KeywordHits>,
        sink: &F,
    ) -> Outcome {
        let path = String::from_utf8_lossy(&blob.path).into_owned();
        let rules = self.scanner.rule_set();
        let mut found = Vec::new();
        let cache = self.yields.map(|yields| (yields, &mut found));
        let emit = emitter(&self.objects, self.options, cache, rules, blob, &path, sink);
        let outcome = self.scanner.scan_bytes_given(data, hits, Source { path: Some(&path) }, emit);
        if let Some(yields) = self.yields.filter(|_| !found.is_empty()) {
            yields.put(blob.id, found);
        }
        match self.options.lfs_objects.as_deref().zip(crate::lfs::Pointer::parse(data)) {
            Some((dir, pointer)) => self.scan_lfs_object(blob, &path, dir, &pointer, sink),
            None => outcome,
        }
    }

    /// The Git LFS object a new pointer blob names, scanned at the pointer's path (its
    /// findings are reported as the pointer's), all of it whatever the pointer's size says
    /// (a size that lies short hid the rest, review of session 29). Not there, or shorter
    /// than the pointer says: the blob counts as not scanned in full.
    fn scan_lfs_object<F: Fn(HistoryFinding<'_>)>(
        &mut self,
        blob: &NewBlob,
        path: &str,
        dir: &Path,
        pointer: &crate::lfs::Pointer,
        sink: &F,
    ) -> Outcome {
        let rules = self.scanner.rule_set();
        let emit = emitter(&self.objects, self.options, None, rules, blob, path, sink);
        let scanned = pointer
            .open(dir)
            .and_then(|file| self.scanner.scan_reader(file, Source { path: Some(path) }, emit));
        match scanned {
            Ok(outcome @ Outcome::Scanned(n)) if n < pointer.size => {
                self.scanner.mark_incomplete();
                outcome
            }
            Ok(outcome) => outcome,
            Err(e) => {
                tracing::warn!("Git LFS object {} not read: {e}", pointer.oid);
                self.scanner.mark_incomplete();
                Outcome::Scanned(0)
            }
        }
    }
}

/// What a blob's findings go through: a secret its first parent's version of the same file
/// already yielded, by the same rule, is not new.
///
/// Yielded, not merely held: the parent is scanned as the blob is, and a finding is dropped
/// only when the parent's scan found the same secret by the same rule. Until session 24 the
/// parent's bytes holding the secret anywhere were enough, so a parent with the key where no
/// rule matches it (`blob_x<key>x`, no word boundary) hid the real key in its child, in the
/// same push; until session 26 any rule was enough, so a parent where only a low-severity
/// rule matched the key (`MY_SECRET=<key>`) hid the critical finding of its child
/// (`aws_secret_access_key = <key>`).
fn emitter<'a, 'r: 'a, F: Fn(HistoryFinding<'_>)>(
    objects: &'a Objects,
    options: &'a WalkOptions,
    mut cache: Option<(&'a Yields, &'a mut Yield)>,
    rules: &'r RuleSet,
    blob: &'a NewBlob,
    path: &'a str,
    sink: &'a F,
) -> impl FnMut(Match<'r>) + 'a {
    // The parent's bytes, read on the first finding, and what they yield, scanned only
    // when a finding's secret is among those bytes (the common case of a key just added
    // costs no scan).
    let mut parent: Option<(Option<ObjectId>, Vec<u8>, Option<Yield>)> = None;
    move |found: Match<'r>| {
        let rule = found.rule.id();
        // What this blob yields, for its children (see `Yields`).
        if let Some((_, here)) = cache.as_mut() {
            here.push((rule.to_owned(), found.secret.clone()));
        }
        let yields = cache.as_ref().map(|(yields, _)| *yields);
        if blob.parent_blob != ParentBlob::None {
            let (id, bytes, yielded) = parent.get_or_insert_with(|| {
                let id = blob.parent_blob.resolve(objects, &blob.path);
                (id, id.map(|id| parent_bytes(objects, options, id)).unwrap_or_default(), None)
            });
            if memchr::memmem::find(bytes, found.secret.expose()).is_some() {
                let id = *id;
                let yielded = yielded.get_or_insert_with(|| {
                    // Scanned already as a blob of its own (paths changing nothing).
                    if let Some(known) = yields.zip(id).and_then(|(yields, id)| yields.get(&id)) {
                        return known;
                    }
                    let path = String::from_utf8_lossy(&blob.path);
                    let mut secrets = Vec::new();
                    let source = Source { path: Some(&path) };
                    rules.scanner(options.scan).scan_bytes(bytes, source, |m| {
                        secrets.push((m.rule.id().to_owned(), m.secret));
                    });
                    secrets
                });
                if yielded.iter().any(|(r, secret)| *r == rule && *secret == found.secret) {
                    return;
                }
            }
        }
        sink(HistoryFinding { found, path: path.to_owned(), commit: blob.commit, blob: blob.id });
    }
}

/// The first parent's version of a file; empty when it is too large to read whole (the
/// findings then stand).
fn parent_bytes(objects: &Objects, options: &WalkOptions, parent_blob: ObjectId) -> Vec<u8> {
    if objects.size(&parent_blob).is_none_or(|s| s > options.stream_above) {
        return Vec::new();
    }
    let mut buf = Vec::new();
    objects.find(&parent_blob, &mut buf).map(|d| d.data.to_vec()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::test_git as git;

    /// A repository with a base commit and a second one that adds 1,500 files, each with a
    /// key; its objects packed when `packed`.
    fn keys_repository(packed: bool) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("temp dir");
        let repo = dir.path();
        git(repo, &["init", "-q", "-b", "main"]);
        std::fs::write(repo.join("README"), "base\n").expect("write");
        git(repo, &["add", "."]);
        git(repo, &["commit", "-q", "-m", "base"]);
        let token = "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"; // leakgate:allow (test fixture)
        for i in 0..1_500 {
            let text = format!("n = {i}\ntoken = \"{token}\"\n");
            std::fs::write(repo.join(format!("f{i}.txt")), text).expect("write");
        }
        git(repo, &["add", "."]);
        git(repo, &["commit", "-q", "-m", "keys"]);
        if packed {
            git(repo, &["repack", "-q", "-a", "-d"]);
        }
        dir
    }

    /// Scans `selection` of `repo` with a findings' sink that panics; the scan's completeness,
    /// or whether its error blames the content, and the error's message.
    fn scan_into_a_panicking_sink(
        repo: &Path,
        rules: RuleSet,
        selection: Selection,
    ) -> Result<bool, (bool, String)> {
        let (done, finished) = mpsc::channel();
        let path = repo.to_owned();
        std::thread::spawn(move || {
            let result = scan_history(
                &path,
                &rules,
                &selection,
                HistoryOptions { scan: ScanOptions::default(), threads: 2, progress: None },
                |_| panic!("a bug in the sink"),
                |_| {},
            );
            let _ = done.send(result.map(|s| s.complete).map_err(|e| {
                let content = matches!(e, HistoryError::Object { .. });
                (content, format!("{e}: {}", std::error::Error::source(&e).expect("a reason")))
            }));
        });
        finished
            .recv_timeout(std::time::Duration::from_secs(120))
            .expect("the scan ends, with a result (it used to wait forever, or to panic)")
    }

    fn assert_failed_on_content(result: Result<bool, (bool, String)>) {
        let (content, message) = result.expect_err("a scan that panicked fails");
        // The push's content is at fault: the hook rejects it whatever its settings.
        assert!(content, "{message}");
        assert!(message.contains("blob") && message.contains("panicked"), "{message}");
    }

    /// A panic while scanning a blob (here the findings' sink; in the field, a bug) fails the
    /// scan as content that cannot be read, which rejects a push whatever the server accepts
    /// of incomplete scans, and the walk ends: before, every worker died at its first panic
    /// and the walk waited forever to queue the 1,025th blob (found by the review of session
    /// 23: the keyword gate, now built on its own thread, panics in the workers if it cannot
    /// be built).
    #[test]
    fn a_panic_while_scanning_fails_the_scan_instead_of_hanging_it() {
        let repo = keys_repository(false);
        let result = scan_into_a_panicking_sink(
            repo.path(),
            RuleSet::builtin(),
            Selection::range("HEAD~1..HEAD"),
        );
        assert_failed_on_content(result);
    }

    /// The same panic in the traversal of packs, run beside the walk on its own thread
    /// (rules that do not depend on paths, as the built-in ones) or after it (rules that do):
    /// the first left the scan merely incomplete, which a server that accepts incomplete scans
    /// let through, the second crashed the whole scan (found in session 24).
    #[test]
    fn a_panic_while_traversing_packs_fails_the_scan() {
        let repo = keys_repository(true);
        let builtin = RuleSet::builtin();
        assert!(builtin.path_independent(), "the traversal runs beside the walk");
        assert_failed_on_content(scan_into_a_panicking_sink(repo.path(), builtin, Selection::All));

        let rules = only_at("'''^f'''");
        assert!(!rules.path_independent(), "the traversal runs after the walk");
        assert_failed_on_content(scan_into_a_panicking_sink(repo.path(), rules, Selection::All));
    }

    /// A gitleaks rule for GitHub tokens at paths matching `path` only (a TOML string).
    fn only_at(path: &str) -> RuleSet {
        let config = format!(
            "[[rules]]\nid = \"t\"\nregex = '''ghp_[A-Za-z0-9]{{36}}'''\nkeywords = [\"ghp_\"]\n\
             path = {path}\n"
        );
        let config =
            leakgate_rules::parse_gitleaks_config(&config, Path::new("g.toml")).expect("valid");
        leakgate_rules::RuleSetBuilder::new().gitleaks(config, "g.toml").expect("ok").build()
    }

    /// What `rules` find in `repo`'s whole history, by path.
    fn paths_found(repo: &Path, rules: &RuleSet) -> std::collections::BTreeSet<String> {
        let found = Mutex::new(std::collections::BTreeSet::new());
        let options = HistoryOptions { scan: ScanOptions::default(), threads: 2, progress: None };
        let stats = scan_history(
            repo,
            rules,
            &Selection::All,
            options,
            |f| {
                found.lock().expect("lock").insert(f.path);
            },
            |w| panic!("{w}"),
        )
        .expect("scan");
        assert!(stats.complete);
        found.into_inner().expect("lock")
    }

    /// A blob is scanned at each class of path it is met at ([`RuleSet::path_class`]), read
    /// out of packs or by id, with rules that only remove findings by path (the traversal
    /// runs beside the walk, and scans blobs without a path first) or apply to some paths
    /// only (it waits for the walk): the same key at `tests/k.txt`, allowlisted or out of the
    /// rule's paths, and `app/k.txt` is found at `app/k.txt`. The walk met `app/` second, and
    /// the blob went unscanned there.
    #[test]
    fn a_blob_is_scanned_at_each_class_of_path_it_is_met_at() {
        let rule = "[[rules]]\nid = \"t\"\ndescription = \"d\"\nprovider = \"p\"\n\
                    keywords = [\"ghp_\"]\nregex = 'ghp_[A-Za-z0-9]{36}'\nseverity = \"high\"\n\
                    [rules.allowlist]\npaths = [\"tests/**\"]\n";
        let rules = leakgate_rules::parse_rule_file(rule, Path::new("t.toml")).expect("valid");
        let by_rule =
            leakgate_rules::RuleSetBuilder::new().rules(rules, "t.toml").expect("ok").build();
        assert!(by_rule.path_independent() && by_rule.path_conditions());
        let only_app = only_at("'''^app/'''");
        assert!(!only_app.path_independent() && only_app.path_conditions());
        let global = "[allowlist]\npaths = ['''^tests/''']\nregexes = ['''^never$''']\n";
        let global =
            leakgate_rules::parse_gitleaks_config(global, Path::new("g.toml")).expect("valid");
        let by_global =
            leakgate_rules::RuleSetBuilder::new().builtin().gitleaks(global, "g.toml").expect("ok");
        let by_global = by_global.build();
        assert!(by_global.path_independent() && by_global.path_conditions());
        for packed in [false, true] {
            let dir = tempfile::tempdir().expect("temp dir");
            let repo = dir.path();
            git(repo, &["init", "-q", "-b", "main"]);
            let token = "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"; // leakgate:allow (test fixture)
            for dir in ["app", "tests"] {
                std::fs::create_dir_all(repo.join(dir)).expect("mkdir");
                std::fs::write(repo.join(dir).join("k.txt"), format!("t = \"{token}\"\n"))
                    .expect("write");
            }
            git(repo, &["add", "."]);
            git(repo, &["commit", "-q", "-m", "keys"]);
            if packed {
                git(repo, &["repack", "-q", "-a", "-d"]);
            }
            for rules in [&by_rule, &by_global, &only_app] {
                let found: Vec<String> = paths_found(repo, rules).into_iter().collect();
                assert_eq!(found, ["app/k.txt"], "packed: {packed}");
            }
        }
    }
}
