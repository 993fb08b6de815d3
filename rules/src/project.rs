//! Project configuration: `.leakgate.toml` at the root of a repository or directory.
//!
//! ```toml
//! [paths]
//! skip = ["vendor/**", "testdata/**"]     # globs, relative to the file's directory
//!
//! [rules]
//! disable = ["generic-secret-assignment"] # rule ids
//! severity = { generic-env-secret = "medium" }
//!
//! [allow]
//! fingerprints = ["3f0c…"]                # keyed fingerprints of known values
//!
//! [[rule]]                                # extra rules, in the rule files' schema
//! id = "acme-internal-token"
//! ...
//! ```
//!
//! Unknown keys and unknown rule ids are errors: a typo must not silently keep a rule on, or
//! turn one off.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::engine::RuleSetBuilder;
use crate::load::LoadError;
use crate::rule::{AllowlistSpec, PathMatcher, Severity};

/// The file name looked for at a project's root.
pub const PROJECT_FILE: &str = ".leakgate.toml";

/// A parsed `.leakgate.toml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectConfig {
    /// Paths not scanned.
    #[serde(default)]
    pub paths: PathsSection,
    /// Rules turned off or re-graded.
    #[serde(default)]
    pub rules: RulesSection,
    /// Values allowed by fingerprint.
    #[serde(default)]
    pub allow: AllowSection,
    /// Extra rules (`[[rule]]`, the schema of a rule file's `[[rules]]`).
    #[serde(default)]
    pub rule: Vec<crate::rule::RuleSpec>,
    #[serde(skip)]
    origin: PathBuf,
    #[serde(skip)]
    skip: Option<PathMatcher>,
}

/// `[paths]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathsSection {
    /// Globs (`**` crosses directories) of paths, relative to the configuration's directory,
    /// that are not scanned.
    #[serde(default)]
    pub skip: Vec<String>,
}

/// `[allow]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowSection {
    /// Keyed fingerprints (64 hex characters, as leakgate prints them) of values that are
    /// not reported: known test keys. Keyed: they match where the fingerprint key is the same.
    #[serde(default)]
    pub fingerprints: Vec<String>,
}

/// `[rules]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesSection {
    /// Rule ids turned off.
    #[serde(default)]
    pub disable: Vec<String>,
    /// New severities by rule id.
    #[serde(default)]
    pub severity: BTreeMap<String, Severity>,
}

