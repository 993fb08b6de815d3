//! The rule loaders on arbitrary text: leakgate rule files and gitleaks configurations must
//! load or return an error, never panic.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(rules) = leakgate_rules::parse_rule_file(text, Path::new("fuzz.toml")) {
        let set = leakgate_rules::RuleSetBuilder::new().rules(rules, "fuzz.toml").map(|b| b.build());
        if let Ok(set) = set {
            let _ = leakgate_rules::check_examples(&set, None, 0);
        }
    }
    let _ = leakgate_rules::parse_gitleaks_config(text, Path::new("fuzz-gitleaks.toml"));
});
