//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use leakgate_rules::Severity;

/// leakgate: stop leaked credentials at the git server.
#[derive(Debug, Parser)]
#[command(name = "leakgate", version, about, propagate_version = true)]
pub struct Cli {
    /// More logging (-v info, -vv debug); LEAKGATE_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scan files, directories, standard input or git history for secrets.
    Scan(ScanArgs),
    /// List or check rules.
    #[command(subcommand)]
    Rules(RulesCommand),
    /// The git pre-receive hook: reads `<old> <new> <ref>` lines on stdin (run by git).
    PreReceive,
    /// Create or upgrade the database schema (SQLite by default, or --database URL).
    Migrate(MigrateArgs),
    /// Install the pre-receive hook.
    #[command(subcommand)]
    Hook(HookCommand),
    /// Run the webhook service (GitHub App, GitLab, Gitea/Forgejo push events).
    Serve(ServeArgs),
    /// Revoke one leaked key through its provider's API; the key is read from standard input.
    /// Exit 0: revoked or already invalid; 1: failed or unsupported; 2: usage error.
    Revoke(RevokeArgs),
    /// Is a key live? One read-only call to its provider; the key is read from standard input.
    /// Exit 0: valid; 1: invalid, revoked, expired or a canary; 3: unknown or not checkable;
    /// 2: usage error.
    Validate(ValidateArgs),
    /// Waivers: known secrets that stop blocking, with a reason, an approver and an expiry.
    #[command(subcommand)]
    Waive(WaiveCommand),
    /// Delegated bypass: list, approve or reject the hook's bypass requests.
    #[command(subcommand)]
    Bypass(BypassCommand),
}

/// The database the exception commands work on.
#[derive(Debug, Args)]
pub struct DatabaseArg {
    /// `sqlite://PATH` or `postgres://...` (default: leakgate.db in the data directory; the
    /// hook's is `git config leakgate.database`).
    #[arg(long, env = "LEAKGATE_DATABASE__URL", value_name = "URL", global = true)]
    pub database: Option<String>,
}

/// `leakgate waive ...`.
#[derive(Debug, Subcommand)]
pub enum WaiveCommand {
    /// Add a waiver for one secret, by its fingerprint or a recorded finding.
    Add(WaiveAddArgs),
    /// List waivers (expired ones marked).
    List(WaiveListArgs),
    /// Remove a waiver (kept for the audit trail).
    Remove(WaiveRemoveArgs),
}

/// `leakgate waive add`.
#[derive(Debug, Args)]
pub struct WaiveAddArgs {
    /// The secret's fingerprint (as the hook, `scan` and the service print it).
    #[arg(
        long,
        value_name = "FP",
        required_unless_present = "finding",
        conflicts_with = "finding"
    )]
    pub fingerprint: Option<String>,
    /// A recorded finding's id: its fingerprint is waived.
    #[arg(long, value_name = "ID")]
    pub finding: Option<i64>,
    /// Why the secret may stay.
    #[arg(long)]
    pub reason: String,
    /// How long the waiver holds (`30d`, `12h`, `2w`).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub expires: std::time::Duration,
    /// Only in this repository (its path, as the hook names it); default: every repository.
    #[arg(long, value_name = "REPO")]
    pub repo: Option<String>,
    /// Only at paths matching this glob (`tests/**`); default: every path.
    #[arg(long, value_name = "GLOB")]
    pub path: Option<String>,
    /// Who approves it (default: $USER).
    #[arg(long = "as", value_name = "NAME")]
    pub approver: Option<String>,
    #[command(flatten)]
    pub db: DatabaseArg,
}

/// `leakgate waive list`.
#[derive(Debug, Args)]
pub struct WaiveListArgs {
    /// Only waivers that never let a finding through.
    #[arg(long)]
    pub unused: bool,
    /// Only expired waivers.
    #[arg(long)]
    pub expired: bool,
    #[command(flatten)]
    pub db: DatabaseArg,
}

/// `leakgate waive remove`.
#[derive(Debug, Args)]
pub struct WaiveRemoveArgs {
    /// The waiver's id.
    pub id: i64,
    /// Who removes it (default: $USER).
    #[arg(long = "as", value_name = "NAME")]
    pub by: Option<String>,
    #[command(flatten)]
    pub db: DatabaseArg,
}

