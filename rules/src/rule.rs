//! The rule schema (what a TOML file says) and the compiled rule (what the engine runs).

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use globset::{Glob, GlobSet, GlobSetBuilder};
use regex_automata::meta::Regex;
use regex_automata::util::captures::Captures;
use regex_automata::{Anchored, Input};
use serde::{Deserialize, Serialize};

use crate::checksum::Checksum;
use crate::load::LoadError;

/// Window around a keyword hit for rules whose regex has no upper bound on its length.
pub const DEFAULT_MAX_LEN: usize = 256;
/// No window is ever larger than this, whatever a rule asks for: it bounds the overlap kept
/// between streamed chunks, and so the engine's memory.
pub const MAX_WINDOW: usize = 16 * 1024;

/// How bad a leak of this kind is. Ordered: `Low < Medium < High < Critical`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Generic, heuristic findings; never block a push by default.
    Low,
    /// Limited-scope or test-mode credentials.
    Medium,
    /// Most API tokens.
    High,
    /// Broad account, cloud or payment access.
    Critical,
}

impl Severity {
    /// The lowercase name used in rule files, configuration and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "low" => Ok(Severity::Low),
            "medium" => Ok(Severity::Medium),
            "high" => Ok(Severity::High),
            "critical" => Ok(Severity::Critical),
            other => Err(format!("unknown severity {other:?} (critical, high, medium or low)")),
        }
    }
}

/// One rule as written in a rule file (`[[rules]]`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// Unique id, `provider-what`.
    pub id: String,
    /// What the secret is, for people.
    pub description: String,
    /// Provider id (one rule file per provider).
    pub provider: String,
    /// Literals every match contains, matched ASCII-case-insensitively. Empty means the regex
    /// runs on all input (only gitleaks imports do that).
    pub keywords: Vec<String>,
    /// The regex; the secret is the group named `secret`, else the first group.
    pub regex: String,
    /// How bad a leak is.
    pub severity: Severity,
    /// Minimum Shannon entropy of the secret, bits per character.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entropy: Option<f64>,
    /// Checksum the secret must carry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<Checksum>,
    /// Values and paths that are known not to be secrets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowlist: Option<AllowlistSpec>,
    /// Revocation provider that can revoke this secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoke: Option<String>,
    /// Window size around a keyword hit; derived from the regex when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_len: Option<usize>,
    /// How far before its keyword a match may start, in bytes (default: the window). A
    /// rule whose keyword sits near the start of every match (a name, then its value) says
    /// so, and its regex runs on a third of the bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lookbehind: Option<usize>,
    /// `false` for a known format that is not a leak (test-mode keys): its matches are not
    /// reported, and keep the generic rules from reporting the same text.
    #[serde(default = "yes", skip_serializing_if = "is_yes")]
    pub report: bool,
    /// Inputs the rule must find.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub examples: Vec<String>,
    /// Inputs the rule must not find.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub negative_examples: Vec<String>,
    /// Where the format is documented.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<String>,
}

fn yes() -> bool {
    true
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if signature
fn is_yes(value: &bool) -> bool {
    *value
}

/// `[rules.allowlist]`: values and paths that are known not to be secrets.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowlistSpec {
    /// A secret containing one of these (ASCII-case-insensitively) is dropped.
    #[serde(default)]
    pub stopwords: Vec<String>,
    /// A secret matching one of these regexes is dropped.
    #[serde(default)]
    pub regexes: Vec<String>,
    /// Paths (globs) where the rule does not apply.
    #[serde(default)]
    pub paths: Vec<String>,
    /// A match (the rule's whole match, a name and its value) matching one of these is
    /// dropped: the name says what the value is not (`publicKey`, `cacheKey`, `client_id`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_regexes: Vec<String>,
}

/// What an allowlist regex is matched against (gitleaks' `regexTarget`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    Secret,
    Match,
    Line,
}

/// How an allowlist's paths are written: globs in our files, regexes in gitleaks files.
#[derive(Debug)]
pub(crate) enum PathMatcher {
    Globs(GlobSet),
    Regexes(Vec<Regex>),
}

impl PathMatcher {
    pub(crate) fn globs(patterns: &[String], id: &str) -> Result<Option<Self>, LoadError> {
        if patterns.is_empty() {
            return Ok(None);
        }
        let mut builder = GlobSetBuilder::new();
        for pattern in patterns {
            let glob = Glob::new(pattern).map_err(|source| LoadError::Glob {
                id: id.to_owned(),
                pattern: pattern.clone(),
                source,
            })?;
            builder.add(glob);
        }
        let set = builder.build().map_err(|source| LoadError::Glob {
            id: id.to_owned(),
            pattern: patterns.join(", "),
            source,
        })?;
        Ok(Some(PathMatcher::Globs(set)))
    }

    pub(crate) fn is_match(&self, path: &str) -> bool {
        match self {
            PathMatcher::Globs(set) => set.is_match(path),
            PathMatcher::Regexes(regexes) => regexes.iter().any(|re| re.is_match(path)),
        }
    }
}

/// A regex compiled on first use (allowlist regexes of the embedded catalog are rarely needed).
/// Every `LazyRegex` of one source shares one compiled regex: the catalog's 424 allowlist
/// regexes are 80 patterns (generic rules share their lists of what is not a secret), and a
/// scan of crate sources compiled the same ones for rule after rule (23 M instructions for
/// 50 compiles).
#[derive(Debug)]
pub(crate) struct LazyRegex {
    source: String,
    regex: Arc<OnceLock<Regex>>,
}

