//! The keyword gate: every rule's keywords, found in one pass over the input.
//!
//! A hit names the rules that own the keyword; only those rules' regexes run, and only on a
//! window around the hit. Input without any keyword costs one pass.
//!
//! One Aho-Corasick automaton (a contiguous NFA) holds every keyword, and it alone decides
//! what a hit is. In front of it sits a prefilter, as in the `aho-corasick` crate's own
//! searches: at each position the 4 bytes there, case-folded with a single OR, are hashed
//! into a 128 KiB bitmap holding the first 4 bytes of every keyword (and the first 3 of
//! 3-byte keywords, in a 32 KiB bitmap when there are any). Positions do not depend on each
//! other, so the CPU overlaps them, where walking an automaton waits on every state
//! transition: on source code the bitmap pass runs at several times the speed of an
//! unanchored automaton search over the same ~1,700 keywords. A position whose bit is set is
//! a candidate only. Common words collide with keywords in one hash (`sert` of `assert`,
//! `get`), and keywords of 8 bytes or more share their first 4 with common words (`cont`,
//! `serv`, `open`): before the automaton, a candidate is looked up again in two bitmaps of
//! other hashes, one of the first 4 bytes of keywords of 4 to 7 bytes and one of the first 8
//! of longer keywords. On source code this second look drops nine candidates in ten. What
//! remains, the automaton confirms with an anchored search, which reports every keyword
//! starting at that position.
//!
//! Keywords shorter than 3 bytes (user and gitleaks rules; the built-in catalog has none)
//! would make nearly every position a candidate: with any of them the prefilter is off and
//! the automaton searches the input unanchored.

use std::collections::HashMap;

use aho_corasick::automaton::{Automaton, OverlappingState};
use aho_corasick::nfa::contiguous::NFA;
use aho_corasick::{Anchored, Input, MatchKind};

use crate::rule::Rule;

const BITMAP_BITS: usize = 1 << 18;
/// ASCII letters fold to lowercase when OR-ed with 0x20; other bytes may collide with each
/// other, which only costs a confirmation.
const FOLD: u32 = 0x2020_2020;

/// Keywords → rules.
#[derive(Debug)]
pub(crate) struct KeywordGate {
    /// Every distinct keyword, lowercased; a pattern id indexes `owners`. Case-insensitive
    /// only when it searches unanchored (no prefilter).
    automaton: NFA,
    /// For each keyword, the rules owning it.
    owners: Vec<Vec<u32>>,
    /// Per pattern, whether it is an escape marker (see [`escape_markers`]).
    markers: Vec<bool>,
    /// The prefilter; `None` when some keyword is shorter than 3 bytes.
    prefilter: Option<Prefilter>,
    pub(crate) longest: usize,
}

/// One keyword occurrence.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Hit {
    pub(crate) pattern: usize,
    pub(crate) start: usize,
    pub(crate) end: usize,
}

/// Hashed folded first n-grams of the keywords.
#[derive(Debug)]
struct Prefilter {
    /// First 4 bytes of keywords of 4 bytes or more.
    long: Bitmap<LONG_WORDS>,
    /// The second look at a candidate of `long`: first 4 bytes of keywords of 4 to 7 bytes,
    /// in another hash.
    short: Bitmap,
    /// The second look: first 8 bytes of keywords of 8 bytes or more.
    pair: Bitmap,
    /// Keywords of exactly 3 bytes, if any.
    three: Option<Bitmap>,
}

/// A fixed-size array, so that indexing needs no bounds check on the hot path.
#[derive(Debug)]
struct Bitmap<const WORDS: usize = { BITMAP_BITS / 64 }>(Box<[u64; WORDS]>);

/// The first bitmap, 128 KiB: 4 times the others, so that a quarter as many positions of
/// ordinary text collide with a keyword's hash (most of it stays in L2; measured 4% faster
/// than 32 KiB on crate sources).
const LONG_WORDS: usize = (1 << 20) / 64;

/// Multiplicative hashes of the second look: the product's top 18 bits.
#[inline(always)]
fn short_slot(gram: u32) -> usize {
    (gram.wrapping_mul(0x85EB_CA6B) >> 14) as usize & (BITMAP_BITS - 1)
}

