//! End-to-end tests of `leakgate scan` and `leakgate rules`: the real binary on real files,
//! directories, standard input and git repositories.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

mod git;
mod known;
mod oracle;
mod project;

type TestResult = Result<(), Box<dyn std::error::Error>>;

#[path = "../common/mod.rs"]
mod common;
pub use common::github_token;

/// A fake Stripe live key with a random-looking body.
pub fn stripe_key(seed: u64) -> String {
    let token = github_token("", seed);
    format!("sk_live_{}", &token[..28])
}

pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Result<Self, Box<dyn std::error::Error>> {
        Ok(Env { dir: tempfile::tempdir()? })
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn write(&self, rel: &str, content: impl AsRef<[u8]>) -> Result<PathBuf, std::io::Error> {
        let path = self.path(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, content)?;
        Ok(path)
    }

    pub fn leakgate(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_leakgate"));
        cmd.env("LEAKGATE_DATA_DIR", self.path("data"))
            .env_remove("LEAKGATE_FINGERPRINT_KEY")
            .env_remove("LEAKGATE_LOG")
            .stdin(Stdio::null());
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Result<Output, std::io::Error> {
        self.leakgate().args(args).output()
    }
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn jsonl(o: &Output) -> Result<Vec<Value>, serde_json::Error> {
    stdout(o).lines().map(serde_json::from_str).collect()
}

#[test]
fn scan_finds_keys_in_a_directory_without_printing_them() -> TestResult {
    let env = Env::new()?;
    let token = github_token("ghp_", 1);
    let stripe = stripe_key(2);
    env.write("project/src/config.py", format!("GITHUB = '{token}'\n"))?;
    env.write("project/deploy/.env", format!("\n\nSTRIPE_KEY={stripe}\n"))?;
    env.write("project/README.md", "nothing to see\n")?;
    env.write("project/.git/config", format!("token = {token}\n"))?;
    let root = env.path("project");
    let root = root.to_str().ok_or("utf-8 temp path")?;

    let out = env.run(&["scan", root, "--format", "jsonl"])?;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let findings = jsonl(&out)?;
    assert_eq!(findings.len(), 2, "{findings:?}");
    let gh =
        findings.iter().find(|f| f["rule_id"] == "github-pat-classic").ok_or("github finding")?;
    assert!(gh["path"].as_str().ok_or("path")?.ends_with("project/src/config.py"));
    assert_eq!(gh["line"], 1);
    assert_eq!(gh["column"], 11);
    assert_eq!(gh["severity"], "critical");
    assert_eq!(gh["provider"], "github");
    assert_eq!(gh["checksum_valid"], true);
    assert_eq!(gh["redacted"], "ghp_…");
    assert_eq!(gh["fingerprint"].as_str().ok_or("fingerprint")?.len(), 64);
    assert!(gh.get("commit").is_none() && gh.get("secret").is_none());
    let st = findings.iter().find(|f| f["rule_id"] == "stripe-secret-key-live").ok_or("stripe")?;
    assert_eq!(st["line"], 3);
    for format in ["human", "json", "jsonl", "sarif"] {
        let out = env.run(&["scan", root, "--format", format])?;
        let all = format!("{}{}", stdout(&out), stderr(&out));
        assert!(!all.contains(&token) && !all.contains(&stripe), "{format} leaks the secret");
        assert!(!all.contains(&token[4..20]), "{format} leaks part of the secret");
    }
    Ok(())
}

#[test]
fn reveal_adds_the_secret_only_when_asked() -> TestResult {
    let env = Env::new()?;
    let token = github_token("gho_", 3);
    let file = env.write("a.txt", format!("token: {token}\n"))?;
    let out = env.run(&["scan", file.to_str().ok_or("utf-8")?, "-f", "json", "--reveal"])?;
    let all: Value = serde_json::from_str(&stdout(&out))?;
    assert_eq!(all[0]["secret"], token.as_str());
    // A report file with plaintext is its owner's alone, also one that existed before.
    let report = env.path("report.json");
    std::fs::write(&report, "old")?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&report, std::fs::Permissions::from_mode(0o644))?;
        let target = report.to_str().ok_or("utf-8")?;
        let path = file.to_str().ok_or("utf-8")?;
        env.run(&["scan", path, "-f", "json", "--reveal", "--output", target])?;
        assert!(std::fs::read_to_string(&report)?.contains(&token));
        assert_eq!(std::fs::metadata(&report)?.permissions().mode() & 0o777, 0o600);
    }
    Ok(())
}

