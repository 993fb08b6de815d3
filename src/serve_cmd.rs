//! `leakgate serve`: the webhook service.

use std::path::PathBuf;

use anyhow::Result;

use crate::cli::ServeArgs;
use crate::hook_cmd::SYSTEM_CONFIG;
use crate::{keys, Exit};

/// The configuration file: `--config`, else `LEAKGATE_CONFIG`, else the system file when it
/// exists, else none (defaults and environment only).
pub fn config_file(given: Option<&std::path::Path>) -> Option<PathBuf> {
    given
        .map(std::path::Path::to_path_buf)
        .or_else(|| std::env::var_os("LEAKGATE_CONFIG").map(PathBuf::from))
        .or_else(|| Some(PathBuf::from(SYSTEM_CONFIG)).filter(|p| p.exists()))
}

/// Runs the service until SIGTERM/SIGINT.
///
/// # Errors
///
/// Bad configuration, an unreachable database, an address in use.
pub fn run(args: &ServeArgs) -> Result<Exit> {
    let file = config_file(args.config.as_deref());
    let config = leakgate_server::Config::load(file.as_deref())?.resolve_files()?;
    let data_dir = keys::data_dir()?;
    let database_url = match config.database.url.as_ref().filter(|u| u.is_set()) {
        Some(url) => url.expose().to_owned(),
        None => crate::default_database_url()?,
    };
    let key = keys::fingerprint_key(config.keys.fingerprint_key_file.as_deref())?;
    let secret_key = keys::encryption_key(config.keys.encryption_key_file.as_deref())?;
    let rules = crate::rules_cmd::build_rule_set(&crate::cli::RuleArgs {
        rules: config.scan.rules.clone(),
        gitleaks_config: Vec::new(),
        no_builtin: false,
    })?;
    let mirror_root = config.server.mirror_dir.clone().unwrap_or_else(|| data_dir.join("mirrors"));
    let spool_dir = config.server.spool_dir.clone().unwrap_or_else(|| data_dir.join("spool"));
    let source = match &file {
        Some(path) => format!("configuration {}", path.display()),
        None => "no configuration file: defaults and LEAKGATE_* environment".to_owned(),
    };
    let database = leakgate_store::redact_url(&database_url);
    let workers = config.server.workers;
    let on_listen = Box::new(move |addrs: &[std::net::SocketAddr]| {
        for addr in addrs {
            // Operators and tests read this line for the bound address (port 0 picks one).
            println!("leakgate serve: listening on http://{addr}");
        }
        println!("leakgate serve: {source}; database {database}; {workers} job worker(s)");
    });
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(leakgate_server::serve(leakgate_server::Options {
        config,
        rules,
        key,
        secret_key,
        database_url,
        mirror_root,
        spool_dir,
        on_listen,
    }))?;
    Ok(Exit::Clean)
}
