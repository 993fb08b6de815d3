//! Exceptions through real pushes: delegated bypass requests, waivers, exempt pushers, and the
//! project configuration of the protected branch (never the push's own).

use std::process::Output;

use crate::gate::git_stdin;
use crate::{git, github_token, leakgate, stderr, Res, Server, TestResult};

/// A server whose hook keeps exceptions in a SQLite database next to the repository and names
/// the pusher from `X_PUSHER`.
fn with_database(s: &Server) -> Res<String> {
    let url = format!("sqlite://{}", s.dir.path().join("leakgate.db").display());
    s.config("leakgate.database", &url)?;
    s.config("leakgate.pusherVariable", "X_PUSHER")?;
    Ok(url)
}

fn push_as(s: &Server, pusher: &str, args: &[&str]) -> Res<Output> {
    Ok(s.push_cmd(args).env("X_PUSHER", pusher).output()?)
}

/// `leakgate <args> --database <url>`.
fn cli(s: &Server, url: &str, args: &[&str]) -> Res<Output> {
    Ok(leakgate(s.dir.path()).args(args).args(["--database", url]).output()?)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The request id in "bypass request <id> opened".
fn request_id(out: &Output) -> Res<String> {
    let text = stderr(out);
    let at = text.find("bypass request ").ok_or_else(|| format!("no request in: {text}"))?;
    let id: String = text[at + 15..].chars().take_while(char::is_ascii_digit).collect();
    if id.is_empty() {
        return Err(format!("no request id in: {text}").into());
    }
    Ok(id)
}

/// The fingerprint the rejection shows (`fp <hex>`), first finding.
fn fingerprint(out: &Output) -> Res<String> {
    let text = stderr(out);
    let at = text.find(" fp ").ok_or_else(|| format!("no fingerprint in: {text}"))?;
    Ok(text[at + 4..].chars().take_while(char::is_ascii_hexdigit).collect())
}

fn repo_path(s: &Server) -> Res<String> {
    Ok(s.bare.canonicalize()?.display().to_string())
}

#[test]
fn a_bypass_request_is_approved_by_someone_else_and_binds_pusher_secrets_and_repository(
) -> TestResult {
    let s = Server::new()?;
    let url = with_database(&s)?;
    s.config("leakgate.bypassMode", "request")?;
    let token = github_token(41);
    s.commit("fixtures/token.txt", format!("{token}\n"), "fixture")?;

    let out = push_as(&s, "alice", &["origin", "main"])?;
    assert!(!out.status.success(), "{}", stderr(&out));
    let id = request_id(&out)?;
    assert!(
        stderr(&out).contains(&format!(
            "bypass request {id} opened; re-push with -o leakgate.bypass=req:{id} once approved"
        )),
        "{}",
        stderr(&out)
    );
    // Pushing again before the review: the same request, not a new one.
    let out = push_as(&s, "alice", &["origin", "main"])?;
    assert!(stderr(&out).contains(&format!("bypass request {id} is waiting for review")));
    let with_request = format!("leakgate.bypass=req:{id}");
    let out = push_as(&s, "alice", &["-o", &with_request, "origin", "main"])?;
    assert!(!out.status.success());
    assert!(stderr(&out).contains("still waiting for review"), "{}", stderr(&out));

    // The reviewer sees what is asked (redacted), never the key.
    let list = cli(&s, &url, &["bypass", "list", "--state", "open"])?;
    assert!(list.status.success(), "{}", stderr(&list));
    assert!(stdout(&list).contains("fixtures/token.txt"), "{}", stdout(&list));
    assert!(stdout(&list).contains("github-pat-classic") && stdout(&list).contains("alice"));
    assert!(!stdout(&list).contains(&token));
    // The pusher cannot approve their own request.
    let own = cli(&s, &url, &["bypass", "approve", &id, "--as", "alice"])?;
    assert_eq!(own.status.code(), Some(1), "{}", stderr(&own));
    assert!(stderr(&own).contains("someone else"), "{}", stderr(&own));
    let approve = cli(&s, &url, &["bypass", "approve", &id, "--as", "sec-lead", "-m", "fixture"])?;
    assert!(approve.status.success(), "{}", stderr(&approve));

    // Another pusher cannot use it.
    let out = push_as(&s, "bob", &["-o", &with_request, "origin", "main"])?;
    assert!(!out.status.success());
    assert!(stderr(&out).contains("opened by another pusher"), "{}", stderr(&out));
    // Nor can the same pusher add another secret under it.
    let other = github_token(42);
    s.commit("fixtures/other.txt", format!("{other}\n"), "another")?;
    let out = push_as(&s, "alice", &["-o", &with_request, "origin", "main"])?;
    assert!(!out.status.success());
    assert!(stderr(&out).contains("not the ones it covers"), "{}", stderr(&out));
    assert_eq!(s.server_ref("refs/heads/main"), None);
    git(&s.work, &["reset", "-q", "--hard", "HEAD~1"])?;
    // The same pusher, the same secret, the same repository: through, and recorded.
    let out = push_as(&s, "alice", &["-o", &with_request, "origin", "main"])?;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains(&format!("bypass request {id} approved")), "{}", stderr(&out));
    assert!(s.server_ref("refs/heads/main").is_some());
    let audit = std::fs::read_to_string(s.bare.join("leakgate/audit.jsonl"))?;
    let record: serde_json::Value = serde_json::from_str(audit.lines().last().ok_or("record")?)?;
    assert_eq!(record["event"], "bypass");
    assert_eq!(record["reason"], format!("request:{id}"));
    assert_eq!(record["user"], "alice");
    assert!(!audit.contains(&token));

    // Another repository sharing the database: the approval does not travel.
    let t = Server::new()?;
    t.config("leakgate.database", &url)?;
    t.config("leakgate.pusherVariable", "X_PUSHER")?;
    t.config("leakgate.bypassMode", "request")?;
    t.commit("fixtures/token.txt", format!("{token}\n"), "fixture")?;
    let out = push_as(&t, "alice", &["-o", &with_request, "origin", "main"])?;
    assert!(!out.status.success());
    assert!(stderr(&out).contains("another repository"), "{}", stderr(&out));
    Ok(())
}

