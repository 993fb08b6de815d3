//! The keyword gate: one Aho-Corasick automaton over every rule's keywords.
//!
//! A hit names the rules that own the keyword; only those rules' regexes run, and only on a
//! window around the hit. Input without any keyword costs one automaton pass.

use std::collections::HashMap;

use aho_corasick::{AhoCorasick, AhoCorasickKind, Input, MatchKind};

use crate::rule::Rule;

/// Keywords → rules.
#[derive(Debug)]
pub(crate) struct KeywordGate {
    automaton: AhoCorasick,
    /// For each automaton pattern, the rules owning that keyword.
    owners: Vec<Vec<u32>>,
    pub(crate) longest: usize,
}

/// One keyword occurrence.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Hit {
    pub(crate) pattern: usize,
    pub(crate) start: usize,
    pub(crate) end: usize,
}

impl KeywordGate {
    pub(crate) fn new(rules: &[Rule]) -> Self {
        let mut index: HashMap<Vec<u8>, usize> = HashMap::new();
        let mut keywords: Vec<Vec<u8>> = Vec::new();
        let mut owners: Vec<Vec<u32>> = Vec::new();
        for (i, rule) in rules.iter().enumerate() {
            for kw in rule.keywords() {
                let key = kw.as_bytes().to_ascii_lowercase();
                let slot = *index.entry(key.clone()).or_insert_with(|| {
                    keywords.push(key);
                    owners.push(Vec::new());
                    owners.len() - 1
                });
                let rule_index = u32::try_from(i).expect("fewer than 2^32 rules");
                if !owners[slot].contains(&rule_index) {
                    owners[slot].push(rule_index);
                }
            }
        }
        let longest = keywords.iter().map(Vec::len).max().unwrap_or(0);
        let automaton = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .kind(Some(AhoCorasickKind::DFA))
            .build(&keywords)
            .expect("keyword automaton within size limits");
        KeywordGate { automaton, owners, longest }
    }

    /// Every keyword occurrence (overlapping) that starts in `start..` and ends by `end`.
    pub(crate) fn hits(&self, haystack: &[u8], start: usize, end: usize, out: &mut Vec<Hit>) {
        out.clear();
        if self.owners.is_empty() || start >= end {
            return;
        }
        let input = Input::new(haystack).span(start..end);
        for m in self.automaton.find_overlapping_iter(input) {
            out.push(Hit { pattern: m.pattern().as_usize(), start: m.start(), end: m.end() });
        }
    }

    /// The rules owning keyword `pattern`.
    pub(crate) fn owners(&self, pattern: usize) -> &[u32] {
        &self.owners[pattern]
    }

    /// Number of distinct keywords.
    pub(crate) fn len(&self) -> usize {
        self.owners.len()
    }
}
