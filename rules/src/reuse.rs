//! Keyword hits carried from one input to another that is made from it.
//!
//! A git pack stores most versions of a file as a delta against another object: runs of bytes
//! copied from the base, and a few new bytes. The keyword pass is the scan's main per-byte cost,
//! and it is position-local: whether a keyword starts at a position depends on that keyword's
//! own bytes and nothing around them (the prefilter looks at the first 4 or 8 bytes of the
//! candidate keyword, the automaton confirms anchored at the position). So the hits of a
//! delta's result are, exactly:
//! - the base's hits that lie wholly inside a copied run, moved to where the run lands;
//! - what a search finds at the other positions: new bytes, and the last `longest - 1`
//!   positions of each run, keeping there only keywords that reach past the run's end.
//!
//! The decoding layer's base64 runs (maximal runs of the alphabet, [`MIN_BASE64`] bytes or
//! more, looked for everywhere) are as local: a run in the result whose bytes, and the byte
//! on each side of it, lie inside one copied run is a run of the base there, and every other
//! run holds a new byte or a copied run's first or last byte, around which the result is
//! searched.
//!
//! Nothing else is carried over: windows, decoding layers, confirmation and everything after
//! the keyword pass run on the result as on any input, so a scan given derived hits reports
//! what a scan that searched every byte reports. Debug builds check every derived list
//! against a full search.

use std::fmt;

use crate::decode::{is_base64, Base64Runs, MIN_BASE64};
use crate::engine::RuleSet;
use crate::gate::Hit;

/// A run of `len` bytes at `from` in the base that lands at `to` in the result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Run {
    /// Where the run starts in the base.
    pub from: usize,
    /// Where it lands in the result.
    pub to: usize,
    /// Its length.
    pub len: usize,
}

/// The keyword hits of one whole input (positions and keywords, never the input's bytes).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct KeywordHits {
    /// The input's length.
    len: usize,
    /// `(start, keyword)` in the order the gate reports them: by start, then by length.
    hits: Vec<(u32, u32)>,
    /// The input's base64 runs of [`MIN_BASE64`] bytes or more, `(start, end)` by start, when
    /// the scan looked for them (decoding on).
    base64: Option<Vec<(u32, u32)>>,
}

impl fmt::Debug for KeywordHits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeywordHits")
            .field("len", &self.len)
            .field("hits", &self.hits.len())
            .field("base64", &self.base64.as_ref().map(Vec::len))
            .finish()
    }
}

impl KeywordHits {
    /// The length of the input these are the hits of.
    #[must_use]
    pub fn input_len(&self) -> usize {
        self.len
    }

    /// Heap bytes held.
    #[must_use]
    pub fn heap_bytes(&self) -> usize {
        let runs = self.base64.as_ref().map_or(0, Vec::capacity);
        (self.hits.capacity() + runs) * std::mem::size_of::<(u32, u32)>()
    }

    /// The hits of an input of `len` bytes; `None` for inputs of 4 GiB or more.
    pub(crate) fn from_hits(len: usize, hits: &[Hit]) -> Option<Self> {
        u32::try_from(len).ok()?;
        Some(KeywordHits { len, hits: hits.iter().map(packed).collect(), base64: None })
    }

    /// With the input's base64 runs: `runs` are the runs the decoding layer listed (every
    /// maximal run of [`MIN_BASE64`] bytes or more, and maybe shorter ones, left out here).
    pub(crate) fn with_base64(mut self, runs: &[std::ops::Range<usize>]) -> Self {
        let long = runs.iter().filter(|r| r.len() >= MIN_BASE64);
        self.base64 = Some(long.map(|r| (r.start as u32, r.end as u32)).collect());
        self
    }

    /// The input's base64 runs, when known.
    pub(crate) fn base64(&self) -> Option<impl Iterator<Item = std::ops::Range<usize>> + '_> {
        let runs = self.base64.as_ref()?;
        Some(runs.iter().map(|&(start, end)| start as usize..end as usize))
    }

    /// The hits as the gate reports them.
    pub(crate) fn fill(&self, set: &RuleSet, out: &mut Vec<Hit>) {
        out.clear();
        out.extend(self.hits.iter().map(|&(start, pattern)| {
            let (start, pattern) = (start as usize, pattern as usize);
            Hit { pattern, start, end: start + set.gate().pattern_len(pattern) }
        }));
    }
}

