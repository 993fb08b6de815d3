//! `leakgate rules list|check`, and building the rule set every command uses.

use std::io::Write;

use anyhow::{Context, Result};
use leakgate_rules::{
    check_examples, load_gitleaks_config, load_rule_file, ProjectConfig, RuleSet, RuleSetBuilder,
};

use crate::cli::{CheckArgs, Format, ListArgs, RuleArgs};
use crate::Exit;

/// The built-in catalog plus the user's rule files and gitleaks configurations.
///
/// # Errors
///
/// A rule file that cannot be read or parsed, or an id defined twice.
pub fn build_rule_set(args: &RuleArgs) -> Result<RuleSet> {
    build_with_project(args, None)
}

/// As [`build_rule_set`], then the project configuration's rule settings and skipped paths.
///
/// # Errors
///
/// As [`build_rule_set`], and a project configuration naming a rule that does not exist.
pub fn build_with_project(args: &RuleArgs, project: Option<&ProjectConfig>) -> Result<RuleSet> {
    let mut builder = RuleSetBuilder::new();
    if !args.no_builtin {
        builder = builder.builtin();
    }
    for path in &args.rules {
        let rules = load_rule_file(path)?;
        builder = builder.rules(rules, &path.display().to_string())?;
    }
    for path in &args.gitleaks_config {
        let config = load_gitleaks_config(path)?;
        for (id, why) in &config.skipped {
            tracing::warn!("{}: rule {id} skipped: {why}", path.display());
        }
        builder = builder.gitleaks(config, &path.display().to_string())?;
    }
    if let Some(project) = project {
        project.apply(&mut builder)?;
    }
    Ok(builder.build())
}

/// `leakgate rules list`.
///
/// # Errors
///
/// Rules that do not load, or a failed write.
pub fn list(args: &ListArgs) -> Result<Exit> {
    let set = build_rule_set(&args.rule_args)?;
    let mut out = std::io::stdout().lock();
    if args.format == Format::Human {
        for r in set.rules() {
            writeln!(
                out,
                "{:<45} {:<20} {:<8} {}",
                r.id(),
                r.provider(),
                r.severity(),
                r.description()
            )?;
        }
        let providers: std::collections::BTreeSet<_> =
            set.rules().iter().map(|r| r.provider()).collect();
        writeln!(
            out,
            "{} rules, {} providers, {} keywords",
            set.rules().len(),
            providers.len(),
            set.keyword_count()
        )?;
    } else {
        let all: Vec<_> = set.rules().iter().map(|r| r.spec()).collect();
        serde_json::to_writer_pretty(&mut out, &all)?;
        writeln!(out)?;
    }
    Ok(Exit::Clean)
}

/// `leakgate rules check FILE...`: each file loads, compiles together with the built-in
/// catalog (unless `--no-builtin`), and every rule finds its examples and none of its negative examples.
///
/// # Errors
///
/// Only failures to write; problems with the files are reported and give exit status 1.
pub fn check(args: &CheckArgs) -> Result<Exit> {
    let mut builder = RuleSetBuilder::new();
    if !args.no_builtin {
        builder.add_builtin();
    }
    let mut problems = 0usize;
    let mut ids = Vec::new();
    for path in &args.files {
        let loaded = load_rule_file(path).and_then(|rules| {
            ids.extend(rules.iter().map(|r| r.id().to_owned()));
            builder.add_rules(rules, &path.display().to_string())
        });
        if let Err(e) = loaded {
            eprintln!("{}: {e:#}", path.display());
            problems += 1;
        }
    }
    let set = builder.build();
    for failure in check_examples(&set, Some(&ids), args.min_examples) {
        eprintln!("{failure}");
        problems += 1;
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "{} rules checked, {problems} problems", ids.len())
        .context("writing to stdout")?;
    Ok(if problems == 0 { Exit::Clean } else { Exit::Findings })
}