/// The compiled regex every `LazyRegex` of `source` shares. Entries are never removed: they
/// are as many as the distinct patterns ever loaded, and a regex is compiled only once used.
fn shared_regex(source: &str) -> Arc<OnceLock<Regex>> {
    static TABLE: OnceLock<Mutex<HashMap<String, Arc<OnceLock<Regex>>>>> = OnceLock::new();
    let mut table =
        TABLE.get_or_init(Mutex::default).lock().unwrap_or_else(PoisonError::into_inner);
    match table.get(source) {
        Some(shared) => Arc::clone(shared),
        None => {
            let shared = Arc::new(OnceLock::new());
            table.insert(source.to_owned(), Arc::clone(&shared));
            shared
        }
    }
}

impl LazyRegex {
    /// Wraps `source`, compiling it now when `now` (to report errors at load time).
    pub(crate) fn new(source: &str, id: &str, now: bool) -> Result<Self, LoadError> {
        let lazy = LazyRegex { source: source.to_owned(), regex: shared_regex(source) };
        if now && lazy.regex.get().is_none() {
            let re = compile(source).map_err(|e| LoadError::regex(id, e))?;
            let _ = lazy.regex.set(re);
        }
        Ok(lazy)
    }

    pub(crate) fn is_match(&self, haystack: &[u8]) -> bool {
        self.regex
            .get_or_init(|| {
                compile(&self.source)
                    .expect("allowlist regexes are validated when their catalog is built or loaded")
            })
            .is_match(haystack)
    }
}

/// A compiled allowlist.
#[derive(Debug, Default)]
pub(crate) struct Allowlist {
    pub(crate) stopwords: Vec<String>,
    pub(crate) regexes: Vec<LazyRegex>,
    pub(crate) target: Option<Target>,
    pub(crate) paths: Option<PathMatcher>,
    /// gitleaks' `condition = "AND"`: every criterion given must hold.
    pub(crate) require_all: bool,
}

/// What an allowlist looks at for one candidate.
pub(crate) struct Candidate<'a> {
    pub(crate) secret: &'a [u8],
    pub(crate) whole: &'a [u8],
    pub(crate) line: &'a [u8],
    pub(crate) path: Option<&'a str>,
}

impl Allowlist {
    pub(crate) fn from_spec(spec: &AllowlistSpec, id: &str, now: bool) -> Result<Self, LoadError> {
        Ok(Allowlist {
            stopwords: spec.stopwords.iter().map(|w| w.to_ascii_lowercase()).collect(),
            regexes: spec
                .regexes
                .iter()
                .map(|re| LazyRegex::new(re, id, now))
                .collect::<Result<_, _>>()?,
            target: None,
            paths: PathMatcher::globs(&spec.paths, id)?,
            require_all: false,
        })
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.stopwords.is_empty() && self.regexes.is_empty() && self.paths.is_none()
    }

    /// Whether only the path matters (decided once per blob, not per candidate).
    pub(crate) fn paths_only(&self) -> bool {
        self.stopwords.is_empty() && self.regexes.is_empty() && self.paths.is_some()
    }

    pub(crate) fn allows(&self, c: &Candidate<'_>) -> bool {
        let mut checks = [None, None, None];
        if !self.stopwords.is_empty() {
            let lower = c.secret.to_ascii_lowercase();
            checks[0] = Some(
                self.stopwords.iter().any(|w| memchr::memmem::find(&lower, w.as_bytes()).is_some()),
            );
        }
        if !self.regexes.is_empty() {
            let hay = match self.target.unwrap_or(Target::Secret) {
                Target::Secret => c.secret,
                Target::Match => c.whole,
                Target::Line => c.line,
            };
            checks[1] = Some(self.regexes.iter().any(|re| re.is_match(hay)));
        }
        if let Some(paths) = &self.paths {
            checks[2] = Some(c.path.is_some_and(|p| paths.is_match(p)));
        }
        let mut given = checks.iter().flatten().peekable();
        if given.peek().is_none() {
            return false;
        }
        if self.require_all {
            given.all(|hit| *hit)
        } else {
            given.any(|hit| *hit)
        }
    }
}

/// A compiled rule.
#[derive(Debug)]
pub struct Rule {
    pub(crate) spec: RuleSpec,
    pub(crate) regex: OnceLock<Compiled>,
    /// Explicit secret group (gitleaks' `secretGroup`); otherwise `secret` or the first group.
    pub(crate) secret_group: Option<usize>,
    pub(crate) max_len: usize,
    /// Bytes before a keyword hit where a match may start.
    pub(crate) before: usize,
    pub(crate) allowlists: Vec<Allowlist>,
    /// gitleaks' rule-level `path`: the rule applies only to matching paths.
    pub(crate) only_paths: Option<PathMatcher>,
    pub(crate) generic: bool,
    pub(crate) longest_keyword: usize,
    /// `Some(n)`: every match has one of the keywords at most `n` bytes in, `n` at most
    /// [`ANCHORED_WITHIN`] (`lookbehind` 0 for `\bghp_[A-Za-z0-9]{36}`, 1 for
    /// `(?:^|[^A-Za-z0-9_-])vcp_...`; most of the built-in rules). The gate reports every
    /// occurrence of every keyword, so each match starts at most `n` bytes before a hit, and
    /// a hit needs only anchored searches from those `n + 1` starts, which fail within a few
    /// bytes where the keyword is a word's start (`pat` of Airtable's `pat<14>.<64 hex>` in
    /// `path`: 2 million hits on cargo's history), instead of a search of its whole window.
    pub(crate) anchored: Option<usize>,
}

