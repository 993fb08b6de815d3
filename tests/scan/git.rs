//! `leakgate scan --git`: history scanned blob by blob, attributed to the commit that added it.

use std::process::Command;

use super::{github_token, jsonl, path_str, stderr, Env, TestResult};

fn git(dir: &std::path::Path, args: &[&str]) -> Result<String, Box<dyn std::error::Error>> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.invalid")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.invalid")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()?;
    if !out.status.success() {
        return Err(format!("git {args:?}: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// An empty repository on `main` in the test's directory.
fn init_repo(env: &Env) -> Result<std::path::PathBuf, Box<dyn std::error::Error>> {
    let repo = env.path("repo");
    std::fs::create_dir_all(&repo)?;
    git(&repo, &["init", "-q", "-b", "main"])?;
    Ok(repo)
}

fn commit_file(
    dir: &std::path::Path,
    file: &str,
    content: &str,
    message: &str,
) -> Result<String, Box<dyn std::error::Error>> {
    let path = dir.join(file);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, content)?;
    git(dir, &["add", "-A"])?;
    git(dir, &["commit", "-q", "-m", message])?;
    git(dir, &["rev-parse", "HEAD"])
}

#[test]
fn history_scan_attributes_each_blob_to_the_commit_that_added_it() -> TestResult {
    let env = Env::new()?;
    let repo = init_repo(&env)?;
    let token = github_token("ghp_", 20);
    let c1 = commit_file(&repo, "README.md", "hello\n", "one")?;
    let c2 = commit_file(&repo, "app/settings.py", &format!("X = 1\nTOKEN = '{token}'\n"), "two")?;
    // Moving the file keeps the blob: it stays attributed to c2 and is scanned once.
    git(&repo, &["mv", "app/settings.py", "app/config.py"])?;
    git(&repo, &["commit", "-q", "-m", "three"])?;
    let c4 = commit_file(&repo, "app/config.py", "X = 1\n", "remove the key")?;
    git(&repo, &["checkout", "-q", "-b", "side", &c1])?;
    let side_token = github_token("ghp_", 21);
    let c5 = commit_file(&repo, "side.txt", &format!("{side_token}\n"), "side")?;
    git(&repo, &["checkout", "-q", "main"])?;

    let out = env.run(&["scan", "--git", path_str(&repo)?, "-f", "jsonl"])?;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let findings = jsonl(&out)?;
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0]["commit"], c2.as_str());
    assert_eq!(findings[0]["path"], "app/settings.py");
    assert_eq!(findings[0]["line"], 2);

    let all = jsonl(&env.run(&["scan", "--git", path_str(&repo)?, "--all", "-f", "jsonl"])?)?;
    let commits: Vec<&str> = all.iter().filter_map(|f| f["commit"].as_str()).collect();
    assert_eq!(all.len(), 2);
    assert!(commits.contains(&c2.as_str()) && commits.contains(&c5.as_str()));

    let range = format!("{c2}..{c4}");
    let out = env.run(&["scan", "--git", path_str(&repo)?, "--range", &range, "-f", "jsonl"])?;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let range = format!("{c1}..main");
    let found =
        jsonl(&env.run(&["scan", "--git", path_str(&repo)?, "--range", &range, "-f", "jsonl"])?)?;
    assert_eq!(found.len(), 1);

    // Packed, the same history is scanned by traversing the pack (blobs decoded in pack
    // order, before or after the walk names them): the same findings, attributed the same.
    git(&repo, &["repack", "-a", "-d", "-q"])?;
    assert!(std::fs::read_dir(repo.join(".git/objects/pack"))?
        .any(|e| e.is_ok_and(|e| e.path().extension().is_some_and(|x| x == "pack"))));
    let packed = jsonl(&env.run(&["scan", "--git", path_str(&repo)?, "-f", "jsonl"])?)?;
    assert_eq!(packed.len(), 1, "{packed:?}");
    assert_eq!(packed[0]["commit"], c2.as_str());
    assert_eq!(packed[0]["path"], "app/settings.py");
    assert_eq!(packed[0]["line"], 2);
    let packed_all =
        jsonl(&env.run(&["scan", "--git", path_str(&repo)?, "--all", "-f", "jsonl"])?)?;
    let key = |f: &serde_json::Value| (f["commit"].to_string(), f["path"].to_string());
    let mut want: Vec<_> = all.iter().map(key).collect();
    let mut got: Vec<_> = packed_all.iter().map(key).collect();
    want.sort();
    got.sort();
    assert_eq!(got, want);

    let out = env.run(&["scan", "--git", path_str(&repo)?, "--range", "nope..main"])?;
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("nope"), "{}", stderr(&out));
    let out = env.run(&["scan", "--git", path_str(&env.path("data"))?])?;
    assert_eq!(out.status.code(), Some(2));
    Ok(())
}

