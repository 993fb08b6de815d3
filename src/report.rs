//! Reports: human lines, JSON, JSONL and SARIF 2.1.0.

use std::collections::BTreeMap;
use std::io::Write;

use anyhow::Result;
use leakgate_rules::{Finding, RuleSet, Severity};
use serde_json::{json, Value};
use serde_sarif::sarif;

use crate::cli::Format;

/// Writes `findings` (sorted by path, line, column) in `format`.
///
/// # Errors
///
/// Writing to `out` fails.
pub fn write(
    out: &mut dyn Write,
    format: Format,
    findings: &[Finding],
    rules: &RuleSet,
    reveal: bool,
) -> Result<()> {
    match format {
        Format::Human => {
            for f in findings {
                writeln!(out, "{}", human_line(f))?;
            }
        }
        Format::Json => {
            let all: Vec<Value> = findings.iter().map(|f| finding_json(f, reveal)).collect();
            serde_json::to_writer_pretty(&mut *out, &all)?;
            writeln!(out)?;
        }
        Format::Jsonl => {
            for f in findings {
                serde_json::to_writer(&mut *out, &finding_json(f, reveal))?;
                writeln!(out)?;
            }
        }
        Format::Sarif => {
            serde_json::to_writer_pretty(&mut *out, &sarif_log(findings, rules, reveal))?;
            writeln!(out)?;
        }
    }
    out.flush()?;
    Ok(())
}

/// `path:line:column: severity rule-id redacted [commit abc1234]`, with control characters
/// of the path replaced so that a file name cannot forge terminal output.
pub fn human_line(f: &Finding) -> String {
    let mut line = format!(
        "{}:{}:{}: {} {} {}",
        printable(&f.path),
        f.line,
        f.column,
        f.severity,
        f.rule_id,
        f.redacted
    );
    if let Some(commit) = &f.commit {
        line.push_str(" commit ");
        line.push_str(&commit[..commit.len().min(12)]);
    }
    if f.checksum_valid {
        line.push_str(" (checksum valid)");
    }
    line
}

/// Replaces control characters (ANSI escapes, newlines) with `?`.
pub fn printable(text: &str) -> String {
    text.chars().map(|c| if leakgate_rules::is_hidden(c) { '?' } else { c }).collect()
}

/// A finding as one JSON object; `secret` only when revealing.
pub fn finding_json(f: &Finding, reveal: bool) -> Value {
    let mut value = serde_json::to_value(f).expect("findings serialise to JSON");
    if reveal {
        value["secret"] = Value::String(String::from_utf8_lossy(f.secret.expose()).into_owned());
    }
    value
}

fn level(severity: Severity) -> sarif::ResultLevel {
    match severity {
        Severity::Critical | Severity::High => sarif::ResultLevel::Error,
        Severity::Medium => sarif::ResultLevel::Warning,
        Severity::Low => sarif::ResultLevel::Note,
    }
}

/// A SARIF 2.1.0 log with one run; rules are those that produced findings.
pub fn sarif_log(findings: &[Finding], rules: &RuleSet, reveal: bool) -> sarif::Sarif {
    let mut used: BTreeMap<&str, usize> = BTreeMap::new();
    for f in findings {
        let next = used.len();
        used.entry(f.rule_id.as_str()).or_insert(next);
    }
    let mut descriptors: Vec<(usize, sarif::ReportingDescriptor)> = rules
        .rules()
        .iter()
        .filter_map(|r| used.get(r.id()).map(|&i| (i, r)))
        .map(|(i, r)| {
            let descriptor = sarif::ReportingDescriptor::builder()
                .id(r.id())
                .name(r.id())
                .short_description(
                    sarif::MultiformatMessageString::builder().text(r.description()).build(),
                )
                .properties(
                    sarif::PropertyBag::builder()
                        .tags(vec![
                            "security".to_owned(),
                            "secret".to_owned(),
                            r.provider().to_owned(),
                        ])
                        .additional_properties(BTreeMap::from([
                            ("severity".to_owned(), json!(r.severity().as_str())),
                            ("provider".to_owned(), json!(r.provider())),
                        ]))
                        .build(),
                )
                .build();
            (i, descriptor)
        })
        .collect();
    descriptors.sort_by_key(|(i, _)| *i);
    let results: Vec<sarif::Result> = findings
        .iter()
        .map(|f| {
            let region = sarif::Region::builder()
                .start_line(f.line as i64)
                .start_column(f.column as i64)
                .build();
            let location = sarif::Location::builder()
                .physical_location(
                    sarif::PhysicalLocation::builder()
                        .artifact_location(
                            sarif::ArtifactLocation::builder().uri(f.path.as_str()).build(),
                        )
                        .region(region)
                        .build(),
                )
                .build();
            let mut properties = BTreeMap::from([
                ("redacted".to_owned(), json!(f.redacted)),
                ("checksumValid".to_owned(), json!(f.checksum_valid)),
                ("severity".to_owned(), json!(f.severity.as_str())),
            ]);
            if let Some(commit) = &f.commit {
                properties.insert("commit".to_owned(), json!(commit));
            }
            if reveal {
                properties
                    .insert("secret".to_owned(), json!(String::from_utf8_lossy(f.secret.expose())));
            }
            sarif::Result::builder()
                .rule_id(f.rule_id.as_str())
                .rule_index(used[f.rule_id.as_str()] as i64)
                .level(level(f.severity))
                .message(
                    sarif::Message::builder()
                        .text(format!("{} found: {}", f.description, f.redacted))
                        .build(),
                )
                .locations(vec![location])
                .partial_fingerprints(BTreeMap::from([(
                    "leakgateFingerprint/v1".to_owned(),
                    f.fingerprint.to_string(),
                )]))
                .properties(sarif::PropertyBag::builder().additional_properties(properties).build())
                .build()
        })
        .collect();
    let driver = sarif::ToolComponent::builder()
        .name("leakgate")
        .semantic_version(env!("CARGO_PKG_VERSION"))
        .information_uri("https://example.invalid/leakgate")
        .rules(descriptors.into_iter().map(|(_, d)| d).collect::<Vec<_>>())
        .build();
    let run = sarif::Run::builder()
        .tool(sarif::Tool::builder().driver(driver).build())
        .results(results)
        .column_kind(json!("unicodeCodePoints"))
        .build();
    sarif::Sarif::builder()
        .schema(sarif::SCHEMA_URL)
        .version(json!("2.1.0"))
        .runs(vec![run])
        .build()
}