/// The most bytes before its keyword a match of a rule searched from its hits' starts
/// ([`Rule::anchored`]) may start: each is an anchored search.
const ANCHORED_WITHIN: usize = 4;

impl Rule {
    /// Builds a rule from its spec. `max_len` is the window, already derived from the regex;
    /// `now` compiles the allowlist's regexes now rather than on first use.
    pub(crate) fn new(spec: RuleSpec, max_len: usize, now: bool) -> Result<Self, LoadError> {
        let mut allowlists = Vec::new();
        if let Some(a) = &spec.allowlist {
            allowlists.push(Allowlist::from_spec(a, &spec.id, now)?);
            if !a.match_regexes.is_empty() {
                allowlists.push(Allowlist {
                    regexes: a
                        .match_regexes
                        .iter()
                        .map(|re| LazyRegex::new(re, &spec.id, now))
                        .collect::<Result<_, _>>()?,
                    target: Some(Target::Match),
                    ..Allowlist::default()
                });
            }
        }
        let generic = spec.provider == "generic";
        // The built-in catalog's bound is computed at build time; a user rule's here.
        let lookbehind = spec.lookbehind.or_else(|| keyword_offset(&spec.regex, &spec.keywords));
        let anchored = lookbehind.filter(|&l| l <= ANCHORED_WITHIN && !spec.keywords.is_empty());
        let lookbehind = lookbehind.unwrap_or(max_len).clamp(1, MAX_WINDOW);
        let longest_keyword = spec.keywords.iter().map(String::len).max().unwrap_or(0);
        Ok(Rule {
            spec,
            regex: OnceLock::new(),
            secret_group: None,
            max_len: max_len.clamp(1, MAX_WINDOW),
            before: lookbehind,
            allowlists,
            only_paths: None,
            generic,
            longest_keyword,
            anchored,
        })
    }

    /// Compiles the regex now (user rule files are checked when they load).
    pub(crate) fn compile_now(&self) -> Result<(), LoadError> {
        // No filter: with the regex compiled, the filter is never asked.
        let compiled = self.regex.get_or_init(|| Compiled::new(&self.spec.regex, false));
        if compiled.regex.get().is_none() {
            let regex =
                compiled.build(&self.spec.regex).map_err(|e| LoadError::regex(&self.spec.id, e))?;
            let _ = compiled.regex.set(regex);
        }
        Ok(())
    }

    /// The literals every match holds, found on first use and shared by all threads.
    pub(crate) fn compiled(&self) -> &Compiled {
        self.regex.get_or_init(|| Compiled::new(&self.spec.regex, true))
    }

    /// The regex, compiled on first use and shared by all threads.
    pub(crate) fn regex(&self) -> &Regex {
        let compiled = self.compiled();
        compiled.regex.get_or_init(|| {
            compiled
                .build(&self.spec.regex)
                .expect("rule regexes are validated when their catalog is built or loaded")
        })
    }

    /// The unique rule id.
    pub fn id(&self) -> &str {
        &self.spec.id
    }
    /// What the secret is.
    pub fn description(&self) -> &str {
        &self.spec.description
    }
    /// The provider id.
    pub fn provider(&self) -> &str {
        &self.spec.provider
    }
    /// The severity.
    pub fn severity(&self) -> Severity {
        self.spec.severity
    }
    /// The revocation provider, if one can revoke this secret.
    pub fn revoke(&self) -> Option<&str> {
        self.spec.revoke.as_deref()
    }
    /// The checksum scheme, if the format has one.
    pub fn checksum(&self) -> Option<Checksum> {
        self.spec.checksum
    }
    /// The gate keywords.
    pub fn keywords(&self) -> &[String] {
        &self.spec.keywords
    }
    /// The rule as written (examples are absent for the embedded catalog).
    pub fn spec(&self) -> &RuleSpec {
        &self.spec
    }

    /// The secret's span within a match: group `secret`, an explicit group, the first group,
    /// or the whole match.
    pub(crate) fn secret_span(&self, caps: &Captures) -> Option<(usize, usize)> {
        let group = match self.secret_group {
            Some(g) => g,
            None => {
                let info = caps.group_info();
                match info.to_index(regex_automata::PatternID::ZERO, "secret") {
                    Some(g) => g,
                    None if info.group_len(regex_automata::PatternID::ZERO) > 1 => 1,
                    None => 0,
                }
            }
        };
        caps.get_group(group).map(|s| (s.start, s.end))
    }

    /// The secret's span in the match at `start..end` of `haystack`.
    pub(crate) fn secret_in(
        &self,
        haystack: &[u8],
        start: usize,
        end: usize,
    ) -> Option<(usize, usize)> {
        if self.secret_group.is_none() && self.compiled().whole {
            return Some((start, end));
        }
        self.secret_span(&self.captures(haystack, start, end))
    }

    /// Captures of the match at `start..end` of `haystack`, with look-around context.
    pub(crate) fn captures(&self, haystack: &[u8], start: usize, end: usize) -> Captures {
        let re = self.regex();
        let mut caps = re.create_captures();
        let input = Input::new(haystack).range(start..end).anchored(Anchored::Yes);
        re.search_captures(&input, &mut caps);
        caps
    }
}