/// A secret kept while other lines of its file change is reported once, where it was added,
/// whether the walk reads the parents' trees (a range) or looks the first parent's version
/// up only for a blob with findings (`--all`: nothing hidden); a secret added in a later
/// version of a file, or under a path its first parent does not have, is reported there.
#[test]
fn a_secret_its_first_parent_already_had_is_reported_once() -> TestResult {
    let env = Env::new()?;
    let repo = init_repo(&env)?;
    let kept = github_token("ghp_", 40);
    let later = github_token("ghp_", 41);
    let moved = github_token("ghp_", 42);
    let base = commit_file(&repo, "README.md", "hello\n", "base")?;
    let file = "deploy/prod/keys.env";
    let added = commit_file(&repo, file, &format!("A=1\nKEY={kept}\n"), "add key")?;
    commit_file(&repo, file, &format!("A=2\nKEY={kept}\n"), "edit another line")?;
    git(&repo, &["checkout", "-q", "-b", "side"])?;
    commit_file(&repo, file, &format!("A=3\nKEY={kept}\n"), "edit on a side branch")?;
    git(&repo, &["checkout", "-q", "main"])?;
    let second = commit_file(&repo, file, &format!("A=4\nKEY={kept}\nNEW={later}\n"), "two")?;
    git(&repo, &["merge", "-q", "--no-edit", "-X", "ours", "side"])?;
    commit_file(&repo, file, &format!("A=5\nKEY={kept}\nNEW={later}\n"), "after merge")?;
    // The same file under a new directory: its first parent has nothing at that path.
    let copied = commit_file(&repo, "other/keys.env", &format!("K={moved}\n"), "copy")?;
    commit_file(&repo, "other/keys.env", &format!("J=0\nK={moved}\n"), "edit copy")?;

    // (commit, path, line): the kept key is line 2, the later one line 3, the copy's line 1.
    let mut want = vec![
        (added, file.to_owned(), 2),
        (second, file.to_owned(), 3),
        (copied, "other/keys.env".to_owned(), 1),
    ];
    want.sort();
    type Sighting = (String, String, i64);
    let found = |args: &[&str]| -> Result<Vec<Sighting>, Box<dyn std::error::Error>> {
        let mut found: Vec<Sighting> = jsonl(&env.run(args)?)?
            .iter()
            .map(|f| {
                let text = |k: &str| f[k].as_str().unwrap_or("").to_owned();
                (text("commit"), text("path"), f["line"].as_i64().unwrap_or(0))
            })
            .collect();
        found.sort();
        Ok(found)
    };
    let path = path_str(&repo)?;
    let range = format!("{base}..main");
    for packed in [false, true] {
        if packed {
            git(&repo, &["repack", "-a", "-d", "-q"])?;
        }
        assert_eq!(
            found(&["scan", "--git", path, "--all", "-f", "jsonl"])?,
            want,
            "packed {packed}"
        );
        assert_eq!(found(&["scan", "--git", path, "-f", "jsonl"])?, want, "packed {packed}");
        assert_eq!(
            found(&["scan", "--git", path, "--range", &range, "-f", "jsonl"])?,
            want,
            "packed {packed}"
        );
    }
    Ok(())
}

