//! `scan --git --range` and the service's push scan checked against git, on the same random
//! DAGs as the hook's coverage test (issue 12): the blobs each scans are exactly those `git
//! rev-list --objects` lists for its range.

use leakgate_hooks::{scan_history, HistoryOptions, Selection};
use leakgate_rules::{FingerprintKey, RuleSet, ScanOptions};
use proptest::prelude::*;

#[path = "../../hooks/tests/coverage/dag.rs"]
mod dag;

use dag::{build, config, dag, rev_list_blobs, Dag, Res};

fn rules() -> &'static RuleSet {
    static RULES: std::sync::OnceLock<RuleSet> = std::sync::OnceLock::new();
    RULES.get_or_init(RuleSet::builtin)
}

fn history(scan: ScanOptions) -> HistoryOptions {
    HistoryOptions { scan, threads: 1, progress: None }
}

fn check(dag: &Dag) -> Res<()> {
    let b = build(dag)?;
    // One store: the push's repository, with the receiving one as alternate.
    let repo = b.quarantine.parent().ok_or("no parent")?;
    let commits: Vec<String> = b.tips[..dag.tips.len()].to_vec();
    let options = ScanOptions { scan_binary: true, ..ScanOptions::default() };

    // `leakgate scan --git REPO --range`: the tips over every existing ref.
    let mut revs: Vec<&str> = commits.iter().map(String::as_str).collect();
    revs.push("--not");
    revs.extend(b.refs.iter().map(String::as_str));
    let expected = rev_list_blobs(&b, &revs)?;
    let selection = Selection::Range { exclude: b.refs.clone(), include: commits.clone() };
    let stats =
        scan_history(repo, rules(), &selection, history(options), |_| {}, |w| panic!("{w}"))?;
    // Never fewer than git lists; more only under clock skew (see the hook's coverage test).
    // Both scans walk without a quarantine: gix's commit walk may break a tie between
    // commits of the same time either way (see hooks/tests/coverage), scanning more.
    let skew = dag.skewed() || dag.tied();
    let wrong = |n: u64, want: usize| n < want as u64 || (n > want as u64 && !skew);
    if wrong(stats.blobs, expected.len()) {
        return Err(format!(
            "scan --git --range: {} blobs, git lists {}",
            stats.blobs,
            expected.len()
        )
        .into());
    }

    // The service: one ref update, `before..after` (or everything, for a new ref).
    let after = &commits[0];
    let before = b.refs.first().cloned().unwrap_or_else(|| "0".repeat(40));
    let mut revs = vec![after.as_str()];
    if let Some(before) = b.refs.first() {
        revs.extend(["--not", before.as_str()]);
    }
    let expected = rev_list_blobs(&b, &revs)?;
    let key = FingerprintKey::new(b"oracle");
    let scanned = leakgate_server::mirror::scan_push(
        repo,
        ("refs/heads/main", &before, after, &[], true, false),
        rules(),
        &key,
        1,
        64 << 20,
        None,
        &[],
    )?;
    if wrong(scanned.stats.blobs, expected.len()) {
        return Err(format!(
            "service: {} blobs, git lists {}",
            scanned.stats.blobs,
            expected.len()
        )
        .into());
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(200))]

    #[test]
    fn range_and_service_scans_cover_what_git_lists(dag in dag()) {
        if let Err(e) = check(&dag) {
            prop_assert!(false, "{e}");
        }
    }
}
