//! The pre-receive decision: scan what a push adds, then block, warn, or let a bypass through.

use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use gix::ObjectId;
use leakgate_rules::{Finding, FingerprintKey, RuleSet, ScanOptions, Severity};
use serde::Serialize;

use crate::config::{HookConfig, Mode};
use crate::objects::{quarantine_from_env, Objects};
use crate::push::{parse_updates, RefUpdate};
use crate::walk::{all_ref_tips, open_repository, scan_new_blobs, WalkOptions};

/// The reasons a pusher may give with `-o leakgate.bypass=<reason>[:comment]`.
pub const BYPASS_REASONS: [&str; 3] = ["false-positive", "used-in-tests", "will-fix-later"];

/// Everything the hook needs besides standard input.
pub struct HookContext<'a> {
    /// The rules.
    pub rules: &'a RuleSet,
    /// The installation's fingerprint key.
    pub key: &'a FingerprintKey,
    /// The effective configuration.
    pub config: &'a HookConfig,
    /// The receiving repository (`$GIT_DIR`).
    pub git_dir: &'a Path,
    /// The process environment as git set it (push options, quarantine, pusher identity).
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// When the hook started: the budget counts from here.
    pub started: Instant,
}

/// A recorded bypass or an unscanned push, written as one JSON line.
#[derive(Debug, Serialize)]
pub struct AuditRecord {
    /// `bypass` or `unscanned`.
    pub event: &'static str,
    /// Seconds since the Unix epoch.
    pub at: u64,
    /// The pusher.
    pub user: String,
    /// The repository directory.
    pub repo: String,
    /// The pushed refs.
    pub refs: Vec<String>,
    /// The new commits (hex).
    pub commits: Vec<String>,
    /// For a bypass: the reason and comment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// For a bypass: the comment after the colon.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Rule ids and fingerprints of what was let through.
    pub findings: Vec<AuditFinding>,
    /// For an unscanned push: why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
    /// For an unscanned push: the ref updates to rescan (`old new ref`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub updates: Vec<String>,
}

/// A finding as recorded: never the secret.
#[derive(Debug, Serialize)]
pub struct AuditFinding {
    /// The rule.
    pub rule_id: String,
    /// The fingerprint.
    pub fingerprint: String,
    /// The commit.
    pub commit: String,
    /// The path.
    pub path: String,
    /// The line.
    pub line: u64,
}

/// The hook's verdict.
#[derive(Debug)]
pub struct Verdict {
    /// 0: the push goes on; 1: rejected.
    pub exit: i32,
    /// What the pusher sees (one entry per line, without a trailing newline).
    pub lines: Vec<String>,
    /// The findings (all severities).
    pub findings: Vec<Finding>,
    /// A bypass or an unscanned push to record.
    pub record: Option<AuditRecord>,
}

impl Verdict {
    fn pass(lines: Vec<String>) -> Self {
        Verdict { exit: 0, lines, findings: Vec::new(), record: None }
    }
}

