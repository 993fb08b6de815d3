//! Keys kept out of the names that leave the process.
//!
//! A file, a directory or a ref can be named after a key. Findings carry the key's redacted
//! form only, but their paths and the pushed ref names go to the pusher's terminal, the
//! database, issues and notifications as they are: a branch `refs/heads/<key>` or a finding
//! at `<key>/.env` would put the plaintext there. [`Withhold`] rewrites such a name before it
//! leaves: the known secrets of the same scan (a key found in a file's content may also name a
//! directory, where no rule's context sees it) and whatever the rules find in the name itself
//! (each `/`-separated component alone, as the hook's names scan reads tree entries, and the
//! whole name) are replaced by their redacted form, or the component by [`WITHHELD`] when the
//! key is there encoded.

use std::collections::HashMap;

use crate::{RuleSet, ScanOptions, Scanner, Secret, Source};

/// What replaces a name's component that holds a key in a form other than its plaintext
/// (encoded), or a whole name that still holds one after [`ROUNDS`] rewrites.
pub const WITHHELD: &str = "[withheld]";

/// Rewrites before a name is withheld whole: each round replaces what the previous one
/// uncovered (a redacted form can sit next to text that then reads as another key).
const ROUNDS: usize = 4;

/// Known secrets shorter than this are not looked for in names: a few characters are too
/// likely to be part of an ordinary name (the rules still read the name itself).
const MIN_KNOWN: usize = 8;

/// Rewrites names (paths, ref names) so that no key in them leaves the process. One per
/// thread; each distinct name is scanned once.
pub struct Withhold<'r> {
    scanner: Scanner<'r>,
    /// Known secrets as text, longest first (a key containing another is replaced whole).
    known: Vec<(String, String)>,
    seen: HashMap<String, String>,
}

impl<'r> Withhold<'r> {
    /// Withholds what `rules` find in a name and every secret of `known` (the findings of the
    /// same scan).
    pub fn new<'s>(rules: &'r RuleSet, known: impl IntoIterator<Item = &'s Secret>) -> Self {
        let options = ScanOptions { deadline: None, ..ScanOptions::default() };
        let mut withhold =
            Withhold { scanner: rules.scanner(options), known: Vec::new(), seen: HashMap::new() };
        withhold.know(known);
        withhold
    }

    fn know<'s>(&mut self, secrets: impl IntoIterator<Item = &'s Secret>) {
        for secret in secrets.into_iter().filter(|s| s.len() >= MIN_KNOWN) {
            let Ok(text) = std::str::from_utf8(secret.expose()) else { continue };
            // A key of several lines (a private key) found in the names of a tree's entries,
            // one a line, sits in a path with `/` for its line ends.
            let mut forms = vec![text.to_owned()];
            if text.contains('\n') {
                forms.push(text.replace("\r\n", "/").replace('\n', "/"));
            }
            for form in forms {
                self.known.push((form, secret.redacted()));
            }
        }
        self.known.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        self.known.dedup_by(|a, b| a.0 == b.0);
        self.seen.clear();
    }

    /// Adds to the known secrets what the rules find in `raw`, as bytes: a name shown escaped
    /// (`\xff` before a key joins the key's first word) or a file the name came from.
    pub fn learn(&mut self, raw: &[u8]) {
        let mut found = Vec::new();
        let lines: Vec<u8> = raw.iter().map(|&b| if b == b'/' { b'\n' } else { b }).collect();
        for input in [raw, &lines[..]] {
            self.scanner.scan_bytes(input, Source { path: None }, |m| found.push(m.secret));
        }
        self.know(found.iter());
    }

    /// `name` without keys: unchanged when it holds none.
    pub fn name(&mut self, name: &str) -> String {
        if let Some(done) = self.seen.get(name) {
            return done.clone();
        }
        let done = self.rewrite(name);
        self.seen.insert(name.to_owned(), done.clone());
        done
    }

    fn rewrite(&mut self, name: &str) -> String {
        let mut text = name.to_owned();
        for (secret, redacted) in &self.known {
            if text.contains(secret.as_str()) {
                text = text.replace(secret.as_str(), redacted);
            }
        }
        for _ in 0..ROUNDS {
            let spans = self.keys_in(text.as_bytes());
            if spans.is_empty() {
                return text;
            }
            text = replace(text.as_bytes(), spans);
        }
        if self.keys_in(text.as_bytes()).is_empty() {
            text
        } else {
            WITHHELD.to_owned()
        }
    }

    /// The spans of `text` holding a key, with what replaces each: the redacted form where the
    /// key is there as it is, [`WITHHELD`] for the whole component where it is encoded.
    fn keys_in(&mut self, text: &[u8]) -> Vec<(usize, usize, String)> {
        let mut spans = Vec::new();
        // Each component alone reads as the names scan read the tree entry; the whole name
        // finds a key across a `/` (base64 holds them).
        let lines: Vec<u8> = text.iter().map(|&b| if b == b'/' { b'\n' } else { b }).collect();
        for input in [&lines[..], text] {
            self.scanner.scan_bytes(input, Source { path: None }, |m| {
                spans.push(span_of(text, input, &m.secret, m.offset));
            });
        }
        spans
    }
}

