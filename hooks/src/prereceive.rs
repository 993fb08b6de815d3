//! The pre-receive decision: scan what a push adds, then block, warn, or let a bypass through.

use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use gix::ObjectId;
use leakgate_rules::{Finding, FingerprintKey, RuleSet, ScanOptions, Severity, Source, Withhold};
use serde::Serialize;

use crate::config::{BypassMode, HookConfig, InlineAllow, Mode};
use crate::objects::{quarantine_from_env, Objects};
use crate::push::{parse_updates, RefUpdate};
use crate::walk::{all_ref_tips, open_repository, scan_new_blobs, HistoryError, WalkOptions};

/// The reasons a pusher may give with `-o leakgate.bypass=<reason>[:comment]`.
pub const BYPASS_REASONS: [&str; 3] = ["false-positive", "used-in-tests", "will-fix-later"];
/// The reason recorded when inline allow comments let a push through.
pub const INLINE_ALLOW_REASON: &str = "inline-allow";

/// Everything the hook needs besides standard input.
pub struct HookContext<'a> {
    /// The rules.
    pub rules: &'a RuleSet,
    /// The installation's fingerprint key.
    pub key: &'a FingerprintKey,
    /// The effective configuration.
    pub config: &'a HookConfig,
    /// The receiving repository (`$GIT_DIR`), absolute.
    pub git_dir: &'a Path,
    /// The process environment as git set it (push options, quarantine, pusher identity).
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// When the hook started: the budget counts from here.
    pub started: Instant,
    /// Waivers and bypass requests (the database's, or [`NoExceptions`]).
    pub exceptions: &'a dyn Exceptions,
    /// Fingerprints the protected branch's project configuration allows (`[allow]`).
    pub allowed: &'a [String],
}

/// A waiver as the hook applies it.
#[derive(Clone, Debug)]
pub struct WaiverView {
    /// Its id.
    pub id: i64,
    /// The secret's fingerprint.
    pub fingerprint: String,
    /// The paths it covers (glob); `None`: all.
    pub path_glob: Option<String>,
    /// Whether it has expired.
    pub expired: bool,
}

impl WaiverView {
    /// Whether it names the secret `fingerprint` at `path` (expired or not).
    pub fn applies(&self, fingerprint: &str, path: &str) -> bool {
        self.fingerprint == fingerprint && self.covers(path)
    }

    /// Whether it names `path` (a malformed glob names nothing).
    pub fn covers(&self, path: &str) -> bool {
        let Some(glob) = &self.path_glob else { return true };
        waiver_glob(glob).is_ok_and(|g| g.is_match(path))
    }
}

/// A bypass request as the hook checks it.
#[derive(Clone, Debug)]
pub struct RequestView {
    /// The repository it was opened for.
    pub repo: String,
    /// The pusher who opened it.
    pub pusher: String,
    /// The secrets it covers.
    pub fingerprints: Vec<String>,
    /// `open`, `approved`, `rejected` or `expired`, now.
    pub state: String,
    /// Who decided.
    pub reviewer: Option<String>,
    /// The reviewer's message.
    pub message: Option<String>,
}

/// A bypass request to open.
#[derive(Clone, Debug)]
pub struct RequestToOpen {
    /// The repository.
    pub repo: String,
    /// The pusher.
    pub pusher: String,
    /// The blocking secrets' fingerprints.
    pub fingerprints: Vec<String>,
    /// For the reviewer (JSON: rule, path, line, commit, redacted form).
    pub summary: String,
    /// The pushed refs.
    pub refs: String,
    /// How long it holds.
    pub lasts: Duration,
}

/// Where waivers and bypass requests live: the database, when the hook has one.
pub trait Exceptions {
    /// The waivers (in force or expired) that may apply to `repo`.
    ///
    /// # Errors
    ///
    /// They cannot be read; the message says why.
    fn waivers(&self, repo: &str) -> Result<Vec<WaiverView>, String>;
    /// Counts a use of each waiver in `ids`.
    ///
    /// # Errors
    ///
    /// As [`Exceptions::waivers`].
    fn waivers_used(&self, ids: &[i64]) -> Result<(), String>;
    /// Opens a request (or finds the open one for the same secrets): its id, and whether it
    /// is new.
    ///
    /// # Errors
    ///
    /// No database, or it cannot be written.
    fn open_request(&self, request: &RequestToOpen) -> Result<(i64, bool), String>;
    /// The request `id`, if it exists.
    ///
    /// # Errors
    ///
    /// As [`Exceptions::waivers`].
    fn request(&self, id: i64) -> Result<Option<RequestView>, String>;
    /// Counts a push let through by the approved request `id`.
    ///
    /// # Errors
    ///
    /// As [`Exceptions::waivers`].
    fn request_used(&self, id: i64) -> Result<(), String>;
}

const UNIDENTIFIED: &str = "bypass requests need the pusher's name from the platform or \
     leakgate.pusherVariable, not the account running the hook";

/// No database: no waivers, and no bypass requests.
pub struct NoExceptions;

const NO_DATABASE: &str = "bypass requests need a database (leakgate.database)";

impl Exceptions for NoExceptions {
    fn waivers(&self, _: &str) -> Result<Vec<WaiverView>, String> {
        Ok(Vec::new())
    }
    fn waivers_used(&self, _: &[i64]) -> Result<(), String> {
        Ok(())
    }
    fn open_request(&self, _: &RequestToOpen) -> Result<(i64, bool), String> {
        Err(NO_DATABASE.to_owned())
    }
    fn request(&self, _: i64) -> Result<Option<RequestView>, String> {
        Err(NO_DATABASE.to_owned())
    }
    fn request_used(&self, _: i64) -> Result<(), String> {
        Err(NO_DATABASE.to_owned())
    }
}

/// Where bypasses and unscanned pushes are recorded. A verdict that depends on its record (a
/// bypass, a fail-open) stands only if [`Recorder::record`] succeeds.
pub trait Recorder {
    /// Writes the record durably.
    ///
    /// # Errors
    ///
    /// The record could not be written anywhere; the message says why.
    fn record(&self, record: &AuditRecord) -> Result<(), String>;
}

/// A ref update as recorded.
#[derive(Clone, Debug, Serialize)]
pub struct AuditUpdate {
    /// The ref's old id.
    pub old: String,
    /// The ref's new id.
    pub new: String,
    /// The ref name, escaped ([`RefUpdate::display_name`]).
    pub name: String,
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
    /// The repository directory, absolute.
    pub repo: String,
    /// The pushed refs (escaped).
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
    /// For an unscanned push: the ref updates to rescan.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub updates: Vec<AuditUpdate>,
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
    /// The bypass or unscanned push that was recorded.
    pub record: Option<AuditRecord>,
}

impl Verdict {
    fn pass(lines: Vec<String>) -> Self {
        Verdict { exit: 0, lines, findings: Vec::new(), record: None }
    }
}

