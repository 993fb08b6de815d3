//! The `leakgate` binary's library: command dispatch, filesystem scanning and reports.
//!
//! The engine lives in `leakgate-rules`, git in `leakgate-hooks`; this crate wires them to a
//! command line and decides exit codes.
#![forbid(unsafe_code)]

pub mod baseline;
pub mod cli;
pub mod exceptions_cmd;
pub mod hook_cmd;
pub mod keys;
pub mod report;
pub mod revoke_cmd;
pub mod rules_cmd;
pub mod scan;
pub mod serve_cmd;
pub mod telemetry;
pub mod validate_cmd;

use std::process::ExitCode;

use anyhow::Result;

/// Exit statuses, decided here and nowhere else.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// No findings (or a check passed).
    Clean = 0,
    /// Findings (or a check failed).
    Findings = 1,
    /// Bad usage, bad configuration, or a scan that could not run.
    Error = 2,
    /// `validate`: no answer that tells whether the key is live.
    Unknown = 3,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit as u8)
    }
}

/// The default database: `leakgate.db` in the data directory.
///
/// # Errors
///
/// No data directory can be determined.
pub fn default_database_url() -> Result<String> {
    let dir = keys::data_dir()?;
    std::fs::create_dir_all(&dir)?;
    Ok(format!("sqlite://{}", dir.join("leakgate.db").display()))
}

/// `leakgate migrate`: applies pending migrations and says where the database stands.
fn migrate(args: &cli::MigrateArgs) -> Result<Exit> {
    let url = match &args.database {
        Some(url) => url.clone(),
        None => default_database_url()?,
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let store = leakgate_store::Store::connect(&url).await?;
        println!("{} database {} is up to date", store.backend(), leakgate_store::redact_url(&url));
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(Exit::Clean)
}

/// Runs one command.
///
/// # Errors
///
/// Anything that stops the command from running at all; problems with single inputs are
/// reported as warnings and the command goes on.
pub fn run(cli: cli::Cli) -> Result<Exit> {
    match cli.command {
        cli::Command::Scan(args) => scan::run(&args),
        cli::Command::Rules(cli::RulesCommand::List(args)) => rules_cmd::list(&args),
        cli::Command::Rules(cli::RulesCommand::Check(args)) => rules_cmd::check(&args),
        cli::Command::PreReceive => hook_cmd::pre_receive_cmd(),
        cli::Command::Migrate(args) => migrate(&args),
        cli::Command::Hook(cli::HookCommand::Install(args)) => hook_cmd::install_cmd(&args),
        cli::Command::Serve(args) => serve_cmd::run(&args),
        cli::Command::Revoke(args) => revoke_cmd::run(&args),
        cli::Command::Validate(args) => validate_cmd::run(&args),
        cli::Command::Waive(command) => exceptions_cmd::waive(&command),
        cli::Command::Bypass(command) => exceptions_cmd::bypass(&command),
    }
}
