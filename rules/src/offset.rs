//! Where a rule's keyword sits in its matches, read from the pattern: how far before a
//! keyword hit a match can start. Shared by the engine (user rules, at load) and by
//! `build.rs` (the built-in catalog, at build time), so that both bound windows the same way.

/// A bound on where the first keyword occurrence starts in any match of `hir`: every string
/// it matches holds one of `keywords` (in any case, as the gate finds them) starting
/// at most this many bytes in. `None` when the pattern does not show it within [`BUDGET`]
/// readings. Literal text is read through case-insensitive letters (`(?i:token)`), and a
/// class of up to 64 bytes once per byte (`sl\.[a-z0-9]` with keywords `sl.a`, `sl.b`, ...,
/// or `hc[a-z]ik_` with `hcaik_`, ...).
pub(crate) fn keyword_offset<K: AsRef<str>>(
    hir: &regex_syntax::hir::Hir,
    keywords: &[K],
) -> Option<usize> {
    let keywords: Vec<Vec<u8>> =
        keywords.iter().map(|k| k.as_ref().as_bytes().to_ascii_lowercase()).collect();
    let mut budget = BUDGET;
    concat_offset(Vec::new(), &[hir], &keywords, &mut budget)
}

/// Readings of a pattern (see [`concat_offset`]) before [`keyword_offset`] gives up: a
/// rule file loads in microseconds a rule, however its classes and alternations multiply.
const BUDGET: usize = 4096;

/// [`keyword_offset`] of the concatenation of `items` after the literal text `run`, counted
/// from `run`'s start. An alternation is read once per branch, each with the text before it
/// (`(?i)p(?:assword|wd)` is `password` or `pwd`), within `budget` readings.
fn concat_offset<'h>(
    mut run: Vec<u8>,
    items: &[&'h regex_syntax::hir::Hir],
    keywords: &[Vec<u8>],
    budget: &mut usize,
) -> Option<usize> {
    use regex_syntax::hir::HirKind;
    *budget = budget.checked_sub(1)?;
    // The most bytes before `run`.
    let mut pre = 0usize;
    for (i, item) in items.iter().enumerate() {
        let rest = &items[i + 1..];
        let with_rest = |first: &'h regex_syntax::hir::Hir| {
            std::iter::once(first).chain(rest.iter().copied()).collect::<Vec<_>>()
        };
        match item.kind() {
            HirKind::Concat(sub) => {
                let items: Vec<_> = sub.iter().chain(rest.iter().copied()).collect();
                return concat_offset(run, &items, keywords, budget).map(|o| pre + o);
            }
            HirKind::Capture(cap) => {
                let items = with_rest(&cap.sub);
                return concat_offset(run, &items, keywords, budget).map(|o| pre + o);
            }
            HirKind::Alternation(alts) => {
                if let Some(offset) = first_keyword(&run, keywords) {
                    return Some(pre + offset);
                }
                let mut latest = 0;
                for alt in alts {
                    let items = with_rest(alt);
                    latest = latest.max(concat_offset(run.clone(), &items, keywords, budget)?);
                }
                return Some(pre + latest);
            }
            // An optional part: without it, and with it.
            HirKind::Repetition(rep) if rep.min == 0 && rep.max == Some(1) => {
                if let Some(offset) = first_keyword(&run, keywords) {
                    return Some(pre + offset);
                }
                let without = concat_offset(run.clone(), rest, keywords, budget)?;
                let with = concat_offset(run, &with_rest(&rep.sub), keywords, budget)?;
                return Some(pre + without.max(with));
            }
            _ => {}
        }
        if let Some(bytes) = literal_bytes(item) {
            run.extend_from_slice(&bytes);
            continue;
        }
        // A class (`[_.-]`, `[a-z]`): one reading per byte.
        if let Some(bytes) = small_class(item) {
            if let Some(offset) = first_keyword(&run, keywords) {
                return Some(pre + offset);
            }
            let mut latest = 0;
            for byte in bytes {
                let mut run = run.clone();
                run.push(byte);
                latest = latest.max(concat_offset(run, rest, keywords, budget)?);
            }
            return Some(pre + latest);
        }
        // A run of a class (`[a-z0-9]{20,}`): each of its first bytes may end a keyword that
        // the text read so far begins (what follows that byte is not read).
        if let HirKind::Repetition(rep) = item.kind() {
            if let Some(bytes) = small_class(&rep.sub).filter(|_| rep.min >= 1 && !run.is_empty()) {
                let latest = bytes.iter().try_fold(0, |latest: usize, &byte| {
                    let mut run = run.clone();
                    run.push(byte);
                    Some(latest.max(first_keyword(&run, keywords)?))
                });
                if let Some(offset) = latest {
                    return Some(pre + offset);
                }
            }
        }
        if let Some(offset) = first_keyword(&run, keywords) {
            return Some(pre + offset);
        }
        pre += run.len();
        run.clear();
        if let HirKind::Repetition(rep) = item.kind() {
            if rep.min >= 1 {
                if let Some(offset) = concat_offset(Vec::new(), &[&rep.sub], keywords, budget) {
                    return Some(pre + offset);
                }
            }
        }
        pre = pre.checked_add(item.properties().maximum_len()?)?;
    }
    first_keyword(&run, keywords).map(|offset| pre + offset)
}

/// The lowercase text `hir` always matches, when it is a literal or one case-insensitive
/// letter.
fn literal_bytes(hir: &regex_syntax::hir::Hir) -> Option<Vec<u8>> {
    use regex_syntax::hir::{Class, HirKind};
    match hir.kind() {
        HirKind::Literal(lit) => Some(lit.0.to_ascii_lowercase()),
        HirKind::Class(Class::Bytes(class)) => {
            let ranges = class.ranges();
            let bytes: Vec<u8> = ranges.iter().flat_map(|r| r.start()..=r.end()).take(3).collect();
            match bytes.as_slice() {
                [b] => Some(vec![b.to_ascii_lowercase()]),
                [a, b] if a.is_ascii_alphabetic() && a.eq_ignore_ascii_case(b) => {
                    Some(vec![a.to_ascii_lowercase()])
                }
                _ => None,
            }
        }
        _ => None,
    }
}

/// The lowercase bytes of a class of at most 64 of them, case aside.
fn small_class(hir: &regex_syntax::hir::Hir) -> Option<Vec<u8>> {
    use regex_syntax::hir::{Class, HirKind};
    let HirKind::Class(Class::Bytes(class)) = hir.kind() else { return None };
    let mut bytes: Vec<u8> = Vec::new();
    for range in class.ranges() {
        if bytes.len() + usize::from(range.end() - range.start()) >= 128 {
            return None;
        }
        bytes.extend((range.start()..=range.end()).map(|b| b.to_ascii_lowercase()));
    }
    bytes.sort_unstable();
    bytes.dedup();
    (bytes.len() <= 64).then_some(bytes)
}

/// Where the first keyword starts in `text`.
pub(crate) fn first_keyword(text: &[u8], keywords: &[Vec<u8>]) -> Option<usize> {
    // Runs are short, and build.rs shares this file: no searcher is built.
    keywords
        .iter()
        .filter(|k| !k.is_empty())
        .filter_map(|k| text.windows(k.len()).position(|w| w == k.as_slice()))
        .min()
}