#[inline(always)]
fn pair_slot(first: u32, second: u32) -> usize {
    let word = u64::from(first) | u64::from(second) << 32;
    (word.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 46) as usize & (BITMAP_BITS - 1)
}

impl<const WORDS: usize> Bitmap<WORDS> {
    /// The top bits of the product, as many as index a bit of the map.
    const SHIFT: u32 = 32 - (WORDS * 64).trailing_zeros();

    fn new() -> Self {
        Bitmap(Box::new([0; WORDS]))
    }

    fn set(&mut self, s: usize) {
        self.0[s / 64] |= 1 << (s % 64);
    }

    #[inline(always)]
    fn test(&self, s: usize) -> bool {
        self.0[s / 64] & (1 << (s % 64)) != 0
    }

    fn add(&mut self, gram: u32) {
        self.set(Self::slot(gram));
    }

    #[inline(always)]
    fn maybe(&self, gram: u32) -> bool {
        self.test(Self::slot(gram))
    }

    /// Multiplicative hash: the product's top bits.
    #[inline(always)]
    fn slot(gram: u32) -> usize {
        (gram.wrapping_mul(0x9E37_79B1) >> Self::SHIFT) as usize
    }
}

impl Prefilter {
    /// The second look at a candidate at `at` whose first 4 bytes (folded) are `gram`.
    #[inline(always)]
    fn again(&self, hay: &[u8], at: usize, gram: u32) -> bool {
        if self.short.test(short_slot(gram)) {
            return true;
        }
        // Past `hay`'s end no keyword of 8 bytes fits.
        match hay.get(at + 4..at + 8) {
            Some(w) => {
                let second = u32::from_le_bytes([w[0], w[1], w[2], w[3]]) | FOLD;
                self.pair.test(pair_slot(gram, second))
            }
            None => false,
        }
    }
}

fn gram_of(bytes: &[u8], n: usize) -> u32 {
    let mut word = [0u8; 4];
    word[..n].copy_from_slice(&bytes[..n]);
    u32::from_le_bytes(word) | (FOLD >> (8 * (4 - n)))
}

