//! Known findings in `leakgate scan`: baselines (ours, gitleaks' report and ignore file) and
//! the committed waivers file.

use crate::{github_token, jsonl, path_str, stderr, Env, TestResult};

fn paths(out: &std::process::Output) -> Result<Vec<String>, serde_json::Error> {
    let mut found: Vec<String> =
        jsonl(out)?.iter().map(|f| f["path"].as_str().unwrap_or_default().to_owned()).collect();
    found.sort();
    Ok(found)
}

#[test]
fn a_baseline_hides_what_it_recorded_and_nothing_else() -> TestResult {
    let env = Env::new()?;
    let old = github_token("ghp_", 7001);
    env.write("app/old.txt", format!("token: {old}\n"))?;
    let app = path_str(&env.path("app"))?.to_owned();
    let baseline = env.path("baseline.json");
    let out = env.run(&["scan", &app, "--write-baseline", path_str(&baseline)?])?;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("1 findings written"), "{}", stderr(&out));
    let text = std::fs::read_to_string(&baseline)?;
    assert!(text.contains("\"fingerprint\"") && !text.contains(&old), "{text}");

    // Recorded: not reported again. A new key, or the same key in a new file: reported.
    let out = env.run(&["scan", &app, "--format", "jsonl", "--baseline", path_str(&baseline)?])?;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    env.write("app/new.txt", format!("token: {}\n", github_token("ghp_", 7002)))?;
    env.write("app/copy.txt", format!("copy: {old}\n"))?;
    let out = env.run(&["scan", &app, "--format", "jsonl", "--baseline", path_str(&baseline)?])?;
    assert_eq!(out.status.code(), Some(1));
    let shown = paths(&out)?;
    assert!(shown.iter().any(|p| p.ends_with("app/new.txt")), "{shown:?}");
    assert!(shown.iter().any(|p| p.ends_with("app/copy.txt")), "{shown:?}");
    assert!(!shown.iter().any(|p| p.ends_with("app/old.txt")), "{shown:?}");

    // A broken baseline is an error, not an empty one.
    env.write("bad.json", "{\"version\": 7, \"findings\": []}")?;
    let out = env.run(&["scan", &app, "--baseline", path_str(&env.path("bad.json"))?])?;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("version 7"), "{}", stderr(&out));
    Ok(())
}

#[test]
fn gitleaks_reports_and_ignore_files_are_imported() -> TestResult {
    let env = Env::new()?;
    let a = github_token("ghp_", 7003);
    let b = github_token("ghp_", 7004);
    env.write("app/a.txt", format!("token: {a}\n"))?;
    env.write("app/b.txt", format!("x\ntoken: {b}\n"))?;
    env.write("app/c.txt", format!("token: {}\n", github_token("ghp_", 7005)))?;
    let app = path_str(&env.path("app"))?.to_owned();
    let a_path = format!("{app}/a.txt");
    let b_path = format!("{app}/b.txt");
    // A gitleaks JSON report: matched by the secret's fingerprint at its file.
    let report = serde_json::json!([
        {"RuleID": "github-pat", "File": a_path, "StartLine": 1, "Secret": a, "Commit": "", "Fingerprint": format!("{a_path}:github-pat:1")},
    ]);
    env.write("gitleaks.json", report.to_string())?;
    let out = env.run(&[
        "scan",
        &app,
        "--format",
        "jsonl",
        "--baseline",
        path_str(&env.path("gitleaks.json"))?,
    ])?;
    assert_eq!(paths(&out)?, [b_path.clone(), format!("{app}/c.txt")], "{}", stderr(&out));
    // A .gitleaksignore: matched by location (gitleaks' rule ids are its own).
    env.write(
        ".gitleaksignore",
        format!("# known\n{a_path}:github-pat:1\n{b_path}:generic-api-key:2\n"),
    )?;
    let out = env.run(&[
        "scan",
        &app,
        "--format",
        "jsonl",
        "--baseline",
        path_str(&env.path(".gitleaksignore"))?,
    ])?;
    assert_eq!(paths(&out)?, [format!("{app}/c.txt")], "{}", stderr(&out));
    env.write("broken-ignore", "app/a.txt:github-pat:one\n")?;
    let out = env.run(&["scan", &app, "--baseline", path_str(&env.path("broken-ignore"))?])?;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    Ok(())
}

