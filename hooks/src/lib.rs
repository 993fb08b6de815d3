//! leakgate's git side: finding the blobs that a range of commits adds, and scanning them.
//!
//! The same walk serves `leakgate scan --git` (history) and, with the repository's existing
//! refs as the boundary, the pre-receive hook: each new blob is scanned once and attributed to
//! the first commit and path that add it. This crate knows nothing of HTTP or storage.
#![forbid(unsafe_code)]

mod walk;

pub use walk::{
    open_repository, scan_history, HistoryError, HistoryFinding, HistoryStats, Selection,
};