#[test]
fn fingerprints_are_keyed_and_stable() -> TestResult {
    let env = Env::new()?;
    let token = github_token("ghp_", 4);
    let file = env.write("a.txt", format!("{token}\n"))?;
    let file = file.to_str().ok_or("utf-8")?;
    let first = jsonl(&env.run(&["scan", file, "-f", "jsonl"])?)?;
    let second = jsonl(&env.run(&["scan", file, "-f", "jsonl"])?)?;
    assert_eq!(first[0]["fingerprint"], second[0]["fingerprint"]);
    let key_file = env.path("data/fingerprint.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key_file)?.permissions().mode() & 0o777, 0o600);
    }
    let other = env
        .leakgate()
        .args(["scan", file, "-f", "jsonl"])
        .env("LEAKGATE_FINGERPRINT_KEY", "00112233445566778899aabbccddeeff") // leakgate:allow (test fixture)
        .output()?;
    let other = jsonl(&other)?;
    assert_ne!(first[0]["fingerprint"], other[0]["fingerprint"]);
    Ok(())
}

#[test]
fn exit_status_is_zero_when_clean_and_two_on_errors() -> TestResult {
    let env = Env::new()?;
    let clean = env.write("clean/a.rs", "fn main() { let token = parse(); }\n")?;
    let out = env.run(&["scan", clean.parent().ok_or("parent")?.to_str().ok_or("utf-8")?])?;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("0 findings"));

    let out = env.run(&["scan", env.path("missing").to_str().ok_or("utf-8")?])?;
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no such file"), "{}", stderr(&out));

    let bad = env.write("bad.toml", "[[rules]]\nid = \"x\"\ndescription = \"d\"\nprovider = \"p\"\nkeywords = [\"abcd\"]\nseverity = \"high\"\n")?;
    let out = env.run(&[
        "scan",
        clean.to_str().ok_or("utf-8")?,
        "--rules",
        bad.to_str().ok_or("utf-8")?,
    ])?;
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("bad.toml") && err.contains("line") && err.contains("regex"), "{err}");
    Ok(())
}

#[test]
fn stdin_is_scanned_with_dash() -> TestResult {
    let env = Env::new()?;
    let token = github_token("ghu_", 5);
    let mut child = env
        .leakgate()
        .args(["scan", "-", "-f", "jsonl"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().ok_or("stdin")?;
        writeln!(stdin, "first line\nuser token {token}")?;
    }
    let out = child.wait_with_output()?;
    let findings = jsonl(&out)?;
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0]["path"], "<stdin>");
    assert_eq!(findings[0]["line"], 2);
    Ok(())
}

/// Binary files are scanned by the distinctive rules (a NUL at the start must not hide a key,
/// issue 12); the generic rules run on them only with `--scan-binary`.
#[test]
fn binary_files_get_the_distinctive_rules_unless_asked_for_all() -> TestResult {
    let env = Env::new()?;
    let token = github_token("ghp_", 6);
    let mut bytes = b"\x00\x01\x02binary".to_vec();
    bytes.extend_from_slice(format!(" {token} ").as_bytes());
    let file = env.write("blob.bin", bytes)?;
    let file = file.to_str().ok_or("utf-8")?;
    assert_eq!(env.run(&["scan", file])?.status.code(), Some(1));
    let generic = env.write("generic.bin", b"\x00\x01 db_password = \"Xq7!vR2@pL9#mK4$\"\n")?; // leakgate:allow (test fixture)
    let generic = generic.to_str().ok_or("utf-8")?;
    assert_eq!(env.run(&["scan", generic])?.status.code(), Some(0));
    assert_eq!(env.run(&["scan", generic, "--scan-binary"])?.status.code(), Some(1));
    Ok(())
}

