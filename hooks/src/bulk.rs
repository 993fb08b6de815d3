//! Whole histories and initial pushes at the speed of the object store.
//!
//! When a scan covers most of what the packs hold (a repository's whole history, or a push's
//! quarantine), reading each new blob by id resolves its delta chain through a cache, one
//! blob at a time, on the threads that also scan. Instead every pack is traversed once, with
//! gix's delta-tree traversal spread over all cores (each base decoded once and its deltas
//! applied while it is in memory), and each blob is scanned as it is decoded.
//!
//! Coverage is still decided by the walk ([`crate::coverage`]) and only by it: the traversal
//! sees every object of the packs, and a blob the walk does not name is never reported. The
//! two run at the same time and meet in a [`Ledger`] keyed by object id:
//! - a blob the walk has named when the traversal decodes it is scanned with its path;
//! - a blob decoded before the walk names it is scanned without a path (only when the rules
//!   are path-independent, [`RuleSet::path_independent`]), and the ledger keeps whether that
//!   found anything. When the walk names it, a clean blob is done; one that found something
//!   is scanned again with its path, which is the scan whose findings are reported;
//! - a named blob that no traversed pack holds (loose objects, other packs, a pack the
//!   traversal could not finish) is read by id afterwards, as without packs.
//!
//! So every named blob is reported from exactly one scan with its path, whatever the order in
//! which the walk and the traversal reach it, and blobs nobody names cost a scan but are
//! never reported. New commits go through the ledger the same way: the traversal decodes each
//! commit once anyway, and a message is always scanned without a path, so its message is
//! scanned there, not read again by id. The ledger holds one entry per blob and commit of the
//! packs: the same order of memory as the walk's own set of visited objects.
//!
//! [`RuleSet::path_independent`]: leakgate_rules::RuleSet::path_independent

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use gix::odb::pack::data::entry::Header;
use gix::ObjectId;
use leakgate_rules::{KeywordHits, Outcome, Run, Source, MIN_RUN};

use crate::coverage::NewObject;
use crate::walk::{HistoryFinding, Progress, Worker};

/// Where each blob and commit of the traversed packs stands.
#[derive(Debug)]
enum Slot {
    /// Named by the walk (a blob or a commit), not decoded yet.
    Named(Box<NewObject>),
    /// Decoded and scanned without a path before the walk named it.
    Scanned { outcome: Outcome, flagged: bool },
    /// Named after its scan without a path found nothing: nothing at any path either.
    Clean,
    /// Named and scanned with its path (or handed back to be).
    Done,
    /// Decoded, never named, and not scanned without a path (the rules have path
    /// conditions): no ref reaches it, unless the walk met it at skipped paths only.
    Unreferenced,
}

/// The meeting point of the walk and the traversal.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    slots: Mutex<HashMap<ObjectId, Slot>>,
    /// The trees the traversal decoded (with [`Ledger::keep_trees`]): those the walk did not
    /// meet are trees no ref reaches, whose names are scanned as such.
    trees: Mutex<Option<Vec<ObjectId>>>,
}

impl Ledger {
    fn slots(&self) -> std::sync::MutexGuard<'_, HashMap<ObjectId, Slot>> {
        // A thread that panicked while holding the lock left a consistent map: every
        // operation is one insert or replace.
        self.slots.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The walk names a new blob or commit (a tag is returned at once, to be read by id).
    /// Returns it when it must be read by id and scanned now: the traversal scanned it without
    /// a path and found something, or the walk named it before, at a path of another class
    /// (see [`crate::coverage::PathClasses`]), and this name needs a scan of its own.
    pub(crate) fn name(&self, job: NewObject, tally: &Progress) -> Option<NewObject> {
        let id = match &job {
            NewObject::Blob(blob) => blob.id,
            NewObject::Commit(id) => *id,
            NewObject::Tag(_) => return Some(job),
        };
        let message = matches!(job, NewObject::Commit(_));
        let mut slots = self.slots();
        match slots.entry(id) {
            Entry::Vacant(slot) => {
                slot.insert(Slot::Named(Box::new(job)));
                None
            }
            Entry::Occupied(mut slot) => match std::mem::replace(slot.get_mut(), Slot::Done) {
                Slot::Scanned { flagged: true, .. } => Some(job),
                Slot::Scanned { outcome, flagged: false } => {
                    tally.record(outcome, message, false);
                    *slot.get_mut() = Slot::Clean;
                    None
                }
                Slot::Clean => {
                    *slot.get_mut() = Slot::Clean;
                    None
                }
                // Decoded unscanned: read by id.
                Slot::Unreferenced => Some(job),
                // Named again at a path of another class (once per class: the walk decides):
                // the first name stays for the traversal, this one is read by id. Until
                // session 25 it was dropped, and the blob scanned at its first path only.
                kept @ (Slot::Named(_) | Slot::Done) => {
                    *slot.get_mut() = kept;
                    Some(job)
                }
            },
        }
    }

    /// Named objects the traversal did not decode, to be read by id.
    pub(crate) fn unscanned(&self) -> Vec<NewObject> {
        let mut slots = self.slots();
        slots
            .values_mut()
            .filter(|slot| matches!(slot, Slot::Named(_)))
            .filter_map(|slot| match std::mem::replace(slot, Slot::Done) {
                Slot::Named(blob) => Some(*blob),
                _ => None,
            })
            .collect()
    }

