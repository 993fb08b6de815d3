//! `leakgate revoke`: revoke one key by hand. The secret is read from standard input, never
//! from the command line (where `ps` and shell history would show it).

use std::io::Read;

use anyhow::{bail, Context, Result};
use leakgate_server::revoke::run::{approve, Approval, Revoker, Step};
use leakgate_server::revoke::{self, provider, Outcome};
use leakgate_store::Store;

use crate::cli::RevokeArgs;
use crate::Exit;

/// Largest secret accepted on stdin.
const MAX_SECRET: u64 = 64 << 10;

/// The secret on standard input (at most 64 KiB, wiped when dropped); `None`, after saying
/// so, when there is none.
///
/// # Errors
///
/// Standard input cannot be read.
pub fn read_secret() -> Result<Option<zeroize::Zeroizing<Vec<u8>>>> {
    let mut secret = zeroize::Zeroizing::new(Vec::new());
    std::io::stdin()
        .lock()
        .take(MAX_SECRET)
        .read_to_end(&mut secret)
        .context("reading the secret from standard input")?;
    if secret.trim_ascii().is_empty() {
        eprintln!(
            "leakgate: no secret on standard input (pipe it in: the command line would expose it)"
        );
        return Ok(None);
    }
    Ok(Some(secret))
}

