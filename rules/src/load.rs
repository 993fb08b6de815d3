//! Loading rules: leakgate rule files, gitleaks configuration files, and the embedded catalog.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::rule::{compile, window_for, Allowlist, LazyRegex, PathMatcher, Rule, RuleSpec, Target};
use crate::rule::{Severity, DEFAULT_MAX_LEN};

/// Why rules could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read rule file {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML or does not follow the schema; the cause names line and
    /// field.
    #[error("cannot parse rule file {path}: {source}")]
    Toml {
        /// The file.
        path: PathBuf,
        /// The parser's message, with line, column and field.
        #[source]
        source: toml::de::Error,
    },
    /// A project configuration's allowed fingerprint or extra rule is wrong.
    #[error("{path}: {source}")]
    InProject {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        #[source]
        source: Box<LoadError>,
    },
    /// A project configuration is not valid TOML or has unknown keys.
    #[error("cannot parse project configuration {path}: {source}")]
    Project {
        /// The file.
        path: PathBuf,
        /// The parser's message, with line, column and key.
        #[source]
        source: toml::de::Error,
    },
    /// A project configuration names a rule that does not exist.
    #[error("{origin}: no rule {id}")]
    UnknownRule {
        /// The rule id.
        id: String,
        /// The configuration file.
        origin: String,
    },
    /// A rule's regex does not compile.
    #[error("rule {id}: invalid regex: {source}")]
    Regex {
        /// The rule.
        id: String,
        /// The regex compiler's message.
        #[source]
        source: Box<regex_automata::meta::BuildError>,
    },
    /// A path glob does not parse.
    #[error("rule {id}: invalid path glob {pattern:?}: {source}")]
    Glob {
        /// The rule.
        id: String,
        /// The glob.
        pattern: String,
        /// The cause.
        #[source]
        source: globset::Error,
    },
    /// Two rules share an id.
    #[error("rule {id} is defined twice ({first} and {second})")]
    DuplicateId {
        /// The id.
        id: String,
        /// Where it was first defined.
        first: String,
        /// Where it was defined again.
        second: String,
    },
    /// A rule is structurally wrong (empty id, empty keyword, ...).
    #[error("rule {id}: {reason}")]
    Invalid {
        /// The rule.
        id: String,
        /// What is wrong.
        reason: String,
    },
}

impl LoadError {
    pub(crate) fn regex(id: &str, source: Box<regex_automata::meta::BuildError>) -> Self {
        LoadError::Regex { id: id.to_owned(), source }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    rules: Vec<RuleSpec>,
}

/// Parses a leakgate rule file's text. `origin` names it in errors.
///
/// # Errors
///
/// [`LoadError::Toml`] when the text is not a valid rule file, [`LoadError::Regex`] or
/// [`LoadError::Invalid`] when a rule is wrong. Every regex is compiled now.
pub fn parse_rule_file(text: &str, origin: &Path) -> Result<Vec<Rule>, LoadError> {
    let file: RuleFile = toml::from_str(text)
        .map_err(|source| LoadError::Toml { path: origin.to_owned(), source })?;
    file.rules.into_iter().map(|spec| rule_from_spec(spec, true)).collect()
}

/// Reads and parses a leakgate rule file.
///
/// # Errors
///
/// As [`parse_rule_file`], plus [`LoadError::Io`].
pub fn load_rule_file(path: &Path) -> Result<Vec<Rule>, LoadError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| LoadError::Io { path: path.to_owned(), source })?;
    parse_rule_file(&text, path)
}

pub(crate) fn rule_from_spec(spec: RuleSpec, compile_now: bool) -> Result<Rule, LoadError> {
    validate(&spec)?;
    let max_len = match spec.max_len {
        Some(n) => n,
        None => window_for(&spec.regex, DEFAULT_MAX_LEN).unwrap_or(DEFAULT_MAX_LEN),
    };
    let rule = Rule::new(spec, max_len, compile_now)?;
    if compile_now {
        rule.compile_now()?;
    }
    Ok(rule)
}

