//! Keys that vendors print in their documentation. They are copied into READMEs, tutorials
//! and tests everywhere, are not anyone's credential, and never block a push or make a
//! finding: a match whose secret is exactly one of these is dropped by every rule.
//!
//! Exact values only (a key that differs in one character is scanned as usual), each as
//! published by its vendor.

const EXAMPLES: &[&str] = &[
    // AWS IAM and SigV4 documentation.
    "AKIAIOSFODNN7EXAMPLE",
    "AKIAI44QH8DHBEXAMPLE",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",
    // GitHub's documentation of personal access tokens.
    "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
    // GitHub's REST API reference: a repository's `temp_clone_token`, a runner registration
    // token (API clients' test fixtures copy the responses whole).
    "ABTLWHOULUVAXGTRYU7OC2876QJ2O",
    "LLBF3JGZDX3P5PMEXLND6TS6FCWO6",
    // Stripe's API reference (test mode).
    "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
    "pk_test_TYooMQauvdEDq54NiTphI7jx",
    "sk_test_BQokikJOvBiI2HlWgH4olfQ2",
    // Slack's OAuth documentation.
    "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy",
    // Google Maps Platform documentation.
    "AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe",
    // jwt.io's default token (HS256, secret `your-256-bit-secret`).
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
];

/// Whether `secret` is a vendor's documentation example.
pub(crate) fn is_documentation_example(secret: &[u8]) -> bool {
    EXAMPLES.iter().any(|e| e.as_bytes() == secret)
}

#[cfg(test)]
mod tests {
    use crate::{RuleSet, ScanOptions, Source};

    fn rules_found(rules: &RuleSet, text: &str) -> Vec<String> {
        let mut scanner = rules.scanner(ScanOptions::default());
        let mut found = Vec::new();
        scanner
            .scan_bytes(text.as_bytes(), Source::default(), |m| found.push(m.rule.id().to_owned()));
        found
    }

    #[test]
    fn documentation_examples_make_no_finding_and_a_changed_one_does() {
        let rules = RuleSet::builtin();
        for example in super::EXAMPLES {
            let text = format!("key = \"{example}\"\n");
            assert_eq!(rules_found(&rules, &text), Vec::<String>::new(), "{example}");
        }
        let aws = "[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\n\
                   aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n";
        assert_eq!(rules_found(&rules, aws), Vec::<String>::new());
        // One character changed: not the example any more.
        let changed = aws
            .replace("bPxRfiCYEXAMPLEKEY", "bPxRfiCYEXAMPLEKEZ")
            .replace("EXAMPLE\n", "EXAMPLF\n");
        assert!(!rules_found(&rules, &changed).is_empty(), "{changed}");
    }
}
