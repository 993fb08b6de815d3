//! The streaming scan engine.
//!
//! Input is processed in chunks. For each chunk the keyword gate finds every keyword
//! occurrence; each rule owning a keyword runs its regex on a window of `max_len` bytes
//! around the occurrence, and a match counts only when it overlaps the occurrence. Chunks
//! overlap by the largest window plus the longest keyword, so a secret split across a chunk
//! boundary is found, and memory stays at one chunk plus that overlap whatever the input size.

use std::io::{self, Read};

use regex_automata::{Anchored, Input};

use crate::decode::{self, Base64Runs, Decoded};
use crate::gate::{Hit, KeywordGate};
use crate::load::{GitleaksConfig, LoadError};
use crate::reuse::KeywordHits;
use crate::rule::{shannon_entropy, Allowlist, Candidate, Rule};
use crate::secret::Secret;

/// How many leading bytes decide whether input is binary (a NUL among them).
pub const BINARY_SNIFF_LEN: usize = 8 * 1024;
const INLINE_ALLOW: [&[u8]; 2] = [b"leakgate:allow", b"gitleaks:allow"];
/// How far from a secret its "line" reaches, each way, for inline allows and line
/// allowlists: a line of megabytes must not make every match cost megabytes.
const LINE_CONTEXT: usize = 4096;
/// How deep decoding layers nest (base64 inside a JSON string inside base64 ...). Three
/// since session 27: base64 of a JSON document holding base64 (a `.dockerconfigjson` in a
/// Kubernetes `Secret` in a Helm value) was a layer short.
const MAX_DEPTH: u8 = 3;
/// Bytes before a hit that a window of escapes decoded in place starts at (context for the
/// rules, as a name before its value).
const IN_PLACE_BACK: usize = 256;
/// Encoded bytes decoded per input, all layers together, to begin with; every byte read adds
/// [`DECODE_PER_BYTE`]. Decoding costs at most this much whatever the input holds, and junk
/// cannot spend the budget of the text after it: megabytes of base64 (a data URI, a bundled
/// font) before an encoded key once left none for the key.
const DECODE_BUDGET: usize = 2 << 20;
/// Base64 characters two pieces of a long line share (see `State::base64_run`): a multiple
/// of 4, so that every piece starts on the line's grid, and longer than any token's encoding.
const PIECE_OVERLAP: usize = 8 * 1024;
/// Bytes the compressed data of one base64 block expands to at most, and all blocks of one
/// input together (see `State::compressed`).
const MAX_INFLATED: usize = 4 << 20;
const MAX_INFLATED_INPUT: usize = 16 << 20;
/// The longest string literal a stream keeps in its buffer across chunks, waiting for it to
/// close (see `State::decode_literals`); the escapes of longer ones crossing a chunk's end
/// are decoded in place around the hits in them (see `State::step`).
const RELEX_LIMIT: usize = 1 << 20;
/// Decoding budget each input byte adds (see [`DECODE_BUDGET`]): room for a byte read and
/// decoded at each of the [`MAX_DEPTH`] layers, and one to spare (a literal of escaped
/// literals, three deep, spent 4 and cut a 6 MB input short). Every decoder is linear (string literals that
/// never close settle the quotes after them, see `decode::literal`), so only input crafted to
/// multiply work across layers spends it, and then [`Scanner::cut_short`] says so.
const DECODE_PER_BYTE: usize = 5;

/// A compiled, immutable set of rules; share it across threads.
#[derive(Debug)]
pub struct RuleSet {
    rules: Vec<Rule>,
    gate: Gate,
    /// Rules without keywords (gitleaks imports): their regex runs on all input.
    ungated: Vec<u32>,
    /// Rules that apply to some paths only.
    path_rules: Vec<u32>,
    allowlists: Vec<Allowlist>,
    /// Every path condition short of skipping an input whole (see [`RuleSet::path_class`]).
    conditions: Vec<PathCondition>,
    /// Largest window of any rule.
    max_window: usize,
}

/// The keyword gate, built on a thread of its own while the caller goes on (~2 ms of every
/// start-up: the hook opens the repository and walks the push's commits meanwhile); the
/// first scan waits for it.
struct Gate {
    ready: std::sync::OnceLock<KeywordGate>,
    building: std::sync::Mutex<Option<std::thread::JoinHandle<KeywordGate>>>,
}

impl Gate {
    fn build(rules: &[Rule]) -> Self {
        let keywords: Vec<Vec<String>> = rules.iter().map(|r| r.keywords().to_vec()).collect();
        let spawned = std::thread::Builder::new()
            .name("leakgate-gate".into())
            .spawn(move || KeywordGate::from_keywords(&keywords));
        let ready = std::sync::OnceLock::new();
        let building = match spawned {
            Ok(handle) => Some(handle),
            Err(_) => {
                // No thread to be had: built here.
                let _ = ready.set(KeywordGate::new(rules));
                None
            }
        };
        Gate { ready, building: std::sync::Mutex::new(building) }
    }

    #[inline]
    fn get(&self) -> &KeywordGate {
        self.ready.get_or_init(|| {
            let handle = self
                .building
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take()
                .expect("a gate not yet built is being built");
            handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gate").field("built", &self.ready.get().is_some()).finish()
    }
}

/// Collects rules from the catalog and from files, then compiles them together.
#[derive(Debug, Default)]
pub struct RuleSetBuilder {
    rules: Vec<Rule>,
    origins: Vec<String>,
    allowlists: Vec<Allowlist>,
}

impl RuleSetBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the built-in catalog.
    pub fn builtin(mut self) -> Self {
        self.add_builtin();
        self
    }

    /// Adds the built-in catalog.
    pub fn add_builtin(&mut self) {
        for rule in crate::catalog::builtin() {
            self.rules.push(rule);
            self.origins.push("the built-in catalog".to_owned());
        }
    }

    /// Adds rules loaded from `origin` (a file name, for error messages).
    ///
    /// # Errors
    ///
    /// [`LoadError::DuplicateId`] when a rule id is already taken.
    pub fn rules(mut self, rules: Vec<Rule>, origin: &str) -> Result<Self, LoadError> {
        self.add_rules(rules, origin)?;
        Ok(self)
    }

    /// Adds rules loaded from `origin`; on error nothing is added.
    ///
    /// # Errors
    ///
    /// [`LoadError::DuplicateId`] when a rule id is already taken.
    pub fn add_rules(&mut self, rules: Vec<Rule>, origin: &str) -> Result<(), LoadError> {
        let mut ids: std::collections::HashMap<&str, &str> =
            self.rules.iter().zip(&self.origins).map(|(r, o)| (r.id(), o.as_str())).collect();
        for rule in &rules {
            if let Some(first) = ids.insert(rule.id(), origin) {
                return Err(LoadError::DuplicateId {
                    id: rule.id().to_owned(),
                    first: first.to_owned(),
                    second: origin.to_owned(),
                });
            }
        }
        for rule in rules {
            self.rules.push(rule);
            self.origins.push(origin.to_owned());
        }
        Ok(())
    }

    /// Adds a gitleaks configuration: its rules and its global allowlists.
    ///
    /// # Errors
    ///
    /// [`LoadError::DuplicateId`] when a rule id is already taken.
    pub fn gitleaks(mut self, config: GitleaksConfig, origin: &str) -> Result<Self, LoadError> {
        self.add_rules(config.rules, origin)?;
        self.allowlists.extend(config.allowlists);
        Ok(self)
    }

    /// Whether the rule `id` is in the builder.
    pub fn contains(&self, id: &str) -> bool {
        self.rules.iter().any(|r| r.id() == id)
    }

    /// Removes the rule `id`; false when there is none.
    pub fn disable(&mut self, id: &str) -> bool {
        let Some(i) = self.rules.iter().position(|r| r.id() == id) else { return false };
        self.rules.remove(i);
        self.origins.remove(i);
        true
    }

    /// Gives the rule `id` a new severity; false when there is none.
    pub fn set_severity(&mut self, id: &str, severity: crate::rule::Severity) -> bool {
        let Some(rule) = self.rules.iter_mut().find(|r| r.id() == id) else { return false };
        rule.spec.severity = severity;
        true
    }

    /// Adds a global allowlist (`origin` names it in errors).
    ///
    /// # Errors
    ///
    /// A regex or glob of the allowlist does not parse.
    pub fn add_allowlist(
        &mut self,
        spec: &crate::rule::AllowlistSpec,
        origin: &str,
    ) -> Result<(), LoadError> {
        self.allowlists.push(Allowlist::from_spec(spec, origin, true)?);
        Ok(())
    }

    /// Compiles the keyword gate over every rule.
    pub fn build(self) -> RuleSet {
        let gate = Gate::build(&self.rules);
        let index = |i: usize| u32::try_from(i).expect("fewer than 2^32 rules");
        let ungated = (0..self.rules.len())
            .filter(|&i| self.rules[i].keywords().is_empty())
            .map(index)
            .collect();
        let path_rules = (0..self.rules.len())
            .filter(|&i| {
                let r = &self.rules[i];
                r.only_paths.is_some() || r.allowlists.iter().any(Allowlist::paths_only)
            })
            .map(index)
            .collect();
        let max_window = self.rules.iter().map(|r| r.max_len).max().unwrap_or(1);
        let allowlists: Vec<Allowlist> =
            self.allowlists.into_iter().filter(|a| !a.is_empty()).collect();
        let mut conditions: Vec<PathCondition> = (0..allowlists.len())
            .filter(|&i| allowlists[i].paths.is_some() && !allowlists[i].paths_only())
            .map(|i| PathCondition::Global(index(i)))
            .collect();
        for (r, rule) in self.rules.iter().enumerate() {
            if rule.only_paths.is_some() {
                conditions.push(PathCondition::Only(index(r)));
            }
            for (a, list) in rule.allowlists.iter().enumerate() {
                if list.paths.is_some() {
                    conditions.push(PathCondition::Allow(index(r), index(a)));
                }
            }
        }
        RuleSet { rules: self.rules, gate, ungated, path_rules, allowlists, conditions, max_window }
    }
}

impl RuleSet {
    /// The built-in catalog alone.
    pub fn builtin() -> Self {
        RuleSetBuilder::new().builtin().build()
    }

    /// The rules, in load order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The keyword gate (waits for its build, see [`Gate`]).
    #[inline]
    pub(crate) fn gate(&self) -> &KeywordGate {
        self.gate.get()
    }

    /// Keyword occurrences in `bytes`: the gate's pass alone, for benchmarks.
    #[doc(hidden)]
    pub fn keyword_hits(&self, bytes: &[u8]) -> usize {
        let mut hits = Vec::new();
        self.gate().hits(bytes, 0, bytes.len(), &mut hits);
        hits.len()
    }

    /// Number of distinct gate keywords.
    pub fn keyword_count(&self) -> usize {
        self.gate().len()
    }

    /// Compiles every rule's regex now instead of on first use (for `rules check` and tests).
    ///
    /// # Errors
    ///
    /// The first rule whose regex does not compile.
    pub fn compile_all(&self) -> Result<(), LoadError> {
        self.rules.iter().try_for_each(Rule::compile_now)
    }

    /// A scanner that reuses its buffers across inputs; one per thread.
    pub fn scanner(&self, options: ScanOptions) -> Scanner<'_> {
        Scanner {
            set: self,
            options,
            state: State::new(self.rules.len(), 0),
            buf: Vec::new(),
            raw: None,
            raw_buf: Vec::new(),
            keep_hits: false,
            kept: None,
            archive_depth: 0,
            archive_cut: false,
            archive_stopped: false,
            archive_left: 0,
        }
    }

    /// Whether some global allowlist skips inputs by path alone (a project's `[paths] skip`,
    /// a gitleaks `[allowlist] paths`): then the same content may be skipped at one path and
    /// scanned at another, and a history walk must not let the first decide for the second.
    pub fn skips_paths(&self) -> bool {
        self.allowlists.iter().any(|a| a.paths_only() && a.paths.is_some())
    }

    /// Whether inputs at `path` are skipped whole (see [`RuleSet::skips_paths`]).
    pub fn skips(&self, path: &str) -> bool {
        self.allowlists
            .iter()
            .any(|a| a.paths_only() && a.paths.as_ref().is_some_and(|p| p.is_match(path)))
    }

    /// Whether scanning an input without its path finds everything a scan with any path
    /// would: no rule applies to some paths only (gitleaks' `path`). Allowlists by path, of a
    /// rule or global, only ever remove findings, and apply to inputs with a path only. Then
    /// an input scanned before its path is known finds something whenever it would with its
    /// path, and only those inputs need scanning again once the path is known.
    pub fn path_independent(&self) -> bool {
        self.rules.iter().all(|r| r.only_paths.is_none())
    }

    /// Whether some rule or allowlist decides by path short of skipping whole inputs (a
    /// rule's `paths` allowlist, a gitleaks rule's `path`, an allowlist with paths and
    /// regexes): then what the same content yields may differ from one path to another in
    /// any way, and a history walk scans a blob once per [`RuleSet::path_class`] it is met at.
    pub fn path_conditions(&self) -> bool {
        !self.conditions.is_empty()
    }

