//! `leakgate waive ...` and `leakgate bypass ...`: the exceptions a team grants, kept in the
//! database the hook and the service use. Every change is audited by the store.

use anyhow::{bail, Context, Result};
use leakgate_store::{Decision, NewWaiver, Store};

use crate::cli::{BypassCommand, DatabaseArg, WaiveCommand};
use crate::Exit;

fn with_store<T>(db: &DatabaseArg, call: impl AsyncFnOnce(Store) -> Result<T>) -> Result<T> {
    let url = match &db.database {
        Some(url) => url.clone(),
        None => crate::default_database_url()?,
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let store = Store::connect(&url)
            .await
            .with_context(|| format!("opening {}", leakgate_store::redact_url(&url)))?;
        call(store).await
    })
}

/// Who is acting: `--as`, else the OS user.
fn actor(given: Option<&String>) -> Result<String> {
    given
        .cloned()
        .or_else(|| std::env::var("USER").ok())
        .or_else(|| std::env::var("LOGNAME").ok())
        .filter(|n| !n.trim().is_empty())
        .context("say who you are with --as NAME")
}

fn date(ms: i64) -> String {
    let secs = u64::try_from(ms / 1000).unwrap_or(0);
    humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs))
        .to_string()
}

/// Text from the database shown on a terminal: control characters replaced.
fn shown(text: &str) -> String {
    crate::report::printable(text)
}

/// Runs `leakgate waive ...`.
///
/// # Errors
///
/// The database cannot be used, or the finding named does not exist.
pub fn waive(command: &WaiveCommand) -> Result<Exit> {
    match command {
        WaiveCommand::Add(args) => {
            let approved_by = actor(args.approver.as_ref())?;
            if args.reason.trim().is_empty() {
                bail!("--reason must say why the secret may stay");
            }
            if let Some(glob) = &args.path {
                globset::Glob::new(glob).with_context(|| format!("--path {glob:?}"))?;
            }
            let id = with_store(&args.db, async |store| {
                let fingerprint = match (&args.fingerprint, args.finding) {
                    (Some(fp), _) => fp.trim().to_owned(),
                    (None, Some(id)) => {
                        store
                            .finding(id)
                            .await?
                            .with_context(|| format!("no finding {id}"))?
                            .fingerprint
                    }
                    (None, None) => bail!("give --fingerprint or --finding"),
                };
                let waiver = NewWaiver {
                    fingerprint,
                    repo: args.repo.clone(),
                    path_glob: args.path.clone(),
                    reason: args.reason.clone(),
                    approved_by,
                    lasts: args.expires,
                };
                Ok(store.add_waiver(&waiver).await?)
            })?;
            println!(
                "waiver {id} added, until {}",
                date(leakgate_store::now_ms() + expires_ms(args.expires))
            );
            Ok(Exit::Clean)
        }
        WaiveCommand::List(args) => {
            let waivers = with_store(&args.db, async |store| Ok(store.waivers().await?))?;
            let now = leakgate_store::now_ms();
            for w in waivers {
                if (args.unused && w.uses > 0) || (args.expired && !w.expired(now)) {
                    continue;
                }
                let state = if w.expired(now) { "expired" } else { "in force" };
                println!(
                    "{:>5}  {}  {state} until {}  uses {}  repo {}  path {}  approved by {}: {}",
                    w.id,
                    w.fingerprint,
                    date(w.expires_at),
                    w.uses,
                    shown(w.repo.as_deref().unwrap_or("*")),
                    shown(w.path_glob.as_deref().unwrap_or("*")),
                    shown(&w.approved_by),
                    shown(&w.reason),
                );
            }
            Ok(Exit::Clean)
        }
        WaiveCommand::Remove(args) => {
            let by = actor(args.by.as_ref())?;
            let removed =
                with_store(&args.db, async |store| Ok(store.remove_waiver(args.id, &by).await?))?;
            if removed {
                println!("waiver {} removed", args.id);
                Ok(Exit::Clean)
            } else {
                eprintln!("leakgate: no waiver {} in force", args.id);
                Ok(Exit::Findings)
            }
        }
    }
}

fn expires_ms(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2)
}

/// Runs `leakgate bypass ...`.
///
/// # Errors
///
/// The database cannot be used.
pub fn bypass(command: &BypassCommand) -> Result<Exit> {
    match command {
        BypassCommand::List(args) => {
            let requests = with_store(&args.db, async |store| {
                Ok(store.bypass_requests(args.state.as_deref()).await?)
            })?;
            let now = leakgate_store::now_ms();
            for r in requests {
                println!(
                    "{:>5}  {}  {}  pusher {}  opened {}  until {}{}",
                    r.id,
                    r.state_at(now),
                    shown(&r.repo),
                    shown(&r.pusher),
                    date(r.created_at),
                    date(r.expires_at),
                    r.reviewer
                        .as_deref()
                        .map(|who| format!(
                            "  by {}: {}",
                            shown(who),
                            shown(r.message.as_deref().unwrap_or(""))
                        ))
                        .unwrap_or_default(),
                );
                let findings: Vec<serde_json::Value> =
                    serde_json::from_str(&r.summary).unwrap_or_default();
                for f in findings {
                    let field = |k: &str| match &f[k] {
                        serde_json::Value::String(s) => shown(s),
                        other => other.to_string(),
                    };
                    println!(
                        "         {}  {}:{}  {} ({})  {}",
                        field("commit").chars().take(12).collect::<String>(),
                        field("path"),
                        field("line"),
                        field("rule_id"),
                        field("severity"),
                        field("redacted"),
                    );
                }
            }
            Ok(Exit::Clean)
        }
        BypassCommand::Approve(args) | BypassCommand::Reject(args) => {
            let approve = matches!(command, BypassCommand::Approve(_));
            let reviewer = actor(args.reviewer.as_ref())?;
            let message = args.message.clone().unwrap_or_default();
            if !approve && message.trim().is_empty() {
                bail!("say why with --message: the pusher sees it");
            }
            let decision = with_store(&args.db, async |store| {
                Ok(store.decide_bypass_request(args.id, approve, &reviewer, &message).await?)
            })?;
            match decision {
                Decision::Done(r) => {
                    println!("bypass request {} {} by {}", r.id, r.state, shown(&reviewer));
                    Ok(Exit::Clean)
                }
                Decision::NotFound => {
                    eprintln!("leakgate: no bypass request {}", args.id);
                    Ok(Exit::Findings)
                }
                Decision::NotOpen(state) => {
                    eprintln!("leakgate: bypass request {} is {state}, not open", args.id);
                    Ok(Exit::Findings)
                }
                Decision::OwnRequest => {
                    eprintln!(
                        "leakgate: {} opened bypass request {}: someone else must review it",
                        shown(&reviewer),
                        args.id
                    );
                    Ok(Exit::Findings)
                }
            }
        }
    }
}
