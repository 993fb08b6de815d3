//! `leakgate pre-receive` (run by git) and `leakgate hook install`.

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use leakgate_hooks::{pre_receive, HookConfig, HookContext, HookSettings, Verdict};
use leakgate_rules::{load_rule_file, RuleSetBuilder};

use crate::cli::InstallArgs;
use crate::{keys, Exit};

/// Largest standard input accepted: ref updates are ~100 bytes each.
const MAX_STDIN: u64 = 16 << 20;
/// The system-wide settings file, unless `LEAKGATE_CONFIG` names another.
pub const SYSTEM_CONFIG: &str = "/etc/leakgate/leakgate.toml";

#[derive(serde::Deserialize, Default)]
struct SystemFile {
    #[serde(default)]
    hook: HookSettings,
}

fn settings(git_dir: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<HookConfig> {
    let from_env = HookSettings::from_env(env)?;
    let file = env("LEAKGATE_CONFIG").map(PathBuf::from).or_else(|| {
        let system = PathBuf::from(SYSTEM_CONFIG);
        system.exists().then_some(system)
    });
    let from_file = match file {
        Some(path) => {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            toml::from_str::<SystemFile>(&text)
                .with_context(|| format!("parsing {}", path.display()))?
                .hook
        }
        None => HookSettings::default(),
    };
    let repo = leakgate_hooks::open_repository(git_dir)?;
    let from_git = HookSettings::from_git_config(&repo)?;
    Ok(from_git.or(from_file).or(from_env).resolve())
}

/// Runs the pre-receive hook: reads ref updates on stdin, prints the verdict on stderr (git
/// shows it to the pusher as `remote:` lines), and exits 0 to accept or 1 to reject.
///
/// # Errors
///
/// Never for a scan problem (those follow the fail-open setting); only when stderr fails.
pub fn pre_receive_cmd() -> Result<Exit> {
    let started = Instant::now();
    let vars: HashMap<String, String> = std::env::vars().collect();
    let env = |k: &str| vars.get(k).cloned();
    let gitlab = env("GL_ID").is_some() || env("GL_PROTOCOL").is_some();
    let git_dir = env("GIT_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."));
    let verdict = match prepare_and_run(&git_dir, &env, started) {
        Ok(verdict) => verdict,
        Err(error) => Verdict {
            // Configuration or rules could not be loaded: the default is fail-open.
            exit: 0,
            lines: vec![
                format!(
                    "leakgate: warning: the check did not run: {}",
                    oneline(&format!("{error:#}"))
                ),
                "leakgate: the push is accepted; tell an administrator.".to_owned(),
            ],
            findings: Vec::new(),
            record: None,
        },
    };
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

fn prepare_and_run(
    git_dir: &Path,
    env: &dyn Fn(&str) -> Option<String>,
    started: Instant,
) -> Result<Verdict> {
    let mut input = String::new();
    std::io::stdin()
        .lock()
        .take(MAX_STDIN)
        .read_to_string(&mut input)
        .context("reading ref updates from standard input (expected text lines)")?;
    let config = settings(git_dir, env)?;
    let mut builder = RuleSetBuilder::new().builtin();
    for path in &config.rules {
        let rules = load_rule_file(path)?;
        builder = builder.rules(rules, &path.display().to_string())?;
    }
    let rules = builder.build();
    let key = keys::fingerprint_key(None)?;
    let ctx = HookContext { rules: &rules, key: &key, config: &config, git_dir, env, started };
    let verdict = pre_receive(&ctx, &input);
    if let Some(record) = &verdict.record {
        let log = config
            .audit_log
            .clone()
            .unwrap_or_else(|| git_dir.join("leakgate").join("audit.jsonl"));
        if let Err(e) = append_record(&log, record) {
            tracing::warn!("cannot record to {}: {e:#}", log.display());
        }
        if let Some(url) = &config.database {
            if let Err(e) = record_in_store(url, git_dir, record) {
                tracing::warn!("cannot record in the database: {e:#}");
            }
        }
    }
    if verdict.exit != 0 && !verdict.findings.is_empty() {
        if let Some(url) = &config.database {
            if let Err(e) = revoke_blocked(url, git_dir, env, &verdict.findings) {
                tracing::warn!("cannot queue revocations: {e:#}");
            }
        }
    }
    Ok(verdict)
}

/// With `[revoke] blocked_pushes` set, the keys of a rejected push are revoked too: they
/// never reached the repository, but they left the developer's machine. The hook records
/// them (material encrypted) and queues the jobs; `leakgate serve` sends them.
fn revoke_blocked(
    url: &str,
    git_dir: &Path,
    env: &dyn Fn(&str) -> Option<String>,
    findings: &[leakgate_rules::Finding],
) -> Result<()> {
    let file = env("LEAKGATE_CONFIG").map(PathBuf::from).or_else(|| {
        let system = PathBuf::from(SYSTEM_CONFIG);
        system.exists().then_some(system)
    });
    let config = leakgate_server::Config::load(file.as_deref())?.resolve_files()?;
    if !config.revoke.blocked_pushes || findings.iter().all(|f| f.revoke.is_none()) {
        return Ok(());
    }
    let key = keys::encryption_key(config.keys.encryption_key_file.as_deref())?;
    let repo = git_dir.canonicalize().unwrap_or_else(|_| git_dir.to_owned());
    let origin = leakgate_server::revoke::run::Origin {
        forge: None,
        repo: repo.display().to_string(),
        installation_id: None,
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let store = leakgate_store::Store::connect(url).await?;
        // The findings are recorded (redacted, fingerprinted) so that a revocation waiting
        // for approval can be approved by finding id.
        let scan = store
            .start_scan(&leakgate_store::NewScan {
                repo: origin.repo.clone(),
                refs: String::new(),
                before: None,
                after: None,
                pusher: Some(leakgate_hooks::pusher(env)),
                source: "hook".into(),
            })
            .await?;
        let mut with_ids = Vec::with_capacity(findings.len());
        for f in findings {
            let record = leakgate_server::worker::finding_record(f);
            with_ids.push((f, Some(store.add_finding(scan, &record).await?)));
        }
        store.finish_scan(scan, "blocked").await?;
        let queued =
            leakgate_server::revoke::run::plan(&store, &key, &config.revoke, &origin, &with_ids)
                .await?;
        tracing::info!(queued, "revocations queued for a rejected push");
        Ok(())
    })
}

