//! leakgate's rule catalog and streaming scan engine.
//!
//! One Aho-Corasick automaton holds every rule's keywords; a keyword hit runs only the rules
//! owning that keyword, and only on a bounded window around the hit, so cost follows the hits
//! and not the number of rules. Input streams through in chunks with bounded memory. A match
//! is confirmed by entropy, checksum and allowlists, then handed to a caller-supplied sink.
//!
//! This crate knows nothing of git, HTTP or storage: callers attach paths, commits and
//! fingerprints ([`Finding::new`]) and decide what a finding means.
//!
//! ```
//! use leakgate_rules::{RuleSet, ScanOptions, Source};
//!
//! let rules = RuleSet::builtin();
//! let mut scanner = rules.scanner(ScanOptions::default());
//! let input = b"aws_access_key_id = AKIAZ7V4LQ3HN5TXWY2B\n"; // leakgate:allow (test fixture)
//! let mut found = Vec::new();
//! scanner.scan_bytes(input, Source { path: Some("config.ini") }, |m| {
//!     found.push((m.rule.id().to_owned(), m.line, m.secret.redacted()))
//! });
//! assert!(found.iter().any(|(id, line, redacted)| id.starts_with("aws-") && *line == 1
//!     && redacted == "AKIA…"));
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod archive;
mod catalog;
mod check;
mod checksum;
mod decode;
mod engine;
mod examples;
mod finding;
mod gate;
mod load;
mod offset;
mod project;
mod reuse;
mod rule;
mod secret;
mod table;
mod utf16;
mod withhold;

pub use check::{check_examples, Failure, Problem};
pub use checksum::Checksum;
pub use engine::{
    is_binary, Match, Outcome, RuleSet, RuleSetBuilder, ScanOptions, Scanner, Source,
};
pub use finding::Finding;
pub use load::{
    load_gitleaks_config, load_rule_file, parse_gitleaks_config, parse_rule_file, GitleaksConfig,
    LoadError,
};
pub use project::{AllowSection, PathsSection, ProjectConfig, RulesSection, PROJECT_FILE};
pub use reuse::{KeywordHits, Run, MIN_RUN};
pub use rule::{shannon_entropy, window_for, AllowlistSpec, Rule, RuleSpec, Severity};
pub use secret::{redact, Fingerprint, FingerprintKey, Secret};
pub use withhold::{Withhold, WITHHELD};

/// Whether `c` must not be shown as is where a person reads pushed text (a terminal, an
/// issue, a reviewer's list): control characters, and characters that change how the text
/// around them displays without showing themselves (bidirectional overrides and isolates,
/// zero-width characters, the byte-order mark, soft hyphens), with which a path can be made
/// to look like another.
pub fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{061C}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{2069}'
                | '\u{FEFF}'
        )
}

#[cfg(test)]
mod hidden_tests {
    #[test]
    fn bidi_and_zero_width_characters_are_hidden() {
        for c in ['\n', '\x1b', '\u{202E}', '\u{2066}', '\u{200B}', '\u{FEFF}', '\u{00AD}'] {
            assert!(super::is_hidden(c), "{c:?}");
        }
        for c in ['a', 'é', '/', '…', '\u{4E2D}'] {
            assert!(!super::is_hidden(c), "{c:?}");
        }
    }
}