    /// Objects of the traversed packs that the walk never named: found something when scanned
    /// without a path, or not scanned (see [`Slot::Unreferenced`]). Called once the walk and
    /// the traversal are over; each is returned once.
    pub(crate) fn never_named(&self) -> Vec<ObjectId> {
        let mut slots = self.slots();
        let mut ids = Vec::new();
        for (id, slot) in slots.iter_mut() {
            if matches!(slot, Slot::Scanned { flagged: true, .. } | Slot::Unreferenced) {
                *slot = Slot::Done;
                ids.push(*id);
            }
        }
        ids
    }

    /// Keeps the ids of the trees the traversal decodes (the hook, which scans names).
    pub(crate) fn keep_trees(&self) {
        *self.trees.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Vec::new());
    }

    /// The trees the traversal decoded, if kept; each returned once.
    pub(crate) fn trees(&self) -> Vec<ObjectId> {
        let mut trees = self.trees.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        trees.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Records a pack's trees, if they are kept: one lock a pack.
    fn add_trees(&self, ids: &mut dyn Iterator<Item = ObjectId>) {
        let mut trees = self.trees.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(trees) = trees.as_mut() {
            trees.extend(ids);
        }
    }

    /// Records an object the traversal decoded and left unscanned, unnamed.
    fn unreferenced(&self, id: ObjectId) {
        self.slots().entry(id).or_insert(Slot::Unreferenced);
    }

    /// Takes a named object for scanning; `None` when it is not named (yet).
    fn claim(&self, id: &gix::hash::oid) -> Claim {
        let mut slots = self.slots();
        match slots.get_mut(id) {
            None => Claim::Unnamed,
            Some(slot @ Slot::Named(_)) => match std::mem::replace(slot, Slot::Done) {
                Slot::Named(blob) => Claim::Named(blob),
                _ => Claim::Seen,
            },
            Some(_) => Claim::Seen,
        }
    }

    /// Records a pathless scan; returns the blob if the walk named it meanwhile.
    fn scanned(&self, id: ObjectId, outcome: Outcome, flagged: bool) -> Option<Box<NewObject>> {
        let mut slots = self.slots();
        match slots.entry(id) {
            Entry::Vacant(slot) => {
                slot.insert(Slot::Scanned { outcome, flagged });
                None
            }
            Entry::Occupied(mut slot) => match std::mem::replace(slot.get_mut(), Slot::Done) {
                Slot::Named(blob) => Some(blob),
                kept => {
                    *slot.get_mut() = kept;
                    None
                }
            },
        }
    }
}

enum Claim {
    Named(Box<NewObject>),
    Unnamed,
    /// Scanned already (the same blob in another pack).
    Seen,
}

/// One traversal of a scan's packs.
pub(crate) struct Bulk<'a> {
    pub(crate) ledger: &'a Ledger,
    /// Scan blobs the walk has not named yet, without their path.
    pub(crate) pathless: bool,
    pub(crate) tally: &'a Progress,
    /// Set to stop (a deadline, a closed channel); the traversal checks it.
    pub(crate) stop: &'a AtomicBool,
    /// Whether to stop now (`stop` is set, or the deadline has passed and sets it): the
    /// walk's own check.
    pub(crate) halt: &'a (dyn Fn() -> bool + Sync),
}