/// In a packed history the pack traversal scans commit messages as it decodes them (before or
/// after the walk names the commit): each reachable commit's message is reported once, with
/// its commit, and the message of a commit no ref reaches, though in the pack, never.
#[test]
fn packed_history_reports_each_reachable_commit_message_once() -> TestResult {
    let env = Env::new()?;
    let repo = init_repo(&env)?;
    commit_file(&repo, "a.txt", "a\n", "base")?;
    let on_main =
        commit_file(&repo, "b.txt", "b\n", &format!("deploy with {}", github_token("ghp_", 30)))?;
    git(&repo, &["checkout", "-q", "-b", "side"])?;
    let on_side =
        commit_file(&repo, "c.txt", "c\n", &format!("side {}", github_token("ghp_", 31)))?;
    git(&repo, &["checkout", "-q", "main"])?;
    let gone = commit_file(&repo, "d.txt", "d\n", &format!("oops {}", github_token("ghp_", 32)))?;
    git(&repo, &["repack", "-a", "-d", "-q"])?;
    // Unreachable, but kept in the pack.
    git(&repo, &["reset", "-q", "--hard", "HEAD~1"])?;
    git(&repo, &["reflog", "expire", "--expire=now", "--all"])?;
    git(&repo, &["repack", "-a", "-d", "-k", "-q"])?;
    assert!(git(&repo, &["cat-file", "-t", &gone]).is_ok_and(|t| t == "commit"));
    let messages = |args: &[&str]| -> Result<Vec<String>, Box<dyn std::error::Error>> {
        let mut found: Vec<String> = jsonl(&env.run(args)?)?
            .iter()
            .filter(|f| f["path"] == "(commit message)")
            .filter_map(|f| f["commit"].as_str().map(str::to_owned))
            .collect();
        found.sort();
        Ok(found)
    };
    let path = path_str(&repo)?;
    let head = vec![on_main.clone()];
    let mut want = vec![on_main, on_side];
    want.sort();
    for _ in 0..3 {
        assert_eq!(messages(&["scan", "--git", path, "--all", "-f", "jsonl"])?, want);
        assert_eq!(messages(&["scan", "--git", path, "-f", "jsonl"])?, head);
    }
    Ok(())
}

/// A progress bar on a terminal only: through a pseudo-terminal (`script`) the scan draws
/// one; with stderr a pipe, only the summary line is printed.
#[test]
fn history_scan_shows_progress_on_a_terminal_only() -> TestResult {
    let env = Env::new()?;
    let repo = init_repo(&env)?;
    commit_file(&repo, "a.txt", "hello\n", "one")?;
    let repo = path_str(&repo)?;

    let piped = env.run(&["scan", "--git", repo, "--all"])?;
    assert_eq!(piped.status.code(), Some(0), "{}", stderr(&piped));
    assert!(!stderr(&piped).contains("ETA"), "{}", stderr(&piped));

    let command = format!("{} scan --git {repo} --all", env!("CARGO_BIN_EXE_leakgate"));
    let out = Command::new("script")
        .args(["-q", "-e", "-c", &command, "/dev/null"])
        .env("LEAKGATE_DATA_DIR", env.path("data"))
        .env("TERM", "xterm")
        .stdin(std::process::Stdio::null())
        .output()?;
    let transcript = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{transcript}");
    assert!(transcript.contains("blobs,") && transcript.contains("ETA"), "{transcript:?}");
    Ok(())
}

