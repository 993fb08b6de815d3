//! `leakgate pre-receive` (run by git) and `leakgate hook install`.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use leakgate_hooks::{
    pre_receive, AuditRecord, Exceptions, HookConfig, HookContext, HookSettings, NoExceptions,
    ReadOnce, Recorder, Verdict,
};
use leakgate_rules::{ProjectConfig, PROJECT_FILE};
use leakgate_server::hook::NotifyFlag;

use crate::cli::InstallArgs;
use crate::{keys, Exit};

/// The system-wide settings file, unless `LEAKGATE_CONFIG` names another.
pub const SYSTEM_CONFIG: &str = "/etc/leakgate/leakgate.toml";

#[derive(serde::Deserialize, Default)]
struct SystemFile {
    #[serde(default)]
    hook: HookSettings,
}

fn system_file(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    env("LEAKGATE_CONFIG").map(PathBuf::from).or_else(|| {
        let system = PathBuf::from(SYSTEM_CONFIG);
        system.exists().then_some(system)
    })
}

/// The layered settings, and every problem met on the way: a broken layer or value leaves
/// the rest in force, so that `failOpen` still decides what the failure does.
fn settings(git_dir: &Path, env: &dyn Fn(&str) -> Option<String>) -> (HookConfig, Vec<String>) {
    let mut problems = Vec::new();
    let mut fail_open_broken = false;
    let mut file_broken = false;
    let mut note = |errors: Vec<leakgate_hooks::SettingError>, problems: &mut Vec<String>| {
        for e in errors {
            fail_open_broken |= e.is_fail_open();
            problems.push(e.to_string());
        }
    };
    let (from_env, errors) = HookSettings::from_env(env);
    note(errors, &mut problems);
    let from_file = match system_file(env) {
        Some(path) => match std::fs::read_to_string(&path)
            .map_err(anyhow::Error::from)
            .and_then(|text| Ok(toml::from_str::<SystemFile>(&text)?.hook))
        {
            Ok(settings) => settings,
            Err(e) => {
                problems.push(format!(
                    "cannot use {}: {}",
                    path.display(),
                    oneline(&format!("{e:#}"))
                ));
                // Its `fail_open` is unknown: unless the repository's config says, closed.
                file_broken = true;
                HookSettings::default()
            }
        },
        None => HookSettings::default(),
    };
    let from_git = match leakgate_hooks::open_repository(git_dir) {
        Ok(repo) => {
            let (settings, errors) = HookSettings::from_git_config(&repo);
            note(errors, &mut problems);
            settings
        }
        Err(e) => {
            problems.push(oneline(&format!("{e:#}")));
            HookSettings::default()
        }
    };
    let git_sets_fail_open = from_git.fail_open.is_some();
    let mut config = from_git.or(from_file).or(from_env).resolve();
    if fail_open_broken || (file_broken && !git_sets_fail_open) {
        // The switch itself is unreadable: the safe reading of it is "closed".
        config.fail_open = false;
    }
    (config, problems)
}

/// Where the hook's records go: the audit log (JSON lines), and the database when one is
/// configured. A record counts as written when one of them took it.
struct Records<'a> {
    log: PathBuf,
    database: Option<&'a str>,
    /// How long a database write may take (the hook's budget).
    within: std::time::Duration,
    /// Whether to queue notifications (the hook queues bypass events for the service to
    /// send; it never sends anything itself).
    notify: std::sync::Arc<NotifyFlag>,
}

impl Recorder for Records<'_> {
    fn record(&self, record: &AuditRecord) -> Result<(), String> {
        let mut failures = Vec::new();
        let mut written = false;
        match leakgate_hooks::append_record(&self.log, record) {
            Ok(()) => written = true,
            Err(e) => failures.push(format!("{}: {e}", self.log.display())),
        }
        if let Some(url) = self.database {
            let notify = record.event == "bypass" && self.notify.get();
            match leakgate_server::hook::record(url, record, notify, self.within) {
                Ok(()) => written = true,
                Err(e) => {
                    let e = anyhow::Error::new(e);
                    failures.push(format!("database: {}", oneline(&format!("{e:#}"))));
                }
            }
        }
        for failure in &failures {
            tracing::warn!("cannot record the hook's {} event: {failure}", record.event);
        }
        if written {
            Ok(())
        } else {
            Err(failures.join("; "))
        }
    }
}

/// How long the hook's database calls may take together: the hook's budget, and at least
/// 2 s (a budget of 0, "scan nothing", still records the push for the service to rescan).
fn database_within(config: &HookConfig) -> std::time::Duration {
    config.timeout.max(std::time::Duration::from_secs(2))
}