    /// What `path` decides about a scan: `None` when inputs there are skipped whole
    /// ([`RuleSet::skips`]), else the path conditions that hold there (empty for most
    /// paths). Two paths with the same class yield the same from any content.
    pub fn path_class(&self, path: &str) -> Option<Vec<u32>> {
        if self.skips(path) {
            return None;
        }
        let holds = |c: &PathCondition| {
            let matcher = match *c {
                PathCondition::Global(a) => self.allowlists[a as usize].paths.as_ref(),
                PathCondition::Only(r) => self.rules[r as usize].only_paths.as_ref(),
                PathCondition::Allow(r, a) => {
                    self.rules[r as usize].allowlists[a as usize].paths.as_ref()
                }
            };
            matcher.is_some_and(|m| m.is_match(path))
        };
        Some(
            (0..self.conditions.len())
                .filter(|&i| holds(&self.conditions[i]))
                .map(|i| i as u32)
                .collect(),
        )
    }
}

/// A path condition of a rule set: a global allowlist that names paths beside regexes or
/// stopwords, a rule's own path filter (gitleaks' `path`), or a rule's allowlist with paths.
#[derive(Debug, Clone, Copy)]
enum PathCondition {
    Global(u32),
    Only(u32),
    Allow(u32, u32),
}

/// How to scan.
#[derive(Clone, Copy, Debug)]
pub struct ScanOptions {
    /// Scan input with a NUL in its first 8 KiB with every rule too.
    pub scan_binary: bool,
    /// Scan binary-looking input with the distinctive rules (every rule but the generic
    /// ones) when `scan_binary` is off, instead of skipping it: a NUL at the start of a file
    /// must not hide a key.
    pub binary_distinctive: bool,
    /// Report matches on a line with an inline `leakgate:allow` / `gitleaks:allow`, flagged
    /// ([`Match::inline_allowed`]), instead of dropping them: the hook and the service treat
    /// the comment as a bypass request that the server's settings permit or refuse.
    pub flag_inline_allows: bool,
    /// Keep only the most specific rule's finding when several find one secret.
    pub collapse: bool,
    /// Bytes read per chunk when streaming.
    pub chunk_size: usize,
    /// Decode base64, string-literal escapes and joins, and percent-encoding, and scan what
    /// they hold (in binary input too, with the rules it gets: one NUL byte must not hide an
    /// encoded key).
    pub decode: bool,
    /// Report the matches of rules with `report = false` too (for checking their examples).
    pub report_all: bool,
    /// Generic rules of at least this severity run on binary input too: one NUL byte must not
    /// turn off a rule that blocks a push (the hook passes its blocking severity). The
    /// others stay off there (their keywords are common in binaries: twice the time).
    pub binary_generic_severity: crate::Severity,
    /// Stop scanning an input when this instant passes ([`Scanner::stopped`]): the hook's
    /// budget, which one input crafted to be slow must not outlast.
    pub deadline: Option<std::time::Instant>,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            scan_binary: false,
            binary_distinctive: true,
            flag_inline_allows: false,
            collapse: true,
            chunk_size: 1 << 20,
            decode: true,
            report_all: false,
            binary_generic_severity: crate::Severity::High,
            deadline: None,
        }
    }
}

/// Where the scanned bytes come from; rules and allowlists may depend on the path.
#[derive(Clone, Copy, Debug, Default)]
pub struct Source<'a> {
    /// Path of the file or blob, `/`-separated, relative where that makes sense.
    pub path: Option<&'a str>,
}

/// What happened to one input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Scanned this many bytes.
    Scanned(u64),
    /// Binary (a NUL in the first 8 KiB) with `scan_binary` off: scanned by the distinctive
    /// rules only ([`ScanOptions::binary_distinctive`]), or skipped.
    Binary,
    /// Skipped: the path is allowlisted globally.
    PathAllowed,
}

/// A confirmed secret, before the caller attaches path, commit and fingerprint.
#[derive(Debug)]
pub struct Match<'r> {
    /// The rule that found it.
    pub rule: &'r Rule,
    /// The secret.
    pub secret: Secret,
    /// Byte offset of the secret in the input (in UTF-16 input: in its UTF-8 transcoding, or
    /// in its bytes for what is not UTF-16 in its byte order; line and column are exact for
    /// what the transcoding reads).
    pub offset: u64,
    /// 1-based line of the secret's first byte.
    pub line: u64,
    /// 1-based column (in characters) of the secret's first byte.
    pub column: u64,
    /// Whether the format's checksum confirmed the secret.
    pub checksum_valid: bool,
    /// Whether the secret's line carries an inline allow comment (only reported with
    /// [`ScanOptions::flag_inline_allows`]).
    pub inline_allowed: bool,
}

/// Whether `before` ends with a terminal control sequence: a colour code or any other CSI
/// sequence (`ESC [ params letter`: `\x1b[1;33m`, `\x1b[2K`, `\x1b[1G`, colon SGR), its escape
/// as it is, as an 8-bit CSI, in caret notation (`^[[`), or as source code and JSON write it
/// (`\u001b`, `\x1b`, `\033`, `\e`); a colour code whose ESC a CI log dropped (`[32m`); a
/// character-set switch (`ESC ( B`, what `tput sgr0` ends with).
fn after_colour_code(before: &[u8]) -> bool {
    const ESCAPES: [&[u8]; 9] = [
        b"\x1b[",
        b"\x9b",
        b"^[[",
        b"\\u001b[",
        b"\\u001B[",
        b"\\x1b[",
        b"\\x1B[",
        b"\\033[",
        b"\\e[",
    ];
    if before.ends_with(b"\x1b(B") {
        return true;
    }
    let Some((&last, rest)) = before.split_last() else { return false };
    if !last.is_ascii_alphabetic() {
        return false;
    }
    let params = rest
        .iter()
        .rev()
        .take_while(|b| b.is_ascii_digit() || matches!(b, b';' | b':' | b'?'))
        .count();
    let (rest, params) = rest.split_at(rest.len() - params);
    ESCAPES.iter().any(|e| rest.ends_with(e))
        || (last == b'm' && !params.is_empty() && rest.ends_with(b"["))
}

/// Whether `buf[start..end]` lies inside a long run of base64 or hex (an embedded
/// certificate, a data URI, a hash table): base64 characters run on for [`ENCODED_RUN`] bytes
/// on both sides. There a prefix and the characters after it are chance (`AIza` and 35
/// base64url characters turn up every few megabytes of base64url), not a key glued to its
/// neighbours, which is a short word or length byte away from other data.
fn inside_encoded_run(buf: &[u8], start: usize, end: usize) -> bool {
    let encoded =
        |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'_' | b'-');
    let before = buf[..start].iter().rev().take(ENCODED_RUN).take_while(|b| encoded(b)).count();
    let after = buf[end..].iter().take(ENCODED_RUN).take_while(|b| encoded(b)).count();
    before == ENCODED_RUN && after == ENCODED_RUN
}

/// See [`inside_encoded_run`].
const ENCODED_RUN: usize = 16;

/// Match ends [`State::glued`] tries, at most.
const GLUED_ENDS: usize = 64;

/// A match as an archive's members may give it again: its rule (by address) and secret.
fn given_key(m: &Match<'_>) -> (usize, Secret) {
    (std::ptr::from_ref(m.rule) as usize, m.secret.clone())
}

/// Scans inputs with one [`RuleSet`]. Not shared across threads: make one per thread.
pub struct Scanner<'r> {
    set: &'r RuleSet,
    options: ScanOptions,
    state: State,
    buf: Vec<u8>,
    /// UTF-16 input's bytes, scanned as binary input beside its transcoding (made on first
    /// use), and their buffer.
    raw: Option<Box<State>>,
    raw_buf: Vec<u8>,
    /// Archives being read, outermost first ([`crate::archive`]).
    archive_depth: u8,
    /// Whether an archive of this input was not read whole, or a member's scan was cut
    /// short or stopped.
    archive_cut: bool,
    archive_stopped: bool,
    /// Bytes the input's archives may still expand to, all of them together.
    archive_left: usize,
    /// Keep the keyword hits of each input `scan_bytes` searches whole ([`Scanner::take_hits`]).
    keep_hits: bool,
    kept: Option<KeywordHits>,
}

#[derive(Debug)]
struct State {
    hits: Vec<Hit>,
    /// `hits` holds the input's keyword hits already (`Scanner::scan_bytes_given`).
    hits_given: bool,
    /// The base64 runs the last step listed for decoding, or (with `base64_given`) the
    /// input's runs, given.
    base64_runs: Vec<std::ops::Range<usize>>,
    /// `base64_runs` holds the input's runs already (`Scanner::scan_bytes_given`).
    base64_given: bool,
    /// This step's runs are kept in `base64_runs` (the scanner keeps the input's hits).
    base64_keep: bool,
    /// The last step listed `base64_runs` (decoding was on).
    base64_listed: bool,
    /// Per rule, the absolute end of its last match in this input.
    last_end: Vec<u64>,
    touched: Vec<u32>,
    /// Confirmed matches not yet given to the sink, by (start, rule): overlap checks look
    /// at a window of starts, not at every pending match.
    pending: std::collections::BTreeMap<(u64, u32), Pending>,
    /// The input is binary: generic rules below `binary_generic_severity` are off for it.
    binary: bool,
    /// The input looks binary (a NUL in its first 8 KiB): UTF-16 strings in it are scanned
    /// (in text input, only in chunks with a NUL).
    nul: bool,
    /// The bytes of UTF-16 input that is scanned transcoded too: strings whose characters sit
    /// at absolute offsets of this parity are the transcoding's (its byte order and
    /// alignment) and are read there, not here.
    transcoded: Option<u64>,
    disabled: Vec<bool>,
    lines: Lines,
    /// Decoding layers: how deep this state is, the state that scans decoded text (made on
    /// first use), encoded bytes this input may still decode, and scratch space.
    depth: u8,
    child: Option<Box<State>>,
    budget: usize,
    /// Whether the buffer being stepped ends the input.
    eof: bool,
    /// Bytes compressed base64 blocks may still expand to in this input, all layers together
    /// (see `State::compressed`).
    inflate_left: usize,
    /// The budget an input starts with, and what each byte read adds at depth 0:
    /// ([`DECODE_BUDGET`], [`DECODE_PER_BYTE`]).
    allowance: (usize, usize),
    /// The budget ran out in this input: encoded text after that point may be undecoded.
    cut_short: bool,
    /// The deadline passed while this input was scanned: what followed was not scanned.
    stopped: bool,
    /// Absolute offset up to which keyword hits' lines were decoded already.
    decoded_to: u64,
    /// Absolute offset up to which short base64 runs after a name that hit were decoded
    /// (see `State::assigned_base64`): apart from `decoded_to`, which escapes, and keywords
    /// with nothing assigned to them, set too.
    assigned_to: u64,
    /// The run of name characters the last keyword hit ended in, and what is assigned to it
    /// (see `State::name_value`).
    name: Name,
    /// In a child state, the decoded part of the text it scans (the rest is context, which
    /// its parent scanned): runs after names are decoded only there.
    core: Option<std::ops::Range<usize>>,
    /// Where lexing string literals stopped in this input (see `decode::Lexed`).
    lexed: decode::Lexed,
    /// A string literal's absolute start that the end of the buffer cut (see
    /// `State::decode_literals`): lexed again at the next step's start.
    relex: Option<u64>,
    /// Where a base64 run the last step's search ended in is decoded again (absolute).
    base64_resume: Option<u64>,
    /// The last lexing left a literal open at the buffer's end (see `State::step`).
    left_open: bool,
    /// Matches given to the sink whose text a later step may decode again (a literal lexed
    /// again, a base64 run resumed, escapes decoded in place before the literal layer got
    /// to them): by (start, rule), their ends and specificity. Not given twice.
    flushed: std::collections::BTreeMap<(u64, u32), (u64, Rank)>,
    /// Spans a provider rule matched and then rejected (checksum, allowlist, entropy, a
    /// format that is not reported): the format is known and is not a secret, so a generic
    /// rule must not report that text either.
    vetoes: Vec<(u64, u64)>,
    decoded: Decoded,
    scratch: Vec<u8>,
}

#[derive(Debug)]
struct Pending {
    rule: u32,
    secret: Secret,
    start: u64,
    end: u64,
    line: u64,
    column: u64,
    checksum_valid: bool,
    inline_allowed: bool,
}

/// A new scanner over the same rules with the same options; buffers are not shared.
impl Clone for Scanner<'_> {
    fn clone(&self) -> Self {
        let mut scanner = self.set.scanner(self.options);
        scanner.keep_hits = self.keep_hits;
        scanner
    }
}