impl Bulk<'_> {
    /// Traverses each pack in turn, its objects decoded and scanned on `threads` threads. A
    /// pack that cannot be opened or traversed to its end leaves its named blobs to be read
    /// by id.
    pub(crate) fn traverse<F>(
        &self,
        packs: &[gix::odb::pack::Bundle],
        worker: &Worker<'_, '_>,
        sink: &F,
    ) where
        F: Fn(HistoryFinding<'_>) + Sync,
    {
        let threads = worker.options().threads.max(1);
        // Objects above the streaming limit are never decoded whole here: the traversal of
        // such a pack stops, and its blobs are read (streamed) by id.
        let alloc_limit = usize::try_from(worker.options().stream_above).ok();
        for bundle in packs {
            if self.stop.load(Ordering::Relaxed) {
                return;
            }
            let recent = Recent::default();
            let processor = {
                let mut worker = worker.clone();
                worker.scanner.keep_hits(true);
                let mut delta = Delta::default();
                let recent = &recent;
                move |kind: gix::objs::Kind,
                      data: &[u8],
                      entry: &gix::odb::pack::index::Entry,
                      _: &dyn gix::progress::Progress|
                      -> gix::Result {
                    let message = match kind {
                        gix::objs::Kind::Blob => false,
                        gix::objs::Kind::Commit => true,
                        gix::objs::Kind::Tree | gix::objs::Kind::Tag => return Ok(()),
                    };
                    if (self.halt)() {
                        return Ok(());
                    }
                    if message {
                        self.object(entry.oid, true, data, None, &mut worker, sink);
                        return Ok(());
                    }
                    // A blob the pack stores as a delta of one scanned lately: its keyword
                    // hits are derived from the base's, not searched for again.
                    let given = if data.len() >= MIN_DERIVED {
                        delta.runs(bundle, entry.pack_offset, data.len(), recent).and_then(|base| {
                            worker.scanner.rule_set().derive_hits(&base, &delta.runs, data)
                        })
                    } else {
                        None
                    };
                    worker.scanner.take_hits();
                    self.object(entry.oid, false, data, given.as_ref(), &mut worker, sink);
                    // Kept only when the blob was scanned whole as bytes: then the hits given
                    // (if any) were the ones used.
                    if let Some(hits) = worker.scanner.take_hits() {
                        if given.is_some() {
                            let copied: usize = delta.runs.iter().map(|r| r.len).sum();
                            self.tally.derived.fetch_add(copied as u64, Ordering::Relaxed);
                        }
                        // A blob shorter than a run that is carried over is no use as a base.
                        if data.len() >= MIN_RUN {
                            recent.put(entry.pack_offset, hits);
                        }
                    }
                    Ok(())
                }
            };
            let trees = |ids: &mut dyn Iterator<Item = ObjectId>| self.ledger.add_trees(ids);
            let result = traverse_pack(bundle, threads, alloc_limit, self.stop, &trees, processor);
            if let Err(e) = result {
                tracing::debug!(
                    pack = %bundle.pack.path().display(),
                    error = %e,
                    "pack traversal ended early"
                );
            }
        }
    }

    /// A decoded blob, or a commit (`message`); `hits` are the blob's keyword hits when they
    /// are known.
    fn object<F>(
        &self,
        id: ObjectId,
        message: bool,
        data: &[u8],
        hits: Option<&KeywordHits>,
        worker: &mut Worker<'_, '_>,
        sink: &F,
    ) where
        F: Fn(HistoryFinding<'_>) + Sync,
    {
        // A commit or tag whole: `scan_message` scans its headers and its message apart.
        let text = data;
        let named = |job: &NewObject, worker: &mut Worker<'_, '_>| match job {
            NewObject::Blob(blob) => worker.scan_blob(blob, text, hits, sink),
            NewObject::Commit(_) | NewObject::Tag(_) => {
                worker.scan_message(job, text, sink).unwrap_or_else(|e| {
                    // Counted and said as the walk's workers do (see `scan_new_blobs`).
                    tracing::warn!("cannot read commit or tag {id}: {e}");
                    self.tally.unscanned.fetch_add(1, Ordering::Relaxed);
                    self.tally.unreadable.fetch_add(1, Ordering::Relaxed);
                    Outcome::Scanned(0)
                })
            }
        };
        match self.ledger.claim(&id) {
            Claim::Named(job) => {
                let outcome = named(&job, worker);
                self.tally.settle(outcome, message, &worker.scanner, self.stop);
            }
            Claim::Seen => {}
            // A message is scanned without a path anyway. Without `pathless` the walk is over:
            // a blob it did not name, no ref reaches (see `crate::walk::scan_new_blobs`).
            Claim::Unnamed if !self.pathless && !message => self.ledger.unreferenced(id),
            Claim::Unnamed => {
                let mut flagged = false;
                let outcome =
                    worker.scanner.scan_bytes_given(text, hits, Source { path: None }, |_| {
                        flagged = true;
                    });
                // A message in another encoding is scanned as git shows it too, with its name.
                flagged |= message && crate::walk::foreign_encoding(text).is_some();
                // A Git LFS pointer's content is read and scanned once the walk names it.
                flagged |= !message
                    && worker.options().lfs_objects.is_some()
                    && crate::lfs::Pointer::parse(text).is_some();
                // Cut short, it is scanned again with its path, which counts it.
                // Stopped by the deadline, it is scanned again by name, which counts it.
                flagged |= worker.scanner.cut_short() || worker.scanner.stopped();
                if let Some(job) = self.ledger.scanned(id, outcome, flagged) {
                    // Named while it was being scanned.
                    // Unflagged, the scan was neither cut short nor stopped.
                    let outcome = if flagged { named(&job, worker) } else { outcome };
                    self.tally.settle(outcome, message, &worker.scanner, self.stop);
                }
            }
        }
    }
}

/// Decodes every blob, commit and tag of `bundle`'s pack on `threads` threads, each delta
/// applied while its base is in memory, and hands each to `processor` with its index entry.
///
/// This is gix's `index::File::traverse_with_index` (its delta tree, built from the index,
/// and its parallel traversal), without the trees: a delta's object kind is its base's, so
/// the chains whose base is a tree are left out of the delta tree whole (their ids given to
/// `on_trees`). The walk reads the
/// trees it needs itself, and a history's trees are more than half of its objects (on
/// rust-lang/cargo 106,120 of 186,723): decoding them here cost the traversal's threads as
/// much as the walk's reading them. Object hashes are not recomputed: git's index-pack wrote
/// the index from these very bytes, and hashing 1.6 GB again would double the scan's cost.
fn traverse_pack<P>(
    bundle: &gix::odb::pack::Bundle,
    threads: usize,
    alloc_limit: Option<usize>,
    stop: &AtomicBool,
    on_trees: &dyn Fn(&mut dyn Iterator<Item = gix::ObjectId>),
    mut processor: P,
) -> gix::Result<()>
where
    P: FnMut(gix::objs::Kind, &[u8], &IndexEntry, &dyn gix::progress::Progress) -> gix::Result
        + Send
        + Clone,
{
    use gix::odb::pack::cache::delta::{traverse, Tree};
    let (index, pack) = (&bundle.index, &bundle.pack);
    let mut entries: Vec<IndexEntry> = index.iter().collect();
    entries.sort_unstable_by_key(|e| e.pack_offset);
    // Where each entry ends: the next one's start, or the end of the pack's entries.
    let ends: Vec<u64> = entries
        .iter()
        .skip(1)
        .map(|e| e.pack_offset)
        .chain(std::iter::once(pack.pack_end() as u64))
        .collect();
    let trees = tree_chains(bundle, &entries);
    on_trees(&mut entries.iter().zip(&trees).filter(|(_, tree)| **tree).map(|(e, _)| e.oid));
    let kept = entries.into_iter().zip(trees).filter(|(_, tree)| !tree).map(|(e, _)| e);
    let tree = Tree::from_offsets_in_pack(
        pack.path(),
        kept,
        &|e: &IndexEntry| e.pack_offset,
        &|id| Ok(index.lookup(id).map(|i| index.pack_offset_at_index(i))),
        &mut gix::progress::Discard,
        stop,
        index.object_hash(),
    )?;
    // The delta tree takes an entry to end where the next entry it holds starts; a left-out
    // tree in between is not part of it.
    let resolve = bounded(move |slice, pack| {
        let next = ends.partition_point(|&end| end <= slice.start);
        let end = ends.get(next).map_or(slice.end, |&end| end.min(slice.end));
        pack.entry_slice(slice.start..end)
    });
    let inspect = move |entry: &mut IndexEntry,
                        progress: &dyn gix::progress::Progress,
                        context: traverse::Context<'_>|
          -> gix::Result {
        match context.entry.header.as_kind() {
            Some(kind) => processor(kind, context.decompressed, entry, progress),
            None => Ok(()),
        }
    };
    let mut size_progress = gix::progress::Discard;
    tree.traverse(
        resolve,
        pack,
        pack.pack_end() as u64,
        inspect,
        traverse::Options {
            object_progress: Box::new(gix::progress::Discard),
            size_progress: &mut size_progress,
            thread_limit: Some(threads),
            should_interrupt: stop,
            object_hash: index.object_hash(),
            alloc_limit_bytes: alloc_limit,
        },
    )?;
    Ok(())
}

type IndexEntry = gix::odb::pack::index::Entry;

/// A resolver for the delta tree's traversal, with the lifetimes it asks for.
fn bounded<F>(f: F) -> F
where
    F: for<'r> Fn(
        gix::odb::pack::data::EntryRange,
        &'r gix::odb::pack::data::File,
    ) -> Option<&'r [u8]>,
{
    f
}

