//! The built-in catalog, embedded at build time from `rules/data/*.toml`.

use crate::load::rule_from_spec;
use crate::rule::{Rule, RuleSpec};

static CATALOG_JSON: &str = include_str!(concat!(env!("OUT_DIR"), "/catalog.json"));

/// The built-in rules, without their examples (the test suite reads those from
/// `rules/data/`). Regexes compile lazily, on their first keyword hit.
pub fn builtin() -> Vec<Rule> {
    let specs: Vec<RuleSpec> =
        serde_json::from_str(CATALOG_JSON).expect("build.rs writes the catalog as valid JSON");
    specs
        .into_iter()
        .map(|spec| {
            rule_from_spec(spec, false).expect("the built-in catalog is checked by its test suite")
        })
        .collect()
}
