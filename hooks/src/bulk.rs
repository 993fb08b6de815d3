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
//! two run at the same time and meet in a [`Ledger`] keyed by blob id:
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
//! never reported. The ledger holds one entry per blob of the packs: the same order of memory
//! as the walk's own set of visited objects.
//!
//! [`RuleSet::path_independent`]: leakgate_rules::RuleSet::path_independent

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use gix::odb::pack::index::traverse::{with_index, SafetyCheck};
use gix::ObjectId;
use leakgate_rules::{Outcome, Source};

use crate::coverage::NewBlob;
use crate::walk::{HistoryFinding, Progress, Worker};

/// Where each blob of the traversed packs stands.
#[derive(Debug)]
enum Slot {
    /// Named by the walk, not decoded yet.
    Named(Box<NewBlob>),
    /// Decoded and scanned without a path before the walk named it.
    Scanned { outcome: Outcome, flagged: bool },
    /// Named and scanned with its path (or handed back to be).
    Done,
}

/// The meeting point of the walk and the traversal.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    slots: Mutex<HashMap<ObjectId, Slot>>,
}

impl Ledger {
    fn slots(&self) -> std::sync::MutexGuard<'_, HashMap<ObjectId, Slot>> {
        // A thread that panicked while holding the lock left a consistent map: every
        // operation is one insert or replace.
        self.slots.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The walk names a new blob. Returns it when it must be read by id and scanned with its
    /// path now: the traversal scanned it without a path and found something.
    pub(crate) fn name(&self, blob: NewBlob, tally: &Progress) -> Option<NewBlob> {
        let mut slots = self.slots();
        match slots.entry(blob.id) {
            Entry::Vacant(slot) => {
                slot.insert(Slot::Named(Box::new(blob)));
                None
            }
            Entry::Occupied(mut slot) => match std::mem::replace(slot.get_mut(), Slot::Done) {
                Slot::Scanned { flagged: true, .. } => Some(blob),
                Slot::Scanned { outcome, flagged: false } => {
                    tally.record(outcome, false);
                    None
                }
                // The walk names each blob once; keep what is there.
                kept @ (Slot::Named(_) | Slot::Done) => {
                    *slot.get_mut() = kept;
                    None
                }
            },
        }
    }

    /// Named blobs the traversal did not decode, to be read by id.
    pub(crate) fn unscanned(&self) -> Vec<NewBlob> {
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

    /// Takes a named blob for scanning; `None` when it is not named (yet).
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
    fn scanned(&self, id: ObjectId, outcome: Outcome, flagged: bool) -> Option<Box<NewBlob>> {
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
    Named(Box<NewBlob>),
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
            let processor = {
                let mut worker = worker.clone();
                move |kind: gix::objs::Kind,
                      data: &[u8],
                      entry: &gix::odb::pack::index::Entry,
                      _: &dyn gix::progress::Progress|
                      -> gix::Result {
                    if kind == gix::objs::Kind::Blob && !(self.halt)() {
                        self.blob(entry.oid, data, &mut worker, sink);
                    }
                    Ok(())
                }
            };
            let options = with_index::Options {
                thread_limit: Some(threads),
                // The index was written by git (index-pack) from these very bytes; hashing
                // 1.6 GB of objects again would double the cost of the scan.
                check: SafetyCheck::SkipFileAndObjectChecksumVerification,
                alloc_limit_bytes: alloc_limit,
            };
            let result = bundle.index.traverse_with_index(
                &bundle.pack,
                processor,
                &mut gix::progress::Discard,
                self.stop,
                options,
            );
            if let Err(e) = result {
                tracing::debug!(
                    pack = %bundle.pack.path().display(),
                    error = %e,
                    "pack traversal ended early"
                );
            }
        }
    }