/// A rule's regex, compiled once a window may match (see [`Rule::regex`]), and what is known
/// from the pattern alone: literals every match contains, and whether the secret is the whole
/// match. A scan compiles only the regexes of rules whose windows hold their literals and pass
/// the rule's filter: compiling a regex costs 0.1-3 ms (a quarter of a 25 MB directory scan's
/// CPU time when every rule a keyword woke was compiled), parsing the pattern and building its
/// filter 10-350 us, 40 on average over the catalog. On the 25 MB directory of crate sources,
/// 73 rules are woken and 5 regexes compiled.
#[derive(Debug)]
pub(crate) struct Compiled {
    regex: OnceLock<Regex>,
    /// The pattern's syntax tree, kept for the regex: built from it, the regex does not parse
    /// the pattern a second time (a rule's parse costs ~0.4 M instructions, paid by every
    /// process on the rule's first hit). `None` when it does not parse.
    hir: Option<regex_syntax::hir::Hir>,
    /// A forward-only lazy DFA of the pattern with its long counted repetitions left open
    /// (see [`relax`]) and no captures: a superset of the rule's language that builds in
    /// 10-350 us where the regex takes 0.1-3 ms. A window it rejects holds no match, so
    /// the regex is compiled only for rules some window may match, or whose windows are many
    /// ([`TIER_UP`]: the regex searches a window faster, its literals first). Built with the
    /// rest, from the same parse: the pattern is parsed once. `None` when the pattern does not
    /// build into a lazy DFA: the regex then always runs.
    filter: Option<Filter>,
    /// Windows the filter has judged.
    filtered: std::sync::atomic::AtomicU32,
    /// Case-sensitive literals that every match contains, rarest first. Checking a window for
    /// them with `memchr` is far cheaper than starting a regex search: a URL rule's `@`
    /// rejects most of the URLs its `https://` keyword opens windows on.
    required: Vec<Required>,
    /// The secret is the whole match (the pattern is one `secret` group, or has no group):
    /// no capture search is needed. Capture search falls back to the PikeVM on large
    /// patterns, which on a PEM key's `{64,8000}` repetition costs tens of microseconds.
    pub(crate) whole: bool,
    /// No match holds a line feed: a match that overlaps a keyword hit lies on the hit's
    /// line, and the window is cut to it. Generic rules read up to 160 bytes before their
    /// keyword for the name's start, across short lines of code for nothing.
    pub(crate) one_line: bool,
    /// The shortest match's length in bytes.
    pub(crate) min_len: usize,
    /// The bytes a match may start with (all of them when the pattern can match the empty
    /// string): an anchored search elsewhere is not started.
    first: [bool; 256],
}

impl Compiled {
    /// What is known of `pattern`, and its filter when `filter` (a rule whose regex is
    /// compiled at once, as user rule files' are, needs none).
    fn new(pattern: &str, filter: bool) -> Self {
        use regex_syntax::hir::HirKind;
        let hir = parse(pattern);
        let whole = hir.as_ref().is_some_and(|hir| match hir.kind() {
            HirKind::Capture(cap) => {
                cap.name.as_deref() == Some("secret")
                    && cap.sub.properties().explicit_captures_len() == 0
            }
            _ => hir.properties().explicit_captures_len() == 0,
        });
        let filter = hir.as_ref().filter(|_| filter).and_then(|hir| {
            // The filter compiles no captures: only long repetitions need relaxing, and
            // rebuilding a tree that has none cost as much as parsing it.
            if has_long_repetition(hir) {
                Filter::new(&relax(hir))
            } else {
                Filter::new(hir)
            }
        });
        let one_line = hir.as_ref().is_some_and(|hir| !matches_line_feed(hir));
        let min_len = hir.as_ref().and_then(|hir| hir.properties().minimum_len()).unwrap_or(0);
        let mut first = [true; 256];
        if let Some(hir) = &hir {
            let mut bytes = [false; 256];
            // A pattern that matches the empty string may start anywhere.
            if first_bytes(hir, &mut bytes) == Some(false) {
                first = bytes;
            }
        }
        let mut required = hir
            .as_ref()
            .map(|hir| {
                let mut out = Vec::new();
                required_literals(hir, &mut out);
                out
            })
            .unwrap_or_default();
        // Punctuation is rarer than letters in text; check the rarest-looking literal first.
        required.sort_by_key(|l: &Vec<u8>| l.iter().filter(|b| b.is_ascii_punctuation()).count());
        required.reverse();
        required.dedup();
        required.truncate(3);
        let required = required
            .into_iter()
            .map(|lit| match lit.as_slice() {
                [b] => Required::Byte(*b),
                _ => Required::Bytes(Box::new(memchr::memmem::Finder::new(&lit).into_owned())),
            })
            .collect();
        Compiled {
            regex: OnceLock::new(),
            hir,
            filter,
            filtered: std::sync::atomic::AtomicU32::new(0),
            required,
            whole,
            one_line,
            min_len,
            first,
        }
    }

    /// Compiles the regex of `pattern`, this tree's source: from the tree when it parsed.
    fn build(&self, pattern: &str) -> Result<Regex, Box<regex_automata::meta::BuildError>> {
        match &self.hir {
            Some(hir) => compile_hir(hir),
            None => compile(pattern),
        }
    }

    /// Whether a match may start with `byte`.
    pub(crate) fn may_start_with(&self, byte: u8) -> bool {
        self.first[usize::from(byte)]
    }

    /// Whether the relaxed pattern matches in `input` (see `filter`): false means the rule
    /// cannot match there.
    pub(crate) fn filter_match(&self, input: &Input<'_>) -> bool {
        // Once compiled, the regex is the faster judge: it searches for its literals first.
        if self.regex.get().is_some()
            || self.filtered.fetch_add(1, std::sync::atomic::Ordering::Relaxed) >= TIER_UP
        {
            return true;
        }
        self.filter_alone(input)
    }