/// Runs the pre-receive hook: reads ref updates on stdin, prints the verdict on stderr (git
/// shows it to the pusher as `remote:` lines), and exits 0 to accept or 1 to reject.
///
/// # Errors
///
/// Never for a scan or setup problem (those follow the fail-open setting and are recorded);
/// only when stderr fails.
pub fn pre_receive_cmd() -> Result<Exit> {
    let started = Instant::now();
    let vars: HashMap<String, String> = std::env::vars().collect();
    let env = |k: &str| vars.get(k).cloned();
    let gitlab = env("GL_ID").is_some() || env("GL_PROTOCOL").is_some();
    let git_dir = env("GIT_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."));
    // Records name the repository by its absolute path.
    let git_dir = git_dir.canonicalize().unwrap_or(git_dir);
    // Every line git sends is read: no cap that could leave a ref update unscanned.
    let mut input = Vec::new();
    let stdin = std::io::stdin().lock().read_to_end(&mut input);
    let verdict = run(&git_dir, &env, started, &input, stdin.err());
    let mut stderr = std::io::stderr().lock();
    for line in &verdict.lines {
        if gitlab {
            writeln!(stderr, "GL-HOOK-ERR: {line}")?;
        } else {
            writeln!(stderr, "{line}")?;
        }
    }
    Ok(if verdict.exit == 0 { Exit::Clean } else { Exit::Findings })
}

fn oneline(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

fn run(
    git_dir: &Path,
    env: &dyn Fn(&str) -> Option<String>,
    started: Instant,
    input: &[u8],
    stdin_error: Option<std::io::Error>,
) -> Verdict {
    let (config, mut problems) = settings(git_dir, env);
    let records = Records {
        log: config
            .audit_log
            .clone()
            .unwrap_or_else(|| git_dir.join("leakgate").join("audit.jsonl")),
        database: config.database.as_deref(),
        within: database_within(&config),
        notify: std::sync::Arc::new(NotifyFlag::new(system_file(env))),
    };
    let site =
        leakgate_hooks::Site { git_dir, env, pusher_variable: config.pusher_variable.as_deref() };
    if let Some(e) = stdin_error {
        problems.push(format!("reading ref updates from standard input: {e}"));
    }
    let database = config.database.as_deref().map(|url| {
        leakgate_server::hook::HookExceptions::new(url)
            .within(database_within(&config))
            .notifying(records.notify.clone())
    });
    // The waivers are read while the rules load: they decide how the walk treats paths (see
    // `pre_receive`), and connecting to the database costs a push a few milliseconds. A
    // database that does not answer within a quarter of the budget applies no waiver (what
    // they would let through blocks) rather than holding every push.
    let early = config.database.clone().filter(|_| problems.is_empty()).map(|url| {
        let (sent, read) = std::sync::mpsc::channel();
        let repo = git_dir.display().to_string();
        let within = database_within(&config);
        std::thread::spawn(move || {
            let db = leakgate_server::hook::HookExceptions::new(&url).within(within);
            let _ = sent.send(db.waivers(&repo));
        });
        read
    });
    let prepared = if problems.is_empty() {
        prepare(&config, git_dir).map_err(|e| oneline(&format!("{e:#}")))
    } else {
        Err(problems.join("; "))
    };
    let waivers = early.map(|read| {
        let quarter = config.timeout / 4;
        let wait = (started + quarter).saturating_duration_since(Instant::now());
        read.recv_timeout(wait).unwrap_or_else(|_| {
            Err(format!("the database did not answer within {} ms", quarter.as_millis()))
        })
    });
    let (rules, key, notes, allowed) = match prepared {
        Ok(ready) => ready,
        Err(why) => return site.setup_failed(input, &why, config.fail_open, &records),
    };
    let exceptions: &dyn Exceptions = match &database {
        Some(db) => db,
        None => &NoExceptions,
    };
    let exceptions = ReadOnce::new(exceptions, waivers);
    let exceptions: &dyn Exceptions = &exceptions;
    let ctx = HookContext {
        rules: &rules,
        key: &key,
        config: &config,
        git_dir,
        env,
        started,
        exceptions,
        allowed: &allowed,
    };
    let mut verdict = pre_receive(&ctx, input, &records);
    verdict.lines.splice(0..0, notes);
    if verdict.exit != 0 && !verdict.findings.is_empty() {
        if let Some(url) = &config.database {
            let blocked = Blocked { input, findings: &verdict.findings, rules: &rules };
            if let Err(e) = record_blocked(url, git_dir, env, &config, &blocked) {
                tracing::warn!("cannot record the rejected push: {e:#}");
            }
        }
    }
    // The rules go with the process: freeing them piece by piece would delay the verdict.
    std::mem::forget(rules);
    verdict
}

/// What [`prepare`] gives: the rules, the fingerprint key, notes for the pusher (a project
/// configuration that could not be used) and the fingerprints the project allows.
type Prepared = (leakgate_rules::RuleSet, leakgate_rules::FingerprintKey, Vec<String>, Vec<String>);

/// The rules and the fingerprint key (configuration the hook cannot run without), and what
/// the protected branch's project configuration adds.
fn prepare(config: &HookConfig, git_dir: &Path) -> Result<Prepared> {
    let mut builder = leakgate_hooks::server_rules(&config.rules).map_err(anyhow::Error::msg)?;
    let mut notes = Vec::new();
    let mut allowed = Vec::new();
    if config.project_config {
        // Only the protected branch's file, as it was before this push; a file that cannot
        // be used leaves every rule on (stricter, never looser) and says so.
        let project = leakgate_hooks::protected_file(
            git_dir,
            config.project_config_ref.as_deref(),
            PROJECT_FILE,
        )
        .and_then(|found| {
            found
                .map(|(branch, text)| {
                    let origin = PathBuf::from(format!("{branch}:{PROJECT_FILE}"));
                    ProjectConfig::parse(&text, &origin).map_err(|e| e.to_string())
                })
                .transpose()
        });
        match project {
            Ok(Some(project)) => match project.apply(&mut builder) {
                Ok(()) => allowed = project.allow.fingerprints.clone(),
                Err(e) => notes.push(format!(
                    "leakgate: warning: the project configuration is not applied ({}).",
                    oneline(&e.to_string())
                )),
            },
            Ok(None) => {}
            Err(e) => notes.push(format!(
                "leakgate: warning: the project configuration is not applied ({}).",
                oneline(&e)
            )),
        }
    }
    let key = keys::fingerprint_key(None).context(
        "the fingerprint key (set LEAKGATE_DATA_DIR to a directory the hook's user can write)",
    )?;
    Ok((builder.build(), key, notes, allowed))
}

/// A rejected push: its ref updates as read, its findings, and the rules that found them.
struct Blocked<'a> {
    input: &'a [u8],
    findings: &'a [leakgate_rules::Finding],
    rules: &'a leakgate_rules::RuleSet,
}