/// The pusher's identity: `variable` (`leakgate.pusherVariable`) first, then what each
/// platform sets (GHES, GitLab, Gitea/Forgejo, gitolite, smart HTTP), then the OS user.
pub fn pusher(env: &dyn Fn(&str) -> Option<String>, variable: Option<&str>) -> String {
    identified_pusher(env, variable)
        .or_else(|| ["USER", "LOGNAME"].into_iter().find_map(|k| env(k).filter(|v| !v.is_empty())))
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The pusher as a platform (or `leakgate.pusherVariable`) names them; `None` when only the
/// OS account running the hook is known, which on an ssh server is everybody's (`git`).
fn identified_pusher(
    env: &dyn Fn(&str) -> Option<String>,
    variable: Option<&str>,
) -> Option<String> {
    const PLATFORMS: [&str; 5] =
        ["GITHUB_USER_LOGIN", "GL_USERNAME", "GITEA_PUSHER_NAME", "GL_USER", "REMOTE_USER"];
    variable.into_iter().chain(PLATFORMS).find_map(|k| env(k).filter(|v| !v.is_empty()))
}

/// Push options (`git push -o ...`), from `GIT_PUSH_OPTION_COUNT` / `GIT_PUSH_OPTION_<n>`.
pub fn push_options(env: &dyn Fn(&str) -> Option<String>) -> Vec<String> {
    let count = env("GIT_PUSH_OPTION_COUNT").and_then(|c| c.parse::<usize>().ok()).unwrap_or(0);
    (0..count.min(100)).filter_map(|i| env(&format!("GIT_PUSH_OPTION_{i}"))).collect()
}

/// A bypass asked for with `leakgate.bypass=<reason>[:comment]`, or with
/// `leakgate.bypass=req:<id>` (an approved bypass request).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bypass {
    /// One of [`BYPASS_REASONS`], or `request:<id>`.
    pub reason: String,
    /// Free text after the colon.
    pub comment: Option<String>,
    /// The bypass request named.
    pub request: Option<i64>,
}

/// The bypass request among push options: `Ok(None)` without one, `Err` with an invalid one.
pub fn bypass_request(options: &[String]) -> Result<Option<Bypass>, String> {
    let Some(value) = options.iter().find_map(|o| o.strip_prefix("leakgate.bypass=")) else {
        return Ok(None);
    };
    if let Some(id) = value.trim().strip_prefix("req:") {
        return match id.trim().parse::<i64>() {
            Ok(id) if id > 0 => Ok(Some(Bypass {
                reason: format!("request:{id}"),
                comment: None,
                request: Some(id),
            })),
            _ => Err(format!("{:?} is not a bypass request id", clean(id))),
        };
    }
    let (reason, comment) = match value.split_once(':') {
        Some((r, c)) => (r.trim(), Some(clean(c.trim())).filter(|c| !c.is_empty())),
        None => (value.trim(), None),
    };
    if BYPASS_REASONS.contains(&reason) {
        Ok(Some(Bypass { reason: reason.to_owned(), comment, request: None }))
    } else {
        Err(format!(
            "unknown bypass reason {:?}; use one of: {}",
            clean(reason),
            BYPASS_REASONS.join(", ")
        ))
    }
}

/// Pushed text shown back to the pusher: control and display-changing characters replaced
/// ([`leakgate_rules::is_hidden`]), length bounded.
fn clean(text: &str) -> String {
    text.chars().take(200).map(|c| if leakgate_rules::is_hidden(c) { '?' } else { c }).collect()
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Why a push was not (fully) scanned.
enum Fault {
    /// The pushed content cannot be read: the pusher's doing, so the push is rejected.
    Content(String),
    /// The server's own trouble: `failOpen` decides, and fail-open leaves a record.
    Server(String),
    /// Standard input that is not a list of ref updates. git writes it, but hands the hook
    /// ref names it refuses only afterwards (a space, a control character, a newline that
    /// makes two lines of one): the pusher shapes it, and never chooses fail-open (review of
    /// session 30: a second ref named `refs/heads/a b` made every push fail open).
    Input(String),
}

/// Runs the pre-receive decision on `input` (the hook's standard input, as bytes).
pub fn pre_receive(ctx: &HookContext<'_>, input: &[u8], recorder: &dyn Recorder) -> Verdict {
    let config = ctx.config;
    if config.mode == Mode::Off {
        return Verdict::pass(Vec::new());
    }
    // The waivers are read once, before the scan: a waiver for some paths only is a path
    // condition of the walk (a blob is reported at each class of path it is met at), and the
    // verdict applies the very list the walk was given.
    let once = ReadOnce::new(ctx.exceptions, None);
    let ctx = &HookContext { exceptions: &once, ..*ctx };
    match scan_push(ctx, input, scoped_waivers(ctx)) {
        Ok(scanned) if config.mode == Mode::Block && scanned.project_problem.is_some() => {
            unusable_project(scanned)
        }
        Ok(mut scanned) if scanned.complete && scanned.cut_short == 0 => {
            let (changes, problem) = scanned.project();
            let verdict = decide(ctx, scanned, recorder);
            audit_project_changes(ctx, verdict, &changes, problem, recorder)
        }
        Ok(mut scanned) => {
            let (changes, problem) = scanned.project();
            let why = if scanned.complete {
                format!(
                    "{} file(s) could not be read whole (content that exhausted decoding, an \
                     archive past its budget or encrypted, Git LFS content missing from the \
                     server's store), where a secret may hide",
                    scanned.cut_short
                )
            } else {
                format!("time budget of {} ms exhausted", config.timeout.as_millis())
            };
            let verdict = incomplete(ctx, scanned, &why, recorder);
            audit_project_changes(ctx, verdict, &changes, problem, recorder)
        }
        Err(Fault::Content(why)) => content_rejected(&why),
        Err(Fault::Input(why)) => Verdict {
            exit: 1,
            lines: vec![
                format!("leakgate: the ref updates of this push cannot be read ({why})."),
                "leakgate: it is rejected: push refs whose names `git check-ref-format` accepts."
                    .to_owned(),
            ],
            findings: Vec::new(),
            record: None,
        },
        // Parsed again only here: the scan's own parse failed or never got to run.
        Err(Fault::Server(why)) => {
            let updates = parse_any(input);
            let refs = shown_refs(ctx.rules, &updates);
            Site::of(ctx).unscanned(&updates, &refs, &why, config.fail_open, recorder)
        }
    }
}

/// The repository and environment of a hook run, for verdicts that do not need a scan.
pub struct Site<'a> {
    /// The receiving repository, absolute.
    pub git_dir: &'a Path,
    /// The environment.
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// `leakgate.pusherVariable`, when known.
    pub pusher_variable: Option<&'a str>,
}

impl<'a> Site<'a> {
    fn of(ctx: &HookContext<'a>) -> Self {
        Site {
            git_dir: ctx.git_dir,
            env: ctx.env,
            pusher_variable: ctx.config.pusher_variable.as_deref(),
        }
    }

    /// The verdict when the hook cannot run at all (configuration, rules, keys, repository):
    /// `fail_open` decides, and a fail-open leaves an `unscanned` record or, when that cannot
    /// be written, rejects.
    pub fn setup_failed(
        &self,
        input: &[u8],
        why: &str,
        fail_open: bool,
        recorder: &dyn Recorder,
    ) -> Verdict {
        // Without the configured rules (they may be what failed), the built-in ones keep keys
        // out of the recorded ref names.
        let updates = parse_any(input);
        let refs = shown_refs(&RuleSet::builtin(), &updates);
        self.unscanned(
            &updates,
            &refs,
            &format!("the check could not run: {why}"),
            fail_open,
            recorder,
        )
    }