    /// Whether the relaxed pattern matches `input`, never giving way to the regex. For
    /// anchored searches: they fail within a few bytes where most hits are, so the regex
    /// would be compiled for nothing.
    pub(crate) fn filter_alone(&self, input: &Input<'_>) -> bool {
        self.filter.as_ref().is_none_or(|f| f.is_match(input))
    }

    /// Whether `window` can hold a match at all.
    pub(crate) fn may_match(&self, window: &[u8]) -> bool {
        self.required.iter().all(|lit| match lit {
            Required::Byte(b) => memchr::memchr(*b, window).is_some(),
            Required::Bytes(finder) => finder.find(window).is_some(),
        })
    }
}

/// A literal every match contains, with its searcher built once (building one costs about as
/// much as searching a window).
#[derive(Debug)]
enum Required {
    Byte(u8),
    Bytes(Box<memchr::memmem::Finder<'static>>),
}

/// Literals that every match of `hir` contains: literals in concatenations, through captures
/// and repetitions of at least one. Alternations and classes contribute nothing (a
/// case-insensitive literal is a class), so the answer is conservative.
fn required_literals(hir: &regex_syntax::hir::Hir, out: &mut Vec<Vec<u8>>) {
    use regex_syntax::hir::HirKind;
    match hir.kind() {
        HirKind::Literal(lit) => out.push(lit.0.to_vec()),
        HirKind::Capture(cap) => required_literals(&cap.sub, out),
        HirKind::Repetition(rep) if rep.min >= 1 => required_literals(&rep.sub, out),
        HirKind::Concat(items) => items.iter().for_each(|item| required_literals(item, out)),
        _ => {}
    }
}

/// Whether a match of `hir` may hold a line feed. Assertions (`^`, `$`, `\b`) only look at
/// one.
fn matches_line_feed(hir: &regex_syntax::hir::Hir) -> bool {
    use regex_syntax::hir::{Class, HirKind};
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => false,
        HirKind::Literal(lit) => lit.0.contains(&b'\n'),
        HirKind::Class(Class::Bytes(class)) => {
            class.ranges().iter().any(|r| (r.start()..=r.end()).contains(&b'\n'))
        }
        HirKind::Class(Class::Unicode(class)) => {
            class.ranges().iter().any(|r| (r.start()..=r.end()).contains(&'\n'))
        }
        HirKind::Repetition(rep) => rep.max != Some(0) && matches_line_feed(&rep.sub),
        HirKind::Capture(cap) => matches_line_feed(&cap.sub),
        HirKind::Concat(items) | HirKind::Alternation(items) => items.iter().any(matches_line_feed),
    }
}

/// Adds to `out` the bytes a non-empty match of `hir` may start with (assertions are read as
/// empty, so the set may be larger than the truth); `Some(nullable)` says whether `hir` can
/// match the empty string, and then what follows it may start the match too.
fn first_bytes(hir: &regex_syntax::hir::Hir, out: &mut [bool; 256]) -> Option<bool> {
    use regex_syntax::hir::{Class, HirKind};
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => Some(true),
        HirKind::Literal(lit) => {
            out[usize::from(*lit.0.first()?)] = true;
            Some(false)
        }
        HirKind::Class(Class::Bytes(class)) => {
            for r in class.ranges() {
                (r.start()..=r.end()).for_each(|b| out[usize::from(b)] = true);
            }
            Some(false)
        }
        // Not parsed so (no Unicode mode): every byte may start it.
        HirKind::Class(Class::Unicode(_)) => {
            out.iter_mut().for_each(|b| *b = true);
            Some(false)
        }
        HirKind::Repetition(rep) => {
            if rep.max == Some(0) {
                return Some(true);
            }
            let nullable = first_bytes(&rep.sub, out)?;
            Some(nullable || rep.min == 0)
        }
        HirKind::Capture(cap) => first_bytes(&cap.sub, out),
        HirKind::Concat(items) => {
            for item in items {
                if !first_bytes(item, out)? {
                    return Some(false);
                }
            }
            Some(true)
        }
        HirKind::Alternation(items) => {
            let mut nullable = false;
            for item in items {
                nullable |= first_bytes(item, out)?;
            }
            Some(nullable)
        }
    }
}

/// A pattern's syntax tree, as rules are compiled: bytes, ASCII classes (`None` if it does
/// not parse; rule files are checked when they load).
fn parse(pattern: &str) -> Option<regex_syntax::hir::Hir> {
    regex_syntax::ParserBuilder::new().utf8(false).unicode(false).build().parse(pattern).ok()
}

/// [`crate::offset::keyword_offset`] of a pattern.
fn keyword_offset(pattern: &str, keywords: &[String]) -> Option<usize> {
    crate::offset::keyword_offset(&parse(pattern)?, keywords)
}

/// See [`Compiled::filter`]: a lazy DFA and a cache per thread that uses it.
struct Filter {
    dfa: regex_automata::hybrid::dfa::DFA,
    caches: regex_automata::util::pool::Pool<FilterCache, CacheFn>,
}

type FilterCache = regex_automata::hybrid::dfa::Cache;
type CacheFn =
    Box<dyn Fn() -> FilterCache + Send + Sync + std::panic::RefUnwindSafe + std::panic::UnwindSafe>;