/// The base64 runs of a delta's result (see the module's documentation), from its base's
/// `base` and the copied `runs` (checked to fit by the caller).
fn derive_base64(base: &[(u32, u32)], runs: &[Run], result: &[u8]) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    let copied = || runs.iter().filter(|r| r.len >= MIN_RUN);
    // The base's runs with the byte before and the byte after them inside a copied run.
    for run in copied() {
        let first = base.partition_point(|&(start, _)| (start as usize) <= run.from);
        for &(start, end) in &base[first..] {
            let (start, end) = (start as usize, end as usize);
            if end >= run.from + run.len {
                break;
            }
            out.push(((start - run.from + run.to) as u32, (end - run.from + run.to) as u32));
        }
    }
    // Every other run holds an edge: a new byte, or a copied run's first or last byte. Each
    // edge is widened to the base64 bytes around it and searched; `covered` is where the
    // last search ended (at a byte outside the alphabet, or the end), so no byte is walked
    // twice, whatever runs a crafted delta makes.
    let mut edges = Vec::new();
    let mut pos = 0;
    for run in copied() {
        edges.push(pos..run.to);
        edges.push(run.to..run.to + 1);
        edges.push(run.to + run.len - 1..run.to + run.len);
        pos = run.to + run.len;
    }
    edges.push(pos..result.len());
    let mut covered = 0;
    for edge in edges {
        let mut from = edge.start.max(covered);
        if from >= edge.end {
            continue;
        }
        while from > covered && is_base64(result[from - 1]) {
            from -= 1;
        }
        let mut to = edge.end;
        while to < result.len() && is_base64(result[to]) {
            to += 1;
        }
        let found = Base64Runs::new(result, from, to, MIN_BASE64);
        out.extend(found.map(|r| (r.start as u32, r.end as u32)));
        covered = to;
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Every base64 run of [`MIN_BASE64`] bytes or more in `bytes`, as the decoding layer lists
/// them.
#[cfg(any(test, debug_assertions))]
fn base64_runs(bytes: &[u8]) -> Vec<(u32, u32)> {
    Base64Runs::new(bytes, 0, bytes.len(), MIN_BASE64)
        .map(|r| (r.start as u32, r.end as u32))
        .collect()
}

/// A hit as kept: its start and keyword (the caller checked the input is under 4 GiB).
fn packed(hit: &Hit) -> (u32, u32) {
    (hit.start as u32, hit.pattern as u32)
}

/// Runs shorter than this are searched like new bytes: a short run costs more to carry over
/// (its hits looked up, its end searched) than searching it does, and git's deltas hold
/// millions of runs of a few dozen bytes. Callers may leave them out.
pub const MIN_RUN: usize = 128;

impl RuleSet {
    /// The keyword hits of `result`, made from an input whose hits are `base` by `runs` (sorted
    /// by where they land, not overlapping; every byte of `result` outside them is new). `None`
    /// when the runs do not fit the two inputs.
    ///
    /// The answer is only as true as its inputs: `base` must be the hits of the very bytes the
    /// runs copy from (a scan given hits for other bytes skips keywords). Debug builds check
    /// the answer against a search; callers take `base` from [`Scanner::take_hits`] of that
    /// input and `runs` from the same delta that made `result`.
    ///
    /// [`Scanner::take_hits`]: crate::Scanner::take_hits
    #[must_use]
    pub fn derive_hits(
        &self,
        base: &KeywordHits,
        runs: &[Run],
        result: &[u8],
    ) -> Option<KeywordHits> {
        u32::try_from(result.len()).ok()?;
        let reach = self.gate().longest.max(1) - 1;
        let mut out: Vec<(u32, u32)> = Vec::with_capacity(base.hits.len() + 16);
        let mut found = Vec::new();
        let mut tail: Vec<Hit> = Vec::new();
        let mut landed = 0;
        for run in runs {
            let fits = run.to.checked_add(run.len).is_some_and(|end| end <= result.len())
                && run.from.checked_add(run.len).is_some_and(|end| end <= base.len);
            if !fits || run.to < landed {
                return None;
            }
            landed = run.to + run.len;
        }
        let mut pos = 0;
        for run in runs.iter().filter(|r| r.len >= MIN_RUN) {
            let (run_end, base_end) = (run.to + run.len, run.from + run.len);
            // New bytes before the run.
            self.search(result, pos, run.to, &mut found);
            out.extend(found.iter().map(packed));
            // Keywords that reach past the run's end start in its last `reach` positions.
            self.search(result, run_end.saturating_sub(reach).max(run.to), run_end, &mut found);
            tail.clear();
            tail.extend(found.iter().filter(|h| h.end > run_end).copied());
            // The base's hits wholly inside the run, moved, merged with the tail's by start
            // (at one start, those inside the run are the shorter ones).
            let first = base.hits.partition_point(|&(s, _)| (s as usize) < run.from);
            let mut reaching = tail.iter().peekable();
            for &(start, pattern) in &base.hits[first..] {
                let start = start as usize;
                if start >= base_end {
                    break;
                }
                if start + self.gate().pattern_len(pattern as usize) > base_end {
                    continue;
                }
                let moved = start - run.from + run.to;
                while let Some(h) = reaching.next_if(|h| h.start < moved) {
                    out.push(packed(h));
                }
                out.push((moved as u32, pattern));
            }
            out.extend(reaching.map(packed));
            pos = run_end;
        }
        self.search(result, pos, result.len(), &mut found);
        out.extend(found.iter().map(packed));
        if out.capacity() > 2 * out.len() + 16 {
            out.shrink_to_fit();
        }
        let base64 = base.base64.as_deref().map(|b| derive_base64(b, runs, result));
        let derived = KeywordHits { len: result.len(), hits: out, base64 };
        #[cfg(debug_assertions)]
        {
            let mut all = Vec::new();
            self.gate().hits(result, 0, result.len(), &mut all);
            let searched = KeywordHits::from_hits(result.len(), &all);
            assert!(
                Some(&derived.hits) == searched.as_ref().map(|s| &s.hits),
                "derived keyword hits differ from a search"
            );
            if let Some(derived) = &derived.base64 {
                assert_eq!(derived, &base64_runs(result), "derived base64 runs differ");
            }
        }
        Some(derived)
    }

    /// The hits starting at `from..to` in `hay`.
    fn search(&self, hay: &[u8], from: usize, to: usize, out: &mut Vec<Hit>) {
        out.clear();
        if from >= to {
            return;
        }
        let end = to.saturating_add(self.gate().longest.max(1) - 1).min(hay.len());
        self.gate().hits(hay, from, end, out);
        out.retain(|h| h.start < to);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{ScanOptions, Source};
    use base64::Engine as _;
    use proptest::prelude::*;

    /// Pieces of text that keywords and escape markers are made of, and that cut them.
    const PIECES: &[&str] = &[
        "ghp_",
        "gh",
        "p_",
        "AKIA",
        "AK",
        "IA",
        "password",
        "pass",
        "word",
        "\\x67",
        "&#103;",
        "pat",
        "path",
        "token",
        "sk-ant-",
        "xoxb-",
        "-----BEGIN ",
        " ",
        "\n",
        "=",
        "\"",
        "a",
        "Q9",
        "0123456789abcdefABCDEF",
        "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB",
        "Z2hwX0tleUluQmFzZTY0VGhhdElzTG9uZ0Vub3VnaA==",
        "-_/+",
    ];

    fn text() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(proptest::sample::select(PIECES), 0..150)
            .prop_map(|pieces| pieces.concat().into_bytes())
    }

    /// An edit: copy `len` bytes from `at` (both taken modulo the base), or insert text.
    #[derive(Clone, Debug)]
    enum Edit {
        Copy(usize, usize),
        Insert(Vec<u8>),
    }

    fn edits() -> impl Strategy<Value = Vec<Edit>> {
        let edit = prop_oneof![
            3 => (0usize..2000, 0usize..400).prop_map(|(at, len)| Edit::Copy(at, len)),
            1 => text().prop_map(Edit::Insert),
        ];
        proptest::collection::vec(edit, 0..8)
    }

    fn apply(base: &[u8], edits: &[Edit]) -> (Vec<u8>, Vec<Run>) {
        let (mut result, mut runs) = (Vec::new(), Vec::new());
        for edit in edits {
            match edit {
                Edit::Copy(at, len) if !base.is_empty() => {
                    let from = at % base.len();
                    let len = (*len).min(base.len() - from);
                    runs.push(Run { from, to: result.len(), len });
                    result.extend_from_slice(&base[from..from + len]);
                }
                Edit::Copy(..) => {}
                Edit::Insert(text) => result.extend_from_slice(text),
            }
        }
        (result, runs)
    }

    fn searched(set: &RuleSet, bytes: &[u8]) -> KeywordHits {
        let mut hits = Vec::new();
        set.gate().hits(bytes, 0, bytes.len(), &mut hits);
        KeywordHits::from_hits(bytes.len(), &hits).unwrap()
    }

    fn with_runs(hits: KeywordHits, bytes: &[u8]) -> KeywordHits {
        let runs: Vec<_> =
            base64_runs(bytes).into_iter().map(|(s, e)| s as usize..e as usize).collect();
        hits.with_base64(&runs)
    }

    proptest! {
        #[test]
        fn derived_hits_are_what_searching_the_result_finds(base in text(), edits in edits()) {
            let set = RuleSet::builtin();
            let (result, runs) = apply(&base, &edits);
            let derived = set.derive_hits(&searched(&set, &base), &runs, &result).unwrap();
            prop_assert_eq!(derived, searched(&set, &result));
        }

        #[test]
        fn derived_base64_runs_are_what_listing_the_result_finds(
            base in text(),
            edits in edits(),
        ) {
            let set = RuleSet::builtin();
            let (result, runs) = apply(&base, &edits);
            let base = with_runs(searched(&set, &base), &base);
            let derived = set.derive_hits(&base, &runs, &result).unwrap();
            prop_assert_eq!(derived.base64, Some(base64_runs(&result)));
        }
    }

    /// Runs across and along the edges of copied runs, inside them, and one that a crafted
    /// delta copies in many pieces.
    #[test]
    fn base64_runs_are_derived_at_and_between_the_edges_of_copied_runs() {
        let set = RuleSet::builtin();
        let b64 = |n: usize| "QUJD".repeat(n / 4);
        let base = format!("{} x {} y\n{}\n{}", b64(200), b64(60), "z ".repeat(100), b64(12_000));
        let base = base.as_bytes();
        let hits = with_runs(searched(&set, base), base);
        let long = base.len() - 12_000;
        let cases: Vec<Vec<Run>> = vec![
            // The whole base, one run.
            vec![Run { from: 0, to: 0, len: base.len() }],
            // Cut inside the first run, and inside the long one.
            vec![Run { from: 10, to: 0, len: 300 }, Run { from: long + 8, to: 300, len: 500 }],
            // New bytes between runs that join two base64 runs into one.
            vec![Run { from: 0, to: 0, len: 200 }, Run { from: 0, to: 260, len: 400 }],
            // The long run copied in pieces of 128 bytes, in reverse order.
            (0..90).map(|i| Run { from: long + 128 * (89 - i), to: 128 * i, len: 128 }).collect(),
        ];
        for runs in cases {
            let mut result = Vec::new();
            for run in &runs {
                result.resize(run.to, b'A');
                result.extend_from_slice(&base[run.from..run.from + run.len]);
            }
            let derived = set.derive_hits(&hits, &runs, &result).unwrap();
            assert_eq!(derived.base64, Some(base64_runs(&result)), "{runs:?}");
            assert!(!base64_runs(&result).is_empty());
        }
    }

    #[test]
    fn a_scan_given_derived_hits_reports_what_a_full_scan_reports() {
        let set = RuleSet::builtin();
        let key = "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"; // leakgate:allow (test fixture)
        let filler = "// a line with path and token in it\n".repeat(10);
        let base =
            format!("fn main() {{}}\n{filler}// path token gh\nlet v = \"{}\";\n", "x".repeat(200));
        // The result keeps the base's runs and completes a keyword one of them ends with.
        let head = base.find("gh\n").unwrap() + 2;
        let mut result = base.as_bytes()[..head].to_vec();
        result.extend_from_slice(&key.as_bytes()[2..]);
        result.extend_from_slice(&base.as_bytes()[head..]);
        let runs = [
            Run { from: 0, to: 0, len: head },
            Run { from: head, to: head + key.len() - 2, len: base.len() - head },
        ];
        let mut scanner = set.scanner(ScanOptions::default());
        scanner.keep_hits(true);
        scanner.scan_bytes(base.as_bytes(), Source { path: None }, |_| {});
        let base_hits = scanner.take_hits().expect("kept");
        let derived = set.derive_hits(&base_hits, &runs, &result).unwrap();
        let mut full = Vec::new();
        scanner.scan_bytes(&result, Source { path: None }, |m| {
            full.push((m.rule.id().to_owned(), m.offset))
        });
        let mut given = Vec::new();
        scanner.scan_bytes_given(&result, Some(&derived), Source { path: None }, |m| {
            given.push((m.rule.id().to_owned(), m.offset));
        });
        assert!(full.iter().any(|(rule, _)| rule.starts_with("github")), "{full:?}");
        assert_eq!(given, full);
        // A key in base64 is found through runs listed in the base and carried over.
        let encoded = base64::engine::general_purpose::STANDARD.encode(key);
        let old = format!("{filler}data:\n  value: {encoded}\n{filler}");
        let new = format!("// a new first line\n{old}");
        let copied = [Run { from: 0, to: new.len() - old.len(), len: old.len() }];
        scanner.scan_bytes(old.as_bytes(), Source { path: None }, |_| {});
        let old_hits = scanner.take_hits().expect("kept");
        assert_eq!(old_hits.base64().map(Iterator::count), Some(1));
        let derived = set.derive_hits(&old_hits, &copied, new.as_bytes()).unwrap();
        let github = |m: &crate::Match<'_>| m.rule.id().starts_with("github");
        let (mut full, mut given, mut without) = (Vec::new(), Vec::new(), Vec::new());
        scanner.scan_bytes(new.as_bytes(), Source { path: None }, |m| {
            full.push((github(&m), m.offset));
        });
        scanner.scan_bytes_given(new.as_bytes(), Some(&derived), Source { path: None }, |m| {
            given.push((github(&m), m.offset));
        });
        // The key is found at its encoded text, through the runs given.
        let at = new.find(&encoded).unwrap() as u64;
        assert!(full.iter().any(|&(gh, offset)| gh && offset == at), "{full:?}");
        assert_eq!(given, full);
        // What the scan keeps after being given runs is the input's own listing (a delta of
        // this input derives from it).
        let kept = scanner.take_hits().expect("kept");
        let listed: Vec<(u32, u32)> =
            kept.base64().unwrap().map(|r| (r.start as u32, r.end as u32)).collect();
        assert_eq!(listed, base64_runs(new.as_bytes()));
        // Given no runs, the scan decodes none: the runs given are the ones used.
        let mut emptied = derived.clone();
        emptied.base64 = Some(Vec::new());
        scanner.scan_bytes_given(new.as_bytes(), Some(&emptied), Source { path: None }, |m| {
            without.push((github(&m), m.offset));
        });
        assert!(!without.iter().any(|&(gh, offset)| gh && offset == at), "{without:?}");
        // Runs that do not fit the inputs derive nothing.
        let beyond = [Run { from: base.len() - 1, to: 0, len: 2 }];
        assert!(set.derive_hits(&base_hits, &beyond, &result).is_none());
        let overlapping = [Run { from: 0, to: 5, len: 5 }, Run { from: 0, to: 7, len: 5 }];
        assert!(set.derive_hits(&base_hits, &overlapping, &result).is_none());
    }
}