/// `leakgate bypass ...`.
#[derive(Debug, Subcommand)]
pub enum BypassCommand {
    /// List bypass requests (newest first).
    List(BypassListArgs),
    /// Approve a request: its pusher may push the same secrets to the same repository.
    Approve(BypassDecideArgs),
    /// Reject a request, with a message for the pusher.
    Reject(BypassDecideArgs),
}

/// `leakgate bypass list`.
#[derive(Debug, Args)]
pub struct BypassListArgs {
    /// Only requests in this state.
    #[arg(long, value_parser = ["open", "approved", "rejected", "expired"])]
    pub state: Option<String>,
    #[command(flatten)]
    pub db: DatabaseArg,
}

/// `leakgate bypass approve|reject`.
#[derive(Debug, Args)]
pub struct BypassDecideArgs {
    /// The request's id.
    pub id: i64,
    /// A message for the pusher (required to reject).
    #[arg(long, short)]
    pub message: Option<String>,
    /// The reviewer (default: $USER); never the pusher who asked.
    #[arg(long = "as", value_name = "NAME")]
    pub reviewer: Option<String>,
    #[command(flatten)]
    pub db: DatabaseArg,
}

/// `leakgate revoke`.
#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// The provider (github, gitlab, aws, slack, google, npm, cloudflare, ...).
    #[arg(long, value_name = "NAME", conflicts_with_all = ["rule", "finding"])]
    pub provider: Option<String>,
    /// A finding the service recorded (its issue names it): revokes its secret from the
    /// encrypted material the service keeps while the revocation is pending (an approval
    /// under `policy = "manual"`); nothing is read from standard input.
    #[arg(long, value_name = "ID", conflicts_with_all = ["rule", "provider"])]
    pub finding: Option<i64>,
    /// The rule that found the key (its `revoke` field names the provider).
    #[arg(long, value_name = "RULE_ID")]
    pub rule: Option<String>,
    /// Say what would be done; send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// List the providers: what each needs, its API base and the rules whose keys it revokes.
    #[arg(long, conflicts_with_all = ["provider", "rule", "finding"])]
    pub list: bool,
    /// Configuration file (`[revoke]`, `[revoke.<provider>]`, and for `--finding` the
    /// database and `[keys]`).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// `leakgate validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The provider (github, gitlab, aws, slack, stripe, openai, ...).
    #[arg(long, value_name = "NAME", conflicts_with = "rule")]
    pub provider: Option<String>,
    /// The rule that found the key (picks the provider). For AWS give `ID` and `SECRET` on two
    /// lines.
    #[arg(long, value_name = "RULE_ID")]
    pub rule: Option<String>,
    /// List the validators: the call each makes and the rules whose keys it checks.
    #[arg(long, conflicts_with_all = ["provider", "rule"])]
    pub list: bool,
    /// Configuration file (`[validate]`, `[validate.<provider>]`, `[github]`, `[gitlab]`).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// `leakgate serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Configuration file (TOML; default: LEAKGATE_CONFIG, else /etc/leakgate/leakgate.toml
    /// when it exists). `LEAKGATE_SECTION__KEY` variables override it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// `leakgate migrate`.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// `sqlite://PATH` or `postgres://...` (default: leakgate.db in the data directory).
    #[arg(long, env = "LEAKGATE_DATABASE__URL", value_name = "URL")]
    pub database: Option<String>,
}

/// `leakgate hook ...`.
#[derive(Debug, Subcommand)]
pub enum HookCommand {
    /// Write the pre-receive hook into a repository or a server-wide hooks directory.
    Install(InstallArgs),
}

/// `leakgate hook install`.
#[derive(Debug, Args)]
pub struct InstallArgs {
    /// The repository (bare or not).
    #[arg(long, value_name = "PATH")]
    pub repo: Option<PathBuf>,
    /// A server-wide hooks directory instead (writes DIR/pre-receive).
    #[arg(long, value_name = "DIR", conflicts_with = "repo")]
    pub global: Option<PathBuf>,
    /// Where the platform runs hooks from: plain (hooks/pre-receive), gitlab
    /// (custom_hooks/pre-receive.d/), gitea (hooks/pre-receive.d/; also Forgejo).
    #[arg(long, default_value = "plain")]
    pub flavor: String,
    /// Overwrite a hook that leakgate did not write.
    #[arg(long)]
    pub force: bool,
    /// The leakgate binary the hook runs (default: this one).
    #[arg(long, value_name = "PATH")]
    pub binary: Option<PathBuf>,
}

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One line per finding, for people.
    Human,
    /// One JSON array.
    Json,
    /// One JSON object per line.
    Jsonl,
    /// SARIF 2.1.0, for code-scanning dashboards.
    Sarif,
}