/// The starts of escapes that write a plain character (`\x67`, C's `\x0067`, `\u0067`, `\U00000067`,
/// `\u{67}`, `\147`, `&#103;`, `&#x67;`) and JSON's `:\/\/`. They are no rule's keywords,
/// but escaping one character of a keyword hides it (`"\x67hp_..."` holds no `ghp_`): the
/// gate finds them in its one pass, and the engine decodes the string literals of their
/// lines (`decode::hiding_escape` decides) or the references on them
/// (`decode::hiding_entity`). All are 4 bytes or more, so that the prefilter keeps its
/// single 4-byte bitmap.
fn escape_markers() -> Vec<Vec<u8>> {
    let mut out = vec![
        br"\u00".to_vec(),
        br"\x00".to_vec(),
        br":\/\/".to_vec(),
        br"\u{0".to_vec(),
        br"\uu0".to_vec(),
        br"\uuu".to_vec(),
    ];
    for high in b'2'..=b'7' {
        out.extend(b"0123456789abcdef".iter().map(|&low| vec![b'\\', b'x', high, low]));
    }
    out.extend((b'2'..=b'7').map(|high| vec![b'\\', b'u', b'{', high]));
    // Python's `\N{LATIN ...}`, `\N{DIGIT ...}`, `\N{LOW LINE}`, ... (case folded: `\n{l`
    // in a format string is checked and dropped).
    out.extend(b"ldhfcsepa".iter().map(|&c| vec![b'\\', b'n', b'{', c]));
    // Octal `\041` to `\177`.
    for code in 0o041..=0o177u32 {
        out.push(format!("\\{code:03o}").into_bytes());
    }
    // XML and HTML numeric character references, `&#33;` to `&#126;` and `&#x21;` to
    // `&#x7e;`, with leading zeros too (by their first 4 bytes).
    out.extend((33..=99).map(|code: u32| format!("&#{code}").into_bytes()));
    out.extend(["&#10", "&#11", "&#12", "&#x0"].map(|m| m.as_bytes().to_vec()));
    // Line ends, `&#13;` and `&#xA;` / `&#xD;` (`&#10;` is above): a PEM key in an attribute.
    out.extend(["&#13", "&#xa", "&#xd"].map(|m| m.as_bytes().to_vec()));
    out.extend((b'0'..=b'9').map(|d| vec![b'&', b'#', b'0', d]));
    out.extend((b'2'..=b'7').map(|d| vec![b'&', b'#', b'x', d]));
    // HTML5's named references to punctuation (`&lowbar;`), by their first 4 bytes.
    let named = [
        "&low", "&und", "&col", "&sol", "&bso", "&per", "&equ", "&plu", "&com", "&num", "&dol",
        "&exc", "&que", "&sem", "&ast", "&mid", "&lpa", "&rpa", "&lsq", "&rsq", "&lcu", "&rcu",
        "&ver", "&gra",
    ];
    out.extend(named.map(|m| m.as_bytes().to_vec()));
    // A literal joined to the next (`"gh" + "p_..."`, PHP's `.`, Visual Basic's `&`, Lua's
    // `..`, a `+` that ends the line): a keyword split across them is whole only in the
    // joined text.
    for quote in ['"', '\''] {
        for join in [" + ", " . ", " & ", " .. ", " +\n"] {
            out.push(format!("{quote}{join}").into_bytes());
        }
    }
    // Joins without spaces (`"gh"+"p_..."`), and literals side by side (`"gh" "p_..."`, C and
    // Python), are 3 bytes: with the last character of the literal before (a keyword's
    // characters, folded as the gate folds them), they are 4. See [`join_marker`].
    for last in (b'a'..=b'z').chain(b'0'..=b'9').chain([b'_', b'-']) {
        for quote in [b'"', b'\''] {
            for join in [&[b'+', quote][..], &[b'.', quote], &[b'&', quote], b"..", &[b' ', quote]]
            {
                out.push([&[last, quote][..], join].concat());
            }
        }
    }
    // A table's header cell naming a secret column that no rule's keyword ends as it ends
    // (`client_secret,`, `| Token |`, `<th>Secret</th>`, SQL's `(name, client_secret)`): see
    // `table`.
    for name in ["secret", "token"] {
        out.extend([",", ";", "|", "<", ")", "`"].map(|end| format!("{name}{end}").into_bytes()));
    }
    out.push(b"api key".to_vec());
    out
}

/// Whether the escape marker at `at` in `buf` is a join of literals: a quote and a join
/// (see [`escape_markers`]), or a keyword's character before them.
pub(crate) fn join_marker(buf: &[u8], at: usize) -> bool {
    matches!(buf[at], b'"' | b'\'') || matches!(buf.get(at + 1), Some(b'"' | b'\''))
}

impl KeywordGate {
    pub(crate) fn new(rules: &[Rule]) -> Self {
        Self::from_keywords(&rules.iter().map(|r| r.keywords().to_vec()).collect::<Vec<_>>())
    }

    /// The gate over each rule's keywords (`keywords[i]` are rule `i`'s).
    pub(crate) fn from_keywords(keywords_of: &[Vec<String>]) -> Self {
        let mut index: HashMap<Vec<u8>, usize> = HashMap::new();
        let mut keywords: Vec<Vec<u8>> = Vec::new();
        let mut owners: Vec<Vec<u32>> = Vec::new();
        let mut slot_of = |key: Vec<u8>| {
            *index.entry(key.clone()).or_insert_with(|| {
                keywords.push(key);
                owners.push(Vec::new());
                owners.len() - 1
            })
        };
        let mut owned = Vec::new();
        for (i, list) in keywords_of.iter().enumerate() {
            for kw in list {
                let slot = slot_of(kw.as_bytes().to_ascii_lowercase());
                let rule_index = u32::try_from(i).expect("fewer than 2^32 rules");
                owned.push((slot, rule_index));
            }
        }
        let marked: Vec<usize> = escape_markers().into_iter().map(&mut slot_of).collect();
        for (slot, rule_index) in owned {
            if !owners[slot].contains(&rule_index) {
                owners[slot].push(rule_index);
            }
        }
        let mut markers = vec![false; owners.len()];
        for slot in marked {
            markers[slot] = true;
        }
        let short = keywords.iter().any(|k| k.len() < 3);
        // Behind the prefilter the automaton only confirms, and folds the input's case
        // itself: a case-sensitive automaton over the lowercased keywords has half the
        // transitions, and builds in half the time (start-up is paid by every hook run).
        let automaton = NFA::builder()
            .ascii_case_insensitive(short)
            .match_kind(MatchKind::Standard)
            .prefilter(false)
            .build(&keywords)
            .expect("keyword automaton within size limits");
        let prefilter = (!short).then(|| {
            let mut long = Bitmap::<LONG_WORDS>::new();
            let mut short = Bitmap::<{ BITMAP_BITS / 64 }>::new();
            let mut pair = Bitmap::<{ BITMAP_BITS / 64 }>::new();
            let mut three = Bitmap::<{ BITMAP_BITS / 64 }>::new();
            let mut any_three = false;
            for kw in &keywords {
                if kw.len() == 3 {
                    three.add(gram_of(kw, 3));
                    any_three = true;
                    continue;
                }
                let first = gram_of(kw, 4);
                long.add(first);
                if kw.len() < 8 {
                    short.set(short_slot(first));
                } else {
                    pair.set(pair_slot(first, gram_of(&kw[4..], 4)));
                }
            }
            Prefilter { long, short, pair, three: any_three.then_some(three) }
        });
        let longest = keywords.iter().map(Vec::len).max().unwrap_or(0);
        KeywordGate { automaton, owners, markers, prefilter, longest }
    }