/// Revokes the key on stdin; prints one line with the outcome.
///
/// # Errors
///
/// Bad configuration; usage errors are reported with [`Exit::Error`].
pub fn run(args: &RevokeArgs) -> Result<Exit> {
    let config = leakgate_server::Config::load(
        crate::serve_cmd::config_file(args.config.as_deref()).as_deref(),
    )?
    .resolve_files()?;
    if args.list {
        let rules = crate::rules_cmd::build_rule_set(&crate::cli::RuleArgs {
            rules: config.scan.rules.clone(),
            gitleaks_config: Vec::new(),
            no_builtin: false,
        })?;
        for p in revoke::PROVIDERS {
            let ids: Vec<&str> = rules
                .rules()
                .iter()
                .filter(|r| r.revoke() == Some(p.name))
                .map(|r| r.id())
                .collect();
            let settings = config.revoke.provider(p.name);
            println!(
                "{:<13} policy {:<6} {}; needs {}; rules: {}",
                p.name,
                format!("{:?}", settings.policy).to_lowercase(),
                revoke::base_url(p, &settings),
                p.needs,
                if ids.is_empty() { "none".to_owned() } else { ids.join(", ") }
            );
        }
        return Ok(Exit::Clean);
    }
    if let Some(id) = args.finding {
        return finding(&config, id, args.dry_run);
    }
    let name = match (&args.provider, &args.rule) {
        (Some(name), None) => name.clone(),
        (None, Some(rule_id)) => {
            let rules = crate::rules_cmd::build_rule_set(&crate::cli::RuleArgs {
                rules: config.scan.rules.clone(),
                gitleaks_config: Vec::new(),
                no_builtin: false,
            })?;
            let Some(rule) = rules.rules().iter().find(|r| r.id() == rule_id.as_str()) else {
                eprintln!("leakgate: no rule {rule_id}");
                return Ok(Exit::Error);
            };
            let Some(name) = rule.revoke() else {
                println!("unsupported: rule {rule_id} names no revocation provider");
                return Ok(Exit::Findings);
            };
            name.to_owned()
        }
        _ => bail!("give exactly one of --provider NAME, --rule RULE_ID or --finding ID"),
    };
    let Some(provider) = provider(&name) else {
        let known: Vec<&str> = revoke::PROVIDERS.iter().map(|p| p.name).collect();
        eprintln!("leakgate: unknown provider {name} (known: {})", known.join(", "));
        return Ok(Exit::Error);
    };
    let Some(secret) = read_secret()? else { return Ok(Exit::Error) };
    let trimmed = secret.trim_ascii();
    let settings = config.revoke.provider(provider.name);
    let base = settings.api_url.clone().unwrap_or_else(|| provider.default_base.to_owned());
    if args.dry_run || config.revoke.dry_run {
        println!("dry run: would revoke a {} key ({}) at {base}", provider.name, provider.needs);
        return Ok(Exit::Clean);
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let attempt = runtime.block_on(revoke::revoke(
        provider,
        trimmed,
        &settings,
        base,
        config.revoke.timeout(),
    ));
    println!("{}: {} ({})", attempt.outcome.as_str(), provider.name, attempt.summary);
    Ok(match attempt.outcome {
        Outcome::Revoked | Outcome::AlreadyInvalid => Exit::Clean,
        _ => Exit::Findings,
    })
}

/// `--finding ID`: approves and sends the revocation of a recorded finding's secret now,
/// from the encrypted material; the service writes the outcome into the issue.
fn finding(config: &leakgate_server::Config, id: i64, dry_run: bool) -> Result<Exit> {
    let url = match config.database.url.as_ref().filter(|u| u.is_set()) {
        Some(url) => url.expose().to_owned(),
        None => crate::default_database_url()?,
    };
    let key = crate::keys::encryption_key(config.keys.encryption_key_file.as_deref())?;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let store = Store::connect(&url).await?;
        if dry_run || config.revoke.dry_run {
            let Some(found) = store.finding(id).await? else {
                eprintln!("leakgate: no finding {id} in {}", leakgate_store::redact_url(&url));
                return Ok(Exit::Error);
            };
            let provider = match store.revocation(&found.fingerprint).await? {
                Some(row) => row.provider,
                None => "no provider".into(),
            };
            println!("dry run: would revoke finding {id} ({}) via {provider}", found.redacted);
            return Ok(Exit::Clean);
        }
        let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
        let row = match approve(&store, &config.revoke, id, &user).await? {
            Approval::NoFinding => {
                eprintln!("leakgate: no finding {id} in {}", leakgate_store::redact_url(&url));
                return Ok(Exit::Error);
            }
            Approval::NoRevocation { rule_id } => {
                println!("unsupported: no provider revokes finding {id} (rule {rule_id})");
                return Ok(Exit::Findings);
            }
            Approval::Off { provider } => {
                println!("off: [revoke.{provider}] policy is off");
                return Ok(Exit::Findings);
            }
            Approval::Settled(row) => {
                println!("{}: {} ({})", row.state, row.provider, row.summary);
                return Ok(if row.state == leakgate_store::RevocationState::Unsupported { Exit::Findings } else { Exit::Clean });
            }
            Approval::NoMaterial(row) => {
                println!(
                    "{}: the key's encrypted material is gone; pipe the key to `leakgate revoke --provider {}`",
                    row.state, row.provider
                );
                return Ok(Exit::Findings);
            }
            Approval::Queued(row) => row,
        };
        // Send it now rather than wait for the service; the queued job then finds it
        // settled and writes the outcome into the issue (or retries a retryable failure).
        let worker = format!("cli:{user}:{}", std::process::id());
        let revoker = Revoker {
            store: &store,
            key: &key,
            config: &config.revoke,
            metrics: None,
            worker: &worker,
        };
        let lease = std::time::Duration::from_secs(120);
        let provider = row.provider;
        let mut waited = false;
        let step = loop {
            match revoker.run(&row.fingerprint, lease).await? {
                // Pacing or the service sending it: wait once, briefly.
                Step::Later(delay, why) if !waited && delay.as_secs() <= 90 => {
                    eprintln!("leakgate: waiting {} s: {why}", delay.as_secs().max(1));
                    tokio::time::sleep(delay).await;
                    waited = true;
                }
                step => break step,
            }
        };
        Ok(match step {
            Step::Settled(row) => {
                println!("{}: {provider} ({})", row.state, row.summary);
                if matches!(row.state.as_str(), "revoked" | "already_invalid") {
                    Exit::Clean
                } else {
                    Exit::Findings
                }
            }
            Step::Later(_, why) | Step::Retry(why) => {
                println!("failed_retryable: {provider} ({why}); queued: the service retries it");
                Exit::Findings
            }
            Step::Missing => {
                println!("unsupported: no revocation for finding {id}");
                Exit::Findings
            }
        })
    })
}