#[test]
fn symlink_loops_and_dangling_links_are_reported_and_the_scan_goes_on() -> TestResult {
    let env = Env::new()?;
    let token = github_token("ghp_", 7);
    env.write("tree/ok.txt", format!("{token}\n"))?;
    std::fs::create_dir_all(env.path("tree/loop"))?;
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(env.path("tree"), env.path("tree/loop/back"))?;
        std::os::unix::fs::symlink(env.path("nowhere"), env.path("tree/dangling"))?;
    }
    let tree = env.path("tree");
    let out =
        env.run(&["scan", tree.to_str().ok_or("utf-8")?, "--follow-symlinks", "-f", "jsonl"])?;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(jsonl(&out)?.len(), 1);
    let err = stderr(&out);
    assert!(err.contains("loop"), "{err}");
    assert!(err.contains("dangling") || err.contains("No such file"), "{err}");
    Ok(())
}

#[test]
fn empty_and_non_utf8_files_do_not_stop_the_scan() -> TestResult {
    let env = Env::new()?;
    let token = github_token("ghp_", 8);
    env.write("d/empty.txt", "")?;
    let mut latin1 = b"caf\xe9 = \"".to_vec();
    latin1.extend_from_slice(token.as_bytes());
    latin1.extend_from_slice(b"\"\n");
    env.write("d/latin1.txt", latin1)?;
    let out = env.run(&["scan", env.path("d").to_str().ok_or("utf-8")?, "-f", "jsonl"])?;
    let findings = jsonl(&out)?;
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0]["column"], 9);
    Ok(())
}

#[test]
fn min_severity_filters_findings() -> TestResult {
    let env = Env::new()?;
    let file = env.write("settings.py", "db_password = \"Xq7!vR2@pL9#mK4$\"\n")?; // leakgate:allow (test fixture)
    let file = file.to_str().ok_or("utf-8")?;
    let low = jsonl(&env.run(&["scan", file, "-f", "jsonl"])?)?;
    assert_eq!(low.len(), 1);
    assert_eq!(low[0]["severity"], "low");
    let out = env.run(&["scan", file, "-f", "jsonl", "--min-severity", "high"])?;
    assert_eq!(out.status.code(), Some(0));
    Ok(())
}

#[test]
fn sarif_output_is_a_valid_sarif_2_1_0_log() -> TestResult {
    let env = Env::new()?;
    let token = github_token("ghp_", 9);
    let file = env.write("x/y.env", format!("A=1\nGH={token}\nB={}\n", stripe_key(10)))?;
    let out = env.run(&["scan", file.to_str().ok_or("utf-8")?, "-f", "sarif"])?;
    let text = stdout(&out);
    let log: serde_sarif::sarif::Sarif = serde_json::from_str(&text)?;
    assert_eq!(log.runs.len(), 1);
    let value: Value = serde_json::from_str(&text)?;
    assert_eq!(value["version"], "2.1.0");
    assert!(value["$schema"].as_str().ok_or("schema")?.contains("sarif"));
    let run = &value["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "leakgate");
    let rules = run["tool"]["driver"]["rules"].as_array().ok_or("rules")?;
    let results = run["results"].as_array().ok_or("results")?;
    assert_eq!(results.len(), 2);
    for result in results {
        let index = result["ruleIndex"].as_u64().ok_or("ruleIndex")? as usize;
        assert_eq!(rules[index]["id"], result["ruleId"]);
        let loc = &result["locations"][0]["physicalLocation"];
        assert!(loc["artifactLocation"]["uri"].as_str().ok_or("uri")?.ends_with("x/y.env"));
        assert!(loc["region"]["startLine"].as_u64().ok_or("line")? >= 2);
        assert!(["error", "warning", "note"].contains(&result["level"].as_str().ok_or("level")?));
        assert!(result["partialFingerprints"]["leakgateFingerprint/v1"].is_string());
    }
    Ok(())
}

#[test]
fn gitleaks_configuration_and_custom_rules_are_used() -> TestResult {
    let env = Env::new()?;
    let config = env.write(
        "gitleaks.toml",
        "[[rules]]\nid = \"corp-token\"\nregex = '''corp_[a-z0-9]{20}'''\nkeywords = [\"corp_\"]\n",
    )?;
    let rules = env.write(
        "mine.toml",
        "[[rules]]\nid = \"acme-key\"\ndescription = \"Acme key\"\nprovider = \"acme\"\nkeywords = [\"acme_\"]\nregex = '(?P<secret>acme_[0-9a-f]{16})'\nseverity = \"medium\"\nexamples = [\"acme_0123456789abcdef\"]\nnegative_examples = [\"acme_xyz\"]\n",
    )?;
    let file = env.write("f.txt", "corp_abcdefghij0123456789 acme_0123456789abcdef\n")?;
    let out = env.run(&[
        "scan",
        file.to_str().ok_or("utf-8")?,
        "-f",
        "jsonl",
        "--gitleaks-config",
        config.to_str().ok_or("utf-8")?,
        "--rules",
        rules.to_str().ok_or("utf-8")?,
    ])?;
    let ids: Vec<String> = jsonl(&out)?.iter().map(|f| f["rule_id"].to_string()).collect();
    assert_eq!(ids, ["\"corp-token\"", "\"acme-key\""]);
    let check = env.run(&["rules", "check", rules.to_str().ok_or("utf-8")?])?;
    assert_eq!(check.status.code(), Some(0), "{}{}", stdout(&check), stderr(&check));
    Ok(())
}

#[test]
fn rules_check_reports_failing_examples() -> TestResult {
    let env = Env::new()?;
    let rules = env.write(
        "mine.toml",
        "[[rules]]\nid = \"acme-key\"\ndescription = \"Acme key\"\nprovider = \"acme\"\nkeywords = [\"acme_\"]\nregex = '(?P<secret>acme_[0-9a-f]{16})'\nseverity = \"medium\"\nexamples = [\"acme_0123\"]\nnegative_examples = [\"acme_0123456789abcdef\"]\n",
    )?;
    let out = env.run(&["rules", "check", rules.to_str().ok_or("utf-8")?])?;
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("acme-key: example 0 is not found"), "{err}");
    assert!(err.contains("acme-key: negative example 0 is found"), "{err}");
    let list = env.run(&["rules", "list"])?;
    let last = stdout(&list).lines().last().ok_or("summary")?.to_owned();
    assert!(last.contains("rules") && last.contains("providers"), "{last}");
    Ok(())
}