/// Only the options: the buffers hold scanned (and decoded) text, secrets included.
impl std::fmt::Debug for Scanner<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scanner")
            .field("rules", &self.set.rules.len())
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl<'r> Scanner<'r> {
    /// Scans an in-memory input.
    pub fn scan_bytes<F>(&mut self, bytes: &[u8], source: Source<'_>, sink: F) -> Outcome
    where
        F: FnMut(Match<'r>),
    {
        self.scan_bytes_given(bytes, None, source, sink)
    }

    /// Scans an in-memory input whose keyword hits are known: `hits` were derived for exactly
    /// these bytes ([`RuleSet::derive_hits`]), and the keyword pass is skipped. Everything
    /// else runs as in [`Scanner::scan_bytes`], which reports the same.
    pub fn scan_bytes_given<F>(
        &mut self,
        bytes: &[u8],
        hits: Option<&KeywordHits>,
        source: Source<'_>,
        mut sink: F,
    ) -> Outcome
    where
        F: FnMut(Match<'r>),
    {
        if self.archive_depth == 0 {
            self.archive_cut = false;
            self.archive_stopped = false;
        }
        // What the input's own bytes give is not given again by its members (a tar's and a
        // stored zip member's text is in both).
        let mut given = Vec::new();
        let outcome = self.scan_one(bytes, hits, source, &mut |m: Match<'r>| {
            given.push(given_key(&m));
            sink(m)
        });
        if outcome != Outcome::PathAllowed {
            self.scan_archive(bytes, source, &mut sink, given);
        }
        outcome
    }

    /// The members of the archive `bytes` is, if it is one ([`crate::archive`]): inflated
    /// and scanned as inputs of their own, their findings located at the archive's start
    /// (line 1), each secret once (`given`: what the archive's own bytes gave). What cannot
    /// be read whole marks the input cut short.
    fn scan_archive(
        &mut self,
        bytes: &[u8],
        source: Source<'_>,
        sink: &mut dyn FnMut(Match<'r>),
        mut given: Vec<(usize, Secret)>,
    ) {
        if !self.options.decode {
            return;
        }
        let Some(kind) = crate::archive::kind(bytes, || is_binary(bytes)) else { return };
        if self.archive_depth + 1 >= crate::archive::MAX_DEPTH {
            // One archive deeper than read: not passed as read (fail closed).
            self.archive_cut = true;
            return;
        }
        let (mut cut, mut stopped) = (self.cut_short(), self.stopped());
        // One budget for the input, however its archives nest: 3,000 zstd bombs in a 22 KB
        // `.tar.zst`, each within a budget of its own, kept the hook busy for 700 s (review of
        // session 29).
        if self.archive_depth == 0 {
            self.archive_left = crate::archive::MAX_EXPANDED;
        }
        let deadline = self.options.deadline;
        // The archive's own hits stay what a caller keeps (a delta's base hits).
        let (kept, keep) = (self.kept.take(), std::mem::take(&mut self.keep_hits));
        self.archive_depth += 1;
        let mut located = |m: Match<'r>| {
            let key = given_key(&m);
            if !given.contains(&key) {
                given.push(key);
                sink(Match { offset: 0, line: 1, column: 1, ..m });
            }
        };
        // Members one at a time: memory holds one.
        let whole = crate::archive::expand(kind, bytes, self.archive_left, &mut |member| {
            // Decoding spends time where no keyword is hit (where the scan checks its clock).
            if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
                stopped = true;
                return false;
            }
            let Some(left) = self.archive_left.checked_sub(member.len()) else {
                cut = true;
                return false;
            };
            self.archive_left = left;
            self.scan_bytes_given(member, None, source, &mut located as &mut dyn FnMut(Match<'r>));
            cut |= self.cut_short();
            stopped |= self.stopped();
            !stopped
        });
        cut |= !whole;
        self.archive_depth -= 1;
        (self.kept, self.keep_hits) = (kept, keep);
        self.archive_cut = cut;
        self.archive_stopped = stopped;
    }

    /// [`Scanner::scan_bytes_given`] of one input, archives aside. UTF-32 text is scanned
    /// transcoded, and its bytes as they are too (what follows the UTF-32, ASCII a pusher
    /// appends, reads as garbage in the transcoding), as UTF-16's are.
    fn scan_one(
        &mut self,
        bytes: &[u8],
        hits: Option<&KeywordHits>,
        source: Source<'_>,
        sink: &mut dyn FnMut(Match<'r>),
    ) -> Outcome {
        let Some(little) = crate::utf16::detect_utf32(bytes, is_binary(bytes)) else {
            return self.scan_utf8_or_16(bytes, hits, source, sink);
        };
        // Each transcoding is a quarter of its input or less: the recursion ends.
        let text = crate::utf16::utf32_to_utf8(bytes, little);
        self.scan_one(&text, None, source, sink);
        let (cut, stopped) = (self.cut_short(), self.stopped());
        let outcome = self.scan_utf8_or_16(bytes, hits, source, sink);
        self.archive_cut |= cut;
        self.archive_stopped |= stopped;
        outcome
    }

    /// [`Scanner::scan_one`] of input that is not UTF-32.
    fn scan_utf8_or_16(
        &mut self,
        bytes: &[u8],
        hits: Option<&KeywordHits>,
        source: Source<'_>,
        sink: &mut dyn FnMut(Match<'r>),
    ) -> Outcome {
        let mut sink = sink;
        self.kept = None;
        let nul = is_binary(bytes);
        if crate::utf16::detect(bytes, nul).is_some() {
            // Transcoded as it streams: memory stays bounded by the chunk, not the blob. An
            // in-memory read cannot fail.
            // Not as an archive again: the caller reads it as one (this path looped forever on
            // UTF-16 text that ends as a zip does).
            return self.read_input(bytes, source, sink, false).unwrap_or(Outcome::Scanned(0));
        }
        let binary = !self.options.scan_binary && nul;
        if binary && !self.options.binary_distinctive {
            return Outcome::Binary;
        }
        if !self.begin(source, binary) {
            return Outcome::PathAllowed;
        }
        self.state.nul = nul;
        if let Some(hits) = hits.filter(|h| h.input_len() == bytes.len()) {
            hits.fill(self.set, &mut self.state.hits);
            self.state.hits_given = true;
            if let Some(runs) = hits.base64() {
                self.state.base64_runs.clear();
                self.state.base64_runs.extend(runs);
                self.state.base64_given = true;
            }
        }
        self.state.base64_keep = self.keep_hits;
        self.state.step(self.set, &self.options, bytes, 0, 0, bytes.len(), true, source);
        self.state.base64_keep = false;
        if self.keep_hits {
            let state = &self.state;
            let kept = KeywordHits::from_hits(bytes.len(), &state.hits);
            self.kept =
                kept.map(
                    |k| if state.base64_listed { k.with_base64(&state.base64_runs) } else { k },
                );
        }
        self.state.flush(self.set, u64::MAX, &mut sink);
        self.end();
        if binary {
            Outcome::Binary
        } else {
            Outcome::Scanned(bytes.len() as u64)
        }
    }

    /// Scans a stream in chunks; memory stays bounded whatever its size.
    ///
    /// # Errors
    ///
    /// A read error; findings before it have been given to `sink`.
    pub fn scan_reader<R, F>(
        &mut self,
        reader: R,
        source: Source<'_>,
        sink: F,
    ) -> io::Result<Outcome>
    where
        R: Read,
        F: FnMut(Match<'r>),
    {
        self.read_input(reader, source, sink, true)
    }

    /// [`Scanner::scan_reader`]; an archive is read as one only with `archives`.
    fn read_input<R, F>(
        &mut self,
        mut reader: R,
        source: Source<'_>,
        mut sink: F,
        archives: bool,
    ) -> io::Result<Outcome>
    where
        R: Read,
        F: FnMut(Match<'r>),
    {
        let set = self.set;
        self.kept = None;
        if self.archive_depth == 0 {
            self.archive_cut = false;
            self.archive_stopped = false;
        }
        let (chunk, tail) = self.chunking();
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        let result = (|| {
            // The whole sniff, whatever the chunk size: `scan_bytes` judges the same bytes.
            let mut eof = fill(&mut reader, &mut buf, (chunk + tail).max(BINARY_SNIFF_LEN))?;
            if archives
                && self.options.decode
                && self.archive_depth == 0
                && (crate::archive::kind(&buf, || is_binary(&buf)).is_some()
                    || crate::utf16::detect_utf32(&buf, is_binary(&buf)).is_some())
            {
                // An archive is read whole to be inflated (zip's members are found from its
                // start to its end), UTF-32 text to be transcoded; one too large is streamed as
                // it is, and said so.
                if !eof {
                    let limit =
                        crate::archive::MAX_EXPANDED - buf.len().min(crate::archive::MAX_EXPANDED);
                    let read = (&mut reader).take(limit as u64 + 1).read_to_end(&mut buf)?;
                    eof = read <= limit;
                }
                if eof {
                    let whole = std::mem::take(&mut buf);
                    let outcome = self.scan_bytes_given(&whole, None, source, &mut sink);
                    buf = whole;
                    return Ok(outcome);
                }
                self.archive_cut = true;
            }
            let nul = is_binary(&buf);
            if let Some(encoding) = crate::utf16::detect(&buf, nul) {
                // UTF-16 text (see `utf16`): the bytes read so far and the rest, as UTF-8.
                let head = std::mem::take(&mut buf);
                let mut text =
                    crate::utf16::Utf16Reader::new(io::Cursor::new(head).chain(reader), encoding);
                let eof = fill(&mut text, &mut buf, chunk + tail)?;
                if !self.begin(source, false) {
                    return Ok(Outcome::PathAllowed);
                }
                self.stream_utf16(&mut text, &mut buf, eof, encoding, nul, source, &mut sink)?;
                return Ok(Outcome::Scanned(text.consumed()));
            }
            let binary = !self.options.scan_binary && nul;
            if binary && !self.options.binary_distinctive {
                return Ok(Outcome::Binary);
            }
            if !self.begin(source, binary) {
                return Ok(Outcome::PathAllowed);
            }
            self.state.nul = nul;
            let scanned = self.stream(&mut reader, &mut buf, eof, source, &mut sink)?;
            Ok(if binary { Outcome::Binary } else { Outcome::Scanned(scanned) })
        })();
        self.state.flush(set, u64::MAX, &mut sink);
        self.end();
        self.buf = buf;
        result
    }

    /// Bytes read per chunk, and the overlap kept past a chunk's end: a keyword and two
    /// windows (a window of UTF-16 characters in binary input, see `State::binary_strings`).
    fn chunking(&self) -> (usize, usize) {
        let chunk = self.options.chunk_size.max(4096);
        (chunk, 2 * self.set.max_window + self.set.gate().longest.max(1))
    }

    /// The chunk loop: `buf` holds the input's first bytes (all of it when `eof`), the rest
    /// comes from `reader`. Returns the bytes scanned.
    fn stream<R, F>(
        &mut self,
        reader: &mut R,
        buf: &mut Vec<u8>,
        mut eof: bool,
        source: Source<'_>,
        sink: &mut F,
    ) -> io::Result<u64>
    where
        R: Read,
        F: FnMut(Match<'r>),
    {
        let (chunk, tail) = self.chunking();
        let mut window = Window::default();
        loop {
            window.advance(&mut self.state, self.set, &self.options, buf, tail, eof, source, sink);
            if eof || self.state.stopped {
                return Ok(window.base + buf.len() as u64);
            }
            eof = fill(reader, buf, window.from + chunk + tail)?;
        }
    }

    /// The chunk loop over UTF-16 text: its transcoding is scanned as text, and its bytes as
    /// binary input beside it, where the distinctive rules find what is not UTF-16 in the
    /// transcoding's byte order and alignment (ASCII appended by a tool that writes ANSI, text
    /// after a stray odd byte); strings the transcoding reads are not scanned twice.
    #[allow(clippy::too_many_arguments)] // the two passes' shared inputs
    fn stream_utf16<R, F>(
        &mut self,
        text: &mut crate::utf16::Utf16Reader<R>,
        buf: &mut Vec<u8>,
        mut eof: bool,
        encoding: &'static encoding_rs::Encoding,
        nul: bool,
        source: Source<'_>,
        sink: &mut F,
    ) -> io::Result<()>
    where
        R: Read,
        F: FnMut(Match<'r>),
    {
        let set = self.set;
        let (chunk, tail) = self.chunking();
        let mut raw = self.raw.take().unwrap_or_else(|| Box::new(State::new(set.rules.len(), 0)));
        let mut raw_buf = std::mem::take(&mut self.raw_buf);
        raw_buf.clear();
        // The path passed `begin` already. Bytes with no NUL in their first 8 KiB (a mark
        // before text that is not UTF-8) are text to every rule.
        raw.begin(set, &self.options, source, !self.options.scan_binary && nul);
        raw.nul = true;
        // The transcoding reads a character's byte at an even offset in UTF-16LE (low byte
        // first), at an odd one in UTF-16BE.
        raw.transcoded = Some(u64::from(encoding == encoding_rs::UTF_16BE));
        let (mut main, mut bytes) = (Window::default(), Window::default());
        let result = loop {
            main.advance(&mut self.state, set, &self.options, buf, tail, eof, source, sink);
            text.take_raw(&mut raw_buf);
            if eof || raw_buf.len() >= bytes.from + chunk + tail {
                bytes.advance(&mut raw, set, &self.options, &mut raw_buf, tail, eof, source, sink);
            }
            if eof || self.state.stopped || raw.stopped {
                break Ok(());
            }
            match fill(text, buf, main.from + chunk + tail) {
                Ok(end) => eof = end,
                Err(e) => {
                    // What was read is scanned before the error is returned.
                    text.take_raw(&mut raw_buf);
                    bytes.advance(
                        &mut raw,
                        set,
                        &self.options,
                        &mut raw_buf,
                        tail,
                        true,
                        source,
                        sink,
                    );
                    break Err(e);
                }
            }
        };
        raw.flush(set, u64::MAX, sink);
        raw.end(set);
        self.raw = Some(raw);
        self.raw_buf = raw_buf;
        result
    }

    /// Prepares per-input state; false when the path is allowlisted globally.
    fn begin(&mut self, source: Source<'_>, binary: bool) -> bool {
        if let Some(raw) = &mut self.raw {
            raw.cut_short = false;
            raw.stopped = false;
        }
        self.state.begin(self.set, &self.options, source, binary)
    }

    fn end(&mut self) {
        self.state.end(self.set);
    }

    /// The rules this scanner runs.
    #[must_use]
    pub fn rule_set(&self) -> &'r RuleSet {
        self.set
    }

    /// Keep the keyword hits of each input that [`Scanner::scan_bytes`] searches whole, to
    /// derive those of inputs made from it ([`RuleSet::derive_hits`]).
    pub fn keep_hits(&mut self, keep: bool) {
        self.keep_hits = keep;
        self.kept = None;
    }

    /// The keyword hits of the last input, when they are kept and it was scanned whole as
    /// bytes (not UTF-16 text, which is transcoded, nor skipped).
    pub fn take_hits(&mut self) -> Option<KeywordHits> {
        self.kept.take()
    }

    /// Marks the input just scanned as not scanned in full ([`Scanner::cut_short`]): what the
    /// caller gave was not all of it (a file the input points to could not be read).
    pub fn mark_incomplete(&mut self) {
        self.archive_cut = true;
    }

    /// Whether the last input's decoding budget ran out: encoded text in it (base64, string
    /// escapes, percent-encoding) may not all have been decoded, so a key hidden there may
    /// have been missed. Linear costs cannot spend the budget ([`DECODE_PER_BYTE`] a byte
    /// read), so this is input crafted to be slow to decode, or pathological: a gate must not
    /// treat such an input as scanned.
    pub fn cut_short(&self) -> bool {
        self.state.cut_short
            || self.raw.as_ref().is_some_and(|raw| raw.cut_short)
            || self.archive_cut
    }

    /// Whether [`ScanOptions::deadline`] passed while the last input was scanned: it was not
    /// scanned to its end.
    pub fn stopped(&self) -> bool {
        self.state.stopped
            || self.raw.as_ref().is_some_and(|raw| raw.stopped)
            || self.archive_stopped
    }
}

/// Where a chunk loop stands: the absolute offset of its buffer's first byte, and where the
/// next step starts in the buffer.
#[derive(Default)]
struct Window {
    base: u64,
    from: usize,
}

impl Window {
    /// Scans the keyword hits that start in `buf` past `from` (all of them at `eof`;
    /// otherwise all but those in the last `tail` bytes, which the next step reads with what
    /// follows), gives `sink` the matches no later step can change, and drops the bytes no
    /// later step reads.
    #[allow(clippy::too_many_arguments)] // see `State::step`
    fn advance<'r, F: FnMut(Match<'r>)>(
        &mut self,
        state: &mut State,
        set: &'r RuleSet,
        options: &ScanOptions,
        buf: &mut Vec<u8>,
        tail: usize,
        eof: bool,
        source: Source<'_>,
        sink: &mut F,
    ) {
        let limit = if eof { buf.len() } else { buf.len().saturating_sub(tail).max(self.from) };
        if limit > self.from {
            state.step(set, options, buf, self.base, self.from, limit, eof, source);
        }
        if eof {
            return;
        }
        let flush_to = (self.base + limit as u64).saturating_sub(set.max_window as u64);
        state.flush(set, flush_to, sink);
        // Two windows stay before the next step's first byte: one of UTF-16 characters. So
        // do a string literal the buffer's end cut and a base64 run the search ended in.
        let keep = state.relex.into_iter().chain(state.base64_resume).min();
        let keep = keep.map_or(usize::MAX, |r| r.saturating_sub(self.base) as usize);
        let drop = limit.saturating_sub(2 * set.max_window).min(keep);
        state.lines.advance(&buf[..drop]);
        buf.drain(..drop);
        self.base += drop as u64;
        self.from = limit - drop;
    }
}

impl State {
    fn new(rules: usize, depth: u8) -> Self {
        State {
            hits: Vec::new(),
            hits_given: false,
            base64_runs: Vec::new(),
            base64_given: false,
            base64_keep: false,
            base64_listed: false,
            last_end: vec![0; rules],
            touched: Vec::new(),
            pending: std::collections::BTreeMap::new(),
            binary: false,
            nul: false,
            transcoded: None,
            disabled: vec![false; rules],
            lines: Lines::default(),
            depth,
            child: None,
            budget: 0,
            allowance: (DECODE_BUDGET, DECODE_PER_BYTE),
            inflate_left: MAX_INFLATED_INPUT,
            eof: true,
            cut_short: false,
            stopped: false,
            decoded_to: 0,
            assigned_to: 0,
            name: Name::default(),
            core: None,
            lexed: decode::Lexed::default(),
            relex: None,
            base64_resume: None,
            left_open: false,
            flushed: std::collections::BTreeMap::new(),
            vetoes: Vec::new(),
            decoded: Decoded::default(),
            scratch: Vec::new(),
        }
    }

    /// Prepares per-input state; false when the path is allowlisted globally.
    fn begin(
        &mut self,
        set: &RuleSet,
        options: &ScanOptions,
        source: Source<'_>,
        binary: bool,
    ) -> bool {
        self.reset_input(self.allowance.0);
        self.binary = binary;
        self.cut_short = false;
        if source.path.is_some_and(|path| set.skips(path)) {
            return false;
        }
        for &r in &set.path_rules {
            let rule = &set.rules[r as usize];
            let path = source.path.unwrap_or("");
            let outside = rule.only_paths.as_ref().is_some_and(|m| !m.is_match(path));
            // Without a path no allowlist by path applies (see `RuleSet::path_independent`).
            let allowed = source.path.is_some_and(|path| {
                rule.allowlists
                    .iter()
                    .any(|a| a.paths_only() && a.paths.as_ref().is_some_and(|m| m.is_match(path)))
            });
            self.disabled[r as usize] = outside || allowed;
        }
        if binary {
            for (r, rule) in set.rules.iter().enumerate() {
                self.disabled[r] |=
                    rule.generic && rule.severity() < options.binary_generic_severity;
            }
        }
        true
    }

    /// Where a new input (or a decoded text, for a child state) starts: no lines counted,
    /// nothing decoded or lexed, nothing kept for a next step, and `budget` to decode with.
    fn reset_input(&mut self, budget: usize) {
        self.lines = Lines::default();
        self.budget = budget;
        self.inflate_left = MAX_INFLATED_INPUT;
        self.decoded_to = 0;
        self.assigned_to = 0;
        self.name = Name::default();
        self.lexed = decode::Lexed::default();
        self.relex = None;
        self.base64_resume = None;
        self.left_open = false;
        self.stopped = false;
    }

    fn end(&mut self, set: &RuleSet) {
        self.nul = false;
        self.transcoded = None;
        self.vetoes.clear();
        self.flushed.clear();
        for &r in &self.touched {
            self.last_end[r as usize] = 0;
        }
        self.touched.clear();
        for &r in &set.path_rules {
            self.disabled[r as usize] = false;
        }
        if std::mem::take(&mut self.binary) {
            self.disabled.iter_mut().for_each(|d| *d = false);
        }
    }

    /// Processes keyword occurrences starting in `from..limit` of `buf`, whose first byte is
    /// at absolute offset `base`.
    #[allow(clippy::too_many_arguments)] // one hot internal call site; a struct adds nothing
    fn step(
        &mut self,
        set: &RuleSet,
        options: &ScanOptions,
        buf: &[u8],
        base: u64,
        from: usize,
        limit: usize,
        eof: bool,
        source: Source<'_>,
    ) {
        let gate = set.gate();
        self.eof = eof;
        let search_end =
            if eof { buf.len() } else { (limit + gate.longest).saturating_sub(1).min(buf.len()) };
        if self.depth == 0 {
            let read = limit.saturating_sub(from).saturating_mul(self.allowance.1);
            self.budget = self.budget.saturating_add(read);
        }
        let decode = options.decode && self.depth < MAX_DEPTH;
        self.lexed.next_buffer(self.relex);
        if let Some(at) = self.relex.take().filter(|_| decode && self.budget > 0) {
            // The last step's buffer ended inside a literal; the chunk loop kept its start.
            if let Some(at) =
                at.checked_sub(base).map(|at| at as usize).filter(|&at| at < buf.len())
            {
                let line = line_around(buf, at);
                self.decode_literals(set, options, buf, base, at..line.end, source);
            }
        }
        let base64_given = std::mem::take(&mut self.base64_given);
        self.base64_listed = false;
        let mut hits = std::mem::take(&mut self.hits);
        if !std::mem::take(&mut self.hits_given) {
            gate.hits(buf, from, search_end, &mut hits);
        }
        // Where windows of lines with character references, and of escapes decoded in place,
        // cover to (see `layer_window`).
        let (mut referenced, mut unescaped, mut joined, mut printable) = (0, 0, 0, 0);
        // Where the last line looked at for a table's header ends.
        let mut tabled = 0;
        let past = || options.deadline.is_some_and(|d| std::time::Instant::now() >= d);
        for (i, hit) in hits.iter().filter(|h| h.start < limit).enumerate() {
            // Each hit costs a window's regex at most: the clock is read every 256 of them
            // (a blob of nothing but keywords took 0.65 s a MiB past the hook's budget).
            if self.depth == 0 && i % 256 == 0 && past() {
                self.stopped = true;
                break;
            }
            let owners = gate.owners(hit.pattern);
            for &r in owners {
                if !self.disabled[r as usize] {
                    self.rule_hit(set, options, r, buf, base, hit.start, hit.end, source);
                }
            }
            if !decode || self.budget == 0 {
                continue;
            }
            if hit.start >= tabled {
                tabled = self.table(set, options, buf, base, hit.start, source);
            }
            let marker = gate.marker(hit.pattern);
            if marker && buf[hit.start] == b'&' {
                // A character reference that writes a plain character: it may hide a keyword.
                if hit.start >= referenced && decode::hiding_entity(buf, hit.start) {
                    let line = line_around(buf, hit.start);
                    let (window, cover) = layer_window(buf, hit.start, line, referenced);
                    referenced = cover;
                    self.decode_layer(set, options, buf, base, window, decode::entities, source);
                }
                continue;
            }
            if marker && crate::gate::join_marker(buf, hit.start) {
                // A literal joined to the next: the line's chains are decoded, once (unless a
                // keyword's decoding did; not counted as a keyword's decoding, which a keyword
                // later on the line still gets, for its own value).
                if hit.start >= joined && base + hit.start as u64 >= self.decoded_to {
                    let line = line_around(buf, hit.start);
                    let done = self.decode_literals(set, options, buf, base, line.clone(), source);
                    joined = done.unwrap_or(0).max(line.end);
                }
                continue;
            }
            // An escape that writes a plain character may hide a keyword: its line is decoded
            // as a hit's would be.
            let hiding = marker && decode::hiding_escape(buf, hit.start);
            let mut lexed_nothing = false;
            self.left_open = false;
            if base + hit.start as u64 >= self.decoded_to {
                if !owners.is_empty() {
                    lexed_nothing = !self.decode_at_hit(set, options, buf, base, hit, source);
                } else if hiding {
                    let line = line_around(buf, hit.start);
                    self.line_literals(set, options, buf, base, hit.start, line, source);
                }
            }
            if !owners.is_empty() && self.budget > 0 {
                self.assigned_base64(set, options, buf, base, hit, source);
            }
            if !owners.is_empty() && hit.start >= printable && self.budget > 0 {
                // Quoted-printable mail: `=3D` before a key, or a key split by a soft break.
                let line = line_around(buf, hit.start);
                if decode::quoted_printable_line(buf, line.clone()) {
                    let (joined, layer) = (b'=', decode::quoted_printable);
                    let end = self
                        .decode_joined(set, options, buf, base, line.start, joined, layer, source);
                    printable = end.max(hit.start + 1);
                } else {
                    printable = line.end;
                }
            }
            if hit.start < unescaped || self.budget == 0 || !(hiding || lexed_nothing) {
                continue;
            }
            // Lexing literals is not the whole answer. After an escape that hides a keyword,
            // its escapes are decoded in place too, whatever they are in: a template literal
            // (`\x67hp_...`), text outside quotes, or a literal that lexing misread (a decoy
            // chain or keyword earlier on the line decided it once, until session 18). After a
            // keyword whose lexing decoded no chain, where that lexing may have gone wrong: on
            // a line that began before the window around the hit, where the window may start
            // inside a literal and lexing takes its close for an opening quote (an escaped key
            // deep inside a long literal was missed), or with a literal the buffer's end cut
            // (one too long to lex again is never decoded as a literal). Not after every
            // keyword: a line of literals with a keyword in each, lexed and decoded in place,
            // cost twice the budget.
            let line = line_around(buf, hit.start);
            let cut = if line.start == 0 { base > 0 } else { buf[line.start - 1] != b'\n' };
            let in_place = hiding || cut || self.left_open;
            if in_place && memchr::memchr(b'\\', &buf[hit.start..line.end]).is_some() {
                unescaped = self.escapes_in_place_at(
                    set, options, buf, base, hit.start, line, unescaped, source,
                );
            }
        }
        self.hits = hits;
        if self.stopped {
            return;
        }
        if decode {
            // Percent-encoding hides keywords too (`password%3D`, `%3A%2F%2F`, `ghp%5F`): every
            // line with a `%XX` of a printable character is decoded once. So do two-digit octal
            // escapes (`xoxb\55...`), which the gate's markers cannot name in 4 bytes (what
            // follows them is anything but an octal digit): found in the same pass, each is
            // decoded as a marker's escape is.
            let mut line_end = 0;
            // Where the last chain of continued lines ends (each is joined once).
            let mut continued = 0;
            for at in memchr::memchr2_iter(b'%', b'\\', &buf[from..limit]).map(|i| from + i) {
                if buf[at] == b'\\' && decode::line_continuation(buf, at) {
                    // A backslash that ends a line: the lines it joins are decoded joined, as
                    // shell, YAML, TOML and the languages' strings read them.
                    if at >= continued && self.budget > 0 && decode::splits_token(buf, at) {
                        let start = line_around(buf, at).start;
                        let (joined, layer) = (b'\\', decode::continuations);
                        let end = self
                            .decode_joined(set, options, buf, base, start, joined, layer, source);
                        continued = end.max(at + 1);
                    }
                    continue;
                }
                if buf[at] == b'\\' {
                    // Decoded as a marker's escape is (see the hits above).
                    if self.budget > 0 && decode::short_octal_escape(buf, at) {
                        let line = line_around(buf, at);
                        self.line_literals(set, options, buf, base, at, line.clone(), source);
                        if at >= unescaped && self.budget > 0 {
                            unescaped = self.escapes_in_place_at(
                                set, options, buf, base, at, line, unescaped, source,
                            );
                        }
                    }
                    continue;
                }
                if at < line_end || self.budget == 0 || !decode::percent_escape(buf, at) {
                    continue;
                }
                let (line, cover) = layer_window(buf, at, line_around(buf, at), line_end);
                line_end = cover;
                self.decode_layer(set, options, buf, base, line, decode::percent, source);
            }
            let mut decoded = std::mem::take(&mut self.decoded);
            let mut scratch = std::mem::take(&mut self.scratch);
            // A wrapped block is decoded once, from its first line.
            let mut joined = 0;
            // A run the last step's search ended in goes on from where it was kept (the
            // chunk loop keeps it in the buffer); `Base64Runs` skips the rest of it.
            let resumed = self.base64_resume.take().and_then(|at| {
                let at = usize::try_from(at.checked_sub(base)?).ok()?;
                let end = decode::base64_end(buf, at, search_end);
                (at < end).then_some(at..end)
            });
            // The runs, given, or listed here: into `base64_runs` when they are kept with the
            // input's hits, else as they are found.
            let mut listed = std::mem::take(&mut self.base64_runs);
            let list = || Base64Runs::new(buf, from, search_end, decode::MIN_BASE64).open_end();
            let keep = !base64_given && self.base64_keep;
            if keep {
                listed.clear();
                listed.extend(list());
            }
            let runs: Box<dyn Iterator<Item = std::ops::Range<usize>> + '_> =
                if base64_given || keep {
                    Box::new(listed.iter().cloned())
                } else {
                    Box::new(list())
                };
            // In decoded text the runs of the context (the line around the encoded text) are
            // the parent's to decode: decoded here too, a line of many runs cost its square at
            // each layer (33 KB of them spent the budget three layers deep; review of session
            // 27).
            let core = self.core.clone().unwrap_or(0..buf.len());
            for run in resumed.into_iter().chain(runs) {
                if run.start >= limit || self.budget == 0 {
                    break;
                }
                if run.start < joined || run.end <= core.start || run.start >= core.end {
                    continue;
                }
                if !eof && run.end == search_end {
                    // The search ends inside the run: the next step decodes it again with what
                    // follows, from its start, or for a line longer than one decoding from a
                    // piece that overlaps what this step decodes. Compressed data is kept
                    // from its start up to the longest read whole, and decoded once it ends
                    // (a part of it is no stream).
                    let compressed = decode::compressed(&buf[run.clone()]).is_some()
                        && run.len() <= decode::MAX_COMPRESSED;
                    let at = if run.len() > decode::MAX_ENCODED && !compressed {
                        run.start + (search_end - PIECE_OVERLAP - run.start) / 4 * 4
                    } else {
                        run.start
                    };
                    self.base64_resume = Some(base + at as u64);
                    if compressed {
                        continue;
                    }
                }
                if run.len() < decode::MIN_BASE64 {
                    continue; // (the open end's run, or a resumed one that proved short)
                }
                joined = self.base64_run(
                    set,
                    options,
                    buf,
                    base,
                    run,
                    &mut scratch,
                    &mut decoded,
                    source,
                );
            }
            // One input's many runs are not held for the next ones.
            if listed.capacity() > 2 * listed.len() + 1024 {
                listed.shrink_to_fit();
            }
            self.base64_listed = base64_given || keep;
            self.base64_runs = listed;
            self.decoded = decoded;
            self.scratch = scratch;
        }
        // UTF-16 strings in binary input, and in text input wherever a NUL appears: PowerShell
        // 5's `>>` appends UTF-16 to a file of ASCII text. (A string that starts in this step
        // has a NUL in it or right after it.)
        if self.depth == 0
            && options.decode
            && (self.nul || memchr::memchr(0, &buf[from..(limit + 1).min(buf.len())]).is_some())
        {
            self.binary_strings(set, options, buf, base, from, limit, source);
        }
        for &r in &set.ungated {
            if self.disabled[r as usize] {
                continue;
            }
            let rule = &set.rules[r as usize];
            let end = (limit + rule.max_len).min(buf.len());
            let mut at = from.max(self.relative(r, base));
            while at < end {
                let Some(m) = rule.regex().search(&Input::new(buf).range(at..end)) else { break };
                if m.start() >= limit {
                    break;
                }
                self.matched(set, options, r, buf, base, m.start(), m.end(), 0..buf.len(), source);
                at = m.end().max(m.start() + 1);
            }
        }
        // Only this step's start adds to the budget: if it is spent now, some decoding in this
        // step was skipped or stopped (decoded layers share it, so theirs is counted here).
        if self.depth == 0 && self.budget == 0 {
            self.cut_short = true;
        }
    }

    /// UTF-16 strings in binary input ([`crate::utf16::BinaryStrings`]), scanned as text by the
    /// rules binary input gets: gathered a line apart into pieces of at most
    /// [`crate::utf16::PIECE`] characters (one scan per piece, however many short strings the
    /// input packs). Each piece reports the matches that start in its core; a piece holds a
    /// window of characters before its core and one after, so every match is seen from its
    /// start and to its end. This step's core is what lies in `from..limit`; the string that
    /// began before `from` is read from a window of characters back (the chunk loop keeps two
    /// windows of bytes), the one that runs past `limit` up to a window on.
    #[allow(clippy::too_many_arguments)] // see `step`
    fn binary_strings(
        &mut self,
        set: &RuleSet,
        options: &ScanOptions,
        buf: &[u8],
        base: u64,
        from: usize,
        limit: usize,
        source: Source<'_>,
    ) {
        use crate::utf16::{BinaryStrings, PIECE};
        let window = set.max_window.min(PIECE / 4);
        let back = from.saturating_sub(2 * window);
        let ahead = limit.saturating_add(2 * window);
        let mut decoded = std::mem::take(&mut self.decoded);
        decoded.clear();
        // Where the next piece's core starts.
        let mut covered = from;
        for run in BinaryStrings::new(buf, back, buf.len()) {
            if run.start >= limit {
                break;
            }
            let first = if buf[run.start] == 0 { run.start + 1 } else { run.start };
            if run.end <= from || self.transcoded == Some((base + first as u64) % 2) {
                continue;
            }
            if !decoded.bytes.is_empty() {
                decoded.push(b'\n', run.start);
            }
            for q in run.take_while(|&q| q < ahead) {
                if buf[q] == 0 {
                    continue;
                }
                if decoded.bytes.len() >= PIECE {
                    let core = covered..limit;
                    covered = self.strings_piece(
                        set,
                        options,
                        buf,
                        base,
                        core,
                        &mut decoded,
                        window,
                        source,
                    );
                }
                decoded.push(buf[q], q);
            }
        }
        if !decoded.bytes.is_empty() {
            self.strings_piece(set, options, buf, base, covered..limit, &mut decoded, 0, source);
        }
        self.decoded = decoded;
    }

    /// Scans the strings gathered in `decoded` (see `binary_strings`) and reports the matches
    /// that start in the part of them in `core` but the last `window` characters. Unless
    /// `window` is 0 (the last piece), the last two windows stay in `decoded` to start the
    /// next piece, the first of them its context; returns where its core starts.
    #[allow(clippy::too_many_arguments)] // see `step`
    fn strings_piece(
        &mut self,
        set: &RuleSet,
        options: &ScanOptions,
        buf: &[u8],
        base: u64,
        core: std::ops::Range<usize>,
        decoded: &mut Decoded,
        window: usize,
        source: Source<'_>,
    ) -> usize {
        let n = decoded.bytes.len();
        let map = &decoded.map[..n];
        let start = map.partition_point(|&q| q < core.start);
        let end = map.partition_point(|&q| q < core.end).min(n - window);
        let next = map.get(n - window).copied().unwrap_or(usize::MAX);
        decoded.finish(map[n - 1] + 1);
        decoded.core = start..end.max(start);
        decoded.starts_only = true;
        if !decoded.core.is_empty() {
            self.scan_decoded(set, options, buf, base, decoded, source);
        }
        decoded.map.truncate(n);
        let keep = (2 * window).min(n);
        decoded.bytes.drain(..n - keep);
        decoded.map.drain(..n - keep);
        next
    }

    /// The lines from `start` that a `joined` byte ending each joins (a quoted-printable soft
    /// break, a backslash continuation), decoded by `layer` and scanned; where they end.
    #[allow(clippy::too_many_arguments)] // see `step`
    fn decode_joined(
        &mut self,
        set: &RuleSet,
        options: &ScanOptions,
        buf: &[u8],
        base: u64,
        start: usize,
        joined: u8,
        layer: fn(&[u8], std::ops::Range<usize>, &mut Decoded),
        source: Source<'_>,
    ) -> usize {
        let lines = decode::joined_lines(buf, start, joined);
        let end = lines.end;
        self.decode_layer(set, options, buf, base, lines, layer, source);
        end
    }

    /// A line layer: `window` decoded by `decoder` (the whole window its core), its length
    /// taken from the budget, and what it holds scanned.
    #[allow(clippy::too_many_arguments)] // see `step`
    fn decode_layer(
        &mut self,
        set: &RuleSet,
        options: &ScanOptions,
        buf: &[u8],
        base: u64,
        window: std::ops::Range<usize>,
        decoder: fn(&[u8], std::ops::Range<usize>, &mut Decoded),
        source: Source<'_>,
    ) {
        let mut decoded = std::mem::take(&mut self.decoded);
        self.budget = self.budget.saturating_sub(window.len());
        decoder(buf, window, &mut decoded);
        self.scan_decoded(set, options, buf, base, &decoded, source);
        self.decoded = decoded;
    }

    /// The table whose header row holds the keyword hit at `at` ([`crate::table`]): its secret
    /// columns' cells scanned as assignments, the rows read taken from the budget. Returns
    /// where the next hit may look for a table: the table's end, or the hit's line's.
    #[allow(clippy::too_many_arguments)] // see `step`
    fn table(
        &mut self,
        set: &RuleSet,
        options: &ScanOptions,
        buf: &[u8],
        base: u64,
        at: usize,
        source: Source<'_>,
    ) -> usize {
        let mut decoded = std::mem::take(&mut self.decoded);
        let end = crate::table::decode(buf, at, &mut decoded);
        if let Some(end) = end {
            self.budget = self.budget.saturating_sub(end - at);
            self.scan_decoded(set, options, buf, base, &decoded, source);
        }
        self.decoded = decoded;
        end.unwrap_or_else(|| memchr::memchr(b'\n', &buf[at..]).map_or(buf.len(), |i| at + i))
    }

    /// The string literals of `line`, around an escape at `at` that may hide a keyword,
    /// unless a decoding on the line has done them; later hits on the line skip them.
    #[allow(clippy::too_many_arguments)] // see `step`
    fn line_literals(
        &mut self,
        set: &RuleSet,
        options: &ScanOptions,
        buf: &[u8],
        base: u64,
        at: usize,
        line: std::ops::Range<usize>,
        source: Source<'_>,
    ) {
        if base + at as u64 >= self.decoded_to {
            let done = self.decode_literals(set, options, buf, base, line.clone(), source);
            self.decoded_to = base + done.unwrap_or(0).max(line.end) as u64;
        }
    }

    /// The escapes of `line` decoded in place from a trigger at `at`, in a window that starts
    /// no earlier than [`IN_PLACE_BACK`] before it and after what the last window decoded
    /// (`unescaped`, see [`layer_window`]); returns where this window covers to.
    #[allow(clippy::too_many_arguments)] // see `step`
    fn escapes_in_place_at(
        &mut self,
        set: &RuleSet,
        options: &ScanOptions,
        buf: &[u8],
        base: u64,
        at: usize,
        line: std::ops::Range<usize>,
        unescaped: usize,
        source: Source<'_>,
    ) -> usize {
        let (window, cover) = layer_window(buf, at, line, unescaped);
        let start = window.start.max(at.saturating_sub(IN_PLACE_BACK));
        let window = start..window.end;
        self.decode_layer(set, options, buf, base, window, decode::escapes_in_place, source);
        cover
    }

    /// The string-literal layer on the line of a keyword hit at `at`; whether it decoded a
    /// chain.
    #[allow(clippy::too_many_arguments)] // see `step`
    fn decode_at_hit(
        &mut self,
        set: &RuleSet,
        options: &ScanOptions,
        buf: &[u8],
        base: u64,
        hit: &Hit,
        source: Source<'_>,
    ) -> bool {
        let line = line_around(buf, hit.start);
        let mut done = line.end;
        let mut chains = None;
        if decode::literal_candidate(buf, line.clone()) {
            chains = self.decode_literals(set, options, buf, base, line.clone(), source);
            done = done.max(chains.unwrap_or(0));
        }
        // Other hits on this line (or in its chains) see the same decoded text.
        self.decoded_to = base + done as u64;
        chains.is_some()
    }

    /// Short base64 values after a name that hit (`DB_PASSWORD: <base64>`,
    /// `"AWS_ACCESS_KEY_ID": "<base64>"`), when a value is assigned to it: every run from
    /// there to the line's end, or [`LINE_CONTEXT`] on, each byte once (longer runs are
    /// decoded wherever they are). Apart from the line's literals: an escape or a keyword
    /// earlier on the line, with nothing assigned to it, does not decode the values after it.
    #[allow(clippy::too_many_arguments)] // see `step`
    fn assigned_base64(
        &mut self,
        set: &RuleSet,
        options: &ScanOptions,
        buf: &[u8],
        base: u64,
        hit: &Hit,
        source: Source<'_>,
    ) {
        let Some(value) = self.name_value(buf, base, hit.end) else { return };
        // Runs before `assigned_to` were decoded by a name before this one.
        let done = usize::try_from(self.assigned_to.saturating_sub(base)).unwrap_or(usize::MAX);
        let from = value.max(done);
        let cap = from.saturating_add(LINE_CONTEXT).min(buf.len());
        if from >= cap {
            return;
        }
        let mut end = memchr::memchr(b'\n', &buf[from..cap]).map_or(cap, |i| from + i);
        if end == cap {
            // A run the cap cuts is taken whole, so that the next name's pass starts between
            // runs (a run too long to end here is decoded wherever it is).
            let most = (end + decode::MIN_BASE64).min(buf.len());
            while end < most && decode::is_base64(buf[end]) {
                end += 1;
            }
        }
        if from >= end {
            return;
        }
        self.assigned_to = base + end as u64;
        let mut decoded = std::mem::take(&mut self.decoded);
        let mut scratch = std::mem::take(&mut self.scratch);
        // In decoded text, runs in the context were its parent's to decode, and what they hold
        // is no finding of this text's.
        let core = self.core.clone().unwrap_or(0..buf.len());
        for run in Base64Runs::new(buf, from, end, decode::MIN_BASE64_ON_HIT) {
            if run.end <= core.start || run.start >= core.end {
                continue;
            }
            if run.len() < decode::MIN_BASE64 && self.budget > 0 {
                self.base64_run(set, options, buf, base, run, &mut scratch, &mut decoded, source);
            }
        }
        self.scratch = scratch;
        self.decoded = decoded;
    }

    /// Where the value assigned to the name a keyword ending at `at` is in starts (after
    /// `:`, `=` or `:=`, past the rest of the name, quotes and blanks). Hits inside one run of
    /// name characters share its end: the run is read once, however many keywords it holds
    /// and however long it is (a name is read to its end, within the buffer).
    fn name_value(&mut self, buf: &[u8], base: u64, at: usize) -> Option<usize> {
        let abs = base + at as u64;
        let name = &mut self.name;
        let inside = name.from <= abs && abs <= name.to;
        // A keyword inside the last one (`access` in `secret_access_key`) ends before it:
        // the bytes between are the same run when they are all name characters.
        let within = abs < name.from
            && name.from <= base + buf.len() as u64
            && buf[at..(name.from - base) as usize].iter().all(|&b| name_byte(b));
        if within {
            name.from = abs;
        } else if !inside {
            *name = Name { from: abs, to: abs, value: None };
        }
        if name.value.is_none() {
            let mut i = usize::try_from(name.to - base).unwrap_or(buf.len()).min(buf.len());
            while i < buf.len() && name_byte(buf[i]) {
                i += 1;
            }
            let end = i;
            let blanks = (i + LINE_CONTEXT).min(buf.len());
            while i < blanks && matches!(buf[i], b' ' | b'\t') {
                i += 1;
            }
            if i == buf.len() {
                // The buffer's end cuts the name or its blanks: the next hit in it reads on
                // from here (in the next buffer, what follows), nothing is known yet.
                name.to = base + i as u64;
                return None;
            }
            name.to = base + end as u64;
            // The value starts past the blanks and quotes after the operator, however many
            // (read once per name): a pass of `LINE_CONTEXT` from the operator missed a value
            // padded farther than that.
            let value = matches!(buf[i], b':' | b'=').then(|| {
                let mut j = i + 1;
                while j < buf.len() && matches!(buf[j], b' ' | b'\t' | b'"' | b'\'') {
                    j += 1;
                }
                base + j as u64
            });
            name.value = Some(value);
        }
        name.value.flatten().map(|v| (v - base) as usize)
    }

    /// Every changed chain of string literals on `line` at once (the line is lexed once,
    /// whatever the number of hits on it), from where the last lexing stopped; returns where
    /// the last chain ends, if any. A literal the buffer's end cuts is lexed again from its start in
    /// the next step ([`State::relex`]), which the chunk loop keeps in the buffer.
    #[allow(clippy::too_many_arguments)] // see `step`
    fn decode_literals(
        &mut self,
        set: &RuleSet,
        options: &ScanOptions,
        buf: &[u8],
        base: u64,
        line: std::ops::Range<usize>,
        source: Source<'_>,
    ) -> Option<usize> {
        let mut decoded = std::mem::take(&mut self.decoded);
        let mut done = None;
        let mut cursor = decode::Cursor::resume(line.start, &self.lexed, base);
        while self.budget > 0 {
            let Some(end) = decode::next_literal_chain(
                buf,
                line.clone(),
                &mut cursor,
                &mut decoded,
                &mut self.budget,
            ) else {
                break;
            };
            done = done.max(Some(end));
            self.budget = self.budget.saturating_sub(decoded.bytes.len());
            self.scan_decoded(set, options, buf, base, &decoded, source);
        }
        self.lexed = cursor.save(base, line.end);
        // Only a literal of at most `RELEX_LIMIT` so far is lexed again (then in pieces if it
        // closes past `MAX_ENCODED`): a longer one that never closes would keep the whole line
        // in the buffer, and be read again each step.
        self.left_open |= cursor.pending().is_some();
        if let Some(at) = cursor.pending().filter(|&at| buf.len() - at <= RELEX_LIMIT) {
            let at = base + at as u64;
            self.relex = Some(self.relex.map_or(at, |r| r.min(at)));
        }
        self.decoded = decoded;
        done
    }

    /// Decodes one base64 run and the wrapped lines after it (their length taken from the
    /// budget), scans what they hold, and returns where they end.
    #[allow(clippy::too_many_arguments)] // see `step`
    fn base64_run(
        &mut self,
        set: &RuleSet,
        options: &ScanOptions,
        buf: &[u8],
        base: u64,
        run: std::ops::Range<usize>,
        scratch: &mut Vec<u8>,
        decoded: &mut Decoded,
        source: Source<'_>,
    ) -> usize {
        let (start, mut end) = (run.start, run.end);
        if let Some(setup) = decode::compressed(&buf[run.clone()]) {
            // Compressed data is read whole or not at all: a block longer than is decoded
            // (or whose wrapped lines run past it) cuts the input short, as padding a key past
            // a limit would otherwise hide it (review of session 31).
            end = match decode::base64_bytes(buf, run, scratch, decode::MAX_COMPRESSED) {
                Ok((_, true)) if !self.eof => {
                    // It may go on in the next chunk: decoded from its start then (the chunk
                    // loop keeps it), whole.
                    self.base64_resume = Some(base + start as u64);
                    return buf.len();
                }
                Ok((joined, _)) => {
                    // Its bytes and its decoder's setup.
                    let cost = (joined - start).saturating_add(setup);
                    if cost >= self.budget {
                        // Spent: not decoded, and the input is cut short (what a member adds
                        // to the budget must not let the next block through: 10 MB of tiny
                        // bzip2 blocks each did).
                        self.budget = 0;
                        return joined;
                    }
                    self.budget -= cost;
                    self.compressed(
                        set,
                        options,
                        buf,
                        base,
                        start..joined,
                        scratch,
                        decoded,
                        source,
                    );
                    joined
                }
                Err(Some(joined)) => {
                    self.budget = 0;
                    joined
                }
                Err(None) => {
                    self.budget = self.budget.saturating_sub(end - start);
                    end
                }
            };
            return end;
        }
        if run.len() > decode::MAX_ENCODED {
            // One line of base64 longer than a layer decodes (a data URI, or text a pusher
            // put before a key in the same stream): decoded piece by piece on its grid of 4
            // characters, pieces overlapping by more than a token, each judged as text alone.
            let mut at = start;
            while self.budget > 0 {
                let piece = at..(at + decode::MAX_ENCODED).min(end);
                if decode::base64(buf, piece.clone(), scratch, decoded).is_some() {
                    self.scan_decoded(set, options, buf, base, decoded, source);
                }
                self.budget = self.budget.saturating_sub(piece.len());
                if piece.end == end {
                    break;
                }
                at = piece.end - PIECE_OVERLAP;
            }
            return end;
        }
        if let Some(joined) = decode::base64(buf, run, scratch, decoded) {
            end = joined;
            self.scan_decoded(set, options, buf, base, decoded, source);
        }
        self.budget = self.budget.saturating_sub(end - start);
        end
    }

    /// What compressed data `bytes` that the base64 block `block` of `buf` decoded to holds
    /// (a gzip'd cloud-init part, Terraform's `base64gzip()`, a Helm release, a `.tar.gz` in
    /// a ConfigMap's `binaryData`; see `decode::compressed`): each member scanned as decoded
    /// text located at the block's start, a member that is text with the decoding allowance
    /// read input gets. What is expanded is taken from the input's expansion budget (at most
    /// [`MAX_INFLATED`] for one block, [`MAX_INFLATED_INPUT`] in all); data that expands to
    /// more, or cannot be read whole, leaves the decoding budget spent, so the input is cut
    /// short (as a pushed archive is); what it could read was scanned.
    #[allow(clippy::too_many_arguments)] // see `step`
    fn compressed(
        &mut self,
        set: &RuleSet,
        options: &ScanOptions,
        buf: &[u8],
        base: u64,
        block: std::ops::Range<usize>,
        bytes: &[u8],
        decoded: &mut Decoded,
        source: Source<'_>,
    ) {
        let mut budget = self.inflate_left.min(MAX_INFLATED);
        let before = budget;
        let whole = crate::archive::encoded_members(bytes, true, &mut budget, 1, &mut |member| {
            // Expanded text is decoded as read input is: the decoding it holds (a Helm
            // release's JSON-escaped manifest, the base64 in it) gets the same allowance. A
            // member that is not text is scanned as it is too (a key, then NUL padding, was
            // passed over as binary; review of session 31).
            if decode::is_text(member) {
                let allowance = member.len().saturating_mul(self.allowance.1);
                self.budget = self.budget.saturating_add(allowance);
            }
            decode::compressed_text(buf, block.start, block.end, member, decoded);
            self.scan_decoded(set, options, buf, base, decoded, source);
            self.budget > 0
        });
        self.inflate_left = self.inflate_left.saturating_sub(before - budget);
        // Not read whole (past the expansion budget, nested too deep, encrypted, a format the
        // readers refuse such as an xz dictionary too large, corrupt): cut short, as a pushed
        // archive is (review of session 31: an unreadable xz hid its key and passed).
        if !whole || budget == 0 {
            self.budget = 0;
        }
    }

    /// Scans decoded text with a child state and queues what it finds in the decoded part,
    /// located at the encoded text it came from.
    #[allow(clippy::too_many_arguments)] // see `step`
    fn scan_decoded(
        &mut self,
        set: &RuleSet,
        options: &ScanOptions,
        buf: &[u8],
        base: u64,
        decoded: &Decoded,
        source: Source<'_>,
    ) {
        let mut child = self
            .child
            .take()
            .unwrap_or_else(|| Box::new(State::new(set.rules.len(), self.depth + 1)));
        child.disabled.clone_from(&self.disabled);
        child.reset_input(self.budget);
        child.inflate_left = self.inflate_left;
        let bytes = &decoded.bytes;
        child.core = Some(decoded.core.clone());
        child.step(set, options, bytes, 0, 0, bytes.len(), true, source);
        for &r in &child.touched {
            child.last_end[r as usize] = 0;
        }
        child.touched.clear();
        self.budget = child.budget;
        self.inflate_left = child.inflate_left;
        let found = std::mem::take(&mut child.pending);
        let found: Vec<Pending> = found.into_values().filter(|p| !child.vetoed(set, p)).collect();
        child.vetoes.clear();
        self.child = Some(child);
        for mut p in found {
            let (s, e) = (p.start as usize, p.end as usize);
            let before =
                if decoded.starts_only { s < decoded.core.start } else { e <= decoded.core.start };
            if before || s >= decoded.core.end {
                continue; // context, found (or not) by the plain pass or another piece
            }
            let (start, end) = decoded.source_span(s, e);
            // The allow comment sits on the encoded text's line (a decoded `\n` may have
            // ended the decoded line before it).
            if !p.inline_allowed && inline_allow(buf, start, end) {
                if !options.flag_inline_allows {
                    continue;
                }
                p.inline_allowed = true;
            }
            let (line, column) = self.lines.position(buf, start);
            p.start = base + start as u64;
            p.end = base + end as u64;
            p.line = line;
            p.column = column;
            self.queue(set, options, p);
        }
    }

    /// Where rule `r` may next match, relative to `base`.
    fn relative(&self, r: u32, base: u64) -> usize {
        usize::try_from(self.last_end[r as usize].saturating_sub(base)).unwrap_or(usize::MAX)
    }

    #[allow(clippy::too_many_arguments)] // see `step`
    fn rule_hit(
        &mut self,
        set: &RuleSet,
        options: &ScanOptions,
        r: u32,
        buf: &[u8],
        base: u64,
        hit_start: usize,
        hit_end: usize,
        source: Source<'_>,
    ) {
        let rule = &set.rules[r as usize];
        if let Some(within) = rule.anchored {
            self.anchored_hit(set, options, r, within, buf, base, hit_start, hit_end, source);
            return;
        }
        let mut at = hit_start.saturating_sub(rule.before).max(self.relative(r, base));
        let mut end = (hit_end + rule.max_len).min(buf.len());
        let compiled = rule.compiled();
        if compiled.one_line && at < end {
            // Matches before the line end at its start at the latest: the search from `at`
            // reaches the line in the state the search from its start begins in.
            if let Some(nl) = memchr::memrchr(b'\n', &buf[at..hit_start.clamp(at, end)]) {
                at += nl + 1;
            }
            let after = hit_end.clamp(at, end);
            if let Some(nl) = memchr::memchr(b'\n', &buf[after..end]) {
                end = after + nl;
            }
        }
        if at >= end {
            return;
        }
        if !compiled.may_match(&buf[at..end])
            || !compiled.filter_match(&Input::new(buf).range(at..end))
        {
            return;
        }
        let re = rule.regex();
        while at < end {
            let Some(m) = re.search(&Input::new(buf).range(at..end)) else { break };
            if m.start() >= hit_end {
                break;
            }
            let next = m.end().max(m.start() + 1);
            if m.end() > hit_start {
                self.matched(set, options, r, buf, base, m.start(), m.end(), 0..buf.len(), source);
            }
            at = next;
        }
    }

    /// [`rule_hit`](Self::rule_hit) of a rule whose every match has a keyword at most
    /// `within` bytes in ([`Rule::anchored`]): the matches starting from `within` bytes
    /// before the hit to its end, leftmost first, as an unanchored search of the window finds
    /// them. A match starting after the hit's end has a keyword after the hit too, and is
    /// found from there; one that starts before the rule's last match ends overlaps it, and
    /// the unanchored search skips it as well.
    #[allow(clippy::too_many_arguments)] // see `step`
    fn anchored_hit(
        &mut self,
        set: &RuleSet,
        options: &ScanOptions,
        r: u32,
        within: usize,
        buf: &[u8],
        base: u64,
        hit_start: usize,
        hit_end: usize,
        source: Source<'_>,
    ) {
        let rule = &set.rules[r as usize];
        let end = (hit_end + rule.max_len).min(buf.len());
        #[cfg(debug_assertions)]
        self.assert_keywords_within(rule, within, buf, hit_start, hit_end, end);
        let compiled = rule.compiled();
        let mut at = hit_start.saturating_sub(within).max(self.relative(r, base));
        // Through the keyword's end, as the unanchored search reports a match starting inside
        // it at this hit (`SG.SG.<key>`), before the decoding layers run on the hit, whose
        // findings may overlap it and be queued first.
        while at < hit_end && at < end {
            if !compiled.may_start_with(buf[at]) {
                at += 1;
                continue;
            }
            let input = Input::new(buf).range(at..end).anchored(Anchored::Yes);
            if compiled.filter_alone(&input) {
                if let Some(m) = rule.regex().search(&input) {
                    if m.end() > hit_start {
                        self.matched(
                            set,
                            options,
                            r,
                            buf,
                            base,
                            m.start(),
                            m.end(),
                            0..buf.len(),
                            source,
                        );
                    }
                    at = m.end().max(m.start() + 1);
                    continue;
                }
            }
            // In binary input only rules a glued match cannot be chance for: a checksum confirms
            // it, or its keyword is 5 bytes or more. With `cio`, `tfp_` and `ATBB`, C++ mangled
            // names in the JDK's libraries made crates.io, Typeform and Bitbucket "keys", one of
            // them blocking (review of session 29).
            let distinctive = rule.spec.checksum.is_some() || hit_end - hit_start >= 5;
            if (self.nul && distinctive) || after_colour_code(&buf[..at]) {
                if let Some(next) = self.glued(set, options, r, buf, base, at, hit_start, source) {
                    at = next;
                    continue;
                }
            }
            at += 1;
        }
    }

    /// A key glued to the bytes around it, found where the rule's boundaries (`\b`, "not a
    /// letter after") fail only because of them: in binary input, where formats store
    /// strings back to back (a SQLite row's columns, a `.pyc`'s or a `.class`'s length byte
    /// before the string, an executable's string table), and after a terminal colour code
    /// (`\x1b[1m` leaves an `m` before the key in logs and notebook outputs). The regex runs
    /// again with its look-around seeing only the bytes from `at` to each possible match end,
    /// the longest first; the match is confirmed as any other (checksum, entropy,
    /// allowlists). Binary data is full of text run together (word lists, symbol names):
    /// a glued match with no digit (`ciotiempoporquecuenta...` of a compression dictionary,
    /// `tfp_offsetoverflow_arg_area` of a symbol table) is such text, not a random token (32
    /// random base62 characters hold a digit all but 4 times in 1,000). Where the match
    /// ends, if there is one.
    #[allow(clippy::too_many_arguments)] // see `step`
    fn glued(
        &mut self,
        set: &RuleSet,
        options: &ScanOptions,
        r: u32,
        buf: &[u8],
        base: u64,
        at: usize,
        hit_start: usize,
        source: Source<'_>,
    ) -> Option<usize> {
        let rule = &set.rules[r as usize];
        let compiled = rule.compiled();
        // Each end from the longest match's to the shortest's (a Slack token's secret part
        // followed by a text column ends at none of the two), at most 64 of them; only the two
        // for rules whose matches vary more in length.
        let (longest, shortest) = (rule.max_len, compiled.min_len.clamp(1, rule.max_len));
        let ends: Vec<usize> = if longest - shortest <= GLUED_ENDS {
            (shortest..=longest).rev().collect()
        } else {
            vec![longest, shortest]
        };
        for len in ends {
            let context = at..(at + len).min(buf.len());
            let input = Input::new(&buf[context.clone()]).anchored(Anchored::Yes);
            if !compiled.filter_alone(&input) {
                continue;
            }
            let Some(m) = rule.regex().search(&input) else { continue };
            let (start, end) = (at + m.start(), at + m.end());
            // A checksum decides alone (a GitHub token between two long columns of a row).
            let chance = inside_encoded_run(buf, start, end)
                || !buf[start..end].iter().any(u8::is_ascii_digit);
            if rule.spec.checksum.is_none() && chance {
                return None;
            }
            if end > hit_start {
                self.matched(set, options, r, buf, base, start, end, context, source);
            }
            return Some(end.max(start + 1));
        }
        None
    }

    /// Debug builds check [`Rule::anchored`]'s premise on every window the unanchored search
    /// would have read: each match in it has one of the rule's keywords `within` bytes in.
    #[cfg(debug_assertions)]
    fn assert_keywords_within(
        &self,
        rule: &Rule,
        within: usize,
        buf: &[u8],
        hit_start: usize,
        hit_end: usize,
        end: usize,
    ) {
        let mut at = hit_start.saturating_sub(rule.max_len);
        while let Some(m) = rule.regex().search(&Input::new(buf).range(at..end)) {
            if m.start() >= hit_end {
                break;
            }
            let found = (m.start()..=m.start() + within).any(|s| {
                rule.spec.keywords.iter().any(|k| {
                    buf.get(s..s + k.len()).is_some_and(|w| w.eq_ignore_ascii_case(k.as_bytes()))
                })
            });
            assert!(
                found,
                "rule {}: a match at {} has no keyword {within} bytes in",
                rule.spec.id,
                m.start()
            );
            at = m.end().max(m.start() + 1);
        }
    }

    /// A regex match of rule `r` at `start..end`, found with look-around seeing `context`
    /// (all of `buf` but for [`State::glued`]): confirm it and queue it.
    #[allow(clippy::too_many_arguments)] // see `step`
    fn matched(
        &mut self,
        set: &RuleSet,
        options: &ScanOptions,
        r: u32,
        buf: &[u8],
        base: u64,
        start: usize,
        end: usize,
        context: std::ops::Range<usize>,
        source: Source<'_>,
    ) {
        let ri = r as usize;
        if self.last_end[ri] == 0 {
            self.touched.push(r);
        }
        self.last_end[ri] = base + end.max(start + 1) as u64;
        let rule = &set.rules[ri];
        let hay = &buf[context.clone()];
        let Some((s, e)) = rule.secret_in(hay, start - context.start, end - context.start) else {
            return;
        };
        let (s, e) = (s + context.start, e + context.start);
        let secret = &buf[s..e];
        if secret.is_empty() {
            return;
        }
        let veto = (base + s as u64, base + e as u64);
        if crate::examples::is_documentation_example(secret) {
            self.vetoes.push(veto);
            return;
        }
        if !rule.spec.report && !options.report_all {
            self.vetoes.push(veto);
            return;
        }
        if rule.spec.entropy.is_some_and(|floor| shannon_entropy(secret) < floor) {
            if !rule.generic {
                self.vetoes.push(veto);
            }
            return;
        }
        let checksum_valid = match rule.spec.checksum {
            Some(c) if !c.verify(secret) => {
                self.vetoes.push(veto);
                return;
            }
            Some(_) => true,
            None => false,
        };
        let line = &buf[secret_line(buf, s, e)];
        let inline_allowed =
            INLINE_ALLOW.iter().any(|marker| memchr::memmem::find(line, marker).is_some());
        if inline_allowed && !options.flag_inline_allows {
            return;
        }
        let candidate = Candidate { secret, whole: &buf[start..end], line, path: source.path };
        if rule.allowlists.iter().chain(&set.allowlists).any(|a| a.allows(&candidate)) {
            if !rule.generic {
                self.vetoes.push(veto);
            }
            return;
        }
        // A generic value that is the base64 of text is judged by what it encodes (the
        // decoding layer scans that): `UkVQTEFDRV9NRQ==` is `REPLACE_ME`, not a secret.
        if rule.generic && options.decode && self.depth < MAX_DEPTH {
            if let Some(plain) = decode::base64_text(secret, &mut self.scratch) {
                let decoded =
                    Candidate { secret: plain, whole: plain, line: plain, path: source.path };
                let weak = rule.spec.entropy.is_some_and(|floor| shannon_entropy(plain) < floor);
                if weak || rule.allowlists.iter().any(|a| a.allows(&decoded)) {
                    return;
                }
            }
        }
        let (line_no, column) = self.lines.position(buf, s);
        self.queue(
            set,
            options,
            Pending {
                rule: r,
                secret: Secret::new(secret),
                start: base + s as u64,
                end: base + e as u64,
                line: line_no,
                column,
                checksum_valid,
                inline_allowed,
            },
        );
    }

    /// Queues a confirmed match, unless a more specific one holds the same secret.
    fn queue(&mut self, set: &RuleSet, options: &ScanOptions, new: Pending) {
        // A pending secret overlapping this one starts less than a window before it.
        let from = new.start.saturating_sub(set.max_window as u64 * 2 + 1);
        // Given already: the same match, or (collapsing) an overlapping one at least as
        // specific; a more specific one is given too (a generic rule's reading of escaped
        // text must not hide the provider's key it turns out to be).
        let rank = specificity(set, &new);
        let given = self.flushed.range((from, 0)..(new.end, 0)).any(|(&(s, r), &(e, their))| {
            let same = (s, r) == (new.start, new.rule);
            s < new.end && new.start < e && (same || options.collapse && their >= rank)
        });
        if given {
            return;
        }
        if options.collapse {
            let overlapping = self
                .pending
                .range((from, 0)..(new.end, 0))
                .find(|(_, p)| p.start < new.end && new.start < p.end)
                .map(|(k, _)| *k);
            if let Some(key) = overlapping {
                let old = &self.pending[&key];
                let (ours, theirs) = (specificity(set, &new), specificity(set, old));
                // The same rule's longer secret wins: a shorter one may be the same secret cut
                // short where a piece of decoded text ended.
                let longer = new.rule == old.rule && new.end - new.start > old.end - old.start;
                if ours > theirs || (ours == theirs && longer) {
                    self.pending.remove(&key);
                    self.pending.insert((new.start, new.rule), new);
                }
                return;
            }
        }
        self.pending.insert((new.start, new.rule), new);
    }

    /// Whether a generic match is text a provider rule rejected.
    fn vetoed(&self, set: &RuleSet, p: &Pending) -> bool {
        set.rules[p.rule as usize].generic
            && self.vetoes.iter().any(|&(s, e)| s < p.end && p.start < e)
    }

    /// Gives `sink` every queued match whose secret ends by absolute offset `upto`.
    fn flush<'r, F: FnMut(Match<'r>)>(&mut self, set: &'r RuleSet, upto: u64, sink: &mut F) {
        if self.pending.is_empty() {
            self.vetoes.retain(|&(_, e)| e + 2 * set.max_window as u64 > upto);
            return;
        }
        let mut keep = std::collections::BTreeMap::new();
        while let Some((key, p)) = self.pending.pop_first() {
            if p.end > upto {
                keep.insert(key, p);
                continue;
            }
            if self.vetoed(set, &p) {
                continue;
            }
            self.flushed.insert((p.start, p.rule), (p.end, specificity(set, &p)));
            sink(Match {
                rule: &set.rules[p.rule as usize],
                secret: p.secret,
                offset: p.start,
                line: p.line,
                column: p.column,
                checksum_valid: p.checksum_valid,
                inline_allowed: p.inline_allowed,
            });
        }
        self.pending = keep;
        // Text is decoded again at most `RELEX_LIMIT` back (a literal lexed again).
        let horizon = upto.saturating_sub((RELEX_LIMIT + 4 * set.max_window) as u64);
        self.flushed = self.flushed.split_off(&(horizon, 0));
        // A veto matters to matches near it only: a match overlaps it within two windows.
        self.vetoes.retain(|&(_, e)| e + 2 * set.max_window as u64 > upto);
    }
}

/// The line of a secret at `s..e`, cut to [`LINE_CONTEXT`] bytes each side: the cost of a
/// match must not grow with the length of the line it is on.
fn secret_line(buf: &[u8], s: usize, e: usize) -> std::ops::Range<usize> {
    let back = s.saturating_sub(LINE_CONTEXT);
    let start = memchr::memrchr(b'\n', &buf[back..s]).map_or(back, |i| back + i + 1);
    let ahead = (e + LINE_CONTEXT).min(buf.len());
    let end = memchr::memchr(b'\n', &buf[e..ahead]).map_or(ahead, |i| e + i);
    start..end
}

/// Whether the line of `s..e` carries an inline allow comment.
fn inline_allow(buf: &[u8], s: usize, e: usize) -> bool {
    let line = &buf[secret_line(buf, s, e)];
    INLINE_ALLOW.iter().any(|marker| memchr::memmem::find(line, marker).is_some())
}

/// A byte a name may hold after a keyword in it (`_PASSWORD"` of `DB_PASSWORD"`).
fn name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'"' | b'\'')
}

/// The run of name characters a keyword hit ended in: absolute offsets from the earliest hit
/// end read in it to where it was read to, and, once its end is known, where the value
/// assigned to it starts (`Some(None)`: nothing is assigned to it).
#[derive(Clone, Copy, Debug, Default)]
struct Name {
    from: u64,
    to: u64,
    value: Option<Option<u64>>,
}

/// The line holding `buf[at]`, at most [`LINE_CONTEXT`] bytes each way, without its newline.
fn line_around(buf: &[u8], at: usize) -> std::ops::Range<usize> {
    let back = at.saturating_sub(LINE_CONTEXT);
    let start = memchr::memrchr(b'\n', &buf[back..at]).map_or(back, |i| back + i + 1);
    let ahead = (at + LINE_CONTEXT).min(buf.len());
    let end = memchr::memchr(b'\n', &buf[at..ahead]).map_or(ahead, |i| at + i);
    start..end
}

/// Encoded bytes a token may take (escapes of up to 10 bytes a character): windows of a
/// line that decoding layers take around their triggers overlap by this much.
const WINDOW_OVERLAP: usize = 1024;

/// The window a line layer (character references, percent-encoding, escapes in place)
/// decodes for a trigger at `at`, the last window having covered up to `covered`: `line`,
/// the line around it ([`line_around`]), from no earlier than [`WINDOW_OVERLAP`]
/// before `covered` (bytes are not paid for twice); and where this window covers to, which
/// the next trigger must reach to get a window of its own: the line's end, or where the
/// window cuts the line, `WINDOW_OVERLAP` before that (a token the cut splits has its
/// trigger there, and is decoded whole from it; until session 18 its trigger was skipped).
fn layer_window(
    buf: &[u8],
    at: usize,
    line: std::ops::Range<usize>,
    covered: usize,
) -> (std::ops::Range<usize>, usize) {
    let start = line.start.max(covered.saturating_sub(WINDOW_OVERLAP)).min(at);
    let cut = line.end < buf.len() && buf[line.end] != b'\n';
    let cover = if cut { line.end.saturating_sub(WINDOW_OVERLAP) } else { line.end };
    (start..line.end, cover.max(at + 1))
}

/// How specific a match is (see [`specificity`]).
type Rank = (bool, bool, crate::Severity, usize);

/// Ranks rules finding the same secret: checksum-confirmed first, then provider rules before
/// generic ones, then the higher severity, then the longest keyword. Severity comes before
/// the keyword and before the order found: a low-severity reading of escaped text
/// (`\x70hc_` is PostHog's public `phc_`) must not hide the AWS key it runs into, and
/// let the push through.
fn specificity(set: &RuleSet, p: &Pending) -> Rank {
    let rule = &set.rules[p.rule as usize];
    (p.checksum_valid, !rule.generic, rule.severity(), rule.longest_keyword)
}

/// Line and column bookkeeping, computed only for findings, incrementally from the last
/// position asked for, so that many findings on one long line cost the line once.
#[derive(Debug, Default)]
struct Lines {
    /// Newlines before the buffer's first byte.
    base_line: u64,
    /// Characters between the last newline before the buffer and the buffer's first byte.
    base_column: u64,
    /// A position in the buffer, the newlines before it, and its 0-based column.
    cursor: usize,
    cursor_lines: u64,
    cursor_column: u64,
}

impl Lines {
    /// 1-based line and column of `buf[pos]`.
    fn position(&mut self, buf: &[u8], pos: usize) -> (u64, u64) {
        if pos < self.cursor {
            // Rare (matches come nearly in order): back up over the bytes in between.
            let between = &buf[pos..self.cursor];
            if memchr::memchr(b'\n', between).is_none() {
                self.cursor_column -= count_chars(between);
            } else {
                self.cursor_lines -= count_newlines(between);
                self.cursor_column = match memchr::memrchr(b'\n', &buf[..pos]) {
                    Some(i) => count_chars(&buf[i + 1..pos]),
                    None => self.base_column + count_chars(&buf[..pos]),
                };
            }
        } else {
            let between = &buf[self.cursor..pos];
            match memchr::memrchr(b'\n', between) {
                Some(i) => {
                    self.cursor_lines += count_newlines(between);
                    self.cursor_column = count_chars(&between[i + 1..]);
                }
                None => self.cursor_column += count_chars(between),
            }
        }
        self.cursor = pos;
        (self.base_line + self.cursor_lines + 1, self.cursor_column + 1)
    }

    /// The first `dropped.len()` bytes leave the buffer.
    fn advance(&mut self, dropped: &[u8]) {
        self.base_line += count_newlines(dropped);
        match memchr::memrchr(b'\n', dropped) {
            Some(i) => self.base_column = count_chars(&dropped[i + 1..]),
            None => self.base_column += count_chars(dropped),
        }
        self.cursor = 0;
        self.cursor_lines = 0;
        self.cursor_column = self.base_column;
    }
}

fn count_newlines(bytes: &[u8]) -> u64 {
    memchr::memchr_iter(b'\n', bytes).count() as u64
}

/// UTF-8 characters (bytes that are not continuation bytes).
fn count_chars(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| (b & 0xC0) != 0x80).count() as u64
}

/// Whether input looks binary: a NUL in its first 8 KiB.
pub fn is_binary(bytes: &[u8]) -> bool {
    memchr::memchr(0, &bytes[..bytes.len().min(BINARY_SNIFF_LEN)]).is_some()
}

/// Reads until `buf` holds `want` bytes or the reader ends; true at end of input.
fn fill<R: Read>(reader: &mut R, buf: &mut Vec<u8>, want: usize) -> io::Result<bool> {
    let missing = want.saturating_sub(buf.len());
    if missing == 0 {
        return Ok(false);
    }
    // `read_to_end` grows the buffer as data arrives and retries on `Interrupted`, so a small
    // file costs its size, not a zeroed chunk.
    let read = reader.take(missing as u64).read_to_end(buf)?;
    Ok(read < missing)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The gate is built on a thread of its own: scans that start together, before it is
    /// ready, all wait for the one gate and find what a scan after it finds.
    #[test]
    fn scans_started_before_the_gate_is_built_wait_for_it() {
        let token = "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"; // leakgate:allow (test fixture)
        let input = format!("x = 1\ntoken = \"{token}\"\n");
        for _ in 0..8 {
            let set = RuleSet::builtin();
            let found: Vec<usize> = std::thread::scope(|scope| {
                let scans: Vec<_> = (0..4)
                    .map(|_| {
                        scope.spawn(|| {
                            let mut n = 0;
                            set.scanner(ScanOptions::default()).scan_bytes(
                                input.as_bytes(),
                                Source::default(),
                                |m| n += usize::from(m.rule.id() == "github-pat-classic"),
                            );
                            n
                        })
                    })
                    .collect();
                scans.into_iter().map(|s| s.join().expect("no panic")).collect()
            });
            assert_eq!(found, [1, 1, 1, 1]);
        }
    }

    /// A spent budget leaves the input marked cut short, and only that input; with the budget
    /// every input gets, the same input decodes to the end.
    #[test]
    fn a_spent_budget_marks_the_input_cut_short() {
        use base64::Engine as _;
        let set = RuleSet::builtin();
        let token = "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"; // leakgate:allow (test fixture)
        let b64 = base64::engine::general_purpose::STANDARD.encode(token);
        // Strings holding escaped strings, each with a keyword: the densest decoding work.
        let input =
            format!("x = {}\ndata:\n  GITHUB_TOKEN: {b64}\n", r#""token\"A\"";"#.repeat(20_000));
        let scan = |scanner: &mut Scanner<'_>, streamed: bool| {
            let mut found = Vec::new();
            let mut sink = |m: Match<'_>| found.push(m.rule.id().to_owned());
            if streamed {
                scanner.scan_reader(input.as_bytes(), Source::default(), &mut sink).unwrap();
            } else {
                scanner.scan_bytes(input.as_bytes(), Source::default(), &mut sink);
            }
            found.contains(&"github-pat-classic".to_owned())
        };
        for streamed in [false, true] {
            let mut scanner =
                set.scanner(ScanOptions { chunk_size: 64 << 10, ..Default::default() });
            assert!(scan(&mut scanner, streamed));
            assert!(!scanner.cut_short());
            scanner.state.allowance = (0, 1);
            assert!(!scan(&mut scanner, streamed), "the key is past the spent budget");
            assert!(scanner.cut_short());
            scanner.scan_bytes(b"plain text\n", Source::default(), |_| {});
            assert!(!scanner.cut_short(), "the flag is the last input's");
        }
    }
}