/// Where the secret found at `offset` of `scanned` (`text`, or `text` with `/` read as line
/// ends: same offsets) is, and what replaces it.
fn span_of(text: &[u8], scanned: &[u8], secret: &Secret, offset: u64) -> (usize, usize, String) {
    let Ok(start) = usize::try_from(offset) else { return (0, text.len(), WITHHELD.to_owned()) };
    let end = start.saturating_add(secret.len());
    if scanned.get(start..end) == Some(secret.expose()) {
        // Across components too: a private key's lines as directory names.
        return (start, end, secret.redacted());
    }
    if start >= text.len() {
        return (0, text.len(), WITHHELD.to_owned());
    }
    let from = text[..start].iter().rposition(|&b| b == b'/').map_or(0, |i| i + 1);
    let to = text[start..].iter().position(|&b| b == b'/').map_or(text.len(), |i| start + i);
    (from, to, WITHHELD.to_owned())
}

/// `text` with `spans` replaced; overlapping spans become one, withheld unless they are the
/// same span.
fn replace(text: &[u8], mut spans: Vec<(usize, usize, String)>) -> String {
    spans.sort_by_key(|s| (s.0, s.1));
    let mut merged: Vec<(usize, usize, String)> = Vec::with_capacity(spans.len());
    for span in spans {
        match merged.last_mut() {
            Some(last) if span.0 < last.1 => {
                if (span.0, span.1) != (last.0, last.1) {
                    last.1 = last.1.max(span.1);
                    last.2 = WITHHELD.to_owned();
                }
            }
            _ => merged.push(span),
        }
    }
    let mut out = Vec::with_capacity(text.len());
    let mut at = 0;
    for (start, end, with) in merged {
        out.extend_from_slice(&text[at..start]);
        out.extend_from_slice(with.as_bytes());
        at = end;
    }
    out.extend_from_slice(&text[at..]);
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const GHP: &str = "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"; // leakgate:allow (test fixture)
    const AWS_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzQ3kLm8NqT"; // leakgate:allow (test fixture)

    fn withhold(name: &str, known: &[Secret]) -> String {
        let rules = RuleSet::builtin();
        Withhold::new(&rules, known).name(name)
    }

    #[test]
    fn names_without_keys_are_unchanged() {
        for name in ["refs/heads/main", "src/lib.rs", "docs/ghp_tokens.md", "a//b/", ""] {
            assert_eq!(withhold(name, &[]), name);
        }
    }

    #[test]
    fn a_key_in_a_component_is_redacted_in_place() {
        let out = withhold(&format!("refs/heads/{GHP}"), &[]);
        assert_eq!(out, "refs/heads/ghp_…");
        let out = withhold(&format!("config/{GHP}/.env"), &[]);
        assert_eq!(out, "config/ghp_…/.env");
        let out = withhold(&format!("x/token-{GHP}.txt"), &[]);
        assert_eq!(out, "x/token-ghp_….txt");
    }

    #[test]
    fn a_known_secret_is_redacted_where_no_rule_sees_it() {
        // An AWS secret key alone names nothing a rule recognises; the finding in the file
        // below it knows it.
        let known = [Secret::new(AWS_SECRET.as_bytes())];
        let out = withhold(&format!("keys/{AWS_SECRET}/credentials"), &known);
        assert!(!out.contains(AWS_SECRET), "{out}");
        assert!(!out.contains("K7MDENG"), "{out}");
        assert!(out.starts_with("keys/") && out.ends_with("/credentials"), "{out}");
    }

    /// A private key whose lines name nested directories: found across components, withheld
    /// whole (review of session 27: only the `BEGIN` line was).
    #[test]
    fn a_key_of_several_lines_as_directories_is_withheld_whole() {
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+";
        let mut line = || -> String {
            (0..64)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    B64[(state % 63) as usize] as char
                })
                .collect()
        };
        let body = [line(), line(), line()];
        let kind = "RSA PRIVATE KEY";
        let key = format!("-----BEGIN {kind}-----\n{}\n-----END {kind}-----", body.join("\n"));
        let path = format!("keys/{}/x.txt", key.replace('\n', "/"));
        let rules = RuleSet::builtin();
        let mut found = Vec::new();
        rules
            .scanner(ScanOptions::default())
            .scan_bytes(key.as_bytes(), Source::default(), |m| found.push(m.secret));
        assert!(!found.is_empty(), "the fixture is a key");
        for known in [&[][..], &found[..]] {
            let out = Withhold::new(&rules, known).name(&path);
            for part in &body {
                assert!(!out.contains(&part[..20]), "{out}");
            }
            assert!(out.starts_with("keys/") && out.ends_with("/x.txt"), "{out}");
        }
    }

    /// A byte that is not UTF-8 before a key: escaped, it joins the key's first word, and the
    /// rules no longer see the key in the escaped name; learned from the raw name, it is
    /// withheld.
    #[test]
    fn a_key_behind_a_byte_that_is_not_utf8_is_learned_from_the_raw_name() {
        let rules = RuleSet::builtin();
        let raw = [b"refs/heads/\xff".as_slice(), GHP.as_bytes()].concat();
        let shown = format!("refs/heads/\\xff{GHP}");
        let mut withhold = Withhold::new(&rules, []);
        withhold.learn(&raw);
        let out = withhold.name(&shown);
        assert!(!out.contains(GHP), "{out}");
        assert_eq!(out, "refs/heads/\\xffghp_…");
    }

    #[test]
    fn an_encoded_key_withholds_its_component() {
        use base64::Engine as _;
        let encoded =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("token: {GHP}\n"));
        let out = withhold(&format!("a/{encoded}/b"), &[]);
        assert!(!out.contains(&encoded), "{out}");
        assert!(out.starts_with("a/") && out.ends_with("/b"), "{out}");
    }
}
