//! Running rules' own examples through the real engine (`leakgate rules check`, the catalog
//! test): every example is found by its rule, no negative example is.

use std::fmt;

use crate::engine::{RuleSet, ScanOptions, Source};

/// One way a rule fails its own examples.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// Fewer examples than required.
    TooFewExamples(usize),
    /// Fewer negative examples than required.
    TooFewNegativeExamples(usize),
    /// Example `n` contains none of the rule's keywords, so the gate can never open for it.
    ExampleMissesKeywords(usize),
    /// Example `n` is not found by the rule.
    ExampleNotFound(usize),
    /// Negative example `n` is found by the rule.
    NegativeExampleFound(usize),
    /// The rule has no keyword (only gitleaks imports may run ungated).
    NoKeywords,
}

/// A rule and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The rule.
    pub rule_id: String,
    /// What is wrong.
    pub problem: Problem,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let id = &self.rule_id;
        match self.problem {
            Problem::TooFewExamples(n) => write!(f, "rule {id}: needs at least {n} examples"),
            Problem::TooFewNegativeExamples(n) => {
                write!(f, "rule {id}: needs at least {n} negative examples")
            }
            Problem::ExampleMissesKeywords(i) => {
                write!(f, "rule {id}: example {i} contains none of the rule's keywords")
            }
            Problem::ExampleNotFound(i) => write!(f, "rule {id}: example {i} is not found"),
            Problem::NegativeExampleFound(i) => {
                write!(f, "rule {id}: negative example {i} is found")
            }
            Problem::NoKeywords => write!(f, "rule {id}: has no keywords"),
        }
    }
}

/// Checks the rules of `set` named in `ids` (all rules when `None`; the embedded catalog
/// carries no examples, so pass the ids of rules loaded from files). `min_examples` applies
/// to both kinds of example.
pub fn check_examples(set: &RuleSet, ids: Option<&[String]>, min_examples: usize) -> Vec<Failure> {
    let options = ScanOptions {
        scan_binary: true,
        collapse: false,
        report_all: true,
        ..ScanOptions::default()
    };
    let mut scanner = set.scanner(options);
    let mut failures = Vec::new();
    for rule in set.rules() {
        if ids.is_some_and(|ids| !ids.iter().any(|id| id == rule.id())) {
            continue;
        }
        let spec = rule.spec();
        let mut fail = |problem| failures.push(Failure { rule_id: spec.id.clone(), problem });
        if spec.keywords.is_empty() {
            fail(Problem::NoKeywords);
        }
        if spec.examples.len() < min_examples {
            fail(Problem::TooFewExamples(min_examples));
        }
        if spec.negative_examples.len() < min_examples {
            fail(Problem::TooFewNegativeExamples(min_examples));
        }
        let mut found_by_rule = |text: &str| {
            let mut found = false;
            scanner.scan_bytes(text.as_bytes(), Source::default(), |m| {
                found |= m.rule.id() == spec.id;
            });
            found
        };
        for (i, example) in spec.examples.iter().enumerate() {
            let lower = example.to_ascii_lowercase();
            if !spec.keywords.iter().any(|k| lower.contains(&k.to_ascii_lowercase())) {
                fail(Problem::ExampleMissesKeywords(i));
            }
            if !found_by_rule(example) {
                fail(Problem::ExampleNotFound(i));
            }
        }
        for (i, example) in spec.negative_examples.iter().enumerate() {
            if found_by_rule(example) {
                fail(Problem::NegativeExampleFound(i));
            }
        }
    }
    failures
}