/// For each entry of `entries` (sorted by pack offset), whether it is a tree: a tree object,
/// or a delta whose chain of bases ends in one. An entry whose chain cannot be followed (a
/// base outside the pack, a cycle, an unreadable header) counts as no tree: it is left to the
/// traversal, which fails on it as it always did.
fn tree_chains(bundle: &gix::odb::pack::Bundle, entries: &[IndexEntry]) -> Vec<bool> {
    let position = |offset: u64| entries.binary_search_by_key(&offset, |e| e.pack_offset).ok();
    chain_ends(entries.len(), |i| {
        let offset = entries[i].pack_offset;
        let Ok(entry) = bundle.pack.entry(offset) else { return Link::Other };
        match entry.header {
            Header::Tree => Link::Tree,
            Header::Blob | Header::Commit | Header::Tag => Link::Other,
            Header::OfsDelta { .. } | Header::RefDelta { .. } => {
                base_offset(bundle, offset, &entry.header)
                    .and_then(position)
                    .map_or(Link::Other, Link::Delta)
            }
        }
    })
}

/// The pack offset of the base of the delta entry at `offset` with `header`: `None` when the
/// pack does not hold it, or the entry is no delta.
fn base_offset(bundle: &gix::odb::pack::Bundle, offset: u64, header: &Header) -> Option<u64> {
    match *header {
        Header::OfsDelta { base_distance } => {
            Header::verified_base_pack_offset(offset, base_distance)
        }
        Header::RefDelta { base_id } => {
            bundle.index.lookup(base_id).map(|i| bundle.index.pack_offset_at_index(i))
        }
        Header::Tree | Header::Blob | Header::Commit | Header::Tag => None,
    }
}

/// What one pack entry is, for [`chain_ends`].
#[derive(Clone, Copy, Debug, PartialEq)]
enum Link {
    Tree,
    /// Not a tree, or a chain that cannot be followed.
    Other,
    /// A delta of the entry at this position.
    Delta(usize),
}

/// For each of `n` entries, whether its chain of bases (`link`) ends in a tree. Each entry is
/// followed once, whatever the chains: a cycle ends, as no tree, where it meets itself.
fn chain_ends(n: usize, link: impl Fn(usize) -> Link) -> Vec<bool> {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        Unknown,
        /// On the chain being followed.
        Visiting,
        Tree,
        Other,
    }
    let mut states = vec![State::Unknown; n];
    let mut chain = Vec::new();
    for start in 0..n {
        // Follows the chain down to a known state, then gives it to every entry on the way.
        let mut at = start;
        let state = loop {
            match states[at] {
                State::Unknown => {}
                State::Visiting => break State::Other,
                known => break known,
            }
            states[at] = State::Visiting;
            chain.push(at);
            match link(at) {
                Link::Tree => break State::Tree,
                Link::Delta(base) if base < n => at = base,
                Link::Other | Link::Delta(_) => break State::Other,
            }
        };
        for &i in &chain {
            states[i] = state;
        }
        chain.clear();
    }
    states.into_iter().map(|s| s == State::Tree).collect()
}

/// The keyword hits of blobs scanned lately, by pack offset, for the deltas made from them.
/// The traversal decodes a base's deltas right after the base (depth first on each thread),
/// so a small window of the latest is enough; a base that has left it is searched as usual.
#[derive(Default)]
struct Recent {
    inner: Mutex<RecentInner>,
}

#[derive(Default)]
struct RecentInner {
    hits: HashMap<u64, Arc<KeywordHits>>,
    order: VecDeque<u64>,
    bytes: usize,
}

/// Bytes of keyword hits kept, with each entry's own cost (8 bytes a hit, 128 an entry).
const RECENT_BYTES: usize = 4 << 20;

