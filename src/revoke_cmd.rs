//! `leakgate revoke`: revoke one key by hand. The secret is read from standard input, never
//! from the command line (where `ps` and shell history would show it).

use std::io::Read;

use anyhow::{bail, Context, Result};
use leakgate_server::revoke::{self, provider, Outcome};

use crate::cli::RevokeArgs;
use crate::Exit;

/// Largest secret accepted on stdin.
const MAX_SECRET: u64 = 64 << 10;

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
        _ => bail!("give exactly one of --provider NAME or --rule RULE_ID"),
    };
    let Some(provider) = provider(&name) else {
        let known: Vec<&str> = revoke::PROVIDERS.iter().map(|p| p.name).collect();
        eprintln!("leakgate: unknown provider {name} (known: {})", known.join(", "));
        return Ok(Exit::Error);
    };
    let mut secret = zeroize::Zeroizing::new(Vec::new());
    std::io::stdin()
        .lock()
        .take(MAX_SECRET)
        .read_to_end(&mut secret)
        .context("reading the secret from standard input")?;
    let trimmed = secret.trim_ascii();
    if trimmed.is_empty() {
        eprintln!(
            "leakgate: no secret on standard input (pipe it in: the command line would expose it)"
        );
        return Ok(Exit::Error);
    }
    let settings = config.revoke.provider(provider.name);
    let base = settings.api_url.clone().unwrap_or_else(|| provider.default_base.to_owned());
    if args.dry_run || config.revoke.dry_run {
        println!("dry run: would revoke a {} key ({}) at {base}", provider.name, provider.needs);
        return Ok(Exit::Clean);
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let attempt =
        runtime.block_on(revoke::revoke(provider, trimmed, &settings, config.revoke.timeout()));
    println!("{}: {} ({})", attempt.outcome.as_str(), provider.name, attempt.summary);
    Ok(match attempt.outcome {
        Outcome::Revoked | Outcome::AlreadyInvalid => Exit::Clean,
        _ => Exit::Findings,
    })
}
