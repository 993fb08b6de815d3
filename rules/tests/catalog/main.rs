//! The built-in catalog checked as a whole: Nosey Parker's `rules check`, run as a test.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;

use leakgate_rules::{check_examples, load_rule_file, RuleSet, RuleSetBuilder};

mod engine;

fn data_files() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("rules/data exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

/// Every rule file, loaded with its examples, compiled together.
pub fn catalog_with_examples() -> RuleSet {
    let mut builder = RuleSetBuilder::new();
    for file in data_files() {
        let rules = load_rule_file(&file).unwrap_or_else(|e| panic!("{e}"));
        builder =
            builder.rules(rules, &file.display().to_string()).unwrap_or_else(|e| panic!("{e}"));
    }
    builder.build()
}

/// The keyword gate's prefilter is a table of 4-grams: a keyword of 3 bytes stands for every
/// 4-gram it starts, and one such keyword (`-e `) cost the directory benchmark a fifth of
/// its CPU (session 29). Built-in keywords are 4 bytes or more.
#[test]
fn built_in_keywords_are_four_bytes_or_more() {
    let short: Vec<String> = RuleSet::builtin()
        .rules()
        .iter()
        .flat_map(|r| r.keywords().iter().map(move |k| (r.id(), k)))
        .filter(|(_, k)| k.len() < 4)
        .map(|(id, k)| format!("{id}: {k:?}"))
        .collect();
    assert!(short.is_empty(), "{short:?}");
}

#[test]
fn every_rule_finds_its_examples_and_none_of_its_negative_examples() {
    let set = catalog_with_examples();
    set.compile_all().expect("every regex compiles");
    let failures = check_examples(&set, None, 2);
    let report: Vec<String> = failures.iter().map(ToString::to_string).collect();
    assert!(report.is_empty(), "{} problems:\n{}", report.len(), report.join("\n"));
}

#[test]
fn catalog_has_at_least_200_rules_across_120_providers() {
    let set = catalog_with_examples();
    let providers: BTreeSet<&str> = set.rules().iter().map(|r| r.provider()).collect();
    assert!(set.rules().len() >= 200, "only {} rules", set.rules().len());
    assert!(providers.len() >= 120, "only {} providers", providers.len());
}

#[test]
fn each_provider_lives_in_its_own_file() {
    for file in data_files() {
        let stem = file.file_stem().and_then(|s| s.to_str()).expect("utf-8 file name").to_owned();
        for rule in load_rule_file(&file).unwrap_or_else(|e| panic!("{e}")) {
            assert_eq!(rule.provider(), stem, "rule {} in {}", rule.id(), file.display());
        }
    }
}

#[test]
fn embedded_catalog_matches_the_data_files() {
    let embedded = RuleSet::builtin();
    let files = catalog_with_examples();
    let ids = |s: &RuleSet| s.rules().iter().map(|r| r.id().to_owned()).collect::<Vec<_>>();
    assert_eq!(ids(&embedded), ids(&files));
    let mut seen = HashMap::new();
    for r in embedded.rules() {
        assert!(seen.insert(r.id().to_owned(), ()).is_none(), "duplicate id {}", r.id());
        assert!(!r.keywords().is_empty(), "rule {} has no keywords", r.id());
        assert!(r.keywords().iter().all(|k| k.len() >= 3), "rule {} has a short keyword", r.id());
    }
}