/// Versions of a file that a pack stores as deltas take their keyword hits from their base
/// (only new bytes, and keywords reaching past a copied run, are searched): keys added to
/// them are found, wherever the edit falls, exactly as when every version is searched whole.
#[test]
fn keys_added_to_versions_a_pack_stores_as_deltas_are_found() -> TestResult {
    use leakgate_hooks::{scan_history, HistoryOptions, Selection};
    use leakgate_rules::{RuleSet, ScanOptions};

    let env = Env::new()?;
    let repo = init_repo(&env)?;
    let line = |i: usize| {
        format!("    let path_{i} = settings.token_path(\"config/{i}.toml\"); // password {i}\n")
    };
    let mut text: String = (0..600).map(line).collect();
    commit_file(&repo, "src/settings.rs", &text, "base")?;
    let mut expected = Vec::new();
    // A key inserted in the middle of the file.
    let key = github_token("ghp_", 50);
    let at = text.len() / 2;
    let at = at + text[at..].find('\n').ok_or("no line")? + 1;
    text.insert_str(at, &format!("    let token = \"{key}\";\n"));
    expected.push((commit_file(&repo, "src/settings.rs", &text, "key in the middle")?, key));
    // A key completing text the base has: `gh` stays in a copied run, the rest is new.
    let key = github_token("ghp_", 51);
    let at = text.find("// password 400").ok_or("no line")?;
    text.insert_str(at, "gh");
    commit_file(&repo, "src/settings.rs", &text, "a stray gh")?;
    text.insert_str(at + 2, &format!("{} ", &key[2..]));
    expected.push((commit_file(&repo, "src/settings.rs", &text, "completed")?, key));
    // A key at the end, and versions without new keys.
    let key = github_token("ghp_", 52);
    text.push_str(&format!("const TOKEN: &str = \"{key}\";\n"));
    expected.push((commit_file(&repo, "src/settings.rs", &text, "key at the end")?, key));
    for i in 0..4 {
        text = text.replacen(&format!("config/{}.toml", i * 100), "config/moved.toml", 1);
        commit_file(&repo, "src/settings.rs", &text, &format!("edit {i}"))?;
    }

    let rules = RuleSet::builtin();
    let scan = |repo: &std::path::Path| -> Result<_, Box<dyn std::error::Error>> {
        let found = std::sync::Mutex::new(Vec::new());
        let options = HistoryOptions { scan: ScanOptions::default(), threads: 2, progress: None };
        let stats = scan_history(
            repo,
            &rules,
            &Selection::All,
            options,
            |h| {
                let secret = String::from_utf8_lossy(h.found.secret.expose()).into_owned();
                found.lock().unwrap().push((h.commit.to_string(), secret, h.found.line));
            },
            |w| panic!("{w}"),
        )?;
        let mut found = found.into_inner()?;
        found.sort();
        Ok((found, stats))
    };
    // Loose objects: every version read by id and searched whole.
    let (loose, stats) = scan(&repo)?;
    assert_eq!(stats.derived, 0);
    let mut want: Vec<(String, String)> = expected.clone();
    want.sort();
    let got: Vec<(String, String)> = loose.iter().map(|(c, s, _)| (c.clone(), s.clone())).collect();
    assert_eq!(got, want);

    // Packed with deltas: the same findings, lines included, most bytes not searched again.
    git(&repo, &["repack", "-a", "-d", "-f", "-q", "--window=50", "--depth=50"])?;
    let packs = repo.join(".git/objects/pack");
    let idx = std::fs::read_dir(&packs)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "idx"))
        .ok_or("no pack")?;
    let verify = git(&repo, &["verify-pack", "-v", path_str(&idx)?])?;
    let deltas =
        verify.lines().filter(|l| l.contains(" blob ") && l.split_whitespace().count() > 5);
    assert!(deltas.count() >= 5, "{verify}");
    let (packed, stats) = scan(&repo)?;
    assert_eq!(packed, loose);
    assert!(stats.derived > stats.bytes / 2, "{} of {} bytes", stats.derived, stats.bytes);
    Ok(())
}

/// A commit whose `encoding` header names an encoding leakgate cannot decode, and is a key:
/// what is stored is scanned (the key is a header finding), the commit counts as unreadable,
/// and no warning quotes the header (it went to the log as it was; review of session 27).
/// Loose and packed: the pack traversal logs its own warning.
#[test]
fn a_key_in_an_unknown_encoding_header_is_found_and_never_logged() -> TestResult {
    let env = Env::new()?;
    let repo = init_repo(&env)?;
    commit_file(&repo, "a.txt", "a\n", "base")?;
    let key = github_token("ghp_", 33);
    git(
        &repo,
        &["-c", &format!("i18n.commitEncoding={key}"), "commit", "-q", "--allow-empty", "-m", "x"],
    )?;
    let path = path_str(&repo)?;
    for packed in [false, true] {
        if packed {
            git(&repo, &["gc", "-q"])?;
        }
        let out = env.run(&["scan", "--git", path, "--all", "-f", "jsonl"])?;
        let found = jsonl(&out)?;
        assert!(found.iter().any(|f| f["path"] == "(commit header)"), "{packed}: {found:?}");
        assert!(!stderr(&out).contains(&key), "{packed}: {}", stderr(&out));
        assert!(stderr(&out).contains("cannot decode"), "{packed}: {}", stderr(&out));
    }
    Ok(())
}

/// An annotated tag's message and headers are scanned by `scan --git --all` when packed-refs
/// records the tag (after `git gc`): the tips were taken peeled, to the commit, and the tag
/// was never read (review of session 27).
#[test]
fn annotated_tags_are_scanned_after_gc() -> TestResult {
    let env = Env::new()?;
    let repo = init_repo(&env)?;
    commit_file(&repo, "a.txt", "a\n", "base")?;
    let key = github_token("ghp_", 34);
    git(&repo, &["tag", "-a", "v1", "-m", &format!("deploy {key}")])?;
    let path = path_str(&repo)?;
    for packed in [false, true] {
        if packed {
            git(&repo, &["gc", "-q"])?;
            assert!(std::fs::read_to_string(repo.join(".git/packed-refs"))?.contains("v1"));
        }
        let found = jsonl(&env.run(&["scan", "--git", path, "--all", "-f", "jsonl"])?)?;
        assert!(found.iter().any(|f| f["path"] == "(tag message)"), "{packed}: {found:?}");
    }
    Ok(())
}