#[test]
fn rejected_and_expired_requests_let_nothing_through() -> TestResult {
    let s = Server::new()?;
    let url = with_database(&s)?;
    s.config("leakgate.bypassMode", "request")?;
    s.commit("src/config.rs", format!("const T: &str = \"{}\";\n", github_token(43)), "key")?;
    let id = request_id(&push_as(&s, "alice", &["origin", "main"])?)?;
    // Rejecting needs a message for the pusher.
    let bare = cli(&s, &url, &["bypass", "reject", &id, "--as", "sec-lead"])?;
    assert!(!bare.status.success());
    let reject = cli(
        &s,
        &url,
        &["bypass", "reject", &id, "--as", "sec-lead", "-m", "a live key: rotate it"],
    )?;
    assert!(reject.status.success(), "{}", stderr(&reject));
    let out =
        push_as(&s, "alice", &["-o", &format!("leakgate.bypass=req:{id}"), "origin", "main"])?;
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("sec-lead rejected it: a live key: rotate it"),
        "{}",
        stderr(&out)
    );
    // A request id that does not exist, and one that is not a number.
    let out = push_as(&s, "alice", &["-o", "leakgate.bypass=req:999", "origin", "main"])?;
    assert!(stderr(&out).contains("no such request"), "{}", stderr(&out));
    let out = push_as(&s, "alice", &["-o", "leakgate.bypass=req:x", "origin", "main"])?;
    assert!(!out.status.success() && stderr(&out).contains("not a bypass request id"));

    // Requests that expire at once: they cannot be approved, nor used.
    s.config("leakgate.bypassRequestDays", "0")?;
    let late = request_id(&push_as(&s, "carol", &["origin", "main"])?)?;
    assert_ne!(late, id);
    let approve = cli(&s, &url, &["bypass", "approve", &late, "--as", "sec-lead"])?;
    assert_eq!(approve.status.code(), Some(1));
    assert!(stderr(&approve).contains("expired"), "{}", stderr(&approve));
    let expired = cli(&s, &url, &["bypass", "list", "--state", "expired"])?;
    assert!(stdout(&expired).contains("carol"), "{}", stdout(&expired));
    let out =
        push_as(&s, "carol", &["-o", &format!("leakgate.bypass=req:{late}"), "origin", "main"])?;
    assert!(!out.status.success());
    assert!(stderr(&out).contains("it is expired"), "{}", stderr(&out));
    assert_eq!(s.server_ref("refs/heads/main"), None);
    Ok(())
}

#[test]
fn requests_need_a_database_an_identified_pusher_and_request_mode() -> TestResult {
    let s = Server::new()?;
    s.config("leakgate.bypassMode", "request")?;
    s.commit("fixtures/token.txt", format!("{}\n", github_token(44)), "fixture")?;
    // Only the OS account is known (everybody's `git` on an ssh server): no request.
    let url = format!("sqlite://{}", s.dir.path().join("leakgate.db").display());
    s.config("leakgate.database", &url)?;
    let out = s.push_cmd(&["origin", "main"]).env_remove("REMOTE_USER").output()?;
    assert!(!out.status.success());
    assert!(stderr(&out).contains("need the pusher's name"), "{}", stderr(&out));
    let out = s.push_cmd(&["-o", "leakgate.bypass=req:1", "origin", "main"]).output()?;
    assert!(stderr(&out).contains("need the pusher's name"), "{}", stderr(&out));
    git(&s.bare, &["config", "--unset", "leakgate.database"])?;
    s.config("leakgate.pusherVariable", "X_PUSHER")?;
    let out = push_as(&s, "alice", &["origin", "main"])?;
    assert!(!out.status.success());
    assert!(stderr(&out).contains("bypass requests need a database"), "{}", stderr(&out));
    s.config("leakgate.bypassMode", "option")?;
    let out = s.push(&["-o", "leakgate.bypass=req:1", "origin", "main"])?;
    assert!(!out.status.success());
    assert!(stderr(&out).contains("not enabled"), "{}", stderr(&out));
    Ok(())
}