    /// `refs`: the updates' names as shown ([`Scanned::refs`]).
    fn unscanned(
        &self,
        updates: &[RefUpdate],
        refs: &[String],
        why: &str,
        fail_open: bool,
        recorder: &dyn Recorder,
    ) -> Verdict {
        if !fail_open {
            return Verdict {
                exit: 1,
                lines: vec![
                    format!("leakgate: this push could not be scanned ({}).", clean(why)),
                    "leakgate: it is rejected (fail-closed); try again, or ask an administrator."
                        .to_owned(),
                ],
                findings: Vec::new(),
                record: None,
            };
        }
        let record = AuditRecord {
            event: "unscanned",
            at: now_secs(),
            user: pusher(self.env, self.pusher_variable),
            repo: self.git_dir.display().to_string(),
            refs: refs.to_vec(),
            commits: Vec::new(),
            reason: None,
            comment: None,
            findings: Vec::new(),
            why: Some(why.to_owned()),
            updates: updates
                .iter()
                .zip(refs)
                .map(|(u, name)| AuditUpdate {
                    old: u.old.to_string(),
                    new: u.new.to_string(),
                    name: name.clone(),
                })
                .collect(),
        };
        if let Err(e) = recorder.record(&record) {
            return Verdict {
                exit: 1,
                lines: vec![
                    format!("leakgate: this push could not be scanned ({}).", clean(why)),
                    format!(
                        "leakgate: it is rejected: fail-open needs an audit record, and none could be written ({}).",
                        clean(&e)
                    ),
                ],
                findings: Vec::new(),
                record: None,
            };
        }
        Verdict {
            exit: 0,
            lines: vec![
                format!("leakgate: warning: this push was not fully scanned ({}).", clean(why)),
                "leakgate: it is accepted (fail-open) and recorded for a later scan.".to_owned(),
            ],
            findings: Vec::new(),
            record: Some(record),
        }
    }
}

/// The ref updates of `input`, for records, whatever the hash length; none if unreadable.
fn parse_any(input: &[u8]) -> Vec<RefUpdate> {
    parse_updates(input, gix::hash::Kind::Sha1)
        .or_else(|_| parse_updates(input, gix::hash::Kind::Sha256))
        .unwrap_or_default()
}

/// The names of `updates` as records and the pusher read them (see [`Scanned::refs`]).
fn shown_refs(rules: &RuleSet, updates: &[RefUpdate]) -> Vec<String> {
    shown_names(&mut Withhold::new(rules, []), updates)
}

/// The names of `updates`, escaped and rewritten by `withhold`, which first learns the keys
/// of every raw name (deleted ones too: they were never scanned; and escaping a byte that is
/// not UTF-8 can join a key's first word, where the rules no longer see it).
fn shown_names(withhold: &mut Withhold<'_>, updates: &[RefUpdate]) -> Vec<String> {
    for update in updates {
        withhold.learn(&update.name);
    }
    updates.iter().map(|u| withhold.name(&u.display_name())).collect()
}

/// A push's change to the protected branch's project configuration (`.leakgate.toml`):
/// audited once the push is accepted.
#[derive(Debug)]
struct ProjectChange {
    /// The protected branch.
    branch: String,
    /// The file's blob before and after (`None`: no file).
    old: Option<ObjectId>,
    new: Option<ObjectId>,
    /// The commit the branch moves to.
    commit: ObjectId,
}

/// The changes the push makes to the protected branch's project configuration, when the hook
/// applies one (`leakgate.projectConfig`), and why the file it brings cannot be used, if it
/// cannot: pushed, such a file would leave the project's own rules out of every later push
/// (review of session 26: a `.leakgate.toml` that adds a rule, broken by one push, and the
/// next push's key of that kind went through), so it blocks the push.
fn project_changes(
    ctx: &HookContext<'_>,
    repo: &gix::Repository,
    objects: &Objects,
    updates: &[RefUpdate],
) -> Result<(Vec<ProjectChange>, Option<Vec<String>>), Fault> {
    let none = Ok((Vec::new(), None));
    if !ctx.config.project_config {
        return none;
    }
    // A `projectConfigRef` that names no branch is reported with the rules (`prepare`).
    let protected = crate::project::protected_ref(repo, ctx.config.project_config_ref.as_deref());
    let Ok(Some(branch)) = protected else { return none };
    let name = leakgate_rules::PROJECT_FILE;
    let (mut changes, mut problem) = (Vec::new(), None);
    for update in updates.iter().filter(|u| u.name == branch.as_bytes()) {
        let at = |commit: ObjectId| -> Result<Option<crate::project::PushedFile>, Fault> {
            if commit.is_null() {
                return Ok(None);
            }
            crate::project::pushed_file(objects, commit, name).map_err(Fault::Content)
        };
        let (old, new) = (at(update.old)?, at(update.new)?);
        // The entry, mode included: a blob turned symlink or submodule is no file the hook
        // reads (review of session 27: the mode alone changed, unchecked and unaudited).
        let entry = |f: &Option<crate::project::PushedFile>| f.as_ref().map(|f| (f.id, f.mode));
        if entry(&old) == entry(&new) {
            continue;
        }
        let ids = (old.as_ref().map(|f| f.id), new.as_ref().map(|f| f.id));
        if let Some(file) = &new {
            let origin = format!("{branch}:{name}");
            let applied = file.text.as_ref().map_err(Clone::clone).and_then(|text| {
                crate::project::check_project_file(&ctx.config.rules, text, &origin)
            });
            if let Err(why) = applied {
                // The error may quote the file: what the rules find in it stays out, keys
                // that need the lines around them too.
                let mut withhold = Withhold::new(ctx.rules, []);
                if let Ok(text) = &file.text {
                    withhold.learn(text.as_bytes());
                }
                let mut lines = vec![format!("the pushed {name} of {branch} cannot be used:")];
                lines.extend(why.lines().take(12).map(|l| format!("  {}", withhold.name(l))));
                problem.get_or_insert(lines);
            }
        }
        let commit = update.new;
        changes.push(ProjectChange { branch: branch.clone(), old: ids.0, new: ids.1, commit });
    }
    Ok((changes, problem))
}

impl Scanned {
    /// The project configuration's changes and problem, taken out.
    fn project(&mut self) -> (Vec<ProjectChange>, Option<Vec<String>>) {
        (std::mem::take(&mut self.project_changes), self.project_problem.take())
    }
}

/// The verdict on a push that brings the protected branch a project configuration the hook
/// cannot use (`leakgate.mode` block): rejected, with what else it found.
fn unusable_project(scanned: Scanned) -> Verdict {
    let mut lines: Vec<String> = scanned
        .project_problem
        .iter()
        .flatten()
        .map(|l| format!("leakgate: {}", clean(l)))
        .collect();
    lines.push(UNUSABLE_PROJECT.to_owned());
    if !scanned.findings.is_empty() {
        lines.push(format!("leakgate: {} possible secret(s) found too:", scanned.findings.len()));
        lines.extend(scanned.findings.iter().map(finding_line));
    }
    Verdict { exit: 1, lines, findings: scanned.findings, record: None }
}

const UNUSABLE_PROJECT: &str = "leakgate: it is rejected: the hook could not apply it, and \
     would then leave out the rules it adds; fix it (`leakgate scan` reads it locally) and push \
     again.";