impl Recent {
    fn lock(&self) -> std::sync::MutexGuard<'_, RecentInner> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn get(&self, offset: u64) -> Option<Arc<KeywordHits>> {
        self.lock().hits.get(&offset).cloned()
    }

    fn put(&self, offset: u64, hits: KeywordHits) {
        let mut inner = self.lock();
        let size = Recent::cost(&hits);
        if let Some(old) = inner.hits.insert(offset, Arc::new(hits)) {
            inner.bytes -= Recent::cost(&old);
        } else {
            inner.order.push_back(offset);
        }
        inner.bytes += size;
        while inner.bytes > RECENT_BYTES {
            let Some(oldest) = inner.order.pop_front() else { break };
            if let Some(old) = inner.hits.remove(&oldest) {
                inner.bytes -= Recent::cost(&old);
            }
        }
    }

    /// What an entry holds: its hits, and the map slot, `Arc` and queue slot around them
    /// (a blob without hits is not free).
    fn cost(hits: &KeywordHits) -> usize {
        hits.heap_bytes() + 128
    }
}

/// A thread's buffers for reading deltas.
#[derive(Default)]
struct Delta {
    inflate: gix::zlib::Inflate,
    bytes: Vec<u8>,
    runs: Vec<Run>,
}

/// Each thread's copy of the traversal's processor starts with buffers of its own.
impl Clone for Delta {
    fn clone(&self) -> Self {
        Delta::default()
    }
}

/// Blobs smaller than this are searched: reading their delta again costs about as much.
const MIN_DERIVED: usize = 2048;

/// Buffers above this are given back after use.
const KEEP_BUFFER: usize = 1 << 20;

/// Deltas larger than this are not read again for their runs.
const MAX_DELTA: u64 = 64 << 20;

impl Delta {
    /// When the pack stores the object at `offset`, of `len` bytes, as a delta of a base
    /// whose hits `recent` holds: those hits, with the runs the delta copies from the base in
    /// `self.runs`.
    fn runs(
        &mut self,
        bundle: &gix::odb::pack::Bundle,
        offset: u64,
        len: usize,
        recent: &Recent,
    ) -> Option<Arc<KeywordHits>> {
        let entry = bundle.pack.entry(offset).ok()?;
        let hits = recent.get(base_offset(bundle, offset, &entry.header)?)?;
        if entry.decompressed_size > MAX_DELTA {
            return None;
        }
        self.bytes.clear();
        self.bytes.resize(usize::try_from(entry.decompressed_size).ok()?, 0);
        let read = bundle.pack.decompress_entry(&entry, &mut self.inflate, &mut self.bytes);
        let parsed = read.ok().and_then(|_| copies(&self.bytes, &mut self.runs));
        // A large delta's buffers are not kept for the rest of the pack.
        if self.bytes.capacity() > KEEP_BUFFER {
            self.bytes = Vec::new();
        }
        if self.runs.capacity() * std::mem::size_of::<Run>() > KEEP_BUFFER {
            self.runs.truncate(KEEP_BUFFER / std::mem::size_of::<Run>());
            self.runs.shrink_to_fit();
        }
        let (base_size, result_size) = parsed?;
        (result_size == len && base_size == hits.input_len()).then_some(hits)
    }
}