#[test]
fn a_waiver_lets_a_known_secret_through_in_its_scope_until_it_expires() -> TestResult {
    let s = Server::new()?;
    let url = with_database(&s)?;
    let token = github_token(45);
    s.commit("fixtures/token.txt", format!("{token}\n"), "fixture")?;
    let out = push_as(&s, "alice", &["origin", "main"])?;
    assert!(!out.status.success());
    let fp = fingerprint(&out)?;
    assert_eq!(fp.len(), 64, "{}", stderr(&out));
    let repo = repo_path(&s)?;
    let add = cli(
        &s,
        &url,
        &[
            "waive",
            "add",
            "--fingerprint",
            &fp,
            "--reason",
            "parser fixture",
            "--expires",
            "1h",
            "--repo",
            &repo,
            "--path",
            "fixtures/**",
            "--as",
            "sec-lead",
        ],
    )?;
    assert!(add.status.success(), "{}", stderr(&add));
    let out = push_as(&s, "alice", &["origin", "main"])?;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("known secret(s) waived"), "{}", stderr(&out));
    let audit = std::fs::read_to_string(s.bare.join("leakgate/audit.jsonl"))?;
    assert!(audit.lines().any(|l| l.contains("\"event\":\"waived\"")), "{audit}");
    let list = cli(&s, &url, &["waive", "list"])?;
    assert!(stdout(&list).contains("uses 1") && stdout(&list).contains("in force"));

    // Out of its path scope, the same secret blocks.
    s.commit("src/token.rs", format!("const T: &str = \"{token}\";\n"), "moved")?;
    let out = push_as(&s, "alice", &["origin", "main"])?;
    assert!(!out.status.success(), "{}", stderr(&out));
    git(&s.work, &["reset", "-q", "--hard", "HEAD~1"])?;

    // Nor does the same blob at a path out of scope: copied later (a ref reaches it under
    // `fixtures/` already), or in one push with a copy in scope that the walk meets first.
    s.commit("fixtures/same.txt", format!("{token}\n"), "copy in scope")?;
    assert!(push_as(&s, "alice", &["origin", "main"])?.status.success());
    s.commit("app/same.txt", format!("{token}\n"), "the same blob out of scope")?;
    let out = push_as(&s, "alice", &["origin", "main"])?;
    assert!(!out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("app/same.txt"), "{}", stderr(&out));
    git(&s.work, &["reset", "-q", "--hard", "HEAD~1"])?;
    let again = format!("again: {token}\n");
    std::fs::create_dir_all(s.work.join("a"))?;
    std::fs::write(s.work.join("a/t.txt"), &again)?;
    s.commit("fixtures/t.txt", &again, "in and out of scope at once")?;
    let out = push_as(&s, "alice", &["origin", "main"])?;
    assert!(!out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("a/t.txt"), "{}", stderr(&out));
    git(&s.work, &["reset", "-q", "--hard", "HEAD~1"])?;

    // An expired waiver stops applying, and says so.
    let first = stdout(&add).split_whitespace().nth(1).ok_or("waiver id")?.to_owned();
    assert!(cli(&s, &url, &["waive", "remove", &first, "--as", "sec-lead"])?.status.success());
    let again = cli(&s, &url, &["waive", "remove", &first, "--as", "sec-lead"])?;
    assert_eq!(again.status.code(), Some(1));
    s.commit("fixtures/copy.txt", format!("copy: {token}\n"), "copy")?;
    let short = cli(
        &s,
        &url,
        &[
            "waive",
            "add",
            "--fingerprint",
            &fp,
            "--reason",
            "brief",
            "--expires",
            "1s",
            "--as",
            "sec-lead",
        ],
    )?;
    assert!(short.status.success(), "{}", stderr(&short));
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let out = push_as(&s, "alice", &["origin", "main"])?;
    assert!(!out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("has expired; the secret blocks again"), "{}", stderr(&out));
    let unused = cli(&s, &url, &["waive", "list", "--unused"])?;
    assert!(stdout(&unused).contains("brief") && stdout(&unused).contains("expired"));
    assert!(!stdout(&unused).contains("parser fixture"), "removed: {}", stdout(&unused));
    Ok(())
}

/// Adds a waiver of `fp` for `glob` in `s`'s repository, lasting `expires`.
fn waive(s: &Server, url: &str, fp: &str, glob: &str, expires: &str) -> Res<()> {
    let repo = repo_path(s)?;
    let args = [
        "waive",
        "add",
        "--fingerprint",
        fp,
        "--reason",
        "r",
        "--expires",
        expires,
        "--repo",
        &repo,
        "--path",
        glob,
        "--as",
        "sec-lead",
    ];
    let out = cli(s, url, &args)?;
    if !out.status.success() {
        return Err(stderr(&out).into());
    }
    Ok(())
}

/// A blob a ref names is scanned at the empty path, and is in that path's class there and
/// in the edges' set: a waiver for `*` (top-level files) matches the empty path, and a blob
/// pushed to a tag, waived there, was then taken as old at `app/k.txt` (review of session
/// 25). Nor does a waiver's expiry let what it covered out of its paths.
#[test]
fn a_waived_blob_stays_in_its_paths_through_blob_refs_and_expiry() -> TestResult {
    let s = Server::new()?;
    let url = with_database(&s)?;
    s.commit("README.md", "base\n", "base")?;
    assert!(push_as(&s, "alice", &["origin", "main"])?.status.success());
    let key = format!("token = \"{}\"\n", github_token(47));
    s.commit("app/k.txt", &key, "key")?;
    let out = push_as(&s, "alice", &["origin", "main"])?;
    assert!(!out.status.success());
    let fp = fingerprint(&out)?;
    waive(&s, &url, &fp, "*", "1h")?;
    assert!(!push_as(&s, "alice", &["origin", "main"])?.status.success());
    let blob = git(&s.work, &["rev-parse", "HEAD:app/k.txt"])?;
    let out = push_as(&s, "alice", &["origin", &format!("{blob}:refs/tags/blob")])?;
    assert!(out.status.success(), "waived at the empty path: {}", stderr(&out));
    let out = push_as(&s, "alice", &["origin", "main"])?;
    assert!(!out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("app/k.txt"), "{}", stderr(&out));
    git(&s.work, &["reset", "-q", "--hard", "HEAD~1"])?;

    let other = format!("token = \"{}\"\n", github_token(48));
    s.commit("tests/k.txt", &other, "key in tests")?;
    let out = push_as(&s, "alice", &["origin", "main"])?;
    let fp = fingerprint(&out)?;
    waive(&s, &url, &fp, "tests/**", "1s")?;
    assert!(push_as(&s, "alice", &["origin", "main"])?.status.success());
    std::thread::sleep(std::time::Duration::from_millis(1500));
    s.commit("app/k2.txt", &other, "copied out after the waiver expired")?;
    let out = push_as(&s, "alice", &["origin", "main"])?;
    assert!(!out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("app/k2.txt"), "{}", stderr(&out));
    Ok(())
}

/// A tree bomb the refs already hold (pushed before any path condition, when the walk went by
/// id) must not make every later push slow or rejected once paths matter: past the cap, the
/// edges' set reaches nothing, and the push's objects are scanned as new (review of session
/// 25: an innocent rename took 8 to 48 s, then was rejected as content).
#[test]
fn a_tree_bomb_in_existing_history_does_not_block_later_pushes() -> TestResult {
    let s = Server::new()?;
    let url = with_database(&s)?;
    s.commit("notes.txt", "notes\n", "base")?;
    let commit = commit_wide_bomb(&s)?;
    git(&s.work, &["reset", "-q", "--soft", &commit])?;
    assert!(push_as(&s, "alice", &["origin", "main"])?.status.success());
    // A waiver for some paths makes paths matter.
    waive(&s, &url, &"0".repeat(64), "tests/**", "1h")?;
    // A rename: the blob is old, no shortcut decides it, and the edges' set is built.
    git(&s.work, &["mv", "notes.txt", "renamed.txt"])?;
    git(&s.work, &["commit", "-q", "-m", "rename"])?;
    let out = push_as(&s, "alice", &["origin", "main"])?;
    assert!(out.status.success(), "{}", stderr(&out));
    // A key pushed the same way is still found.
    s.commit("renamed.txt", format!("token = \"{}\"\n", github_token(49)), "key")?;
    let out = push_as(&s, "alice", &["origin", "main"])?;
    assert!(!out.status.success(), "{}", stderr(&out));
    Ok(())
}