    fn blob<F>(&self, id: ObjectId, data: &[u8], worker: &mut Worker<'_, '_>, sink: &F)
    where
        F: Fn(HistoryFinding<'_>) + Sync,
    {
        match self.ledger.claim(&id) {
            Claim::Named(blob) => {
                let outcome = worker.scan_blob(&blob, data, sink);
                self.tally.record(outcome, false);
            }
            Claim::Seen => {}
            Claim::Unnamed if !self.pathless => {}
            Claim::Unnamed => {
                let mut flagged = false;
                let outcome = worker.scanner.scan_bytes(data, Source { path: None }, |_| {
                    flagged = true;
                });
                if let Some(blob) = self.ledger.scanned(id, outcome, flagged) {
                    // Named while it was being scanned.
                    let outcome =
                        if flagged { worker.scan_blob(&blob, data, sink) } else { outcome };
                    self.tally.record(outcome, false);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob(n: u8) -> NewBlob {
        NewBlob {
            id: ObjectId::from_bytes_or_panic(&[n; 20]),
            path: format!("f{n}").into_bytes(),
            commit: ObjectId::from_bytes_or_panic(&[0xc0; 20]),
            parent_blob: None,
        }
    }

    fn named(claim: Claim) -> Option<Vec<u8>> {
        match claim {
            Claim::Named(b) => Some(b.path),
            Claim::Unnamed | Claim::Seen => None,
        }
    }

    #[test]
    fn a_blob_named_before_it_is_decoded_is_claimed_once_with_its_path() {
        let (ledger, tally) = (Ledger::default(), Progress::default());
        assert!(ledger.name(blob(1), &tally).is_none());
        assert_eq!(named(ledger.claim(&blob(1).id)), Some(b"f1".to_vec()));
        // The same blob in a second pack is not scanned again.
        assert!(matches!(ledger.claim(&blob(1).id), Claim::Seen));
        assert!(ledger.unscanned().is_empty());
    }

    #[test]
    fn a_blob_decoded_before_it_is_named_is_scanned_again_only_if_it_found_something() {
        let (ledger, tally) = (Ledger::default(), Progress::default());
        assert!(matches!(ledger.claim(&blob(1).id), Claim::Unnamed));
        assert!(ledger.scanned(blob(1).id, Outcome::Scanned(10), false).is_none());
        assert!(ledger.scanned(blob(2).id, Outcome::Scanned(20), true).is_none());
        // Clean: done, counted when named.
        assert!(ledger.name(blob(1), &tally).is_none());
        assert_eq!(tally.blobs.load(Ordering::Relaxed), 1);
        assert_eq!(tally.bytes.load(Ordering::Relaxed), 10);
        // Found something without its path: handed back to be scanned with it.
        assert_eq!(ledger.name(blob(2), &tally).map(|b| b.path), Some(b"f2".to_vec()));
        assert_eq!(tally.blobs.load(Ordering::Relaxed), 1);
        assert!(ledger.unscanned().is_empty());
    }

    #[test]
    fn a_blob_named_while_it_is_scanned_without_a_path_is_returned_to_the_scanner() {
        let (ledger, tally) = (Ledger::default(), Progress::default());
        assert!(matches!(ledger.claim(&blob(1).id), Claim::Unnamed));
        assert!(ledger.name(blob(1), &tally).is_none());
        let back = ledger.scanned(blob(1).id, Outcome::Scanned(10), true);
        assert_eq!(back.map(|b| b.path), Some(b"f1".to_vec()));
        assert!(matches!(ledger.claim(&blob(1).id), Claim::Seen));
    }

    #[test]
    fn named_blobs_no_pack_held_are_left_to_be_read_by_id() {
        let (ledger, tally) = (Ledger::default(), Progress::default());
        assert!(ledger.name(blob(1), &tally).is_none());
        assert!(ledger.name(blob(2), &tally).is_none());
        assert_eq!(named(ledger.claim(&blob(2).id)), Some(b"f2".to_vec()));
        let left: Vec<Vec<u8>> = ledger.unscanned().into_iter().map(|b| b.path).collect();
        assert_eq!(left, [b"f1".to_vec()]);
        assert!(ledger.unscanned().is_empty(), "handed out once");
        // Never scanned without a path and never named: not in the ledger's results.
        assert!(matches!(ledger.claim(&blob(3).id), Claim::Unnamed));
    }
}