pub fn path_str(p: &Path) -> Result<&str, Box<dyn std::error::Error>> {
    p.to_str().ok_or_else(|| "non-utf-8 temp path".into())
}

/// Files of one read and of many (the directory scan takes a short read as a regular file's
/// end and makes no further read): keys at the start, across the 1 MiB chunk boundary and at
/// the very end are all found, and every byte is counted.
#[test]
fn keys_anywhere_in_small_and_multi_read_files_are_found() -> TestResult {
    let env = Env::new()?;
    let line = "let filler = compute(alpha, beta, gamma); // ordinary code\n";
    let mut big = String::new();
    let mut expected_lines = Vec::new();
    let mut at_line = 1;
    for (i, until) in [(3, 0), (4, (1 << 20) - 30), (5, 3 << 20)] {
        while big.len() < until {
            big.push_str(line);
            at_line += 1;
        }
        big.push_str(&format!("k = \"{}\"\n", github_token("ghp_", i)));
        expected_lines.push(at_line);
        at_line += 1;
    }
    env.write("tree/big.rs", &big)?;
    env.write("tree/small.rs", format!("k = \"{}\"", github_token("ghp_", 6)))?;
    env.write("tree/exact.rs", vec![b'x'; 1 << 20])?;
    let root = env.path("tree");
    let out = env.run(&["scan", root.to_str().ok_or("utf-8")?, "--format", "jsonl"])?;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let findings = jsonl(&out)?;
    let mut big_lines: Vec<u64> = findings
        .iter()
        .filter(|f| f["path"].as_str().is_some_and(|p| p.ends_with("big.rs")))
        .filter_map(|f| f["line"].as_u64())
        .collect();
    big_lines.sort_unstable();
    assert_eq!(big_lines, expected_lines, "{findings:?}");
    assert!(findings.iter().any(|f| f["path"].as_str().is_some_and(|p| p.ends_with("small.rs"))));
    let small = 6 + github_token("ghp_", 6).len();
    let mib = (big.len() + (1 << 20) + small) as f64 / f64::from(1 << 20);
    let out = env.run(&["scan", root.to_str().ok_or("utf-8")?])?;
    assert!(stderr(&out).contains(&format!("scanned 3 files ({mib:.1} MiB")), "{}", stderr(&out));
    Ok(())
}