/// Records a bypass or an unscanned push in the database; an unscanned push (the budget ran
/// out, fail-open) also leaves a `rescan` job, which `leakgate serve` runs: it fetches the
/// pushed commits from this repository and scans them without a deadline.
fn record_in_store(url: &str, git_dir: &Path, record: &leakgate_hooks::AuditRecord) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let repo_path = git_dir.canonicalize().unwrap_or_else(|_| git_dir.to_owned());
    runtime.block_on(async {
        let store = leakgate_store::Store::connect(url).await?;
        let detail = serde_json::to_string(record)?;
        store.audit(&format!("hook_{}", record.event), &record.user, &detail).await?;
        match record.event {
            "bypass" => {
                store
                    .record_bypass(&leakgate_store::Bypass {
                        repo: record.repo.clone(),
                        user: record.user.clone(),
                        reason: record.reason.clone().unwrap_or_default(),
                        comment: record.comment.clone(),
                        refs: record.refs.join(" "),
                        commits: record.commits.join(" "),
                        fingerprints: record
                            .findings
                            .iter()
                            .map(|f| f.fingerprint.clone())
                            .collect::<Vec<_>>()
                            .join(" "),
                    })
                    .await?;
            }
            "unscanned" => {
                let updates = record
                    .updates
                    .iter()
                    .filter_map(|u| {
                        let mut parts = u.splitn(3, ' ');
                        let (old, new, name) = (parts.next()?, parts.next()?, parts.next()?);
                        Some((name.to_owned(), old.to_owned(), new.to_owned()))
                    })
                    .collect::<Vec<_>>();
                let rescan = leakgate_server::worker::Rescan {
                    repo: repo_path.display().to_string(),
                    url: repo_path.display().to_string(),
                    updates,
                    pusher: record.user.clone(),
                };
                let key = format!("rescan:{}:{}", rescan.repo, record.updates.join(","));
                let job = leakgate_store::NewJob::new("rescan", &serde_json::to_string(&rescan)?)
                    .key(&key);
                store.enqueue(&job).await?;
            }
            _ => {}
        }
        Ok::<_, anyhow::Error>(())
    })
}

fn append_record(log: &Path, record: &leakgate_hooks::AuditRecord) -> Result<()> {
    if let Some(dir) = log.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut line = serde_json::to_vec(record)?;
    line.push(b'\n');
    let mut file = OpenOptions::new().create(true).append(true).open(log)?;
    file.write_all(&line)?;
    file.sync_data()?;
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
        (None, Some(dir)) => leakgate_hooks::install_global(dir, &binary, args.force)?,
        _ => anyhow::bail!("give exactly one of --repo PATH or --global DIR"),
    };
    println!("installed {}", written.display());
    Ok(Exit::Clean)
}