#[test]
fn exempt_pushers_are_not_blocked_and_are_recorded() -> TestResult {
    let s = Server::new()?;
    with_database(&s)?;
    s.config("leakgate.exemptUsers", "release-bot")?;
    s.commit("dist/config.json", format!("{{\"t\": \"{}\"}}\n", github_token(46)), "release")?;
    let out = push_as(&s, "alice", &["origin", "main"])?;
    assert!(!out.status.success());
    let out = push_as(&s, "release-bot", &["origin", "main"])?;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("release-bot is exempt"), "{}", stderr(&out));
    let audit = std::fs::read_to_string(s.bare.join("leakgate/audit.jsonl"))?;
    let record: serde_json::Value = serde_json::from_str(audit.lines().last().ok_or("record")?)?;
    assert_eq!(
        (record["event"].as_str(), record["user"].as_str()),
        (Some("exempt"), Some("release-bot"))
    );
    Ok(())
}

fn push_main(s: &Server) -> Res<Output> {
    s.push(&["origin", "main"])
}

#[test]
fn the_protected_branchs_project_config_applies_and_the_pushed_one_does_not() -> TestResult {
    let s = Server::new()?;
    s.commit(".leakgate.toml", "[paths]\nskip = [\"fixtures/**\"]\n", "project config")?;
    assert!(push_main(&s)?.status.success());
    s.commit("fixtures/token.txt", format!("{}\n", github_token(47)), "fixture")?;
    // Off unless the server allows it.
    assert!(!push_main(&s)?.status.success());
    s.config("leakgate.projectConfig", "true")?;
    let out = push_main(&s)?;
    assert!(out.status.success(), "{}", stderr(&out));

    // A push that widens the skip list and adds a key elsewhere: the file on main, as it was
    // before the push, decides.
    s.commit(
        ".leakgate.toml",
        "[paths]\nskip = [\"**\"]\n[rules]\ndisable = [\"github-pat-classic\"]\n",
        "skip all",
    )?;
    s.commit("src/key.rs", format!("const T: &str = \"{}\";\n", github_token(48)), "key")?;
    let out = push_main(&s)?;
    assert!(!out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("src/key.rs"), "{}", stderr(&out));
    // The same holds for another branch.
    let out = s.push(&["origin", "main:refs/heads/topic"])?;
    assert!(!out.status.success(), "{}", stderr(&out));
    git(&s.work, &["reset", "-q", "--hard", "HEAD~2"])?;

    // A broken file on the protected branch applies nothing (every rule stays on) and says so.
    // The hook rejects a push that brings one (below); it gets there while the hook does not
    // read project files.
    s.commit(".leakgate.toml", "[paths]\nskipp = [\"fixtures/**\"]\n", "typo")?;
    assert!(!push_main(&s)?.status.success());
    s.config("leakgate.projectConfig", "false")?;
    assert!(push_main(&s)?.status.success());
    s.config("leakgate.projectConfig", "true")?;
    s.commit("fixtures/again.txt", format!("{}\n", github_token(49)), "fixture")?;
    let out = push_main(&s)?;
    assert!(!out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("project configuration is not applied"), "{}", stderr(&out));
    assert!(stderr(&out).contains("refs/heads/main:.leakgate.toml"), "{}", stderr(&out));
    Ok(())
}

/// The pushed tree's own `.leakgate.toml` is never read, even on the first push (no
/// protected branch yet).
#[test]
fn a_first_push_brings_no_project_config_of_its_own() -> TestResult {
    let s = Server::new()?;
    s.config("leakgate.projectConfig", "true")?;
    s.commit(".leakgate.toml", "[paths]\nskip = [\"**\"]\n", "skip everything")?;
    s.commit("app/key.txt", format!("{}\n", github_token(50)), "key")?;
    let out = push_main(&s)?;
    assert!(!out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("app/key.txt"), "{}", stderr(&out));
    Ok(())
}

/// The project's skipped paths skip content only where it is skipped: the same blob at a
/// skipped path (`vendor/`) and at a scanned one was walked once, at whichever path came
/// first, and a blob an existing ref reached only at a skipped path counted as old when a
/// push copied it elsewhere (found by the review of session 24).
#[test]
fn content_at_a_skipped_path_is_scanned_where_it_is_not_skipped() -> TestResult {
    let s = Server::new()?;
    s.config("leakgate.projectConfig", "true")?;
    s.commit(".leakgate.toml", "[paths]\nskip = [\"vendor/**\"]\n", "project config")?;
    assert!(push_main(&s)?.status.success());
    let key = format!("token = \"{}\"\n", github_token(55));
    std::fs::create_dir_all(s.work.join("app"))?;
    std::fs::write(s.work.join("app/k.txt"), &key)?;
    s.commit("vendor/k.txt", &key, "the same blob twice")?;
    let out = push_main(&s)?;
    assert!(!out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("app/k.txt"), "{}", stderr(&out));
    git(&s.work, &["reset", "-q", "--hard", "HEAD~1"])?;

    let other = format!("token = \"{}\"\n", github_token(56));
    s.commit("vendor/lib/k.txt", &other, "vendored: skipped")?;
    assert!(push_main(&s)?.status.success());
    s.commit("src/k.txt", &other, "copied out of vendor/")?;
    let out = push_main(&s)?;
    assert!(!out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("src/k.txt"), "{}", stderr(&out));
    Ok(())
}

/// A key of the project rule [`with_acme_rule`] adds.
const ACME_KEY: &str = "t = 'acme_int_0123456789abcdef0123456789abcdef'\n";

