//! The engine on arbitrary bytes, whole and streamed in small chunks: it must not panic, and
//! both paths must agree on what they find.
#![no_main]

use std::sync::OnceLock;

use leakgate_rules::{RuleSet, ScanOptions, Source};
use libfuzzer_sys::fuzz_target;

fn rules() -> &'static RuleSet {
    static RULES: OnceLock<RuleSet> = OnceLock::new();
    RULES.get_or_init(RuleSet::builtin)
}

fuzz_target!(|data: &[u8]| {
    let set = rules();
    let options = ScanOptions { scan_binary: true, ..ScanOptions::default() };
    let mut whole = Vec::new();
    set.scanner(options).scan_bytes(data, Source::default(), |m| whole.push((m.rule.id().to_owned(), m.offset)));
    let streamed_options = ScanOptions { chunk_size: 4096, ..options };
    let mut streamed = Vec::new();
    set.scanner(streamed_options)
        .scan_reader(data, Source::default(), |m| streamed.push((m.rule.id().to_owned(), m.offset)))
        .expect("reading from memory cannot fail");
    // UTF-16 input is scanned in two passes (transcoded and raw) whose findings interleave
    // differently when streamed: the same findings, in any order.
    whole.sort();
    streamed.sort();
    assert_eq!(whole, streamed);
});