/// `verdict`, once the accepted push's changes to the project configuration are audited:
/// they change what the hook lets through (disabled rules, allowed values, skipped paths),
/// and, like a bypass, go through only recorded.
fn audit_project_changes(
    ctx: &HookContext<'_>,
    mut verdict: Verdict,
    changes: &[ProjectChange],
    problem: Option<Vec<String>>,
    recorder: &dyn Recorder,
) -> Verdict {
    // Not blocking (`leakgate.mode` warn): the problem is shown.
    if let Some(problem) = problem {
        let lines = problem.iter().map(|l| format!("leakgate: warning: {}", clean(l)));
        verdict.lines.splice(0..0, lines);
    }
    if verdict.exit != 0 || changes.is_empty() {
        return verdict;
    }
    let hex = |id: Option<ObjectId>| id.map_or_else(|| "none".to_owned(), |id| id.to_string());
    for change in changes {
        let record = AuditRecord {
            event: "project_config",
            at: now_secs(),
            user: pusher(ctx.env, ctx.config.pusher_variable.as_deref()),
            repo: ctx.git_dir.display().to_string(),
            refs: vec![change.branch.clone()],
            commits: vec![change.commit.to_string()],
            reason: Some(leakgate_rules::PROJECT_FILE.to_owned()),
            comment: Some(format!("{} -> {}", hex(change.old), hex(change.new))),
            findings: Vec::new(),
            why: None,
            updates: Vec::new(),
        };
        if let Err(e) = recorder.record(&record) {
            return Verdict {
                exit: 1,
                lines: vec![
                    format!(
                        "leakgate: this push changes {} of {}, and the change could not be recorded ({}).",
                        leakgate_rules::PROJECT_FILE,
                        change.branch,
                        clean(&e)
                    ),
                    "leakgate: it is rejected: try again, or ask an administrator.".to_owned(),
                ],
                findings: std::mem::take(&mut verdict.findings),
                record: None,
            };
        }
    }
    verdict.lines.push(format!(
        "leakgate: the change to {} of {} is recorded.",
        leakgate_rules::PROJECT_FILE,
        changes[0].branch
    ));
    verdict
}

fn content_rejected(why: &str) -> Verdict {
    Verdict {
        exit: 1,
        lines: vec![
            format!("leakgate: this push contains an object that cannot be read ({}).", clean(why)),
            "leakgate: it is rejected: push objects that `git fsck` accepts.".to_owned(),
        ],
        findings: Vec::new(),
        record: None,
    }
}

struct Scanned {
    updates: Vec<RefUpdate>,
    /// Changes the push makes to the protected branch's project configuration.
    project_changes: Vec<ProjectChange>,
    /// Why the project configuration the push brings the protected branch cannot be used.
    project_problem: Option<Vec<String>>,
    /// The updates' ref names as records and the pusher read them: escaped, without keys.
    refs: Vec<String>,
    findings: Vec<Finding>,
    commits: Vec<ObjectId>,
    complete: bool,
    cut_short: u64,
    elapsed: Duration,
}

fn server<E: std::fmt::Display>(e: E) -> Fault {
    Fault::Server(e.to_string())
}

/// The hook's waivers as path conditions of the walk (see [`scoped_waiver_globs`]).
fn scoped_waivers(ctx: &HookContext<'_>) -> Vec<globset::GlobMatcher> {
    // Unreadable waivers are reported, and none applied, when the verdict is made.
    match ctx.exceptions.waivers(&ctx.git_dir.display().to_string()) {
        Ok(waivers) => scoped_waiver_globs(&waivers),
        Err(_) => Vec::new(),
    }
}

/// The paths of the waivers that cover some paths only, for
/// [`crate::WalkOptions::path_globs`]. Until session 25 the walk handed a blob out at its
/// first path, or took it as old because a ref reached it at any path: a key waived under
/// `tests/` was let through at `app/` in the same blob, by the hook and by the service.
/// Expired waivers count too: what one let in under `tests/` stays there, and is not taken
/// as old at `app/` once it expires (review of session 25). A removed waiver no longer
/// counts: what it let in is then existing content, as what was pushed before the hook was.
pub fn scoped_waiver_globs(waivers: &[WaiverView]) -> Vec<globset::GlobMatcher> {
    let mut globs: Vec<&str> = waivers.iter().filter_map(|w| w.path_glob.as_deref()).collect();
    globs.sort_unstable();
    globs.dedup();
    globs.into_iter().filter_map(|glob| waiver_glob(glob).ok()).collect()
}

/// Exceptions with the waivers read once (see [`pre_receive`]), or given: the hook reads
/// them from its database while it loads its rules.
pub struct ReadOnce<'a> {
    inner: &'a dyn Exceptions,
    waivers: std::cell::OnceCell<Result<Vec<WaiverView>, String>>,
}

impl<'a> ReadOnce<'a> {
    /// `inner`'s exceptions, with `waivers` when they were read already.
    pub fn new(
        inner: &'a dyn Exceptions,
        waivers: Option<Result<Vec<WaiverView>, String>>,
    ) -> Self {
        let once = std::cell::OnceCell::new();
        if let Some(waivers) = waivers {
            let _ = once.set(waivers);
        }
        ReadOnce { inner, waivers: once }
    }
}

impl Exceptions for ReadOnce<'_> {
    fn waivers(&self, repo: &str) -> Result<Vec<WaiverView>, String> {
        self.waivers.get_or_init(|| self.inner.waivers(repo)).clone()
    }
    fn waivers_used(&self, ids: &[i64]) -> Result<(), String> {
        self.inner.waivers_used(ids)
    }
    fn open_request(&self, request: &RequestToOpen) -> Result<(i64, bool), String> {
        self.inner.open_request(request)
    }
    fn request(&self, id: i64) -> Result<Option<RequestView>, String> {
        self.inner.request(id)
    }
    fn request_used(&self, id: i64) -> Result<(), String> {
        self.inner.request_used(id)
    }
}

/// A waiver's path glob as [`WaiverView::covers`] reads it.
fn waiver_glob(glob: &str) -> Result<globset::GlobMatcher, globset::Error> {
    Ok(globset::GlobBuilder::new(glob).literal_separator(true).build()?.compile_matcher())
}

/// The path shown for a finding in the names of the pushed refs.
pub const REF_NAMES: &str = "(ref names)";

/// Adds to `findings` the keys in the names of the refs a push creates or moves (they stay on
/// the server too: a branch named after a key went through until session 26), at
/// [`REF_NAMES`], attributed to `commit`, with the fingerprint `key`. One line each, without a
/// deadline (a few names).
pub fn ref_name_findings<'n>(
    rules: &RuleSet,
    options: ScanOptions,
    names: impl IntoIterator<Item = &'n [u8]>,
    (key, commit): (&FingerprintKey, Option<String>),
    findings: &mut Vec<Finding>,
) {
    let mut lines = Vec::new();
    for name in names {
        lines.extend_from_slice(name);
        lines.push(b'\n');
        // And from each component on (base64 after `refs/heads/` reads in step only from its
        // own start), and with the components joined (a base64 key split by a `/` the pusher
        // placed; review of session 27).
        for (at, _) in name.iter().enumerate().filter(|&(_, &b)| b == b'/') {
            let rest = &name[at + 1..];
            lines.extend_from_slice(rest);
            lines.push(b'\n');
            lines.extend(rest.iter().filter(|&&b| b != b'/'));
            lines.push(b'\n');
        }
    }
    // Each component alone too: `refs/heads/` is base64's alphabet, and a base64 key after
    // it was decoded out of step (review of session 27).
    let components: Vec<u8> = lines.iter().map(|&b| if b == b'/' { b'\n' } else { b }).collect();
    let to_the_end = ScanOptions { deadline: None, ..options };
    let mut scanner = rules.scanner(to_the_end);
    let mut seen = std::collections::HashSet::new();
    for input in [&lines, &components] {
        scanner.scan_bytes(input, Source { path: None }, |m| {
            let found = Finding::new(m, REF_NAMES, commit.clone(), key);
            if seen.insert((found.rule_id.clone(), found.fingerprint.to_string())) {
                findings.push(found);
            }
        });
    }
}