/// The pusher's identity as the hosting platform reports it.
pub fn pusher(env: &dyn Fn(&str) -> Option<String>) -> String {
    ["GITHUB_USER_LOGIN", "GL_USERNAME", "GITEA_PUSHER_NAME", "USER", "LOGNAME"]
        .iter()
        .find_map(|k| env(k).filter(|v| !v.is_empty()))
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Push options (`git push -o ...`), from `GIT_PUSH_OPTION_COUNT` / `GIT_PUSH_OPTION_<n>`.
pub fn push_options(env: &dyn Fn(&str) -> Option<String>) -> Vec<String> {
    let count = env("GIT_PUSH_OPTION_COUNT").and_then(|c| c.parse::<usize>().ok()).unwrap_or(0);
    (0..count.min(100)).filter_map(|i| env(&format!("GIT_PUSH_OPTION_{i}"))).collect()
}

/// A bypass request: `leakgate.bypass=<reason>[:comment]`.
#[derive(Debug, PartialEq, Eq)]
pub struct Bypass {
    /// One of [`BYPASS_REASONS`].
    pub reason: String,
    /// Free text after the colon.
    pub comment: Option<String>,
}

/// The bypass request among push options: `Ok(None)` without one, `Err` with an invalid one.
pub fn bypass_request(options: &[String]) -> Result<Option<Bypass>, String> {
    let Some(value) = options.iter().find_map(|o| o.strip_prefix("leakgate.bypass=")) else {
        return Ok(None);
    };
    let (reason, comment) = match value.split_once(':') {
        Some((r, c)) => (r.trim(), Some(clean(c.trim())).filter(|c| !c.is_empty())),
        None => (value.trim(), None),
    };
    if BYPASS_REASONS.contains(&reason) {
        Ok(Some(Bypass { reason: reason.to_owned(), comment }))
    } else {
        Err(format!(
            "unknown bypass reason {:?}; use one of: {}",
            clean(reason),
            BYPASS_REASONS.join(", ")
        ))
    }
}

/// Pushed text shown back to the pusher: control characters replaced, length bounded.
fn clean(text: &str) -> String {
    text.chars().take(200).map(|c| if c.is_control() { '?' } else { c }).collect()
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Runs the pre-receive decision on `input` (the hook's standard input).
pub fn pre_receive(ctx: &HookContext<'_>, input: &str) -> Verdict {
    let config = ctx.config;
    if config.mode == Mode::Off {
        return Verdict::pass(Vec::new());
    }
    match scan_push(ctx, input) {
        Ok(scanned) => decide(ctx, scanned),
        Err(e) => failure(ctx, input, &e.to_string()),
    }
}

struct Scanned {
    updates: Vec<RefUpdate>,
    findings: Vec<Finding>,
    commits: Vec<ObjectId>,
    complete: bool,
    elapsed: Duration,
}

fn scan_push(
    ctx: &HookContext<'_>,
    input: &str,
) -> Result<Scanned, Box<dyn std::error::Error + Send + Sync>> {
    let repo = open_repository(ctx.git_dir)?;
    let updates = parse_updates(input, repo.object_hash())?;
    let quarantine = quarantine_from_env(ctx.env);
    let objects = Objects::new(&repo, quarantine.as_deref())?;
    let mut tips = Vec::new();
    for update in updates.iter().filter(|u| !u.is_delete()) {
        // Tags and other objects peel to the commit they name; anything else (a tag of a
        // tree or blob) holds no commit to walk.
        let mut id = update.new;
        let mut buf = Vec::new();
        for _ in 0..16 {
            use gix::objs::Find;
            let Some(data) = objects.try_find(&id, &mut buf)? else { break };
            match data.kind {
                gix::objs::Kind::Commit => {
                    tips.push(id);
                    break;
                }
                gix::objs::Kind::Tag => {
                    let tag = gix::objs::TagRefIter::from_bytes(data.data, objects.hash_kind());
                    match tag.target_id() {
                        Ok(target) => id = target,
                        Err(_) => break,
                    }
                }
                _ => break,
            }
        }
    }
    let hidden = all_ref_tips(&repo)?;
    let threads = match ctx.config.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()).min(4),
        n => n,
    };
    let options = WalkOptions {
        scan: ScanOptions::default(),
        threads,
        deadline: Some(ctx.started + ctx.config.timeout),
        stream_above: ctx.config.stream_above,
        git_dir: ctx.git_dir.to_owned(),
        only_quarantined: quarantine.is_some(),
        known_hidden_trees: quarantine.is_none(),
    };
    let findings = Mutex::new(Vec::new());
    let stats = scan_new_blobs(
        &objects,
        &tips,
        &hidden,
        ctx.rules,
        &options,
        |h| {
            let finding = Finding::new(h.found, &h.path, Some(h.commit.to_string()), ctx.key);
            findings.lock().unwrap_or_else(|p| p.into_inner()).push(finding);
        },
        |warning| tracing::warn!("{warning}"),
    )?;
    let mut findings = findings.into_inner().unwrap_or_else(|p| p.into_inner());
    findings.sort_by(|a, b| (&a.commit, &a.path, a.line).cmp(&(&b.commit, &b.path, b.line)));
    Ok(Scanned {
        updates,
        findings,
        commits: stats.new_commits,
        complete: stats.complete,
        elapsed: ctx.started.elapsed(),
    })
}

fn finding_line(f: &Finding) -> String {
    let commit = f.commit.as_deref().map_or("", |c| &c[..c.len().min(12)]);
    format!(
        "  {commit}  {}:{}  {} ({})  {}",
        clean(&f.path),
        f.line,
        f.rule_id,
        f.severity,
        f.redacted
    )
}

fn decide(ctx: &HookContext<'_>, scanned: Scanned) -> Verdict {
    let config = ctx.config;
    let user = pusher(ctx.env);
    let mut lines = Vec::new();
    if !scanned.complete {
        let why = format!("time budget of {} ms exhausted", config.timeout.as_millis());
        return budget_exhausted(ctx, &scanned, &why);
    }
    let (blocking, other): (Vec<&Finding>, Vec<&Finding>) =
        scanned.findings.iter().partition(|f| f.severity >= config.min_severity);
    if blocking.is_empty() {
        if !other.is_empty() {
            lines.push(format!(
                "leakgate: {} possible secret(s) below the blocking severity:",
                other.len()
            ));
            lines.extend(other.iter().map(|f| finding_line(f)));
        }
        return Verdict { exit: 0, lines, findings: scanned.findings, record: None };
    }
    let options = push_options(ctx.env);
    let bypass = bypass_request(&options);
    let may_bypass = config.allow_bypass
        && (config.bypass_users.is_empty() || config.bypass_users.contains(&user));
    let record = |bypass: &Bypass| AuditRecord {
        event: "bypass",
        at: now_secs(),
        user: user.clone(),
        repo: ctx.git_dir.display().to_string(),
        refs: scanned.updates.iter().map(|u| u.name.clone()).collect(),
        commits: scanned.commits.iter().map(ToString::to_string).collect(),
        reason: Some(bypass.reason.clone()),
        comment: bypass.comment.clone(),
        findings: blocking
            .iter()
            .map(|f| AuditFinding {
                rule_id: f.rule_id.clone(),
                fingerprint: f.fingerprint.to_string(),
                commit: f.commit.clone().unwrap_or_default(),
                path: f.path.clone(),
                line: f.line,
            })
            .collect(),
        why: None,
        updates: Vec::new(),
    };
    let header = format!(
        "leakgate: {} secret(s) found in the pushed commits ({} ms):",
        blocking.len(),
        scanned.elapsed.as_millis()
    );
    lines.push(header);
    lines.extend(blocking.iter().map(|f| finding_line(f)));
    if let Ok(Some(bypass)) = &bypass {
        if may_bypass {
            lines.push(format!(
                "leakgate: bypass accepted ({}), recorded for {}.",
                bypass.reason,
                clean(&user)
            ));
            lines.push("Rotate these keys anyway: they have left your machine.".to_owned());
            let record = record(bypass);
            return Verdict { exit: 0, lines, findings: scanned.findings, record: Some(record) };
        }
        lines
            .push(format!("leakgate: bypass refused: {} may not bypass this check.", clean(&user)));
    }
    if let Err(why) = &bypass {
        lines.push(format!("leakgate: bypass refused: {why}"));
    }
    lines.push("To fix: remove the secret from these commits and push again:".to_owned());
    lines.push("  the last commit:  edit the file, then git commit --amend".to_owned());
    lines.push("  older commits:    git rebase -i <base>, edit the commits that add it".to_owned());
    lines.push(
        "Then rotate the key: it has left your machine even though the push was rejected."
            .to_owned(),
    );
    if config.allow_bypass {
        lines.push(format!(
            "If a finding is not a real secret: git push -o leakgate.bypass=<reason>[:comment] with <reason> one of {}.",
            BYPASS_REASONS.join(", ")
        ));
    }
    let exit = if config.mode == Mode::Warn { 0 } else { 1 };
    if exit == 0 {
        lines.insert(0, "leakgate: warning only (mode = warn); the push is accepted.".to_owned());
    }
    Verdict { exit, lines, findings: scanned.findings, record: None }
}

fn budget_exhausted(ctx: &HookContext<'_>, scanned: &Scanned, why: &str) -> Verdict {
    let mut verdict = failure_record(ctx, &scanned.updates, why);
    verdict.findings = Vec::new();
    verdict
}

fn failure(ctx: &HookContext<'_>, input: &str, why: &str) -> Verdict {
    let updates = crate::push::parse_updates(input, gix::hash::Kind::Sha1)
        .or_else(|_| crate::push::parse_updates(input, gix::hash::Kind::Sha256))
        .unwrap_or_default();
    failure_record(ctx, &updates, why)
}

fn failure_record(ctx: &HookContext<'_>, updates: &[RefUpdate], why: &str) -> Verdict {
    let config = ctx.config;
    let record = AuditRecord {
        event: "unscanned",
        at: now_secs(),
        user: pusher(ctx.env),
        repo: ctx.git_dir.display().to_string(),
        refs: updates.iter().map(|u| u.name.clone()).collect(),
        commits: Vec::new(),
        reason: None,
        comment: None,
        findings: Vec::new(),
        why: Some(why.to_owned()),
        updates: updates.iter().map(|u| format!("{} {} {}", u.old, u.new, u.name)).collect(),
    };
    let (exit, lines) = if config.fail_open {
        (
            0,
            vec![
                format!("leakgate: warning: this push was not fully scanned ({}).", clean(why)),
                "leakgate: it is accepted (fail-open) and recorded for a later scan.".to_owned(),
            ],
        )
    } else {
        (
            1,
            vec![
                format!("leakgate: this push could not be scanned ({}).", clean(why)),
                "leakgate: it is rejected (fail-closed); try again, or ask an administrator."
                    .to_owned(),
            ],
        )
    };
    Verdict { exit, lines, findings: Vec::new(), record: Some(record) }
}

/// Whether findings at `severity` block under `config`.
pub fn blocks(config: &HookConfig, severity: Severity) -> bool {
    config.mode == Mode::Block && severity >= config.min_severity
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bypass_requests_need_a_known_reason() {
        let opt = |s: &str| vec![s.to_owned()];
        assert_eq!(bypass_request(&[]), Ok(None));
        assert_eq!(
            bypass_request(&opt("leakgate.bypass=used-in-tests:fixture for the parser")),
            Ok(Some(Bypass {
                reason: "used-in-tests".into(),
                comment: Some("fixture for the parser".into())
            }))
        );
        assert!(bypass_request(&opt("leakgate.bypass=because")).is_err());
        let err = bypass_request(&opt("leakgate.bypass=\x1b[2Jx")).expect_err("unknown reason");
        assert!(!err.contains('\x1b'));
    }

    #[test]
    fn push_options_and_pusher_come_from_git_and_the_platform() {
        let env = |k: &str| match k {
            "GIT_PUSH_OPTION_COUNT" => Some("2".to_owned()),
            "GIT_PUSH_OPTION_0" => Some("ci.skip".to_owned()),
            "GIT_PUSH_OPTION_1" => Some("leakgate.bypass=false-positive".to_owned()),
            "GL_USERNAME" => Some("alice".to_owned()),
            "USER" => Some("git".to_owned()),
            _ => None,
        };
        assert_eq!(push_options(&env).len(), 2);
        assert_eq!(pusher(&env), "alice");
    }
}