#[test]
fn committed_waivers_apply_until_they_expire_and_unused_ones_are_named() -> TestResult {
    let env = Env::new()?;
    let fixture = github_token("ghp_", 7006);
    env.write("proj/tests/fixture.txt", format!("token: {fixture}\n"))?;
    env.write("proj/src/main.txt", format!("token: {fixture}\n"))?;
    let proj = path_str(&env.path("proj"))?.to_owned();
    let out = env.run(&["scan", &proj, "--format", "jsonl"])?;
    let found = jsonl(&out)?;
    let fp = found[0]["fingerprint"].as_str().ok_or("fingerprint")?.to_owned();
    let waivers = |expires: &str| {
        format!(
            "[[waiver]]\nfingerprint = \"{fp}\"\nreason = \"parser fixture\"\napproved_by = \"sec-lead\"\nexpires = {expires}\npath = \"tests/**\"\n\n\
             [[waiver]]\nfingerprint = \"{}\"\nreason = \"gone\"\napproved_by = \"sec-lead\"\nexpires = 2099-01-01\n",
            "0".repeat(64)
        )
    };
    env.write("proj/.leakgate-waivers.toml", waivers("2099-12-31"))?;
    let out = env.run(&["scan", &proj, "--format", "jsonl"])?;
    let under = |out: &std::process::Output| -> Result<Vec<String>, serde_json::Error> {
        let prefix = format!("{proj}/");
        Ok(paths(out)?.into_iter().map(|p| p.trim_start_matches(&prefix).to_owned()).collect())
    };
    assert_eq!(under(&out)?, ["src/main.txt"], "in its path scope only: {}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("the waiver for {} ", "0".repeat(64))),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("matched nothing"), "{}", stderr(&out));
    env.write("proj/.leakgate-waivers.toml", waivers("2020-01-31"))?;
    let out = env.run(&["scan", &proj, "--format", "jsonl"])?;
    assert_eq!(under(&out)?, ["src/main.txt", "tests/fixture.txt"], "{}", stderr(&out));
    assert!(stderr(&out).contains("expired on 2020-01-31T23:59:59Z"), "{}", stderr(&out));
    // A file that is not TOML is refused by line number, its content never quoted; a symlink
    // in its place is not followed.
    let secret = github_token("ghp_", 7007);
    env.write("proj/.leakgate-waivers.toml", format!("KEY={secret} x\n"))?;
    let out = env.run(&["scan", &proj])?;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains(".leakgate-waivers.toml:1"), "{}", stderr(&out));
    assert!(!stderr(&out).contains(&secret), "{}", stderr(&out));
    std::fs::remove_file(env.path("proj/.leakgate-waivers.toml"))?;
    env.write("outside.env", format!("KEY={secret} x\n"))?;
    std::os::unix::fs::symlink(env.path("outside.env"), env.path("proj/.leakgate-waivers.toml"))?;
    let out = env.run(&["scan", &proj, "--format", "jsonl"])?;
    assert!(!stderr(&out).contains(&secret), "{}", stderr(&out));
    assert_ne!(out.status.code(), Some(2), "the link is not read: {}", stderr(&out));
    std::fs::remove_file(env.path("proj/.leakgate-waivers.toml"))?;
    // A waiver without a reason is refused, not ignored.
    env.write("proj/.leakgate-waivers.toml", format!("[[waiver]]\nfingerprint = \"{fp}\"\nreason = \"\"\napproved_by = \"x\"\nexpires = 2099-01-01\n"))?;
    let out = env.run(&["scan", &proj])?;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    Ok(())
}