/// Keeps keys out of the names a scan's results show (see [`Withhold`]): rewrites the paths
/// of `findings` (a directory named after a key) and logs `warnings` (they name paths)
/// rewritten. Returns the rewriter, which knows the findings' secrets, for other names (the
/// pushed refs).
pub fn withhold_names<'r>(
    rules: &'r RuleSet,
    findings: &mut [Finding],
    warnings: Vec<String>,
) -> Withhold<'r> {
    let mut withhold = Withhold::new(rules, findings.iter().map(|f| &f.secret));
    for warning in warnings {
        tracing::warn!("{}", withhold.name(&warning));
    }
    for f in findings.iter_mut() {
        f.path = withhold.name(&f.path);
    }
    withhold
}

fn scan_push(
    ctx: &HookContext<'_>,
    input: &[u8],
    path_globs: Vec<globset::GlobMatcher>,
) -> Result<Scanned, Fault> {
    let repo = open_repository(ctx.git_dir).map_err(server)?;
    let updates =
        parse_updates(input, repo.object_hash()).map_err(|e| Fault::Input(e.to_string()))?;
    let quarantine = quarantine_from_env(ctx.env);
    let objects = Objects::new(&repo, quarantine.as_deref())
        .map_err(server)?
        .with_shallow(crate::objects::shallow_from_env(ctx.env, ctx.git_dir));
    let (project_changes, project_problem) = project_changes(ctx, &repo, &objects, &updates)?;
    // Tips may be commits, tags, trees or blobs: the walk peels and covers each.
    let tips: Vec<ObjectId> = updates.iter().filter(|u| !u.is_delete()).map(|u| u.new).collect();
    let hidden = all_ref_tips(&repo).map_err(server)?;
    let threads = match ctx.config.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()).min(4),
        n => n,
    };
    let options = WalkOptions {
        scan: ScanOptions {
            flag_inline_allows: true,
            binary_distinctive: true,
            // What blocks a push is looked for in binary content too.
            binary_generic_severity: ctx.config.min_severity,
            // One blob crafted to be slow must not outlast the budget either.
            deadline: Some(ctx.started + ctx.config.timeout),
            ..ScanOptions::default()
        },
        threads,
        deadline: Some(ctx.started + ctx.config.timeout),
        stream_above: ctx.config.stream_above,
        git_dir: ctx.git_dir.to_owned(),
        progress: None,
        path_globs,
        // Path rules must not misread where a pushed file is.
        strict_names: true,
        scan_names: true,
        lfs_objects: ctx.config.lfs_objects.clone().or_else(|| {
            let own = ctx.git_dir.join("lfs").join("objects");
            own.is_dir().then_some(own)
        }),
    };
    let findings = Mutex::new(Vec::new());
    // Warnings name paths, which may hold a key: they are shown once the push's keys are known.
    let warnings = Mutex::new(Vec::new());
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
        |warning| warnings.lock().unwrap_or_else(|p| p.into_inner()).push(warning),
    )
    .map_err(|e| {
        let warnings = std::mem::take(&mut *warnings.lock().unwrap_or_else(|p| p.into_inner()));
        // The keys found so far name paths too.
        let mut found = std::mem::take(&mut *findings.lock().unwrap_or_else(|p| p.into_inner()));
        let mut withhold = withhold_names(ctx.rules, &mut found, warnings);
        let shown = match std::error::Error::source(&e) {
            Some(source) => format!("{e}: {source}"),
            None => e.to_string(),
        };
        match e {
            HistoryError::Object { .. } => Fault::Content(withhold.name(&shown)),
            _ => Fault::Server(withhold.name(&shown)),
        }
    })?;
    let mut findings = findings.into_inner().unwrap_or_else(|p| p.into_inner());
    // The names of the refs the push creates or moves stay on the server too (a branch named
    // after a key went through until session 26): one line each, scanned without a path.
    let pushed = updates.iter().filter(|u| !u.is_delete()).map(|u| &u.name[..]);
    let found = (ctx.key, None);
    ref_name_findings(ctx.rules, options.scan, pushed, found, &mut findings);
    // No key leaves in a name, on the pusher's terminal or in a record (until session 27 a
    // branch named after a key was stored as it is).
    let warnings = warnings.into_inner().unwrap_or_else(|p| p.into_inner());
    let mut withhold = withhold_names(ctx.rules, &mut findings, warnings);
    let refs = shown_names(&mut withhold, &updates);
    if stats.unreadable > 0 {
        // Every object a push brings is there (git checked before it ran the hook): one the
        // hook cannot read may be crafted to be, and is never left to `acceptIncomplete`.
        return Err(Fault::Content(format!(
            "{} new blob(s) or message(s) could not be read (see the warnings above)",
            stats.unreadable
        )));
    }
    // Values the protected branch's configuration allows are no findings, like its skipped
    // paths.
    findings.retain(|f| !ctx.allowed.iter().any(|a| a == f.fingerprint.as_str()));
    if ctx.config.inline_allow == InlineAllow::Off {
        findings.iter_mut().for_each(|f| f.inline_allowed = false);
    }
    findings.sort_by(|a, b| (&a.commit, &a.path, a.line).cmp(&(&b.commit, &b.path, b.line)));
    Ok(Scanned {
        updates,
        project_changes,
        project_problem,
        refs,
        findings,
        commits: stats.new_commits,
        complete: stats.complete,
        cut_short: stats.cut_short,
        elapsed: ctx.started.elapsed(),
    })
}

fn finding_line(f: &Finding) -> String {
    let commit = f.commit.as_deref().map_or("", |c| &c[..c.len().min(12)]);
    let allowed = if f.inline_allowed { "  [inline allow]" } else { "" };
    // The keyed fingerprint names the secret for a waiver or a reviewer, and reveals nothing.
    format!(
        "  {commit}  {}:{}  {} ({})  {}  fp {}{allowed}",
        clean(&f.path),
        f.line,
        f.rule_id,
        f.severity,
        f.redacted,
        f.fingerprint
    )
}