/// Applies the protected branch's project configuration, with a rule for ACME tokens that
/// allowlists `tests/**` (a path condition: paths then matter to the walk).
fn with_acme_rule(s: &Server) -> TestResult {
    s.config("leakgate.projectConfig", "true")?;
    let rule = "[[rule]]\nid = \"acme-internal-token\"\ndescription = \"ACME internal token\"\n\
                provider = \"acme\"\nkeywords = [\"acme_int_\"]\n\
                regex = '''\\bacme_int_[0-9a-f]{32}\\b'''\nseverity = \"critical\"\n\
                [rule.allowlist]\npaths = [\"tests/**\"]\n";
    s.commit(".leakgate.toml", rule, "project config")?;
    assert!(push_main(s)?.status.success());
    Ok(())
}

/// A push that brings the protected branch a `.leakgate.toml` the hook cannot apply is
/// rejected: pushed, it left out every rule the file adds, and the next push's key of that
/// kind went through (review of session 26). Every change to the file that lands is audited.
#[test]
fn a_project_config_the_hook_cannot_apply_is_rejected_and_changes_are_audited() -> TestResult {
    let s = Server::new()?;
    with_acme_rule(&s)?;
    let log = s.bare.join("leakgate/audit.jsonl");
    let audit = || std::fs::read_to_string(&log).unwrap_or_default();
    let events = || -> Res<Vec<serde_json::Value>> {
        let lines = audit();
        let all: Result<Vec<serde_json::Value>, _> =
            lines.lines().map(serde_json::from_str).collect();
        Ok(all?.into_iter().filter(|e| e["event"] == "project_config").collect())
    };
    let added = events()?;
    assert_eq!(added.len(), 1, "{}", audit());
    assert_eq!(added[0]["refs"][0], "refs/heads/main");
    assert!(added[0]["comment"].as_str().is_some_and(|c| c.starts_with("none -> ")), "{added:?}");

    let broken = [
        ("syntax", "[[rule]\nid = \"x\"\n"),
        ("unknown field", "[paths]\nskipp = [\"x/**\"]\n"),
        ("unknown rule", "[rules]\ndisable = [\"no-such-rule\"]\n"),
        ("bad regex", "[[rule]]\nid = \"r\"\ndescription = \"r\"\nprovider = \"p\"\nkeywords = [\"k\"]\nregex = '(['\n"),
    ];
    for (case, text) in broken {
        s.commit(".leakgate.toml", text, case)?;
        let out = push_main(&s)?;
        assert!(!out.status.success(), "{case}: {}", stderr(&out));
        let shown = "the pushed .leakgate.toml of refs/heads/main cannot be used";
        assert!(stderr(&out).contains(shown), "{case}: {}", stderr(&out));
        // To another branch the file changes nothing the hook reads.
        let out = s.push(&["origin", "HEAD:refs/heads/topic", "--force"])?;
        assert!(out.status.success(), "{case}: {}", stderr(&out));
        git(&s.work, &["reset", "-q", "--hard", "HEAD~1"])?;
    }
    // Not a regular file: a directory, and the same blob as a symbolic link (only the mode
    // changes; review of session 27).
    let not_a_file = || -> TestResult {
        let out = push_main(&s)?;
        let rejected = !out.status.success() && stderr(&out).contains("not a regular file");
        assert!(rejected, "{}", stderr(&out));
        git(&s.work, &["reset", "-q", "--hard", "HEAD~1"])?;
        Ok(())
    };
    let blob = git(&s.work, &["rev-parse", "HEAD:.leakgate.toml"])?;
    std::fs::remove_file(s.work.join(".leakgate.toml"))?;
    s.commit(".leakgate.toml/x", "x\n", "a directory")?;
    not_a_file()?;
    git(&s.work, &["update-index", "--cacheinfo", &format!("120000,{blob},.leakgate.toml")])?;
    git(&s.work, &["commit", "-q", "-m", "a link"])?;
    not_a_file()?;
    // The project's rule still holds.
    s.commit("app/k.py", ACME_KEY, "key")?;
    let out = push_main(&s)?;
    assert!(
        !out.status.success() && stderr(&out).contains("acme-internal-token"),
        "{}",
        stderr(&out)
    );
    git(&s.work, &["reset", "-q", "--hard", "HEAD~1"])?;
    assert_eq!(events()?.len(), 1, "nothing landed: {}", audit());

    // In warn mode the push lands, with the problem shown.
    s.config("leakgate.mode", "warn")?;
    s.commit(".leakgate.toml", "[paths]\nskipp = [\"x/**\"]\n", "typo")?;
    let out = push_main(&s)?;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("warning: the pushed .leakgate.toml"), "{}", stderr(&out));
    s.config("leakgate.mode", "block")?;
    // Removing the file lands, audited.
    std::fs::remove_file(s.work.join(".leakgate.toml"))?;
    git(&s.work, &["commit", "-q", "-am", "no project config"])?;
    let out = push_main(&s)?;
    assert!(out.status.success(), "{}", stderr(&out));
    let changes = events()?;
    assert_eq!(changes.len(), 3, "{}", audit());
    assert!(changes[2]["comment"].as_str().is_some_and(|c| c.ends_with(" -> none")), "{changes:?}");
    // A change that cannot be recorded does not land (no database, and the log cannot be
    // written).
    std::fs::remove_file(&log)?;
    std::fs::create_dir(&log)?;
    s.commit(".leakgate.toml", "[paths]\nskip = [\"docs/**\"]\n", "skip docs")?;
    let out = push_main(&s)?;
    assert!(!out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("could not be recorded"), "{}", stderr(&out));
    Ok(())
}

