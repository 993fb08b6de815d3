//! Known findings in `leakgate scan`: baselines (`--baseline`, `--write-baseline`, gitleaks'
//! reports and `.gitleaksignore` imported) and the committed waivers file
//! (`.leakgate-waivers.toml`). Neither ever holds a plaintext secret: entries are keyed
//! fingerprints (under the fingerprint key, so a team shares `LEAKGATE_FINGERPRINT_KEY`) or
//! locations.

use std::collections::HashSet;
use std::path::Path;
use std::time::SystemTime;

use anyhow::{bail, Context, Result};
use leakgate_rules::{Finding, FingerprintKey, Secret};
use serde::{Deserialize, Serialize};

/// The waivers file looked for next to `.leakgate.toml`.
pub const WAIVERS_FILE: &str = ".leakgate-waivers.toml";

/// leakgate's own baseline: one entry per finding, no secret.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct BaselineFile {
    /// Format version (1).
    version: u32,
    findings: Vec<BaselineEntry>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct BaselineEntry {
    fingerprint: String,
    rule_id: String,
    path: String,
    line: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    commit: Option<String>,
}

/// A gitleaks report entry (`gitleaks detect --report-format json`); only what matching
/// needs. Its `Secret` is hashed into a fingerprint on reading and dropped.
#[derive(Deserialize)]
struct GitleaksEntry {
    #[serde(rename = "Secret", default)]
    secret: Option<String>,
    #[serde(rename = "File", default)]
    file: String,
    #[serde(rename = "StartLine", default)]
    start_line: u64,
    #[serde(rename = "Commit", default)]
    commit: String,
}

/// Findings known already: a secret at a path (by fingerprint), or a location (a gitleaks
/// ignore line names commit, path and line; its rule ids are gitleaks' and are not compared).
#[derive(Debug, Default)]
pub struct Baseline {
    secrets: HashSet<(String, String)>,
    locations: HashSet<(Option<String>, String, u64)>,
}

impl Baseline {
    /// Reads `path`: leakgate's baseline (a JSON object), a gitleaks JSON report (an array),
    /// or a `.gitleaksignore` (lines `[commit:]path:rule:line`).
    ///
    /// # Errors
    ///
    /// The file cannot be read or is none of the three.
    pub fn load(path: &Path, key: &FingerprintKey) -> Result<Self> {
        let text = zeroize::Zeroizing::new(
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
        );
        let shown = path.display();
        let mut baseline = Baseline::default();
        match text.trim_start().chars().next() {
            Some('{') => {
                let file: BaselineFile = serde_json::from_str(&text)
                    .with_context(|| format!("{shown}: not a leakgate baseline"))?;
                if file.version != 1 {
                    bail!("{shown}: baseline version {} is not supported (1 is)", file.version);
                }
                for f in file.findings {
                    baseline.secrets.insert((f.fingerprint, f.path));
                }
            }
            Some('[') => {
                let entries: Vec<GitleaksEntry> = serde_json::from_str(&text)
                    .with_context(|| format!("{shown}: not a gitleaks JSON report"))?;
                for e in entries {
                    match e.secret.filter(|s| !s.is_empty()) {
                        Some(secret) => {
                            let secret = Secret::new(secret.as_bytes());
                            baseline.secrets.insert((key.fingerprint(&secret).to_string(), e.file));
                        }
                        // A redacted report: the location.
                        None => {
                            let commit = Some(e.commit).filter(|c| !c.is_empty());
                            baseline.locations.insert((commit, e.file, e.start_line));
                        }
                    }
                }
            }
            _ => {
                for (n, line) in text.lines().enumerate() {
                    let line = line.trim();
                    if line.is_empty() || line.starts_with('#') {
                        continue;
                    }
                    baseline
                        .locations
                        .insert(ignore_line(line).with_context(|| format!("{shown}:{}", n + 1))?);
                }
            }
        }
        Ok(baseline)
    }

    /// Whether `f` is known.
    pub fn knows(&self, f: &Finding) -> bool {
        self.secrets.contains(&(f.fingerprint.to_string(), f.path.clone()))
            || self.locations.contains(&(f.commit.clone(), f.path.clone(), f.line))
            || (f.commit.is_some() && self.locations.contains(&(None, f.path.clone(), f.line)))
    }

    /// Writes `findings` as a baseline to `path`.
    ///
    /// # Errors
    ///
    /// The file cannot be written.
    pub fn write(path: &Path, findings: &[Finding]) -> Result<()> {
        let file = BaselineFile {
            version: 1,
            findings: findings
                .iter()
                .map(|f| BaselineEntry {
                    fingerprint: f.fingerprint.to_string(),
                    rule_id: f.rule_id.clone(),
                    path: f.path.clone(),
                    line: f.line,
                    commit: f.commit.clone(),
                })
                .collect(),
        };
        let mut text = serde_json::to_string_pretty(&file)?;
        text.push('\n');
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
    }
}

/// A `.gitleaksignore` line: `commit:path:rule:line` (git scans) or `path:rule:line`. Paths
/// may hold colons, so the line number and rule are taken from the end.
fn ignore_line(line: &str) -> Result<(Option<String>, String, u64)> {
    let (rest, number) = line.rsplit_once(':').context("expected [commit:]path:rule:line")?;
    let number: u64 = number.trim().parse().context("the line number is not a number")?;
    let (rest, _rule) = rest.rsplit_once(':').context("expected [commit:]path:rule:line")?;
    match rest.split_once(':') {
        Some((commit, path))
            if commit.len() >= 7 && commit.chars().all(|c| c.is_ascii_hexdigit()) =>
        {
            Ok((Some(commit.to_owned()), path.to_owned()))
        }
        _ => Ok((None, rest.to_owned())),
    }
    .map(|(commit, path)| (commit, path, number))
}