/// The push could not be scanned in full: the budget ran out, or content exhausted decoding.
/// Findings already made still block; without any the push is rejected, unless
/// `acceptIncomplete` lets it through (recorded as unscanned, for a rescan). The pusher
/// decides how long a push takes to scan, so this is not `failOpen`'s to decide.
fn incomplete(
    ctx: &HookContext<'_>,
    scanned: Scanned,
    why: &str,
    recorder: &dyn Recorder,
) -> Verdict {
    let blocking = scanned.findings.iter().any(|f| f.severity >= ctx.config.min_severity);
    if blocking && ctx.config.mode == Mode::Block {
        // A bypass covers what was found, not what was never scanned: only a rejection is
        // taken from the usual decision (without its bypass path), the rest is the budget's.
        // Nor does a waiver, an exemption or a request: they too cover only what was scanned.
        let no_bypass = HookConfig {
            allow_bypass: false,
            bypass_mode: BypassMode::Option,
            exempt_users: Vec::new(),
            ..ctx.config.clone()
        };
        let strict = HookContext { config: &no_bypass, exceptions: &NoExceptions, ..*ctx };
        let mut verdict = decide(&strict, scanned, recorder);
        if verdict.exit != 0 {
            verdict.lines.insert(
                1,
                format!(
                    "leakgate: ({}; the secrets below were found before it ran out)",
                    clean(why)
                ),
            );
        }
        return verdict;
    }
    if !ctx.config.accept_incomplete && ctx.config.mode == Mode::Block {
        let mut lines = vec![
            format!("leakgate: this push could not be scanned in full ({}).", clean(why)),
            "leakgate: it is rejected: push it in smaller parts, or ask an administrator \
             (leakgate.timeoutMs, leakgate.acceptIncomplete)."
                .to_owned(),
        ];
        if !scanned.findings.is_empty() {
            lines.push(format!(
                "leakgate: {} possible secret(s) found before the scan stopped:",
                scanned.findings.len()
            ));
            lines.extend(scanned.findings.iter().map(finding_line));
        }
        return Verdict { exit: 1, lines, findings: scanned.findings, record: None };
    }
    let mut verdict = Site::of(ctx).unscanned(&scanned.updates, &scanned.refs, why, true, recorder);
    if verdict.exit == 0 && !scanned.findings.is_empty() {
        verdict.lines.push(format!(
            "leakgate: {} possible secret(s) found before the budget ran out:",
            scanned.findings.len()
        ));
        verdict.lines.extend(scanned.findings.iter().map(finding_line));
    }
    verdict.findings = scanned.findings;
    verdict
}

fn audit_findings(findings: &[&Finding]) -> Vec<AuditFinding> {
    findings
        .iter()
        .map(|f| AuditFinding {
            rule_id: f.rule_id.clone(),
            fingerprint: f.fingerprint.to_string(),
            commit: f.commit.clone().unwrap_or_default(),
            path: f.path.clone(),
            line: f.line,
        })
        .collect()
}

