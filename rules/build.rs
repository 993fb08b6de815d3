//! Embeds the built-in catalog (`data/*.toml`) as compact JSON without examples, with each
//! rule's window precomputed, so that start-up parses ~50 KB of JSON instead of ~300 KB of
//! TOML and never parses a regex it does not run.

use std::fs;
use std::path::Path;

#[allow(dead_code)]
#[path = "src/offset.rs"]
mod offset;

const DEFAULT_MAX_LEN: usize = 256;
const MAX_WINDOW: usize = 16 * 1024;

fn main() {
    let data = Path::new("data");
    println!("cargo:rerun-if-changed=data");
    let mut files: Vec<_> = fs::read_dir(data)
        .expect("rules/data exists")
        .map(|e| e.expect("readable rules/data entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    let mut rules = Vec::new();
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
        let text = fs::read_to_string(file).expect("readable rule file");
        let doc: toml::Table = toml::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: not valid TOML: {e}", file.display()));
        let Some(toml::Value::Array(list)) = doc.get("rules") else {
            panic!("{}: no [[rules]]", file.display());
        };
        for rule in list {
            let toml::Value::Table(rule) = rule else { panic!("{}: bad rule", file.display()) };
            let mut out = serde_json::Map::new();
            for (k, v) in rule {
                if matches!(k.as_str(), "examples" | "negative_examples" | "references") {
                    continue;
                }
                out.insert(k.clone(), serde_json::to_value(v).expect("TOML converts to JSON"));
            }
            let regex = rule.get("regex").and_then(|r| r.as_str()).unwrap_or_default();
            let hir = regex_syntax::ParserBuilder::new()
                .utf8(false)
                .unicode(false)
                .build()
                .parse(regex)
                .unwrap_or_else(|e| {
                    let id = rule.get("id").and_then(|r| r.as_str()).unwrap_or("?");
                    panic!("{}: rule {id}: invalid regex: {e}", file.display())
                });
            if !out.contains_key("max_len") {
                let max = hir.properties().maximum_len().unwrap_or(DEFAULT_MAX_LEN).min(MAX_WINDOW);
                out.insert("max_len".into(), max.into());
            }
            let keywords: Vec<&str> = match rule.get("keywords") {
                Some(toml::Value::Array(list)) => list.iter().filter_map(|k| k.as_str()).collect(),
                _ => Vec::new(),
            };
            if !out.contains_key("lookbehind") {
                // How far before a keyword hit a match can start (`offset`); the whole window
                // when the pattern does not show it. Always written, so that start-up never
                // parses a regex for it.
                let max = out["max_len"].as_u64().expect("max_len is a number") as usize;
                let bound = offset::keyword_offset(&hir, &keywords).unwrap_or(max);
                out.insert("lookbehind".into(), bound.min(max).into());
            }
            rules.push(serde_json::Value::Object(out));
        }
    }
    let out =
        Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("catalog.json");
    fs::write(out, serde_json::to_string(&rules).expect("JSON")).expect("writable OUT_DIR");
}