impl ProjectConfig {
    /// Parses the text of `origin` (named in errors).
    ///
    /// # Errors
    ///
    /// [`LoadError::Project`] for invalid TOML or unknown keys, [`LoadError::Glob`] for a
    /// glob that does not parse.
    pub fn parse(text: &str, origin: &Path) -> Result<Self, LoadError> {
        let mut config: ProjectConfig = toml::from_str(text)
            .map_err(|source| LoadError::Project { path: origin.to_owned(), source })?;
        config.skip = PathMatcher::globs(&config.paths.skip, &origin.display().to_string())?;
        let in_file = |source: LoadError| LoadError::InProject {
            path: origin.to_owned(),
            source: Box::new(source),
        };
        for fp in &mut config.allow.fingerprints {
            *fp = fp.trim().to_ascii_lowercase();
            if fp.len() != 64 || !fp.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(in_file(LoadError::Invalid {
                    id: "[allow] fingerprints".to_owned(),
                    reason: format!("{fp:?} is not a fingerprint (64 hex characters)"),
                }));
            }
        }
        // Extra rules are checked now: a broken one is an error of this file.
        let mut seen = std::collections::HashSet::new();
        for spec in &config.rule {
            if !seen.insert(spec.id.as_str()) {
                return Err(LoadError::DuplicateId {
                    id: spec.id.clone(),
                    first: origin.display().to_string(),
                    second: origin.display().to_string(),
                });
            }
            crate::load::rule_from_spec(spec.clone(), true).map_err(in_file)?;
        }
        config.origin = origin.to_owned();
        Ok(config)
    }

    /// Reads `path`.
    ///
    /// # Errors
    ///
    /// [`LoadError::Io`] when it cannot be read, else as [`ProjectConfig::parse`].
    pub fn load(path: &Path) -> Result<Self, LoadError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| LoadError::Io { path: path.to_owned(), source })?;
        Self::parse(&text, path)
    }

    /// `dir/.leakgate.toml` when it exists.
    ///
    /// # Errors
    ///
    /// As [`ProjectConfig::load`]; a missing file is `Ok(None)`.
    pub fn find(dir: &Path) -> Result<Option<Self>, LoadError> {
        let path = dir.join(PROJECT_FILE);
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.is_file() => Self::load(&path).map(Some),
            _ => Ok(None),
        }
    }

    /// Whether a finding with `fingerprint` is allowed (`[allow] fingerprints`).
    pub fn allows(&self, fingerprint: &str) -> bool {
        self.allow.fingerprints.iter().any(|f| f == fingerprint)
    }

    /// Whether `path` (relative to the configuration's directory, `/`-separated) is skipped.
    pub fn skips(&self, path: &str) -> bool {
        self.skip.as_ref().is_some_and(|m| m.is_match(path))
    }

    /// Applies the rule settings to `builder`, and the skipped paths as a global path
    /// allowlist (for inputs named by their path relative to the project: git blobs). All or
    /// nothing: on an error the builder is unchanged.
    ///
    /// # Errors
    ///
    /// [`LoadError::UnknownRule`] for a rule id the builder does not hold.
    pub fn apply(&self, builder: &mut RuleSetBuilder) -> Result<(), LoadError> {
        let origin = self.origin.display().to_string();
        let extra_ids: Vec<&str> = self.rule.iter().map(|r| r.id.as_str()).collect();
        let ids = self.rules.disable.iter().chain(self.rules.severity.keys());
        if let Some(id) =
            ids.into_iter().find(|id| !builder.contains(id) && !extra_ids.contains(&id.as_str()))
        {
            return Err(LoadError::UnknownRule { id: id.clone(), origin });
        }
        if let Some(id) = extra_ids.iter().find(|id| builder.contains(id)) {
            return Err(LoadError::DuplicateId {
                id: (*id).to_owned(),
                first: "the rules already loaded".to_owned(),
                second: origin,
            });
        }
        let extra = self
            .rule
            .iter()
            .map(|spec| crate::load::rule_from_spec(spec.clone(), true))
            .collect::<Result<Vec<_>, _>>()?;
        // The one step that can still fail goes first: after it nothing can.
        if !self.paths.skip.is_empty() {
            let spec = AllowlistSpec { paths: self.paths.skip.clone(), ..AllowlistSpec::default() };
            builder.add_allowlist(&spec, &origin)?;
        }
        builder.add_rules(extra, &origin)?;
        for id in &self.rules.disable {
            builder.disable(id);
        }
        for (id, &severity) in &self.rules.severity {
            builder.set_severity(id, severity);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_skips_and_rejects_typos() {
        let config = ProjectConfig::parse(
            "[paths]\nskip = [\"vendor/**\", \"*.lock\"]\n[rules]\ndisable = [\"a\"]\nseverity = { b = \"low\" }\n",
            Path::new(".leakgate.toml"),
        )
        .expect("valid");
        assert!(config.skips("vendor/x/y.rs") && config.skips("Cargo.lock"));
        assert!(!config.skips("src/vendor.rs"));
        let err = ProjectConfig::parse("[paths]\nskipp = []\n", Path::new("p.toml")).unwrap_err();
        assert!(err.to_string().contains("p.toml") && err.to_string().contains("skipp"), "{err}");
        let err = ProjectConfig::parse("[paths]\nskip = [\"a[\"]\n", Path::new("p.toml"));
        assert!(err.is_err());
    }

    #[test]
    fn unknown_rules_are_errors() {
        let config =
            ProjectConfig::parse("[rules]\ndisable = [\"no-such-rule\"]\n", Path::new("p.toml"))
                .expect("valid");
        let mut builder = RuleSetBuilder::new();
        builder.add_builtin();
        let err = config.apply(&mut builder).unwrap_err();
        assert!(err.to_string().contains("no-such-rule"), "{err}");
    }
}