/// A committed waiver (`[[waiver]]` in `.leakgate-waivers.toml`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WaiverEntry {
    fingerprint: String,
    reason: String,
    approved_by: String,
    /// A TOML date (`2027-01-31`, the end of that day, UTC) or date-time.
    expires: toml::value::Datetime,
    /// Paths it covers (glob); every path when absent.
    #[serde(default)]
    path: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WaiversFile {
    #[serde(default)]
    waiver: Vec<WaiverEntry>,
}

/// One loaded waiver.
#[derive(Debug)]
struct FileWaiver {
    entry: WaiverEntry,
    until: SystemTime,
    paths: Option<globset::GlobMatcher>,
    used: bool,
}

/// The committed waivers of a project.
#[derive(Debug)]
pub struct Waivers {
    origin: String,
    /// The directory the file is in: paths are relative to it.
    root: std::path::PathBuf,
    list: Vec<FileWaiver>,
}

fn expiry(at: &toml::value::Datetime) -> Result<SystemTime> {
    let text = match (at.date, at.time) {
        (Some(_), None) => format!("{at}T23:59:59Z"),
        (Some(_), Some(_)) if at.offset.is_none() => format!("{at}Z"),
        _ => at.to_string(),
    };
    humantime::parse_rfc3339_weak(&text)
        .or_else(|_| humantime::parse_rfc3339(&text))
        .with_context(|| format!("expires = {at}: not a date"))
}

impl Waivers {
    /// Reads `path`.
    ///
    /// # Errors
    ///
    /// It cannot be read, is not valid, or holds a bad glob or date.
    pub fn load(path: &Path) -> Result<Self> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {shown}"))?;
        // The error names the line, never quotes it: a file that is not what it claims (a
        // `.env` renamed) must not print its content.
        let file: WaiversFile = toml::from_str(&text).map_err(|e| {
            let line =
                e.span().map_or(0, |s| text[..s.start.min(text.len())].lines().count().max(1));
            anyhow::anyhow!("{shown}:{line}: {}", e.message())
        })?;
        let mut list = Vec::new();
        for entry in file.waiver {
            if entry.reason.trim().is_empty() || entry.approved_by.trim().is_empty() {
                bail!("{shown}: every waiver needs a reason and approved_by");
            }
            let until = expiry(&entry.expires).with_context(|| shown.clone())?;
            let paths = match &entry.path {
                Some(glob) => Some(
                    globset::GlobBuilder::new(glob)
                        .literal_separator(true)
                        .build()
                        .with_context(|| format!("{shown}: path {glob:?}"))?
                        .compile_matcher(),
                ),
                None => None,
            };
            list.push(FileWaiver { entry, until, paths, used: false });
        }
        let root = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Ok(Waivers { origin: shown, root, list })
    }

    /// Whether a waiver in force covers `f`; an expired one that would have is reported.
    pub fn covers(&mut self, f: &Finding, now: SystemTime) -> bool {
        let fingerprint = f.fingerprint.to_string();
        // A directory scan names files as walked (under the root); a history scan by their
        // path in the repository, which is relative to the root already.
        let path = Path::new(&f.path);
        let relative = path
            .strip_prefix(&self.root)
            .or_else(|_| path.strip_prefix("."))
            .unwrap_or(path)
            .to_string_lossy()
            .replace('\\', "/");
        let mut expired = None;
        for w in &mut self.list {
            if w.entry.fingerprint != fingerprint
                || w.paths.as_ref().is_some_and(|m| !m.is_match(&relative))
            {
                continue;
            }
            if w.until > now {
                w.used = true;
                return true;
            }
            expired = Some(w.until);
        }
        if let Some(until) = expired {
            eprintln!(
                "leakgate: warning: the waiver for {}:{} in {} expired on {}; reported again",
                crate::report::printable(&f.path),
                f.line,
                self.origin,
                humantime::format_rfc3339_seconds(until)
            );
        }
        false
    }

    /// Waivers that covered nothing in this scan (stale, or for secrets since removed).
    pub fn report_unused(&self) {
        for w in self.list.iter().filter(|w| !w.used) {
            eprintln!(
                "leakgate: note: the waiver for {} in {} matched nothing{}",
                w.entry.fingerprint,
                self.origin,
                if w.until <= SystemTime::now() { " (expired)" } else { "" }
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gitleaks_ignore_lines_with_and_without_commit() {
        assert_eq!(
            ignore_line("cd5226711335c68be1e720b318b7bc3135a30eb2:cmd/a:b.go:generic-api-key:12")
                .expect("valid"),
            (Some("cd5226711335c68be1e720b318b7bc3135a30eb2".into()), "cmd/a:b.go".into(), 12)
        );
        assert_eq!(
            ignore_line("src/app.py:aws-access-token:3").expect("valid"),
            (None, "src/app.py".into(), 3)
        );
        assert!(ignore_line("src/app.py:3x").is_err());
    }

    #[test]
    fn waiver_dates_are_the_end_of_the_day_or_the_given_time() {
        let date: toml::value::Datetime = "2027-01-31".parse().expect("date");
        let end = expiry(&date).expect("valid");
        assert_eq!(humantime::format_rfc3339_seconds(end).to_string(), "2027-01-31T23:59:59Z");
        let at: toml::value::Datetime = "2027-01-31T10:00:00Z".parse().expect("date-time");
        assert_eq!(
            humantime::format_rfc3339_seconds(expiry(&at).expect("valid")).to_string(),
            "2027-01-31T10:00:00Z"
        );
    }
}