fn validate(spec: &RuleSpec) -> Result<(), LoadError> {
    let invalid =
        |reason: &str| Err(LoadError::Invalid { id: spec.id.clone(), reason: reason.to_owned() });
    if spec.id.trim().is_empty() {
        return invalid("empty id");
    }
    if spec.regex.is_empty() {
        return invalid("empty regex");
    }
    if spec.keywords.iter().any(|k| k.is_empty()) {
        return invalid("empty keyword");
    }
    if let Some(e) = spec.entropy {
        if !(0.0..=8.0).contains(&e) {
            return invalid("entropy must be between 0 and 8 bits per character");
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// gitleaks configuration files

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GitleaksFile {
    #[serde(default)]
    rules: Vec<GitleaksRule>,
    #[serde(default)]
    allowlist: Option<GitleaksAllowlist>,
    #[serde(default)]
    allowlists: Vec<GitleaksAllowlist>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GitleaksRule {
    id: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    regex: Option<String>,
    #[serde(default)]
    secret_group: Option<usize>,
    #[serde(default)]
    entropy: Option<f64>,
    #[serde(default)]
    keywords: Vec<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    allowlist: Option<GitleaksAllowlist>,
    #[serde(default)]
    allowlists: Vec<GitleaksAllowlist>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GitleaksAllowlist {
    #[serde(default)]
    regexes: Vec<String>,
    #[serde(default)]
    regex_target: Option<String>,
    #[serde(default)]
    paths: Vec<String>,
    #[serde(default)]
    stopwords: Vec<String>,
    #[serde(default)]
    condition: Option<String>,
}

/// Rules and the global allowlist read from a gitleaks configuration file.
#[derive(Debug)]
pub struct GitleaksConfig {
    pub(crate) rules: Vec<Rule>,
    pub(crate) allowlists: Vec<Allowlist>,
    /// Rules that could not be imported, with the reason (path-only rules).
    pub skipped: Vec<(String, String)>,
}

/// Parses a gitleaks configuration file.
///
/// # Errors
///
/// [`LoadError::Toml`] for invalid TOML, [`LoadError::Regex`] for a regex that does not
/// compile (gitleaks regexes are RE2; the common subset is the same in Rust).
pub fn parse_gitleaks_config(text: &str, origin: &Path) -> Result<GitleaksConfig, LoadError> {
    let file: GitleaksFile = toml::from_str(text)
        .map_err(|source| LoadError::Toml { path: origin.to_owned(), source })?;
    let mut rules = Vec::new();
    let mut skipped = Vec::new();
    for g in file.rules {
        let Some(regex) = g.regex.filter(|r| !r.is_empty()) else {
            skipped.push((g.id, "path-only rules (no regex) are not supported".to_owned()));
            continue;
        };
        let spec = RuleSpec {
            description: if g.description.is_empty() { g.id.clone() } else { g.description },
            id: g.id,
            provider: "gitleaks".to_owned(),
            keywords: g.keywords,
            regex,
            severity: Severity::High,
            entropy: g.entropy.filter(|e| *e > 0.0),
            checksum: None,
            allowlist: None,
            revoke: None,
            max_len: None,
            lookbehind: None,
            report: true,
            examples: Vec::new(),
            negative_examples: Vec::new(),
            references: Vec::new(),
        };
        let mut rule = rule_from_spec(spec, true)?;
        rule.secret_group = g.secret_group.filter(|g| *g > 0);
        if let Some(path) = &g.path {
            let re = compile(path).map_err(|e| LoadError::regex(&rule.spec.id, e))?;
            rule.only_paths = Some(PathMatcher::Regexes(vec![re]));
        }
        for a in g.allowlist.iter().chain(&g.allowlists) {
            rule.allowlists.push(gitleaks_allowlist(a, &rule.spec.id)?);
        }
        rules.push(rule);
    }
    let allowlists = file
        .allowlist
        .iter()
        .chain(&file.allowlists)
        .map(|a| gitleaks_allowlist(a, "[allowlist]"))
        .collect::<Result<_, _>>()?;
    Ok(GitleaksConfig { rules, allowlists, skipped })
}

/// Reads and parses a gitleaks configuration file.
///
/// # Errors
///
/// As [`parse_gitleaks_config`], plus [`LoadError::Io`].
pub fn load_gitleaks_config(path: &Path) -> Result<GitleaksConfig, LoadError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| LoadError::Io { path: path.to_owned(), source })?;
    parse_gitleaks_config(&text, path)
}

fn gitleaks_allowlist(a: &GitleaksAllowlist, id: &str) -> Result<Allowlist, LoadError> {
    let regexes =
        a.regexes.iter().map(|re| LazyRegex::new(re, id, true)).collect::<Result<Vec<_>, _>>()?;
    let paths = a
        .paths
        .iter()
        .map(|re| compile(re).map_err(|e| LoadError::regex(id, e)))
        .collect::<Result<Vec<_>, _>>()?;
    let target = match a.regex_target.as_deref() {
        None | Some("secret") => Target::Secret,
        Some("match") => Target::Match,
        Some("line") => Target::Line,
        Some(other) => {
            return Err(LoadError::Invalid {
                id: id.to_owned(),
                reason: format!("unknown regexTarget {other:?} (secret, match or line)"),
            })
        }
    };
    Ok(Allowlist {
        stopwords: a.stopwords.iter().map(|w| w.to_ascii_lowercase()).collect(),
        regexes,
        target: Some(target),
        paths: (!paths.is_empty()).then_some(PathMatcher::Regexes(paths)),
        require_all: a.condition.as_deref().is_some_and(|c| c.eq_ignore_ascii_case("and")),
    })
}