    /// Every keyword occurrence (overlapping) that starts in `start..` and ends by `end`,
    /// ordered by start.
    pub(crate) fn hits(&self, haystack: &[u8], start: usize, end: usize, out: &mut Vec<Hit>) {
        out.clear();
        let end = end.min(haystack.len());
        if self.owners.is_empty() || start >= end {
            return;
        }
        let hay = &haystack[..end];
        let region = &hay[start..];
        match &self.prefilter {
            Some(pre @ Prefilter { long, three: None, .. }) => {
                // Eight positions from two 8-byte loads (each holds four positions' 4 bytes):
                // a quarter of the loads and no per-position bounds check.
                let mut i = 0;
                while i + 12 <= region.len() {
                    let words = [
                        u64::from_le_bytes(region[i..i + 8].try_into().expect("8 bytes")),
                        u64::from_le_bytes(region[i + 4..i + 12].try_into().expect("8 bytes")),
                    ];
                    for (half, word) in words.into_iter().enumerate() {
                        for k in 0..4 {
                            let gram = (word >> (8 * k)) as u32 | FOLD;
                            if long.maybe(gram) {
                                self.candidate(pre, hay, start + i + 4 * half + k, gram, out);
                            }
                        }
                    }
                    i += 8;
                }
                for (j, w) in region[i..].windows(4).enumerate() {
                    let gram = u32::from_le_bytes([w[0], w[1], w[2], w[3]]) | FOLD;
                    if long.maybe(gram) {
                        self.candidate(pre, hay, start + i + j, gram, out);
                    }
                }
            }
            Some(pre @ Prefilter { long, three: Some(three), .. }) => {
                for (i, w) in region.windows(4).enumerate() {
                    let gram = u32::from_le_bytes([w[0], w[1], w[2], w[3]]) | FOLD;
                    if three.maybe(gram & 0x00FF_FFFF) {
                        self.confirm(hay, start + i, out);
                    } else if long.maybe(gram) {
                        self.candidate(pre, hay, start + i, gram, out);
                    }
                }
                // The last position has 3 bytes left: room for a 3-byte keyword only.
                if region.len() >= 3 && three.maybe(gram_of(&hay[end - 3..], 3)) {
                    self.confirm(hay, end - 3, out);
                }
            }
            None => self.search(hay, start, out),
        }
    }

    /// A candidate of the first bitmap at `at`: confirmed if the second look keeps it. Out
    /// of line, so that the pass over every position stays a tight loop.
    #[cold]
    #[inline(never)]
    fn candidate(&self, pre: &Prefilter, hay: &[u8], at: usize, gram: u32, out: &mut Vec<Hit>) {
        if pre.again(hay, at, gram) {
            self.confirm(hay, at, out);
        }
    }