/// Splits `blocking` into what the repository's waivers in force cover (with the waiver's
/// id) and the rest; an expired waiver covers nothing and is named.
fn apply_waivers<'f>(
    ctx: &HookContext<'_>,
    blocking: Vec<&'f Finding>,
    lines: &mut Vec<String>,
) -> (Vec<(&'f Finding, i64)>, Vec<&'f Finding>) {
    let waivers = match ctx.exceptions.waivers(&ctx.git_dir.display().to_string()) {
        Ok(w) => w,
        Err(e) => {
            lines.push(format!(
                "leakgate: waivers could not be read ({}); none applied.",
                clean(&e)
            ));
            return (Vec::new(), blocking);
        }
    };
    let mut waived = Vec::new();
    let mut rest = Vec::new();
    for f in blocking {
        let fingerprint = f.fingerprint.as_str();
        let matching = waivers.iter().filter(|w| w.applies(fingerprint, &f.path));
        let (live, expired): (Vec<&WaiverView>, Vec<&WaiverView>) =
            matching.partition(|w| !w.expired);
        match (live.first(), expired.first()) {
            (Some(w), _) => waived.push((f, w.id)),
            (None, Some(w)) => {
                lines.push(format!(
                    "leakgate: waiver {} for {}:{} has expired; the secret blocks again.",
                    w.id,
                    clean(&f.path),
                    f.line
                ));
                rest.push(f);
            }
            (None, None) => rest.push(f),
        }
    }
    (waived, rest)
}

/// Why the approved request `id` does not let these secrets through, if it does not.
fn request_refusal(
    ctx: &HookContext<'_>,
    id: i64,
    user: &str,
    blocking: &[&Finding],
) -> Option<String> {
    let request = match ctx.exceptions.request(id) {
        Ok(Some(r)) => r,
        Ok(None) => return Some("there is no such request".to_owned()),
        Err(e) => return Some(format!("it cannot be read ({e})")),
    };
    if request.repo != ctx.git_dir.display().to_string() {
        return Some("it was opened for another repository".to_owned());
    }
    if request.pusher != user {
        return Some("it was opened by another pusher".to_owned());
    }
    match request.state.as_str() {
        "approved" => {}
        "open" => return Some("it is still waiting for review".to_owned()),
        "rejected" => {
            return Some(format!(
                "{} rejected it: {}",
                request.reviewer.as_deref().unwrap_or("a reviewer"),
                request.message.as_deref().unwrap_or("")
            ))
        }
        other => return Some(format!("it is {other}")),
    }
    let uncovered = blocking
        .iter()
        .filter(|f| !request.fingerprints.iter().any(|fp| fp == f.fingerprint.as_str()))
        .count();
    (uncovered > 0)
        .then(|| format!("{uncovered} secret(s) in this push are not the ones it covers"))
}

fn decide(ctx: &HookContext<'_>, scanned: Scanned, recorder: &dyn Recorder) -> Verdict {
    let config = ctx.config;
    let user = pusher(ctx.env, config.pusher_variable.as_deref());
    let mut lines = Vec::new();
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
    let record = |event: &'static str, reason: String, comment: Option<String>, of: &[&Finding]| {
        AuditRecord {
            event,
            at: now_secs(),
            user: user.clone(),
            repo: ctx.git_dir.display().to_string(),
            refs: scanned.refs.clone(),
            commits: scanned.commits.iter().map(ToString::to_string).collect(),
            reason: Some(reason),
            comment,
            findings: audit_findings(of),
            why: None,
            updates: Vec::new(),
        }
    };
    // Waivers: known secrets a reviewer let through until a date. They let the push through
    // only once recorded.
    let (mut waived, mut blocking) = apply_waivers(ctx, blocking, &mut lines);
    let mut waiver_ids: Vec<i64> = waived.iter().map(|&(_, id)| id).collect();
    waiver_ids.sort_unstable();
    waiver_ids.dedup();
    if !waived.is_empty() {
        let of: Vec<&Finding> = waived.iter().map(|&(f, _)| f).collect();
        let ids = waiver_ids.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
        match recorder.record(&record("waived", format!("waivers {ids}"), None, &of)) {
            Ok(()) => {
                lines.push(format!(
                    "leakgate: {} known secret(s) waived (waivers {ids}):",
                    of.len()
                ));
                lines.extend(of.iter().map(|f| finding_line(f)));
            }
            Err(e) => {
                lines.push(format!(
                    "leakgate: waivers not applied: they could not be recorded ({}).",
                    clean(&e)
                ));
                blocking.extend(of);
                waived.clear();
                waiver_ids.clear();
            }
        }
    }
    let accept = |lines: Vec<String>, record: Option<AuditRecord>| {
        if !waiver_ids.is_empty() {
            if let Err(e) = ctx.exceptions.waivers_used(&waiver_ids) {
                tracing::warn!("cannot count the waivers' use: {e}");
            }
        }
        Verdict { exit: 0, lines, findings: scanned.findings.clone(), record }
    };
    if blocking.is_empty() {
        return accept(lines, None);
    }
    lines.push(format!(
        "leakgate: {} secret(s) found in the pushed commits ({} ms):",
        blocking.len(),
        scanned.elapsed.as_millis()
    ));
    lines.extend(blocking.iter().map(|f| finding_line(f)));
    // Exempt pushers (bots) are never blocked; each such push is recorded.
    if config.exempt_users.contains(&user) {
        let exempt = record("exempt", "exempt pusher".to_owned(), None, &blocking);
        match recorder.record(&exempt) {
            Ok(()) => {
                lines.push(format!(
                    "leakgate: {} is exempt from this check; the push is accepted and recorded.",
                    clean(&user)
                ));
                return accept(lines, Some(exempt));
            }
            Err(e) => lines.push(format!(
                "leakgate: exemption refused: it could not be recorded ({}).",
                clean(&e)
            )),
        }
    }
    let options = push_options(ctx.env);
    // Pushed text that is shown and recorded: a key in a comment or a reason stays out.
    let mut withhold = Withhold::new(ctx.rules, scanned.findings.iter().map(|f| &f.secret));
    let requested = bypass_request(&options)
        .map(|bypass| {
            bypass.map(|mut b| {
                b.comment = b.comment.map(|c| withhold.name(&c));
                b
            })
        })
        .map_err(|e| withhold.name(&e));
    let may_bypass = config.may_bypass(&user);
    let requests = config.bypass_mode == BypassMode::Request;
    // A request binds an approval to its pusher: it needs one the platform names.
    let identified = identified_pusher(ctx.env, config.pusher_variable.as_deref()).is_some();
    // Inline allow comments are a bypass request for the findings on their lines; a push
    // option is one for the whole push.
    let all_inline = blocking.iter().all(|f| f.inline_allowed);
    let bypass = match &requested {
        Ok(Some(b)) => Some(b.clone()),
        _ if all_inline => {
            Some(Bypass { reason: INLINE_ALLOW_REASON.to_owned(), comment: None, request: None })
        }
        _ => None,
    };
    let mut named_request = false;
    if let Some(bypass) = &bypass {
        if let Some(id) = bypass.request {
            named_request = true;
            let refusal = if !requests {
                Some("bypass requests are not enabled here".to_owned())
            } else if !identified {
                Some(UNIDENTIFIED.to_owned())
            } else {
                request_refusal(ctx, id, &user, &blocking)
            };
            match refusal {
                None => {
                    let approved = record("bypass", bypass.reason.clone(), None, &blocking);
                    match recorder.record(&approved) {
                        Ok(()) => {
                            if let Err(e) = ctx.exceptions.request_used(id) {
                                tracing::warn!("cannot count the use of bypass request {id}: {e}");
                            }
                            lines.push(format!(
                                "leakgate: bypass request {id} approved; the push is accepted and recorded for {}.",
                                clean(&user)
                            ));
                            lines.push(
                                "Rotate these keys anyway: they have left your machine.".to_owned(),
                            );
                            return accept(lines, Some(approved));
                        }
                        Err(e) => lines.push(format!(
                            "leakgate: bypass refused: it could not be recorded ({}).",
                            clean(&e)
                        )),
                    }
                }
                Some(why) => lines.push(format!(
                    "leakgate: bypass request {id} does not apply: {}.",
                    clean(&why)
                )),
            }
        } else if may_bypass {
            let record = record("bypass", bypass.reason.clone(), bypass.comment.clone(), &blocking);
            match recorder.record(&record) {
                Ok(()) => {
                    lines.push(format!(
                        "leakgate: bypass accepted ({}), recorded for {}.",
                        bypass.reason,
                        clean(&user)
                    ));
                    lines.push("Rotate these keys anyway: they have left your machine.".to_owned());
                    return accept(lines, Some(record));
                }
                Err(e) => lines.push(format!(
                    "leakgate: bypass refused: it could not be recorded ({}).",
                    clean(&e)
                )),
            }
        } else if requests {
            // A request is opened below.
        } else if bypass.reason == INLINE_ALLOW_REASON {
            lines.push(format!(
                "leakgate: inline allow comments refused: {} may not bypass this check.",
                clean(&user)
            ));
        } else {
            lines.push(format!(
                "leakgate: bypass refused: {} may not bypass this check.",
                clean(&user)
            ));
        }
    }
    if let Err(why) = &requested {
        lines.push(format!("leakgate: bypass refused: {why}"));
    }
    let warn = config.mode == Mode::Warn;
    lines.push("To fix: remove the secret from these commits and push again:".to_owned());
    lines.push("  the last commit:  edit the file, then git commit --amend".to_owned());
    lines.push("  older commits:    git rebase -i <base>, edit the commits that add it".to_owned());
    lines.push(if warn {
        "Then rotate the key: it is on the server now.".to_owned()
    } else {
        "Then rotate the key: it has left your machine even though the push was rejected."
            .to_owned()
    });
    if requests && !warn && !named_request && !may_bypass {
        let summary: Vec<serde_json::Value> = blocking
            .iter()
            .map(|f| {
                serde_json::json!({
                    "rule_id": f.rule_id, "severity": f.severity.to_string(), "path": clean(&f.path),
                    "line": f.line, "commit": f.commit, "redacted": f.redacted,
                })
            })
            .collect();
        let request = RequestToOpen {
            repo: ctx.git_dir.display().to_string(),
            pusher: user.clone(),
            fingerprints: blocking.iter().map(|f| f.fingerprint.to_string()).collect(),
            summary: serde_json::Value::Array(summary).to_string(),
            refs: scanned.refs.join(" "),
            lasts: config.bypass_request_ttl,
        };
        let opened = if identified {
            ctx.exceptions.open_request(&request)
        } else {
            Err(UNIDENTIFIED.to_owned())
        };
        match opened {
            Ok((id, new)) => lines.push(format!(
                "leakgate: bypass request {id} {}; re-push with -o leakgate.bypass=req:{id} once approved.",
                if new { "opened" } else { "is waiting for review" }
            )),
            Err(e) => {
                lines.push(format!("leakgate: no bypass request could be opened ({}).", clean(&e)))
            }
        }
    } else if config.allow_bypass && (config.bypass_mode == BypassMode::Option || may_bypass) {
        lines.push(format!(
            "If a finding is not a real secret: git push -o leakgate.bypass=<reason>[:comment] with <reason> one of {}.",
            BYPASS_REASONS.join(", ")
        ));
    }
    let exit = if warn { 0 } else { 1 };
    if warn {
        lines.insert(0, "leakgate: warning only (mode = warn); the push is accepted.".to_owned());
    }
    // Waived secrets are not this verdict's: a rejected push's findings may be revoked.
    let waived: Vec<(String, String, u64)> =
        waived.iter().map(|&(f, _)| (f.fingerprint.to_string(), f.path.clone(), f.line)).collect();
    let findings = scanned
        .findings
        .into_iter()
        .filter(|f| !waived.contains(&(f.fingerprint.to_string(), f.path.clone(), f.line)))
        .collect();
    Verdict { exit, lines, findings, record: None }
}

/// Appends `record` as one JSON line to `log` (created with its directory), synced.
///
/// # Errors
///
/// The directory or file cannot be created or written.
pub fn append_record(log: &Path, record: &AuditRecord) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = log.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut line = serde_json::to_vec(record)?;
    line.push(b'\n');
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(log)?;
    file.write_all(&line)?;
    file.sync_data()
}