/// Records the rejected push in the database and, with `[revoke] blocked_pushes` in the
/// service's configuration, queues its keys for revocation. A configuration that cannot be
/// read still leaves the record (without revocations).
fn record_blocked(
    url: &str,
    git_dir: &Path,
    env: &dyn Fn(&str) -> Option<String>,
    hook: &HookConfig,
    blocked: &Blocked<'_>,
) -> Result<()> {
    let Blocked { input, findings, rules } = *blocked;
    let revoking = leakgate_server::Config::load(system_file(env).as_deref())
        .and_then(|c| c.resolve_files())
        .map_err(anyhow::Error::from)
        .and_then(|config| {
            if !config.revoke.blocked_pushes {
                return Ok(None);
            }
            let key = keys::encryption_key(config.keys.encryption_key_file.as_deref())?;
            Ok(Some((config.revoke, key)))
        });
    let revoking = match revoking {
        Ok(revoking) => revoking,
        Err(e) => {
            tracing::warn!("cannot queue revocations: {e:#}");
            None
        }
    };
    let pusher = leakgate_hooks::pusher(env, hook.pusher_variable.as_deref());
    // The pushed ref names, as the pusher wrote them (the dashboard escapes them), without the
    // keys they may hold (a branch named after a key is a finding of the push).
    let mut withhold = leakgate_rules::Withhold::new(rules, findings.iter().map(|f| &f.secret));
    let refs: Vec<String> = input
        .split(|&b| b == b'\n')
        .filter_map(|line| line.split(|b| b.is_ascii_whitespace()).filter(|f| !f.is_empty()).nth(2))
        .take(32)
        .map(|name| {
            withhold.learn(name);
            withhold.name(&oneline(&String::from_utf8_lossy(name)))
        })
        .collect();
    leakgate_server::hook::record_blocked(
        url,
        revoking.as_ref().map(|(config, key)| (config, key)),
        &git_dir.display().to_string(),
        &pusher,
        &refs.join(" "),
        findings,
        database_within(hook),
    )?;
    Ok(())
}

/// `leakgate hook install`.
///
/// # Errors
///
/// The hook cannot be written (foreign hook without `--force`, not a repository, I/O).
pub fn install_cmd(args: &InstallArgs) -> Result<Exit> {
    let binary = match &args.binary {
        Some(b) => b.clone(),
        None => std::env::current_exe().context("locating the leakgate binary")?,
    };
    let binary = binary.canonicalize().unwrap_or(binary);
    let written = match (&args.repo, &args.global) {
        (Some(repo), None) => leakgate_hooks::install_repo(
            repo,
            args.flavor.parse().map_err(anyhow::Error::msg)?,
            &binary,
            args.force,
        )?,
        (None, Some(dir)) => {
            let written = leakgate_hooks::install_global(dir, &binary, args.force)?;
            // Bypass requests are push options: every repository must advertise them.
            if let Err(e) = leakgate_hooks::enable_push_options_system() {
                eprintln!(
                    "leakgate: warning: {e}; run `git config --system receive.advertisePushOptions true` as root for bypass requests to reach the hook"
                );
            }
            written
        }
        _ => anyhow::bail!("give exactly one of --repo PATH or --global DIR"),
    };
    println!("installed {}", written.display());
    Ok(Exit::Clean)
}