    /// The keywords that start exactly at `at`: an anchored walk of the (case-sensitive)
    /// automaton over the lowercased input, which stops at the first byte no keyword
    /// continues with.
    #[inline(never)]
    fn confirm(&self, hay: &[u8], at: usize, out: &mut Vec<Hit>) {
        let nfa = &self.automaton;
        let Ok(mut sid) = nfa.start_state(Anchored::Yes) else { return };
        for (len, &byte) in hay[at..].iter().enumerate() {
            sid = nfa.next_state(Anchored::Yes, sid, byte.to_ascii_lowercase());
            if !nfa.is_special(sid) {
                continue;
            }
            if nfa.is_dead(sid) {
                return;
            }
            // A state's matches include keywords that are suffixes of the text walked;
            // only those as long as the walk start at `at`.
            for k in 0..nfa.match_len(sid) {
                let pattern = nfa.match_pattern(sid, k);
                if nfa.pattern_len(pattern) == len + 1 {
                    out.push(Hit { pattern: pattern.as_usize(), start: at, end: at + len + 1 });
                }
            }
        }
    }

    /// Every occurrence, by an unanchored overlapping search of `start..` in `hay`.
    fn search(&self, hay: &[u8], start: usize, out: &mut Vec<Hit>) {
        let input = Input::new(hay).span(start..hay.len());
        let mut state = OverlappingState::start();
        loop {
            if self.automaton.try_find_overlapping(&input, &mut state).is_err() {
                break;
            }
            let Some(m) = state.get_match() else { break };
            out.push(Hit { pattern: m.pattern().as_usize(), start: m.start(), end: m.end() });
        }
        out.sort_unstable_by_key(|h| (h.start, h.end));
    }

    /// The length of keyword `pattern`.
    pub(crate) fn pattern_len(&self, pattern: usize) -> usize {
        self.automaton.pattern_len(aho_corasick::PatternID::new_unchecked(pattern))
    }

    /// The rules owning keyword `pattern`.
    pub(crate) fn owners(&self, pattern: usize) -> &[u32] {
        &self.owners[pattern]
    }

    /// Whether `pattern` is an escape marker (it may be a rule's keyword too).
    pub(crate) fn marker(&self, pattern: usize) -> bool {
        self.markers[pattern]
    }

    /// Number of distinct keywords (escape markers not counted).
    pub(crate) fn len(&self) -> usize {
        self.owners.iter().filter(|o| !o.is_empty()).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::parse_rule_file;

    fn gate(keywords: &[&str]) -> KeywordGate {
        let mut toml = String::new();
        for (i, k) in keywords.iter().enumerate() {
            toml.push_str(&format!(
                "[[rules]]\nid = \"r{i}\"\ndescription = \"d\"\nprovider = \"p\"\nkeywords = [{k:?}]\nregex = 'x'\nseverity = \"high\"\n"
            ));
        }
        KeywordGate::new(&parse_rule_file(&toml, std::path::Path::new("t.toml")).expect("valid"))
    }

    fn found(g: &KeywordGate, hay: &str) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        g.hits(hay.as_bytes(), 0, hay.len(), &mut out);
        out.iter().map(|h| (h.pattern, h.start)).collect()
    }

    #[test]
    fn gate_finds_overlapping_keywords_case_insensitively() {
        let g = gate(&["sk_live_", "live_", "ghp_", "xo"]);
        assert_eq!(found(&g, "SK_LIVE_abc ghp_ XO"), [(0, 0), (1, 3), (2, 12), (3, 17)]);
    }

    #[test]
    fn prefilter_and_automaton_find_keywords_inside_other_keywords() {
        // No short keyword: the bitmap runs, and the anchored walk at `SK_LIVE_` must not
        // report `live_` (a suffix of the text walked) as starting there.
        let g = gate(&["sk_live_", "live_", "ghp_", "ghp_x"]);
        assert!(g.prefilter.is_some());
        assert_eq!(found(&g, "SK_LIVE_abc ghp_X"), [(0, 0), (1, 3), (2, 12), (3, 12)]);
    }