/// A rule's own path allowlist decides at every path a blob is met at: the same key at
/// `tests/k.py` (allowlisted for the rule) and `app/k.py` blocks for `app/k.py`, in one push
/// and across two. Before, the walk handed a blob out at its first path (the last directory
/// first) and took it as old wherever a ref reached it (found by the review of session 24).
#[test]
fn a_rules_path_allowlist_decides_at_every_path_a_blob_is_met() -> TestResult {
    let s = Server::new()?;
    with_acme_rule(&s)?;
    let key = ACME_KEY;
    std::fs::create_dir_all(s.work.join("app"))?;
    std::fs::write(s.work.join("app/k.py"), key)?;
    s.commit("tests/k.py", key, "the same blob twice")?;
    let out = push_main(&s)?;
    assert!(!out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("app/k.py"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("tests/k.py"), "{}", stderr(&out));
    git(&s.work, &["reset", "-q", "--hard", "HEAD~1"])?;

    s.commit("tests/k.py", key, "allowlisted for the rule")?;
    assert!(push_main(&s)?.status.success());
    s.commit("app/k.py", key, "copied out of tests/")?;
    let out = push_main(&s)?;
    assert!(!out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("app/k.py"), "{}", stderr(&out));
    Ok(())
}

/// With skipped paths trees are walked per path: a tree that holds the same tree twice, forty
/// levels deep (1 KB), reaches its bottom at 2^40 paths. Such a push is rejected as content,
/// whatever the server accepts of incomplete scans; before, it spent the time budget, and
/// `acceptIncomplete` let a key pushed with it through (review of session 24).
#[test]
fn a_tree_bomb_with_skipped_paths_is_rejected_not_timed_out() -> TestResult {
    let s = Server::new()?;
    s.config("leakgate.projectConfig", "true")?;
    s.config("leakgate.acceptIncomplete", "true")?;
    s.commit(".leakgate.toml", "[paths]\nskip = [\"vendor/**\"]\n", "project config")?;
    assert!(push_main(&s)?.status.success());
    let blob = git_stdin(&s.work, &["hash-object", "-w", "--stdin"], b"leaf\n")?;
    let mut tree =
        git_stdin(&s.work, &["mktree"], format!("100644 blob {blob}\tleaf\n").as_bytes())?;
    for _ in 0..40 {
        let entries = format!("040000 tree {tree}\ta\n040000 tree {tree}\tb\n");
        tree = git_stdin(&s.work, &["mktree"], entries.as_bytes())?;
    }
    let root = git(&s.work, &["rev-parse", "HEAD^{tree}"])?;
    let listing = git(&s.work, &["ls-tree", &root])?;
    // Under the skipped directory: every leaf is skipped, so no tree is clean.
    let entries = format!("{listing}\n040000 tree {tree}\tvendor\n");
    let with_bomb = git_stdin(&s.work, &["mktree"], entries.as_bytes())?;
    let commit = git(&s.work, &["commit-tree", &with_bomb, "-p", "HEAD", "-m", "bomb"])?;
    // Never checked out: 2^40 files.
    git(&s.work, &["reset", "-q", "--soft", &commit])?;
    s.commit("app/key.txt", format!("{}\n", github_token(57)), "key")?;
    let out = push_main(&s)?;
    assert!(!out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("too many paths"), "{}", stderr(&out));
    Ok(())
}

/// A commit on `HEAD` that adds `data/`: one tree of 4,000 entries naming the same tree of
/// 4,000 entries (260 KB; 16 million files, never to be checked out).
fn commit_wide_bomb(s: &Server) -> Res<String> {
    let blob = git_stdin(&s.work, &["hash-object", "-w", "--stdin"], b"leaf\n")?;
    let leaves: String = (0..4_000).map(|i| format!("100644 blob {blob}\tf{i}\n")).collect();
    let leaf = git_stdin(&s.work, &["mktree"], leaves.as_bytes())?;
    let dirs: String = (0..4_000).map(|i| format!("040000 tree {leaf}\td{i}\n")).collect();
    let wide = git_stdin(&s.work, &["mktree"], dirs.as_bytes())?;
    let root = git(&s.work, &["rev-parse", "HEAD^{tree}"])?;
    let listing = git(&s.work, &["ls-tree", &root])?;
    let entries = format!("{listing}\n040000 tree {wide}\tdata\n");
    let with_bomb = git_stdin(&s.work, &["mktree"], entries.as_bytes())?;
    let commit = git(&s.work, &["commit-tree", &with_bomb, "-p", "HEAD", "-m", "bomb"])?;
    Ok(commit)
}

/// The same with wide trees: one tree of 4,000 entries naming the same tree of 4,000 entries
/// (260 KB) makes 16 million entries, walked per path when a rule's allowlist makes paths
/// matter. The cap counts entries read, not walks (4,000 walks stayed under a cap of 50,000
/// walks, and the walk spent the budget: under `acceptIncomplete` the key passed), and the
/// push is rejected as content.
#[test]
fn a_wide_tree_bomb_with_path_conditions_is_rejected_not_timed_out() -> TestResult {
    let s = Server::new()?;
    s.config("leakgate.acceptIncomplete", "true")?;
    // The walk of the bomb took 2.7 s before the cap counted entries: past this budget.
    s.config("leakgate.timeoutMs", "2000")?;
    with_acme_rule(&s)?;
    let commit = commit_wide_bomb(&s)?;
    // Never checked out: 16 million files.
    git(&s.work, &["reset", "-q", "--soft", &commit])?;
    s.commit("app/key.py", ACME_KEY, "key")?;
    let out = push_main(&s)?;
    assert!(!out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("too many paths"), "{}", stderr(&out));
    Ok(())
}

/// A pushed tree entry named `..` makes `tests/../app/k.py`, which a rule's `tests/**`
/// allowlist matches although git would put nothing under `tests/`: when paths matter the
/// hook rejects names git fsck reports (`..`, `.`, empty, holding `/`) as content (review of
/// session 25).
#[test]
fn tree_entries_git_fsck_reports_are_rejected_when_paths_matter() -> TestResult {
    let s = Server::new()?;
    with_acme_rule(&s)?;
    let key = ACME_KEY.as_bytes();
    let blob = git_stdin(&s.work, &["hash-object", "-w", "--stdin"], key)?;
    let file = git_stdin(&s.work, &["mktree"], format!("100644 blob {blob}\tk.py\n").as_bytes())?;
    let app = git_stdin(&s.work, &["mktree"], format!("040000 tree {file}\tapp\n").as_bytes())?;
    // `git mktree` refuses such names: the tree is written as raw bytes.
    let raw_id: Vec<u8> = (0..app.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&app[i..i + 2], 16))
        .collect::<Result<_, _>>()?;
    let mut raw = b"40000 ..\0".to_vec();
    raw.extend_from_slice(&raw_id);
    let dots =
        git_stdin(&s.work, &["hash-object", "-w", "-t", "tree", "--literally", "--stdin"], &raw)?;
    let root = git(&s.work, &["rev-parse", "HEAD^{tree}"])?;
    let listing = git(&s.work, &["ls-tree", &root])?;
    let entries = format!("{listing}\n040000 tree {dots}\ttests\n");
    let tree = git_stdin(&s.work, &["mktree"], entries.as_bytes())?;
    let commit = git(&s.work, &["commit-tree", &tree, "-p", "HEAD", "-m", "dots"])?;
    git(&s.work, &["reset", "-q", "--soft", &commit])?;
    let out = push_main(&s)?;
    assert!(!out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("git fsck reports"), "{}", stderr(&out));
    Ok(())
}