impl Filter {
    /// The filter of a relaxed pattern: `None` when it does not build into a lazy DFA.
    ///
    /// It has no prefilter (no search for literals every match starts with): windows are
    /// small, so one would save little, and extracting the literals cost 40% of building a
    /// filter, with no measurable gain in search time (`cargo bench -p leakgate-rules files`).
    fn new(relaxed: &regex_syntax::hir::Hir) -> Option<Filter> {
        use regex_automata::hybrid::dfa::DFA;
        use regex_automata::nfa::thompson;
        // Bounded as the regex is (a rule file's counted repetitions nest: without a bound,
        // `((a{16}){16}){16}...` took gigabytes before it failed).
        let nfa = thompson::Compiler::new()
            .configure(
                thompson::Config::new()
                    .which_captures(thompson::WhichCaptures::None)
                    .nfa_size_limit(Some(FILTER_NFA_LIMIT)),
            )
            .build_from_hir(relaxed)
            .ok()?;
        // Windows are small: a small cache, cleared when full, is enough.
        let dfa = DFA::builder()
            .configure(DFA::config().cache_capacity(FILTER_CACHE))
            .build_from_nfa(nfa)
            .ok()?;
        let for_caches = dfa.clone();
        let caches =
            regex_automata::util::pool::Pool::new(
                Box::new(move || for_caches.create_cache()) as CacheFn
            );
        Some(Filter { dfa, caches })
    }

    fn is_match(&self, input: &Input<'_>) -> bool {
        let mut cache = self.caches.get();
        let input = input.clone().earliest(true);
        // A lazy DFA that gives up (its cache thrashing) says nothing: the regex decides.
        self.dfa.try_search_fwd(&mut cache, &input).map_or(true, |m| m.is_some())
    }
}

impl fmt::Debug for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Filter").finish_non_exhaustive()
    }
}

/// Windows a rule's filter judges before its regex is compiled anyway: compiling costs about
/// what searching a few thousand windows with the filter rather than the regex does, and a
/// long scan hits the same rules again and again.
const TIER_UP: u32 = 4096;

/// Bytes a filter's NFA may take: the regex's own default limit.
const FILTER_NFA_LIMIT: usize = 10 << 20;

/// Bytes of lazy DFA states a filter keeps per thread.
const FILTER_CACHE: usize = 256 * 1024;

/// Counted repetitions longer than this are left open by [`relax`].
const RELAX_ABOVE: u32 = 16;

/// Whether `hir` holds a counted repetition [`relax`] would leave open.
fn has_long_repetition(hir: &regex_syntax::hir::Hir) -> bool {
    use regex_syntax::hir::HirKind;
    match hir.kind() {
        HirKind::Repetition(rep) => {
            rep.max.is_some_and(|max| max > RELAX_ABOVE) || has_long_repetition(&rep.sub)
        }
        HirKind::Capture(cap) => has_long_repetition(&cap.sub),
        HirKind::Concat(items) | HirKind::Alternation(items) => {
            items.iter().any(has_long_repetition)
        }
        _ => false,
    }
}

/// `hir` with every counted repetition of more than [`RELAX_ABOVE`] left open (`X{8,2048}`
/// becomes `X{8,}`) and no capture groups. Every string `hir` matches, the result matches: a
/// search with it is a sound filter. The automaton of a counted repetition holds a copy of its
/// body per count, so a URL rule's `(?:,[a-z0-9.-]{1,253}){0,10}` alone is 2,530 states.
fn relax(hir: &regex_syntax::hir::Hir) -> regex_syntax::hir::Hir {
    use regex_syntax::hir::{Hir, HirKind, Repetition};
    match hir.kind() {
        HirKind::Repetition(rep) => {
            let max = rep.max.filter(|&max| max <= RELAX_ABOVE);
            Hir::repetition(Repetition {
                min: rep.min,
                max,
                greedy: rep.greedy,
                sub: Box::new(relax(&rep.sub)),
            })
        }
        HirKind::Capture(cap) => relax(&cap.sub),
        HirKind::Concat(items) => Hir::concat(items.iter().map(relax).collect()),
        HirKind::Alternation(items) => Hir::alternation(items.iter().map(relax).collect()),
        _ => hir.clone(),
    }
}

/// Compiles a regex for matching bytes (`\xFF` and invalid UTF-8 in input never fail a search).
///
/// Without the literal optimizations (a prefilter, reverse suffix and reverse inner
/// searches): a rule's regex searches a window a keyword hit already placed, and an
/// allowlist's a secret, both a few hundred bytes, where skipping ahead to a literal saves
/// little; extracting the literals of a case-insensitive alternation cost most of its build
/// (7 of 10 M instructions for a list of ~90 names), paid by every process on its first hit.
pub(crate) fn compile(pattern: &str) -> Result<Regex, Box<regex_automata::meta::BuildError>> {
    Regex::builder()
        .syntax(regex_automata::util::syntax::Config::new().utf8(false).unicode(false))
        .configure(regex_config())
        .build(pattern)
        .map_err(Box::new)
}

/// [`compile`] of a pattern already parsed as [`parse`] does.
fn compile_hir(
    hir: &regex_syntax::hir::Hir,
) -> Result<Regex, Box<regex_automata::meta::BuildError>> {
    Regex::builder().configure(regex_config()).build_from_hir(hir).map_err(Box::new)
}

fn regex_config() -> regex_automata::meta::Config {
    Regex::config().utf8_empty(false).onepass(false).auto_prefilter(false)
}

/// Window around a keyword hit for `pattern`: its longest possible match, or `fallback` when
/// the regex is unbounded. `None` if the pattern does not parse.
pub fn window_for(pattern: &str, fallback: usize) -> Option<usize> {
    let hir = parse(pattern)?;
    Some(hir.properties().maximum_len().unwrap_or(fallback).min(MAX_WINDOW))
}