/// The runs a git delta copies from its base (`gitformat-pack`, "Deltified representation"):
/// the base's and the result's sizes as little-endian base-128 numbers, then instructions
/// that each copy a run of the base (high bit set; the bits below say which bytes of the
/// offset and size follow; a size of 0 is 0x10000) or insert the next 1-127 bytes. Runs that
/// continue each other in both inputs are joined, and runs shorter than [`MIN_RUN`] are left
/// out (they are searched like new bytes: a crafted delta of millions of 1-byte copies costs
/// no memory here). `None` for a delta that is not well formed.
fn copies(delta: &[u8], runs: &mut Vec<Run>) -> Option<(usize, usize)> {
    fn size(delta: &[u8], at: &mut usize) -> Option<usize> {
        let mut value = 0usize;
        for shift in (0..64).step_by(7) {
            let byte = *delta.get(*at)?;
            *at += 1;
            value |= usize::from(byte & 0x7f).checked_shl(shift)?;
            if byte & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }
    runs.clear();
    let mut pending: Option<Run> = None;
    let mut at = 0;
    let base_size = size(delta, &mut at)?;
    let result_size = size(delta, &mut at)?;
    let mut to = 0usize;
    while at < delta.len() {
        let op = delta[at];
        at += 1;
        if op & 0x80 != 0 {
            let (mut from, mut len) = (0usize, 0usize);
            for bit in 0..4 {
                if op & (1 << bit) != 0 {
                    from |= usize::from(*delta.get(at)?) << (8 * bit);
                    at += 1;
                }
            }
            for bit in 0..3 {
                if op & (0x10 << bit) != 0 {
                    len |= usize::from(*delta.get(at)?) << (8 * bit);
                    at += 1;
                }
            }
            if len == 0 {
                len = 0x10000;
            }
            if from.checked_add(len)? > base_size {
                return None;
            }
            // A run that continues the last one in both inputs extends it: git splits long
            // copies at 64 KiB, and every boundary costs a search.
            match &mut pending {
                Some(last) if last.to + last.len == to && last.from + last.len == from => {
                    last.len += len;
                }
                _ => {
                    runs.extend(pending.take().filter(|r| r.len >= MIN_RUN));
                    pending = Some(Run { from, to, len });
                }
            }
            to = to.checked_add(len)?;
        } else if op != 0 {
            at += usize::from(op);
            to = to.checked_add(usize::from(op))?;
        } else {
            return None;
        }
    }
    runs.extend(pending.filter(|r| r.len >= MIN_RUN));
    (at == delta.len() && to == result_size).then_some((base_size, result_size))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coverage::NewBlob;

    fn id(n: u8) -> ObjectId {
        ObjectId::from_bytes_or_panic(&[n; 20])
    }

    fn blob(n: u8) -> NewObject {
        NewObject::Blob(NewBlob {
            id: id(n),
            path: format!("f{n}").into_bytes(),
            commit: id(0xc0),
            parent_blob: crate::coverage::ParentBlob::None,
        })
    }

    fn path(job: &NewObject) -> Vec<u8> {
        match job {
            NewObject::Blob(b) => b.path.clone(),
            NewObject::Commit(c) | NewObject::Tag(c) => c.to_string().into_bytes(),
        }
    }

    fn named(claim: Claim) -> Option<Vec<u8>> {
        match claim {
            Claim::Named(job) => Some(path(&job)),
            Claim::Unnamed | Claim::Seen => None,
        }
    }

    #[test]
    fn delta_runs_are_read_as_git_writes_them() {
        let mut runs = Vec::new();
        // Base of 1000 bytes (0xe8 0x07), result of 370 (0xf2 0x02): copy 200 bytes at 0x0102,
        // insert 4 bytes, copy 140 at 0x10 (one offset byte, one size byte), then 10 at 0x9c,
        // which continues that run in both inputs and extends it, then 16 at 0 (no offset
        // byte): a run that short is searched, not carried over.
        let delta = [
            0xe8, 0x07, 0xf2, 0x02, 0x93, 0x02, 0x01, 200, 4, b'a', b'b', b'c', b'd', 0x91, 0x10,
            140, 0x91, 0x9c, 10, 0x90, 16,
        ];
        assert_eq!(copies(&delta, &mut runs), Some((1000, 370)));
        assert_eq!(
            runs,
            [Run { from: 0x102, to: 0, len: 200 }, Run { from: 0x10, to: 204, len: 150 }]
        );
        // A million 1-byte copies from one offset keep nothing.
        let mut many = vec![0x02, 0xc0, 0x84, 0x3d];
        many.extend([0x90, 1].repeat(1_000_000));
        assert_eq!(copies(&many, &mut runs), Some((2, 1_000_000)));
        assert!(runs.is_empty());
        // A size of 0 is 0x10000.
        let long = [0x80, 0x80, 0x04, 0x80, 0x80, 0x04, 0x80];
        assert_eq!(copies(&long, &mut runs), Some((0x10000, 0x10000)));
        assert_eq!(runs, [Run { from: 0, to: 0, len: 0x10000 }]);
        // Not well formed: a copy beyond the base, the reserved instruction 0, a result of
        // another size, an instruction cut short, a size that never ends.
        for bad in [
            &[10, 20, 0x91, 8, 4][..],
            &[10, 4, 0][..],
            &[10, 5, 0x91, 0, 4][..],
            &[10, 4, 0x93, 1][..],
            &[0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80][..],
        ] {
            assert_eq!(copies(bad, &mut runs), None, "{bad:?}");
        }
    }

    #[test]
    fn a_blob_named_before_it_is_decoded_is_claimed_once_with_its_path() {
        let (ledger, tally) = (Ledger::default(), Progress::default());
        assert!(ledger.name(blob(1), &tally).is_none());
        assert_eq!(named(ledger.claim(&id(1))), Some(b"f1".to_vec()));
        // The same blob in a second pack is not scanned again.
        assert!(matches!(ledger.claim(&id(1)), Claim::Seen));
        assert!(ledger.unscanned().is_empty());
    }

    #[test]
    fn a_blob_decoded_before_it_is_named_is_scanned_again_only_if_it_found_something() {
        let (ledger, tally) = (Ledger::default(), Progress::default());
        assert!(matches!(ledger.claim(&id(1)), Claim::Unnamed));
        assert!(ledger.scanned(id(1), Outcome::Scanned(10), false).is_none());
        assert!(ledger.scanned(id(2), Outcome::Scanned(20), true).is_none());
        // Clean: done, counted when named.
        assert!(ledger.name(blob(1), &tally).is_none());
        assert_eq!(tally.blobs.load(Ordering::Relaxed), 1);
        assert_eq!(tally.bytes.load(Ordering::Relaxed), 10);
        // Found something without its path: handed back to be scanned with it.
        assert_eq!(ledger.name(blob(2), &tally).map(|b| path(&b)), Some(b"f2".to_vec()));
        assert_eq!(tally.blobs.load(Ordering::Relaxed), 1);
        assert!(ledger.unscanned().is_empty());
    }

    #[test]
    fn commits_go_through_the_ledger_as_messages_and_tags_are_read_by_id() {
        let (ledger, tally) = (Ledger::default(), Progress::default());
        // Decoded first, clean: counted as a message when named.
        assert!(ledger.scanned(id(1), Outcome::Scanned(7), false).is_none());
        assert!(ledger.name(NewObject::Commit(id(1)), &tally).is_none());
        assert_eq!(tally.messages.load(Ordering::Relaxed), 1);
        assert_eq!(tally.blobs.load(Ordering::Relaxed), 0);
        // Decoded first, with a finding: handed back to be read and reported.
        assert!(ledger.scanned(id(2), Outcome::Scanned(7), true).is_none());
        assert!(
            matches!(ledger.name(NewObject::Commit(id(2)), &tally), Some(NewObject::Commit(c)) if c == id(2))
        );
        // Named first: claimed by the traversal.
        assert!(ledger.name(NewObject::Commit(id(3)), &tally).is_none());
        assert!(
            matches!(ledger.claim(&id(3)), Claim::Named(job) if matches!(*job, NewObject::Commit(_)))
        );
        // Tags never wait in the ledger.
        assert!(matches!(ledger.name(NewObject::Tag(id(4)), &tally), Some(NewObject::Tag(_))));
        assert!(ledger.unscanned().is_empty());
    }

    #[test]
    fn a_blob_named_while_it_is_scanned_without_a_path_is_returned_to_the_scanner() {
        let (ledger, tally) = (Ledger::default(), Progress::default());
        assert!(matches!(ledger.claim(&id(1)), Claim::Unnamed));
        assert!(ledger.name(blob(1), &tally).is_none());
        let back = ledger.scanned(id(1), Outcome::Scanned(10), true);
        assert_eq!(back.map(|b| path(&b)), Some(b"f1".to_vec()));
        assert!(matches!(ledger.claim(&id(1)), Claim::Seen));
    }

    #[test]
    fn named_blobs_no_pack_held_are_left_to_be_read_by_id() {
        let (ledger, tally) = (Ledger::default(), Progress::default());
        assert!(ledger.name(blob(1), &tally).is_none());
        assert!(ledger.name(blob(2), &tally).is_none());
        assert_eq!(named(ledger.claim(&id(2))), Some(b"f2".to_vec()));
        let left: Vec<Vec<u8>> = ledger.unscanned().iter().map(path).collect();
        assert_eq!(left, [b"f1".to_vec()]);
        assert!(ledger.unscanned().is_empty(), "handed out once");
        // Never scanned without a path and never named: not in the ledger's results.
        assert!(matches!(ledger.claim(&id(3)), Claim::Unnamed));
    }
}

/// The traversal without trees, checked against git on real packs.
#[cfg(test)]
mod pack_tests {
    use std::collections::BTreeMap;
    use std::path::Path;
    use std::process::{Command, Stdio};

    use super::*;

    fn git(dir: &Path, args: &[&str], input: Option<&[u8]>) -> Vec<u8> {
        let mut child = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("git runs");
        let mut stdin = child.stdin.take().expect("stdin");
        if let Some(input) = input {
            // A git that fails stops reading: its status says why.
            let _ = std::io::Write::write_all(&mut stdin, input);
        }
        drop(stdin);
        let out = child.wait_with_output().expect("git ends");
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        out.stdout
    }

    /// Commits that change files in nested directories, so that trees are deltas of trees.
    fn commit_rounds(repo: &Path, rounds: std::ops::Range<usize>) {
        for round in rounds {
            for dir in 0..4 {
                let path = repo.join(format!("a/b{dir}/c"));
                std::fs::create_dir_all(&path).expect("dirs");
                for file in 0..12 {
                    let body: String = (0..200)
                        .map(|i| {
                            format!("line {i} of {dir}/{file}, round {}\n", round * (file % 3))
                        })
                        .collect();
                    std::fs::write(path.join(format!("f{file}-{}.txt", round % 5)), body)
                        .expect("write");
                }
            }
            git(repo, &["add", "-A"], None);
            git(repo, &["commit", "-q", "-m", &format!("round {round}")], None);
        }
    }

    fn only_pack(repo: &Path) -> gix::odb::pack::Bundle {
        let dir = repo.join(".git/objects/pack");
        let idx = std::fs::read_dir(&dir)
            .expect("pack dir")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|e| e == "idx"))
            .expect("a pack index");
        gix::odb::pack::Bundle::at(idx, gix::hash::Kind::Sha1).expect("pack opens")
    }

    /// Every object of the pack with git's type for it.
    fn git_types(repo: &Path, bundle: &gix::odb::pack::Bundle) -> BTreeMap<ObjectId, String> {
        let ids: String = bundle.index.iter().map(|e| format!("{}\n", e.oid)).collect();
        let out = git(
            repo,
            &["cat-file", "--batch-check=%(objectname) %(objecttype)"],
            Some(ids.as_bytes()),
        );
        String::from_utf8(out)
            .expect("utf-8")
            .lines()
            .map(|line| {
                let (id, kind) = line.split_once(' ').expect("id and type");
                (ObjectId::from_hex(id.as_bytes()).expect("id"), kind.to_owned())
            })
            .collect()
    }

    /// `tree_chains` names exactly git's trees, and the traversal hands out exactly the other
    /// objects, each once, with the bytes git has for it.
    fn check_pack(repo: &Path, bundle: &gix::odb::pack::Bundle) {
        let types = git_types(repo, bundle);
        let mut entries: Vec<IndexEntry> = bundle.index.iter().collect();
        entries.sort_unstable_by_key(|e| e.pack_offset);
        let trees = tree_chains(bundle, &entries);
        for (entry, tree) in entries.iter().zip(&trees) {
            assert_eq!(*tree, types[&entry.oid] == "tree", "{}", entry.oid);
        }
        let seen = Mutex::new(Vec::new());
        let given = Mutex::new(Vec::new());
        let stop = AtomicBool::new(false);
        traverse_pack(
            bundle,
            2,
            None,
            &stop,
            &|ids| given.lock().expect("lock").extend(ids),
            |kind, data: &[u8], entry: &IndexEntry, _: &dyn gix::progress::Progress| {
                let id = gix::objs::compute_hash(gix::hash::Kind::Sha1, kind, data).expect("hash");
                assert_eq!(id, entry.oid, "decoded bytes are the object's");
                seen.lock().expect("lock").push((entry.oid, kind.to_string()));
                Ok(())
            },
        )
        .expect("the traversal ends");
        let mut seen = seen.into_inner().expect("lock");
        seen.sort();
        // The trees left out are given by id.
        let mut given = given.into_inner().expect("lock");
        given.sort();
        let trees: Vec<ObjectId> =
            types.iter().filter(|(_, kind)| *kind == "tree").map(|(id, _)| *id).collect();
        assert_eq!(given, trees);
        let want: Vec<(ObjectId, String)> =
            types.into_iter().filter(|(_, kind)| kind != "tree").collect();
        assert_eq!(seen, want);
    }

    /// Chains a crafted pack can hold: cycles, a delta of itself, bases that are missing or
    /// out of range, and a chain of a million links (followed once each).
    #[test]
    fn chains_end_in_trees_only_when_followed_to_one_and_each_link_is_followed_once() {
        use std::cell::Cell;
        let links = [
            Link::Tree,     // 0
            Link::Delta(0), // 1: tree
            Link::Delta(1), // 2: tree
            Link::Other,    // 3
            Link::Delta(3), // 4: blob
            Link::Delta(5), // 5: a delta of itself
            Link::Delta(7), // 6: into a cycle
            Link::Delta(8), // 7 <-> 8
            Link::Delta(7),
            Link::Delta(99), // 9: out of range
            Link::Delta(2),  // 10: tree, base before
        ];
        let follows = Cell::new(0);
        let ends = chain_ends(links.len(), |i| {
            follows.set(follows.get() + 1);
            links[i]
        });
        let trees: Vec<usize> = (0..links.len()).filter(|&i| ends[i]).collect();
        assert_eq!(trees, [0, 1, 2, 10]);
        assert_eq!(follows.get(), links.len());
        // A million links, each a delta of the next, the last a tree: linear, not quadratic.
        let n = 1_000_000;
        let follows = Cell::new(0);
        let ends = chain_ends(n, |i| {
            follows.set(follows.get() + 1);
            if i + 1 == n {
                Link::Tree
            } else {
                Link::Delta(i + 1)
            }
        });
        assert!(ends.iter().all(|&tree| tree));
        assert_eq!(follows.get(), n);
    }

    #[test]
    fn a_repacked_history_is_traversed_without_its_trees() {
        let dir = tempfile::tempdir().expect("temp dir");
        let repo = dir.path();
        git(repo, &["init", "-q", "-b", "main"], None);
        commit_rounds(repo, 0..12);
        git(repo, &["repack", "-a", "-d", "-f", "-q", "--depth=50", "--window=50"], None);
        let bundle = only_pack(repo);
        let deltas = String::from_utf8(git(
            repo,
            &["verify-pack", "-v", &bundle.index.path().to_string_lossy()],
            None,
        ))
        .expect("utf-8");
        assert!(
            deltas.lines().any(|l| l.contains(" tree ") && l.split_whitespace().count() == 7),
            "the pack holds trees stored as deltas"
        );
        check_pack(repo, &bundle);
    }

    /// A push's pack completed by `index-pack --fix-thin`: deltas name bases appended after
    /// them, by id (what a pre-receive hook's quarantine holds).
    #[test]
    fn a_thin_pack_completed_with_bases_after_their_deltas_is_traversed_without_its_trees() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (old, new) = (dir.path().join("old"), dir.path().join("new"));
        std::fs::create_dir_all(&old).expect("dir");
        git(&old, &["init", "-q", "-b", "main"], None);
        commit_rounds(&old, 0..6);
        let base = String::from_utf8(git(&old, &["rev-parse", "HEAD"], None)).expect("utf-8");
        commit_rounds(&old, 6..12);
        let thin = git(
            &old,
            &["pack-objects", "--thin", "--stdout", "--revs", "-q", "--depth=50"],
            Some(format!("HEAD\n^{}\n", base.trim()).as_bytes()),
        );
        git(
            dir.path(),
            &[
                "clone",
                "-q",
                "--bare",
                "--no-local",
                &old.to_string_lossy(),
                &new.to_string_lossy(),
            ],
            None,
        );
        // The receiving repository has the old history only.
        git(&new, &["update-ref", "refs/heads/main", base.trim()], None);
        git(&new, &["reflog", "expire", "--expire=now", "--all"], None);
        git(&new, &["gc", "-q", "--prune=now"], None);
        let before: Vec<_> = std::fs::read_dir(new.join("objects/pack"))
            .expect("dir")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .collect();
        git(&new, &["index-pack", "--fix-thin", "--stdin"], Some(&thin));
        let idx = std::fs::read_dir(new.join("objects/pack"))
            .expect("dir")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|e| e == "idx") && !before.contains(p))
            .expect("the thin pack's index");
        let bundle = gix::odb::pack::Bundle::at(idx, gix::hash::Kind::Sha1).expect("pack opens");
        let forward = bundle.index.iter().any(|e| {
            let Ok(Header::RefDelta { base_id }) =
                bundle.pack.entry(e.pack_offset).map(|x| x.header)
            else {
                return false;
            };
            let base = bundle.index.lookup(base_id).map(|i| bundle.index.pack_offset_at_index(i));
            base.is_some_and(|base| base > e.pack_offset)
        });
        assert!(forward, "the completed pack holds deltas whose bases come after them");
        check_pack(&new, &bundle);
    }
}