/// A replace ref (`refs/replace/<id>`, which any pusher may push: the hook scans what it
/// brings, and a `.leakgate.toml` holds no key) must not stand in for the protected branch's
/// objects: git's object replacement applied to the hook's reads let a pushed commit replace
/// main's tip, and its project file skip everything (found in session 24).
#[test]
fn a_replace_ref_cannot_stand_in_for_the_protected_branch() -> TestResult {
    let s = Server::new()?;
    s.config("leakgate.projectConfig", "true")?;
    s.commit(".leakgate.toml", "[paths]\nskip = [\"fixtures/**\"]\n", "project config")?;
    let tip = s.commit("README.md", "base\n", "base")?;
    assert!(push_main(&s)?.status.success());
    // A commit whose tree skips everything, pushed as the replacement of main's tip.
    git(&s.work, &["checkout", "-q", "-b", "decoy"])?;
    s.commit(".leakgate.toml", "[paths]\nskip = [\"**\"]\n", "skip all")?;
    let decoy = git(&s.work, &["rev-parse", "HEAD"])?;
    let out = s.push(&["origin", &format!("{decoy}:refs/replace/{tip}")])?;
    assert!(out.status.success(), "the replace ref holds no key: {}", stderr(&out));
    git(&s.work, &["checkout", "-q", "main"])?;
    s.commit("src/key.txt", format!("{}\n", github_token(51)), "key")?;
    let out = s.push(&["origin", "main:refs/heads/topic"])?;
    assert!(!out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("src/key.txt"), "{}", stderr(&out));
    Ok(())
}

/// The same flow with the service's PostgreSQL as the hook's database.
#[test]
fn bypass_requests_and_waivers_work_with_the_services_postgresql() -> TestResult {
    let Some(pg) = crate::pg::start_or_skip() else { return Ok(()) };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let url = runtime.block_on(pg.database("hook_exceptions"));
    let s = Server::new()?;
    s.config("leakgate.database", &url)?;
    s.config("leakgate.pusherVariable", "X_PUSHER")?;
    s.config("leakgate.bypassMode", "request")?;
    s.commit("fixtures/a.txt", format!("{}\n", github_token(51)), "fixture")?;
    let out = push_as(&s, "alice", &["origin", "main"])?;
    assert!(!out.status.success(), "{}", stderr(&out));
    let id = request_id(&out)?;
    let approve = cli(&s, &url, &["bypass", "approve", &id, "--as", "sec-lead", "-m", "ok"])?;
    assert!(approve.status.success(), "{}", stderr(&approve));
    let out =
        push_as(&s, "alice", &["-o", &format!("leakgate.bypass=req:{id}"), "origin", "main"])?;
    assert!(out.status.success(), "{}", stderr(&out));

    s.commit("fixtures/b.txt", format!("{}\n", github_token(52)), "another")?;
    let out = push_as(&s, "alice", &["origin", "main"])?;
    assert!(!out.status.success());
    let fp = fingerprint(&out)?;
    let add = cli(
        &s,
        &url,
        &[
            "waive",
            "add",
            "--fingerprint",
            &fp,
            "--reason",
            "fixture",
            "--expires",
            "1d",
            "--as",
            "sec-lead",
        ],
    )?;
    assert!(add.status.success(), "{}", stderr(&add));
    let out = push_as(&s, "alice", &["origin", "main"])?;
    assert!(out.status.success(), "{}", stderr(&out));
    Ok(())
}

/// `leakgate.projectConfigRef = main` names the branch, never a tag (or other ref) of that
/// name that a pusher may create.
#[test]
fn a_tag_named_like_the_protected_branch_is_not_its_config() -> TestResult {
    let s = Server::new()?;
    s.commit(".leakgate.toml", "[paths]\nskip = [\"fixtures/**\"]\n", "project config")?;
    assert!(push_main(&s)?.status.success());
    s.config("leakgate.projectConfig", "true")?;
    s.config("leakgate.projectConfigRef", "main")?;
    git(&s.work, &["checkout", "-q", "-b", "side"])?;
    s.commit(".leakgate.toml", "[paths]\nskip = [\"**\"]\n", "skip all")?;
    assert!(s.push(&["origin", "side:refs/tags/main"])?.status.success());
    git(&s.work, &["checkout", "-q", "main"])?;
    s.commit("src/key.rs", format!("const T: &str = \"{}\";\n", github_token(53)), "key")?;
    let out = push_main(&s)?;
    assert!(!out.status.success(), "{}", stderr(&out));
    // And a projectConfigRef that is not a branch applies nothing, with a warning.
    s.config("leakgate.projectConfigRef", "refs/tags/main")?;
    let out = push_main(&s)?;
    assert!(!out.status.success());
    assert!(stderr(&out).contains("is not a branch"), "{}", stderr(&out));
    Ok(())
}