/// Shannon entropy of `bytes`, bits per byte.
pub fn shannon_entropy(bytes: &[u8]) -> f64 {
    if bytes.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in bytes {
        counts[b as usize] += 1;
    }
    let n = bytes.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_whose_matches_start_at_keywords_or_stay_on_a_line_are_known() {
        let rule = |regex: &str, keywords: &[&str]| {
            let toml = format!(
                "[[rules]]\nid = \"r\"\ndescription = \"r\"\nprovider = \"test\"\n\
                 keywords = {keywords:?}\nregex = '''{regex}'''\nseverity = \"high\"\n"
            );
            let rules = crate::parse_rule_file(&toml, std::path::Path::new("r.toml")).unwrap();
            (rules[0].anchored, rules[0].compiled().one_line)
        };
        assert_eq!(rule(r"\bghp_[A-Za-z0-9]{36}\b", &["ghp_"]), (Some(0), true));
        // `[^a-z]` holds a line feed.
        assert_eq!(rule(r"(?:^|[^a-z])vcp_[a-z]{5}", &["vcp_"]), (Some(1), false));
        // `sftps://` has `ftps://` one byte in.
        assert_eq!(rule(r"(?:https?|s?ftps?)://[a-z]+", &["http", "ftp"]), (Some(1), true));
        assert_eq!(rule(r"[a-z_]{0,9}token\s*=\s*[a-z]{5}", &["token"]), (None, false));
        assert_eq!(rule(r"(?m)^[a-z_]{0,9}token[ \t]*=.+$", &["token"]), (None, true));
        assert_eq!(rule(r"token[^a]{5}", &["token"]), (Some(0), false));
        assert_eq!(rule(r"token(?:x\n){0}", &["token"]), (Some(0), true));
    }

    #[test]
    fn the_bytes_a_match_may_start_with_are_read_from_the_pattern() {
        let first = |pattern: &str| {
            let compiled = Compiled::new(pattern, false);
            (0..=255u8).filter(|&b| compiled.may_start_with(b)).map(char::from).collect::<String>()
        };
        assert_eq!(first(r"\bpat[a-z]{3}"), "p");
        assert_eq!(first(r"(?i)sg\."), "Ss");
        assert_eq!(first(r"(?:^|[^a-z0-9])ab"), first(r"[^a-z0-9]|a"));
        assert_eq!(first(r"x?y*(?:z|)q"), "qxyz");
        assert_eq!(first(r"(?:ab){0}c"), "c");
        // An empty match starts anywhere.
        assert_eq!(first(r"a?").chars().count(), 256);
        assert_eq!(first(r"\b").chars().count(), 256);
    }

    #[test]
    fn relaxing_opens_long_counted_repetitions_only() {
        let relaxed = relax(&parse(r"ab(?P<secret>[a-z]{8,2048})(?:,x{1,4}){0,10}c{20}").unwrap());
        assert_eq!(relaxed, parse(r"ab[a-z]{8,}(?:,x{1,4}){0,10}c{20,}").unwrap());
    }

    #[test]
    fn only_patterns_with_a_long_counted_repetition_are_relaxed() {
        let long = |pattern: &str| has_long_repetition(&parse(pattern).unwrap());
        assert!(long(r"ab(?P<secret>[a-z]{8,2048})"));
        assert!(long(r"(?:x(?:y{0,17})?)+"));
        assert!(!long(r"ab(?P<secret>[a-z]{8,16})(?:,x{1,4}){0,10}c+"));
        // With none, the filter's automaton is the pattern's own (its captures are not built).
        let hir = parse(r"a(?P<secret>b{1,16})c*").unwrap();
        assert_eq!(relax(&hir), parse(r"ab{1,16}c*").unwrap());
    }

    #[test]
    fn allowlist_regexes_of_one_source_share_one_compiled_regex() {
        let source = r"^[a-z]{3}-shared-by-test-[0-9]+$";
        let first = LazyRegex::new(source, "one", false).unwrap();
        let second = LazyRegex::new(source, "two", false).unwrap();
        assert!(Arc::ptr_eq(&first.regex, &second.regex));
        assert!(first.regex.get().is_none(), "nothing is compiled before use");
        assert!(second.is_match(b"abc-shared-by-test-7"));
        assert!(first.regex.get().is_some(), "the second's compile serves the first");
        assert!(!first.is_match(b"abc-shared-by-test-x"));
        let other = LazyRegex::new(r"^other-by-test$", "three", true).unwrap();
        assert!(!Arc::ptr_eq(&first.regex, &other.regex));
    }

    #[test]
    fn keyword_offsets_come_from_the_literal_text_holding_a_keyword() {
        let offset = |pattern: &str, keywords: &[&str]| {
            crate::offset::keyword_offset(&parse(pattern).unwrap(), keywords)
        };
        assert_eq!(offset(r"\b(?P<secret>ghp_[A-Za-z0-9]{36})\b", &["ghp_"]), Some(0));
        assert_eq!(offset(r"(?i)[a-z_]{0,25}(?:password|pwd)\s*=", &["password", "pwd"]), Some(25));
        assert_eq!(offset(r"(?:proxy-)?(?i:Authorization): ", &["authorization"]), Some(6));
        assert_eq!(offset(r"\bsl\.(?:u\.)?[A-Za-z0-9_-]{130,}", &["sl.a", "sl.u"]), None);
        assert_eq!(offset(r"(?i)aws[_.]?token", &["aws_token", "aws.token", "awstoken"]), Some(0));
        assert_eq!(offset(r"(?i)x-api-?key", &["api-key", "apikey"]), Some(2));
        assert_eq!(offset(r"(?i)aws[_.-]token", &["aws_token", "aws.token"]), None);
        let all: Vec<String> = (b'a'..=b'z')
            .chain(b'0'..=b'9')
            .chain([b'_', b'-'])
            .map(|c| format!("sl.{}", c as char))
            .collect();
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        assert_eq!(offset(r"\bsl\.[A-Za-z0-9_-]{130,}", &all), Some(0));
        assert_eq!(offset(r"x{1,3}(?:foo|barfoo)", &["foo"]), Some(6));
        assert_eq!(offset(r"x+foo", &["foo"]), None);
        assert_eq!(offset(r"sl\.[a-z]{3,}foo", &["foo"]), None);
        assert_eq!(offset(r"hc[a-z]ik_", &["hcaik_", "hcbik_"]), None);
        let hc: Vec<String> = (b'a'..=b'z').map(|c| format!("hc{}ik_", c as char)).collect();
        let hc: Vec<&str> = hc.iter().map(String::as_str).collect();
        assert_eq!(offset(r"\bhc[a-z]ik_[a-z0-9]{26}", &hc), Some(0));
        assert_eq!(offset(r"(?:foo)?bar", &["foo"]), None);
    }

    /// Every match of every catalog example holds a keyword within its rule's `before` bound
    /// of its start: a window that far before a hit holds the match.
    #[test]
    fn keyword_offsets_bound_every_example_match() {
        let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
        let builtin = crate::RuleSet::builtin();
        for file in std::fs::read_dir(data).unwrap() {
            for rule in crate::load_rule_file(&file.unwrap().path()).unwrap() {
                let before = rule.before;
                // build.rs bounds the embedded catalog as loading bounds a rule file.
                let embedded = builtin.rules().iter().find(|r| r.id() == rule.id()).unwrap();
                assert_eq!(embedded.before, before, "{}", rule.id());
                let keywords: Vec<Vec<u8>> =
                    rule.keywords().iter().map(|k| k.as_bytes().to_ascii_lowercase()).collect();
                for example in &rule.spec.examples {
                    let lower = example.to_ascii_lowercase();
                    for m in rule.regex().find_iter(example.as_bytes()) {
                        let reach = &lower.as_bytes()[m.start()..m.end()];
                        let first = crate::offset::first_keyword(reach, &keywords);
                        assert!(
                            first.is_some_and(|o| o <= before),
                            "{}: keyword at {first:?}, bound {before}, in {example:?}",
                            rule.id()
                        );
                    }
                }
            }
        }
    }

    /// The filter is sound: wherever a rule's regex matches, its filter does (checked on every
    /// example and negative example of the catalog, and on text around them), and it rejects
    /// text with no match.
    #[test]
    fn filters_accept_every_match_of_their_rule() {
        let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
        let mut rules = Vec::new();
        for file in std::fs::read_dir(data).unwrap() {
            rules.extend(crate::load_rule_file(&file.unwrap().path()).unwrap());
        }
        assert!(rules.len() > 200 && rules.iter().all(|r| !r.spec.examples.is_empty()));
        for rule in &rules {
            let filter = Filter::new(&relax(&parse(&rule.spec.regex).unwrap()))
                .unwrap_or_else(|| panic!("{}: no filter was built", rule.id()));
            let texts = rule.spec.examples.iter().chain(&rule.spec.negative_examples);
            for text in texts {
                for haystack in [text.clone(), format!("x = [{text}]\n"), format!("{text}{text}")] {
                    let bytes = haystack.as_bytes();
                    for start in [0, 1, bytes.len() / 2] {
                        let input = Input::new(bytes).range(start..);
                        if rule.regex().is_match(input.clone()) {
                            assert!(
                                filter.is_match(&input),
                                "{}: the filter rejects a match in {haystack:?}",
                                rule.id()
                            );
                        }
                    }
                }
            }
            let words = Input::new("the quick brown fox jumps over the lazy dog\n");
            assert!(!filter.is_match(&words), "{}", rule.id());
        }
    }

    /// A filter's NFA is bounded as the regex's is: nested counted repetitions in a rule
    /// file fail to build a filter (the regex then decides) instead of taking gigabytes.
    #[test]
    fn a_filter_too_large_is_not_built() {
        let pattern = r"zzqq(?:(?:(?:(?:(?:(?:a{16}b){16}c){16}d){16}e){16}f){16})";
        assert!(Filter::new(&relax(&parse(pattern).unwrap())).is_none());
        assert!(Filter::new(&relax(&parse(r"zzqq(?:a{16}b){16}").unwrap())).is_some());
    }

    #[test]
    fn entropy_separates_random_tokens_from_words() {
        assert!(shannon_entropy(b"qP5p9Ujp74VLetUQlGW1NeFZVDBoSi") > 4.0);
        assert!(shannon_entropy(b"xxxxxxxxxxxxxxxx") < 0.1);
        assert!(shannon_entropy(b"changeme") < 3.0);
        assert_eq!(shannon_entropy(b""), 0.0);
    }

    #[test]
    fn window_is_the_longest_match_or_the_fallback() {
        assert_eq!(window_for(r"ghp_[0-9A-Za-z]{36}", 99), Some(40));
        assert_eq!(window_for(r"secret=\S+", 99), Some(99));
        assert_eq!(window_for(r"(unclosed", 99), None);
    }

    #[test]
    fn severities_are_ordered() {
        assert!(Severity::Low < Severity::Medium && Severity::High < Severity::Critical);
        assert_eq!("HIGH".parse::<Severity>(), Ok(Severity::High));
        assert!("urgent".parse::<Severity>().is_err());
    }
}