/// Rule sources shared by `scan` and `rules`.
#[derive(Debug, Args)]
pub struct RuleArgs {
    /// Add rules from a leakgate rule file (repeatable).
    #[arg(long = "rules", value_name = "FILE")]
    pub rules: Vec<PathBuf>,
    /// Add rules and allowlists from a gitleaks configuration file (repeatable).
    #[arg(long = "gitleaks-config", value_name = "FILE")]
    pub gitleaks_config: Vec<PathBuf>,
    /// Do not load the built-in catalog (use only --rules / --gitleaks-config).
    #[arg(long)]
    pub no_builtin: bool,
}

/// `leakgate scan`.
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Files and directories to scan (recursive; `.git/` is skipped); `-` reads stdin.
    /// Defaults to the current directory.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Scan the history of this git repository instead of files.
    #[arg(long, value_name = "REPO", conflicts_with = "paths")]
    pub git: Option<PathBuf>,
    /// With --git: only commits in A..B (reachable from B, not from A).
    #[arg(long, value_name = "A..B", requires = "git", conflicts_with = "all")]
    pub range: Option<String>,
    /// With --git: every commit reachable from any ref (default: HEAD's history).
    #[arg(long, requires = "git")]
    pub all: bool,
    /// Output format.
    #[arg(long, short, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Include the plaintext secret in JSON/JSONL/SARIF output. Handle the output as a secret.
    #[arg(long)]
    pub reveal: bool,
    #[command(flatten)]
    pub rule_args: RuleArgs,
    /// Report only findings at or above this severity.
    #[arg(long, value_name = "SEVERITY", default_value = "low", value_parser = parse_severity)]
    pub min_severity: Severity,
    /// Worker threads (default: the number of CPUs).
    #[arg(long, short = 'j')]
    pub threads: Option<usize>,
    /// Scan files that look binary (a NUL in the first 8 KiB) with every rule; without it they
    /// get the distinctive rules and the generic ones of high severity.
    #[arg(long)]
    pub scan_binary: bool,
    /// Follow symbolic links (loops are detected and reported).
    #[arg(long)]
    pub follow_symlinks: bool,
    /// File holding the fingerprint key (default: LEAKGATE_FINGERPRINT_KEY, else a key
    /// generated once in leakgate's data directory).
    #[arg(long, value_name = "FILE")]
    pub fingerprint_key_file: Option<PathBuf>,
    /// Write the report to this file instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Project configuration (paths to skip, rules to disable or re-grade). Default: the
    /// `.leakgate.toml` of the scanned directory (one directory, or the current one) or of
    /// the repository's work tree with --git.
    #[arg(long, value_name = "FILE", conflicts_with = "no_config")]
    pub config: Option<PathBuf>,
    /// Ignore any `.leakgate.toml`.
    #[arg(long)]
    pub no_config: bool,
    /// Findings recorded in FILE are not reported again: a baseline written by
    /// `--write-baseline`, a gitleaks JSON report, or a `.gitleaksignore`.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Write this scan's findings to FILE as a baseline (fingerprints and locations, no
    /// secret) instead of reporting them; exit 0.
    #[arg(long, value_name = "FILE", conflicts_with = "baseline")]
    pub write_baseline: Option<PathBuf>,
    /// Waivers file (default: `.leakgate-waivers.toml` next to the project configuration).
    #[arg(long, value_name = "FILE", conflicts_with = "no_config")]
    pub waivers: Option<PathBuf>,
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    s.parse()
}

/// `leakgate rules ...`.
#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// List the rules (built-in and from files).
    List(ListArgs),
    /// Validate rule files and run their examples through the engine.
    Check(CheckArgs),
}

/// `leakgate rules list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub rule_args: RuleArgs,
    /// Output format (human or json).
    #[arg(long, short, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

/// `leakgate rules check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// leakgate rule files to check.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Minimum number of examples and of negative examples per rule.
    #[arg(long, default_value_t = 1)]
    pub min_examples: usize,
    /// Check the files on their own, not together with the built-in catalog (for checking
    /// the catalog's own files).
    #[arg(long)]
    pub no_builtin: bool,
}