/// The protected branch's `[allow] fingerprints` and `[[rule]]` apply in the hook too.
#[test]
fn the_protected_branchs_allowed_fingerprints_and_extra_rules_apply() -> TestResult {
    let s = Server::new()?;
    s.commit("README.md", "base\n", "base")?;
    assert!(push_main(&s)?.status.success());
    let known = github_token(54);
    s.commit("fixtures/known.txt", format!("{known}\n"), "fixture")?;
    let out = push_main(&s)?;
    assert!(!out.status.success());
    let fp = fingerprint(&out)?;
    git(&s.work, &["reset", "-q", "--hard", "HEAD~1"])?;
    let rule = "[[rule]]\nid = \"acme-internal-token\"\ndescription = \"ACME internal token\"\n\
                provider = \"acme\"\nkeywords = [\"acme_int_\"]\nregex = '''\\bacme_int_[0-9a-f]{32}\\b'''\n\
                severity = \"high\"\n";
    s.commit(".leakgate.toml", format!("[allow]\nfingerprints = [\"{fp}\"]\n\n{rule}"), "config")?;
    assert!(push_main(&s)?.status.success());
    s.config("leakgate.projectConfig", "true")?;
    s.commit("fixtures/known.txt", format!("{known}\n"), "fixture")?;
    let out = push_main(&s)?;
    assert!(out.status.success(), "{}", stderr(&out));
    s.commit("src/acme.py", ACME_KEY, "acme")?;
    let out = push_main(&s)?;
    assert!(!out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("acme-internal-token"), "{}", stderr(&out));
    Ok(())
}

/// A PostgreSQL address that accepts connections and never answers (a hung server, or a
/// proxy in front of one): the connections are held open, silent, until the test ends.
fn silent_database() -> Res<(String, std::thread::JoinHandle<()>)> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let held = std::thread::spawn(move || {
        let mut open = Vec::new();
        for conn in listener.incoming().take(64) {
            match conn {
                Ok(conn) => open.push(conn),
                Err(_) => break,
            }
        }
    });
    Ok((format!("postgres://leakgate:pw@127.0.0.1:{port}/leakgate"), held))
}

#[test]
fn a_database_that_never_answers_holds_a_rejected_push_no_longer_than_the_budget() -> TestResult {
    let s = Server::new()?;
    let (url, _held) = silent_database()?;
    s.config("leakgate.database", &url)?;
    s.config("leakgate.timeoutMs", "1000")?;
    // A bypass request needs the database too: it cannot be opened, and the push stays
    // rejected.
    s.config("leakgate.bypassMode", "request")?;
    let token = github_token(57);
    s.commit("config/token.txt", format!("{token}\n"), "a key")?;
    // Connecting alone gives up after 10 s: every call was bounded by the hook's budget (at
    // least 2 s) instead (waivers, the bypass request, the record of the rejected push).
    let out = rejected_within_the_budget(&s)?;
    assert!(stderr(&out).contains("did not answer within 2000 ms"), "{}", stderr(&out));
    Ok(())
}

/// Pushes, and kills the push if it has not ended after `limit` (a hook that hangs fails the
/// test instead of holding it).
fn push_within(s: &Server, args: &[&str], limit: std::time::Duration) -> Res<Output> {
    let mut child = s
        .push_cmd(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    let started = std::time::Instant::now();
    while child.try_wait()?.is_none() {
        if started.elapsed() > limit {
            child.kill()?;
            child.wait()?;
            return Err(format!("the push did not end within {limit:?}").into());
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Ok(child.wait_with_output()?)
}

/// Pushes `main` (a GitHub token in it) and checks that the push is rejected, with its
/// finding shown, in less than the 10 s a database connection may take, and without a panic.
fn rejected_within_the_budget(s: &Server) -> Res<Output> {
    let started = std::time::Instant::now();
    let out = push_within(s, &["origin", "main"], std::time::Duration::from_secs(30))?;
    let took = started.elapsed();
    assert!(!out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("github-pat-classic"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    assert_eq!(s.server_ref("refs/heads/main"), None);
    assert!(took < std::time::Duration::from_secs(8), "the push took {took:?}");
    Ok(out)
}

/// PostgreSQL answers, but the table a rejected push is recorded in is locked by another
/// session (a migration, a long `VACUUM FULL`, an operator's transaction left open): without
/// a bound, the hook waits for the lock forever, and the pusher with it.
#[test]
fn a_locked_table_holds_a_rejected_push_no_longer_than_the_budget() -> TestResult {
    let Some(pg) = crate::pg::start_or_skip() else { return Ok(()) };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let url = runtime.block_on(pg.database("hook_locked"));
    let s = Server::new()?;
    s.config("leakgate.database", &url)?;
    s.config("leakgate.timeoutMs", "1000")?;
    s.commit("config/a.txt", format!("{}\n", github_token(58)), "a key")?;
    // The first rejection migrates the database and is recorded.
    let out = push_within(&s, &["origin", "main"], std::time::Duration::from_secs(60))?;
    assert!(!out.status.success(), "{}", stderr(&out));
    let mut lock = runtime.block_on(async {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&url).await?;
        sqlx::query("BEGIN").execute(&mut conn).await?;
        sqlx::query("LOCK TABLE scans IN ACCESS EXCLUSIVE MODE").execute(&mut conn).await?;
        Ok::<_, sqlx::Error>(conn)
    })?;
    rejected_within_the_budget(&s)?;
    runtime.block_on(sqlx::query("ROLLBACK").execute(&mut lock))?;
    // With the lock gone, the next rejection is recorded again.
    let recorded = |runtime: &tokio::runtime::Runtime| -> Res<i64> {
        Ok(runtime.block_on(async {
            use sqlx::Connection;
            let mut conn = sqlx::PgConnection::connect(&url).await?;
            sqlx::query_scalar("SELECT count(*) FROM scans WHERE status = 'blocked'")
                .fetch_one(&mut conn)
                .await
        })?)
    };
    assert_eq!(recorded(&runtime)?, 1);
    let out = push_within(&s, &["origin", "main"], std::time::Duration::from_secs(60))?;
    assert!(!out.status.success(), "{}", stderr(&out));
    assert_eq!(recorded(&runtime)?, 2);
    Ok(())
}