    /// Every occurrence, by comparing every keyword at every position.
    fn naive(keywords: &[&str], hay: &[u8]) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        for at in 0..hay.len() {
            for (i, k) in keywords.iter().enumerate() {
                if hay.get(at..at + k.len()).is_some_and(|w| w.eq_ignore_ascii_case(k.as_bytes())) {
                    out.push((at, i));
                }
            }
        }
        out
    }

    proptest::proptest! {
        #[test]
        fn gate_finds_exactly_what_comparing_every_keyword_everywhere_finds(
            hay in proptest::collection::vec(proptest::sample::select(b"abkAKI_-:=x\n".to_vec()), 0..200),
            short in proptest::bool::ANY,
            threes in proptest::bool::ANY,
            start in 0usize..4,
        ) {
            // Keywords inside and at the start of others, of 4 to 7 bytes and of 8 or more
            // (the second look's two bitmaps, sharing first 4 bytes); 3-byte ones (their own
            // bitmap) and a short one (no prefilter) only in some cases.
            let mut keywords =
                vec!["akia", "kia_", "abba", "a_b-k", "akia_bb", "bbak_", "abba_kia", "bbak_akia"];
            if threes {
                keywords.extend(["aki", "ak_"]);
            }
            if short {
                keywords.push("x");
            }
            let g = gate(&keywords);
            let mut out = Vec::new();
            g.hits(&hay, start, hay.len(), &mut out);
            let got: Vec<(usize, usize)> = out.iter().map(|h| (h.start, h.pattern)).collect();
            // Ordered by start, every keyword that starts in `start..`.
            let mut want: Vec<(usize, usize)> =
                naive(&keywords, &hay).into_iter().filter(|&(at, _)| at >= start).collect();
            let mut sorted = got.clone();
            sorted.sort_unstable();
            want.sort_unstable();
            proptest::prop_assert!(got.windows(2).all(|w| w[0].0 <= w[1].0), "{:?}", got);
            proptest::prop_assert_eq!(sorted, want);
        }
    }

    #[test]
    fn gate_finds_three_byte_keywords_anywhere_including_the_last_position() {
        let g = gate(&["pat", "ghp_"]);
        assert_eq!(found(&g, "pat xPAT ghp_ pat"), [(0, 0), (0, 5), (1, 9), (0, 14)]);
        assert_eq!(found(&g, "pa"), []);
    }

    #[test]
    fn second_look_keeps_long_keywords_and_drops_words_sharing_their_start() {
        let g = gate(&["contentful", "cont", "service_account"]);
        // `continue` shares 4 bytes with both; `service` only with the long one.
        assert_eq!(
            found(&g, "continue CONTENTFUL_TOKEN service_account service\nservice_a"),
            [(1, 0), (1, 9), (0, 9), (2, 26)]
        );
    }

    #[test]
    fn keywords_at_odd_and_even_positions_and_at_the_end_are_all_found() {
        // No 3-byte keyword: the 4-byte bitmap pass alone runs.
        let g = gate(&["akia", "ghp_x1", "sk_live"]);
        assert!(g.prefilter.as_ref().is_some_and(|p| p.three.is_none()));
        for pad in 0..4 {
            let hay = format!("{}akia ghp_x1 xsk_live akia", " ".repeat(pad));
            let at = |s: usize| s + pad;
            assert_eq!(found(&g, &hay), [(0, at(0)), (1, at(5)), (2, at(13)), (0, at(21))]);
            for end in 0..hay.len() {
                let mut out = Vec::new();
                g.hits(hay.as_bytes(), 0, end, &mut out);
                let ends: Vec<usize> = out.iter().map(|h| h.end).collect();
                assert!(ends.iter().all(|&e| e <= end), "{end}: {ends:?}");
                let want = [at(4), at(11), at(20), at(25)].iter().filter(|&&e| e <= end).count();
                assert_eq!(out.len(), want, "{hay:?} to {end}");
            }
        }
    }

    #[test]
    fn gate_skips_text_without_keywords() {
        let g = gate(&["ghp_", "akia"]);
        assert!(found(&g, "fn main() { println!(\"hello\"); }").is_empty());
        assert!(found(&g, "gh").is_empty());
    }

    #[test]
    fn gate_respects_the_search_span() {
        let g = gate(&["ghp_"]);
        let mut out = Vec::new();
        g.hits(b"ghp_ ghp_", 1, 9, &mut out);
        assert_eq!(out.len(), 1);
        g.hits(b"ghp_ ghp_", 0, 8, &mut out);
        assert_eq!(out.len(), 1);
    }
}