/// Whether findings at `severity` block under `config`.
pub fn blocks(config: &HookConfig, severity: Severity) -> bool {
    config.mode == Mode::Block && severity >= config.min_severity
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The events recorded.
    struct Records(Mutex<Vec<String>>);

    impl Recorder for Records {
        fn record(&self, record: &AuditRecord) -> Result<(), String> {
            self.0.lock().unwrap().push(record.event.to_string());
            Ok(())
        }
    }

    /// A scan cut short (by the time budget, or by content that exhausted decoding) rejects
    /// the push in block mode unless the server accepts incomplete scans, whatever `failOpen`
    /// says; accepted, it is recorded as unscanned. Warn mode lets it through, recorded.
    #[test]
    fn an_incomplete_scan_rejects_unless_accepted() {
        let rules = RuleSet::builtin();
        let key = FingerprintKey::new(b"test key of 32 bytes, not real!!");
        let update = RefUpdate {
            old: ObjectId::null(gix::hash::Kind::Sha1),
            new: ObjectId::from_hex(b"1111111111111111111111111111111111111111").unwrap(),
            name: b"refs/heads/main".to_vec(),
        };
        for (fail_open, accept, mode, passes) in [
            (true, false, Mode::Block, false),
            (false, false, Mode::Block, false),
            (false, true, Mode::Block, true),
            (false, false, Mode::Warn, true),
        ] {
            for (complete, cut_short) in [(false, 0), (true, 2)] {
                let config = HookConfig {
                    fail_open,
                    accept_incomplete: accept,
                    mode,
                    ..crate::config::HookSettings::default().resolve()
                };
                let env = |_: &str| None;
                let ctx = HookContext {
                    rules: &rules,
                    key: &key,
                    config: &config,
                    git_dir: Path::new("/srv/git/r.git"),
                    env: &env,
                    started: Instant::now(),
                    exceptions: &NoExceptions,
                    allowed: &[],
                };
                let scanned = Scanned {
                    updates: vec![update.clone()],
                    project_changes: Vec::new(),
                    project_problem: None,
                    refs: vec![update.display_name()],
                    findings: Vec::new(),
                    commits: Vec::new(),
                    complete,
                    cut_short,
                    elapsed: Duration::ZERO,
                };
                let records = Records(Mutex::new(Vec::new()));
                let why = if complete { "2 file(s) exhausted decoding" } else { "time" };
                let verdict = incomplete(&ctx, scanned, why, &records);
                let what = format!("{fail_open} {accept} {mode:?} {complete}");
                assert_eq!(verdict.exit == 0, passes, "{what}: {:?}", verdict.lines);
                let recorded = records.0.lock().unwrap();
                assert_eq!(recorded.iter().any(|e| e == "unscanned"), passes, "{what}");
                if !passes {
                    assert!(verdict.lines[0].contains("could not be scanned in full"), "{what}");
                }
            }
        }
    }

    /// A new blob the hook cannot read is content it cannot vouch for: the push is rejected
    /// even where the server accepts pushes the time budget cut short, and whatever
    /// `failOpen` says (before session 24 it counted as cut short, and `acceptIncomplete` let
    /// it through). Git checks that a push's objects are all there before it runs the hook, so
    /// here a stored blob is deleted instead.
    #[test]
    fn a_blob_the_hook_cannot_read_rejects_the_push_whatever_the_settings() {
        let dir = tempfile::tempdir().expect("temp dir");
        let repo = dir.path();
        crate::test_git(repo, &["init", "-q", "-b", "main"]);
        std::fs::write(repo.join("README"), "base\n").expect("write");
        crate::test_git(repo, &["add", "."]);
        crate::test_git(repo, &["commit", "-q", "-m", "base"]);
        let base = crate::test_git(repo, &["rev-parse", "HEAD"]).trim().to_owned();
        std::fs::write(repo.join("new.txt"), "content the hook cannot read\n").expect("write");
        crate::test_git(repo, &["add", "."]);
        crate::test_git(repo, &["commit", "-q", "-m", "new"]);
        let new = crate::test_git(repo, &["rev-parse", "HEAD"]).trim().to_owned();
        let blob = crate::test_git(repo, &["rev-parse", "HEAD:new.txt"]).trim().to_owned();
        crate::test_git(repo, &["reset", "-q", "--hard", &base]);
        std::fs::remove_file(repo.join(".git/objects").join(&blob[..2]).join(&blob[2..]))
            .expect("the blob is loose");

        let rules = RuleSet::builtin();
        let key = FingerprintKey::new(b"test key of 32 bytes, not real!!");
        let config = HookConfig {
            fail_open: true,
            accept_incomplete: true,
            ..crate::config::HookSettings::default().resolve()
        };
        let env = |_: &str| None;
        let git_dir = repo.join(".git");
        let ctx = HookContext {
            rules: &rules,
            key: &key,
            config: &config,
            git_dir: &git_dir,
            env: &env,
            started: Instant::now(),
            exceptions: &NoExceptions,
            allowed: &[],
        };
        let records = Records(Mutex::new(Vec::new()));
        let input = format!("{base} {new} refs/heads/main\n");
        let verdict = pre_receive(&ctx, input.as_bytes(), &records);
        assert_eq!(verdict.exit, 1, "{:?}", verdict.lines);
        assert!(verdict.lines[0].contains("could not be read"), "{:?}", verdict.lines);
        assert!(records.0.lock().unwrap().is_empty(), "nothing is accepted unscanned");
    }

    #[test]
    fn bypass_requests_need_a_known_reason() {
        let opt = |s: &str| vec![s.to_owned()];
        assert_eq!(bypass_request(&[]), Ok(None));
        assert_eq!(
            bypass_request(&opt("leakgate.bypass=used-in-tests:fixture for the parser")),
            Ok(Some(Bypass {
                reason: "used-in-tests".into(),
                comment: Some("fixture for the parser".into()),
                request: None,
            }))
        );
        assert!(bypass_request(&opt("leakgate.bypass=because")).is_err());
        assert_eq!(
            bypass_request(&opt("leakgate.bypass=req:42")).expect("valid").and_then(|b| b.request),
            Some(42)
        );
        assert!(bypass_request(&opt("leakgate.bypass=req:-1")).is_err());
        assert!(bypass_request(&opt("leakgate.bypass=req:x")).is_err());
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
            "GL_USER" => Some("bob".to_owned()),
            "REMOTE_USER" => Some("carol".to_owned()),
            "X_PUSHER" => Some("dave".to_owned()),
            "USER" => Some("git".to_owned()),
            _ => None,
        };
        assert_eq!(push_options(&env).len(), 2);
        assert_eq!(pusher(&env, None), "alice");
        assert_eq!(pusher(&env, Some("X_PUSHER")), "dave");
        let gitolite = |k: &str| match k {
            "GL_USER" => Some("bob".to_owned()),
            "REMOTE_USER" => Some("carol".to_owned()),
            "USER" => Some("git".to_owned()),
            _ => None,
        };
        assert_eq!(pusher(&gitolite, None), "bob");
        let http = |k: &str| (k == "REMOTE_USER" || k == "USER").then(|| k.to_lowercase());
        assert_eq!(pusher(&http, Some("UNSET")), "remote_user");
    }
}
