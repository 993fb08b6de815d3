//! Issue 12: the gate against a pusher who crafts the push. Each test pushes for real into a
//! bare repository with the hook installed (or, for stdin beyond what a test can push, runs
//! the hook as git does) and failed on the code before the issue was fixed.

use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::process::Stdio;

use super::platform::run_hook;
use super::{git, git_in, github_token, stderr, Res, Server, TestResult};

fn audit(s: &Server) -> String {
    std::fs::read_to_string(s.bare.join("leakgate/audit.jsonl")).unwrap_or_default()
}

pub(crate) fn git_stdin(dir: &std::path::Path, args: &[&str], input: &[u8]) -> Res<String> {
    let mut child = git_in(dir, args).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn()?;
    child.stdin.take().ok_or("stdin")?.write_all(input)?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        return Err(format!("git {args:?} failed").into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn commit_at(s: &Server, time: u64, message: &str) -> Res<String> {
    git(&s.work, &["add", "-A"])?;
    let date = format!("{time} +0000");
    let out = git_in(&s.work, &["commit", "-q", "-m", message])
        .env("GIT_COMMITTER_DATE", &date)
        .env("GIT_AUTHOR_DATE", &date)
        .output()?;
    assert!(out.status.success(), "{}", stderr(&out));
    git(&s.work, &["rev-parse", "HEAD"])
}

/// Item 1: `E <- I <- J <- K`, `M = merge(K, J)`; `I: {dir: T1}`, `J: {dir: T2}`,
/// `K: {dir: T1, x}`; `T1 = {a: SECRET, b1}`, `T2 = {a: SECRET, b2}`; times J > I > K, M newest.
#[test]
fn item_1_commit_order_and_timestamps_cannot_hide_a_blob() -> TestResult {
    let s = Server::new()?;
    let t = 1_700_000_000;
    s.commit("README.md", "base\n", "E")?;
    assert!(s.push(&["origin", "main"])?.status.success());
    let secret = format!("TOKEN = \"{}\"\n", github_token(31));
    let write = |p: &str, c: &str| {
        std::fs::create_dir_all(s.work.join("dir")).and_then(|()| std::fs::write(s.work.join(p), c))
    };
    write("dir/a", &secret)?;
    write("dir/b", "b1\n")?;
    commit_at(&s, t + 2000, "I")?;
    write("dir/b", "b2\n")?;
    let j = commit_at(&s, t + 3000, "J")?;
    write("dir/b", "b1\n")?;
    write("x", "x\n")?;
    let k = commit_at(&s, t + 1000, "K")?;
    let tree = git(&s.work, &["rev-parse", &format!("{k}^{{tree}}")])?;
    let m = git_in(&s.work, &["commit-tree", &tree, "-p", &k, "-p", &j, "-m", "M"])
        .env("GIT_COMMITTER_DATE", format!("{} +0000", t + 4000))
        .output()?;
    let m = String::from_utf8_lossy(&m.stdout).trim().to_owned();
    git(&s.work, &["update-ref", "refs/heads/main", &m])?;
    let out = s.push(&["origin", "main"])?;
    assert!(!out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("dir/a:1  github-pat-classic"), "{}", stderr(&out));
    Ok(())
}

/// Item 2: git allows bytes >= 0x80 in ref names; the hook reads them as bytes.
#[test]
fn item_2_a_ref_name_that_is_not_utf8_is_scanned() -> TestResult {
    let s = Server::new()?;
    s.config("leakgate.failOpen", "true")?;
    s.commit("k.txt", format!("{}\n", github_token(32)), "key")?;
    let mut refspec = b"main:refs/heads/caf".to_vec();
    refspec.push(0xe9);
    let out = s.push_cmd(&["origin"]).arg(std::ffi::OsStr::from_bytes(&refspec)).output()?;
    assert!(!out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("k.txt:1"), "{}", stderr(&out));
    assert!(audit(&s).is_empty(), "nothing failed open: {}", audit(&s));
    Ok(())
}

/// Item 3: every line of standard input is read, beyond 16 MiB; the secret branch is last.
#[test]
fn item_3_ref_updates_past_16_mib_are_scanned() -> TestResult {
    let s = Server::new()?;
    let base = s.commit("README.md", "base\n", "base")?;
    assert!(s.push(&["origin", "main"])?.status.success());
    let bad = s.commit("k.txt", format!("{}\n", github_token(33)), "key")?;
    s.config("leakgate.mode", "off")?;
    assert!(s.push(&["origin", "main:refs/heads/tmp"])?.status.success());
    git(&s.bare, &["update-ref", "-d", "refs/heads/tmp"])?;
    s.config("leakgate.mode", "block")?;
    let mut input = Vec::with_capacity(18 << 20);
    let mut i = 0;
    while input.len() < (17 << 20) {
        writeln!(input, "{base} {base} refs/heads/pad/{i:08}")?;
        i += 1;
    }
    writeln!(input, "{} {bad} refs/heads/secret", "0".repeat(40))?;
    let out = run_hook(&s, &input, &[])?;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("k.txt:1"), "{}", stderr(&out));
    Ok(())
}

/// Item 4: a tree entry mode with leading zeros (git accepts it without fsck) is read as git
/// reads it; content leakgate cannot read rejects the push instead of failing open.
#[test]
fn item_4_a_zero_padded_mode_cannot_turn_the_hook_off() -> TestResult {
    let s = Server::new()?;
    let base = s.commit("README.md", "base\n", "base")?;
    assert!(s.push(&["origin", "main"])?.status.success());
    let blob = git_stdin(
        &s.work,
        &["hash-object", "-w", "--stdin"],
        format!("{}\n", github_token(34)).as_bytes(),
    )?;
    let mut raw = b"0000100644 secret.txt\0".to_vec();
    raw.extend_from_slice(&hex_bytes(&blob)?);
    let readme = git(&s.work, &["rev-parse", &format!("{base}:README.md")])?;
    let mut tree = b"100644 README.md\0".to_vec();
    tree.extend_from_slice(&hex_bytes(&readme)?);
    tree.extend_from_slice(&raw);
    let tree =
        git_stdin(&s.work, &["hash-object", "-t", "tree", "--literally", "-w", "--stdin"], &tree)?;
    let commit = git(&s.work, &["commit-tree", &tree, "-p", &base, "-m", "padded"])?;
    git(&s.work, &["update-ref", "refs/heads/main", &commit])?;
    let out = s.push(&["origin", "main"])?;
    assert!(!out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("secret.txt:1"), "{}", stderr(&out));
    assert!(audit(&s).is_empty(), "{}", audit(&s));
    Ok(())
}

fn hex_bytes(hex: &str) -> Res<Vec<u8>> {
    (0..hex.len()).step_by(2).map(|i| Ok(u8::from_str_radix(&hex[i..i + 2], 16)?)).collect()
}

/// Item 5: an inline allow is a bypass request (permission and audit record), symlink
/// targets are content.
#[test]
fn item_5_inline_allows_need_bypass_permission_and_symlinks_are_scanned() -> TestResult {
    let s = Server::new()?;
    s.commit("README.md", "base\n", "base")?;
    assert!(s.push(&["origin", "main"])?.status.success());
    s.commit("conf.py", format!("TOKEN = \"{}\"  # leakgate:allow\n", github_token(35)), "allow")?;
    let out = s.push(&["origin", "main"])?;
    assert!(!out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("inline allow comments refused"), "{}", stderr(&out));
    s.config("leakgate.allowBypass", "true")?;
    s.config("leakgate.inlineAllow", "off")?;
    assert!(!s.push(&["origin", "main"])?.status.success(), "inlineAllow=off ignores the comment");
    s.config("leakgate.inlineAllow", "bypass")?;
    let out = s.push(&["origin", "main"])?;
    assert!(out.status.success(), "{}", stderr(&out));
    let record = audit(&s);
    assert!(
        record.contains("\"event\":\"bypass\"") && record.contains("\"reason\":\"inline-allow\""),
        "{record}"
    );
    std::os::unix::fs::symlink(github_token(36), s.work.join("link"))?;
    s.commit("other.txt", "x\n", "symlink")?;
    let out = s.push(&["origin", "main"])?;
    assert!(!out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("link:1"), "{}", stderr(&out));
    Ok(())
}

/// Item 8: a setting that does not parse obeys failOpen and is recorded; an unwritable data
/// directory too; a bypass whose record cannot be written is refused.
#[test]
fn item_8_setup_errors_obey_fail_open_and_are_recorded() -> TestResult {
    let s = Server::new()?;
    s.commit("README.md", "base\n", "base")?;
    s.config("leakgate.mode", "blok")?;
    let out = s.push(&["origin", "main"])?;
    assert!(out.status.success(), "fail-open by default: {}", stderr(&out));
    assert!(stderr(&out).contains("leakgate.mode"), "{}", stderr(&out));
    assert!(audit(&s).contains("\"event\":\"unscanned\"") && audit(&s).contains("leakgate.mode"));
    s.config("leakgate.failOpen", "false")?;
    s.commit("a.txt", "a\n", "a")?;
    let out = s.push(&["origin", "main"])?;
    assert!(!out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("fail-closed") && stderr(&out).contains("leakgate.mode"));
    s.config("leakgate.mode", "block")?;
    let file = s.dir.path().join("a-file");
    std::fs::write(&file, "not a directory")?;
    let out =
        s.push_cmd(&["origin", "main"]).env("LEAKGATE_DATA_DIR", file.join("data")).output()?;
    assert!(!out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("LEAKGATE_DATA_DIR"), "{}", stderr(&out));
    s.config("leakgate.failOpen", "true")?;
    s.config("leakgate.allowBypass", "true")?;
    s.config("leakgate.auditLog", &file.join("audit.jsonl").display().to_string())?;
    s.commit("k.txt", format!("{}\n", github_token(37)), "key")?;
    let out = s.push(&["origin", "main", "-o", "leakgate.bypass=false-positive"])?;
    assert!(!out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("bypass refused: it could not be recorded"), "{}", stderr(&out));
    Ok(())
}

/// Item 9: the pusher is who the platform says (gitolite's GL_USER, smart HTTP's
/// REMOTE_USER), and records name the repository by its absolute path.
#[test]
fn item_9_the_pusher_is_who_the_platform_says() -> TestResult {
    let s = Server::new()?;
    s.config("leakgate.allowBypass", "true")?;
    s.config("leakgate.bypassUsers", "alice")?;
    s.commit("k.txt", format!("{}\n", github_token(38)), "key")?;
    let push = |var: &str, user: &str| {
        s.push_cmd(&["origin", "main", "-o", "leakgate.bypass=used-in-tests"])
            .env(var, user)
            .output()
    };
    let out = push("GL_USER", "mallory")?;
    assert!(!out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("mallory may not bypass"), "{}", stderr(&out));
    let out = push("REMOTE_USER", "alice")?;
    assert!(out.status.success(), "{}", stderr(&out));
    let record = audit(&s);
    let repo = s.bare.canonicalize()?;
    assert!(record.contains("\"user\":\"alice\""), "{record}");
    assert!(record.contains(&format!("\"repo\":\"{}\"", repo.display())), "{record}");
    Ok(())
}

/// Item 10: objects the repository has but no ref reaches (a commit force-pushed away) are
/// scanned when a push makes them reachable again.
#[test]
fn item_10_unreachable_objects_made_reachable_are_scanned() -> TestResult {
    let s = Server::new()?;
    let base = s.commit("README.md", "base\n", "base")?;
    assert!(s.push(&["origin", "main"])?.status.success());
    s.commit("k.txt", format!("{}\n", github_token(39)), "key")?;
    s.config("leakgate.mode", "off")?;
    assert!(s.push(&["origin", "main"])?.status.success());
    git(&s.work, &["reset", "-q", "--hard", &base])?;
    assert!(s.push(&["origin", "+main"])?.status.success());
    s.config("leakgate.mode", "block")?;
    git(&s.work, &["reset", "-q", "--hard", "HEAD@{1}"])?;
    let out = s.push(&["origin", "main:refs/heads/again"])?;
    assert!(!out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("k.txt:1"), "{}", stderr(&out));
    Ok(())
}

/// A tag object the repository stores but no ref reaches (here its ref was deleted; a pusher
/// can also send one in a pack without any ref) is scanned when a push names it again: that
/// the store had it skipped its message until session 24 (review of session 24).
#[test]
fn a_stored_tag_no_ref_reaches_is_scanned_when_named_again() -> TestResult {
    let s = Server::new()?;
    s.commit("README.md", "base\n", "base")?;
    assert!(s.push(&["origin", "main"])?.status.success());
    git(&s.work, &["tag", "-a", "v1", "-m", &format!("release notes {}", github_token(54))])?;
    s.config("leakgate.mode", "off")?;
    assert!(s.push(&["origin", "v1"])?.status.success());
    assert!(s.push(&["origin", ":refs/tags/v1"])?.status.success());
    s.config("leakgate.mode", "block")?;
    let out = s.push(&["origin", "v1"])?;
    assert!(!out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("(tag message):1"), "{}", stderr(&out));
    Ok(())
}

/// Commit and tag messages are content too; a tag may name a blob directly.
#[test]
fn messages_and_tags_of_blobs_are_scanned() -> TestResult {
    let s = Server::new()?;
    s.commit("README.md", "base\n", "base")?;
    assert!(s.push(&["origin", "main"])?.status.success());
    s.commit("a.txt", "a\n", &format!("deploy with {}", github_token(40)))?;
    let out = s.push(&["origin", "main"])?;
    assert!(!out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("(commit message):1"), "{}", stderr(&out));
    git(&s.work, &["reset", "-q", "--hard", "HEAD~1"])?;
    git(&s.work, &["tag", "-a", "v1", "-m", &format!("token {}", github_token(41))])?;
    let out = s.push(&["origin", "v1"])?;
    assert!(!out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("(tag message):1"), "{}", stderr(&out));
    let blob = git_stdin(
        &s.work,
        &["hash-object", "-w", "--stdin"],
        format!("{}\n", github_token(42)).as_bytes(),
    )?;
    git(&s.work, &["tag", "-a", "loose", "-m", "a blob", &blob])?;
    let out = s.push(&["origin", "loose"])?;
    assert!(!out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("github-pat-classic"), "{}", stderr(&out));
    Ok(())
}

/// Warn mode says the push is accepted, never that it was rejected; a fail-closed timeout
/// leaves no `unscanned` record for a push that did not land.
#[test]
fn warn_mode_and_fail_closed_say_what_happened() -> TestResult {
    let s = Server::new()?;
    s.config("leakgate.mode", "warn")?;
    s.commit("k.txt", format!("{}\n", github_token(43)), "key")?;
    let out = s.push(&["origin", "main"])?;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("the push is accepted"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("rejected"), "{}", stderr(&out));
    s.config("leakgate.mode", "block")?;
    s.config("leakgate.failOpen", "false")?;
    s.config("leakgate.timeoutMs", "0")?;
    s.commit("b.txt", "b\n", "b")?;
    let out = s.push(&["origin", "main"])?;
    assert!(!out.status.success(), "{}", stderr(&out));
    assert!(!audit(&s).contains("unscanned"), "{}", audit(&s));
    Ok(())
}

/// `hook install` keeps the owner and mode of the repository's `config` (run as root, `git
/// config` used to leave it root's, unreadable to the repository's owner under umask 077).
#[test]
fn install_keeps_the_config_files_owner_and_mode() -> TestResult {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let dir = tempfile::tempdir()?;
    let bare = dir.path().join("r.git");
    git(dir.path(), &["init", "-q", "--bare", super::path(&bare)?])?;
    let config = bare.join("config");
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o640))?;
    if std::fs::metadata(&config)?.uid() == 0 {
        // As root (CI): the repository belongs to someone else, as on a real server.
        std::os::unix::fs::chown(&config, Some(65534), Some(65534))?;
    }
    let before = std::fs::metadata(&config)?;
    let out = super::leakgate(dir.path())
        .args(["hook", "install", "--repo", super::path(&bare)?])
        .output()?;
    assert!(out.status.success(), "{}", stderr(&out));
    let after = std::fs::metadata(&config)?;
    assert_eq!((after.uid(), after.gid()), (before.uid(), before.gid()));
    assert_eq!(after.mode() & 0o7777, 0o640);
    assert!(std::fs::read_to_string(&config)?.contains("advertisePushOptions = true"));
    Ok(())
}

/// A sibling of item 4: a commit whose author and committer lines are not what a strict parser
/// expects (git accepts it without fsck) is read or rejected, never a reason to fail open.
#[test]
fn odd_commit_headers_cannot_turn_the_hook_off() -> TestResult {
    let s = Server::new()?;
    let base = s.commit("README.md", "base\n", "base")?;
    assert!(s.push(&["origin", "main"])?.status.success());
    s.commit("k.txt", format!("{}\n", github_token(44)), "key")?;
    let tree = git(&s.work, &["rev-parse", "HEAD^{tree}"])?;
    let raw = format!("tree {tree}\nparent {base}\nauthor nobody\ncommitter \x01garbage\n\nodd\n");
    let odd = git_stdin(
        &s.work,
        &["hash-object", "-t", "commit", "--literally", "-w", "--stdin"],
        raw.as_bytes(),
    )?;
    git(&s.work, &["update-ref", "refs/heads/main", &odd])?;
    let out = s.push(&["origin", "main"])?;
    assert!(!out.status.success(), "{}", stderr(&out));
    assert!(audit(&s).is_empty(), "nothing failed open: {}", audit(&s));
    assert_ne!(s.server_ref("refs/heads/main").as_deref(), Some(odd.as_str()));
    Ok(())
}

/// A settings file that does not parse hides its `fail_open`: the hook fails closed unless
/// the repository's own config says otherwise.
#[test]
fn a_broken_settings_file_fails_closed() -> TestResult {
    let s = Server::new()?;
    s.commit("README.md", "base\n", "base")?;
    let file = s.dir.path().join("leakgate.toml");
    std::fs::write(&file, "[hook]\nfail_open = false\nmode = \n")?;
    let push = || s.push_cmd(&["origin", "main"]).env("LEAKGATE_CONFIG", &file).output();
    let out = push()?;
    assert!(!out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("leakgate.toml"), "{}", stderr(&out));
    s.config("leakgate.failOpen", "true")?;
    let out = push()?;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(audit(&s).contains("unscanned"), "{}", audit(&s));
    Ok(())
}

/// A replace ref (`refs/replace/<id>`) a pusher pushed first must not change what the hook
/// reads for `<id>`: a blob large enough to be streamed out of `git cat-file`, which honours
/// replace refs unless told not to, was read as the benign blob the ref named, and its key
/// passed (found in session 24; the hook's own reads had the same flaw, see
/// `a_replace_ref_cannot_stand_in_for_the_protected_branch`).
#[test]
fn a_replace_ref_cannot_stand_in_for_a_pushed_blob() -> TestResult {
    let s = Server::new()?;
    s.config("leakgate.streamAboveBytes", "4096")?;
    s.commit("README", "base\n", "base")?;
    assert!(s.push(&["origin", "main"])?.status.success());
    let filler = format!("{}\n", "x".repeat(99)).repeat(100);
    let secret = format!("{filler}token = {}\n", github_token(52));
    // As long as the blob, so that nothing but its content tells them apart.
    let decoy = format!("{filler}{}\n", "n".repeat(secret.len() - filler.len() - 1));
    let secret_id = git_stdin(&s.work, &["hash-object", "--stdin"], secret.as_bytes())?;
    let decoy_id = git_stdin(&s.work, &["hash-object", "-w", "--stdin"], decoy.as_bytes())?;
    let out = s.push(&["origin", &format!("{decoy_id}:refs/replace/{secret_id}")])?;
    assert!(out.status.success(), "the replace ref holds no key: {}", stderr(&out));
    s.commit("big.txt", &secret, "key")?;
    let out = s.push(&["origin", "main"])?;
    assert!(!out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("big.txt:101"), "{}", stderr(&out));
    Ok(())
}

/// A parent that yielded the key only by a low-severity rule (`MY_SECRET=<key>`: the generic
/// rule) does not hide the critical finding of its child (`aws_secret_access_key = <key>`),
/// in one push or in two (found by the review of session 26).
#[test]
fn a_parent_yielding_a_key_by_a_low_rule_does_not_hide_a_critical_finding() -> TestResult {
    let secret = format!("{}+b9QwErT", &github_token(60)[4..36]);
    let child = format!("aws_secret_access_key = {secret}\n");
    for two_pushes in [false, true] {
        let s = Server::new()?;
        s.commit("README", "base\n", "base")?;
        assert!(s.push(&["origin", "main"])?.status.success());
        s.commit("app.env", format!("MY_SECRET={secret}\n"), "parent: a low finding")?;
        if two_pushes {
            let out = s.push(&["origin", "main"])?;
            assert!(out.status.success(), "{}", stderr(&out));
            assert!(stderr(&out).contains("generic-env-secret"), "{}", stderr(&out));
        }
        s.commit("app.env", &child, "child: the same key, critical")?;
        let out = s.push(&["origin", "main"])?;
        assert!(!out.status.success(), "two pushes: {two_pushes}: {}", stderr(&out));
        assert!(stderr(&out).contains("aws-secret-access-key"), "{}", stderr(&out));
    }
    Ok(())
}

/// A secret the first parent's version of a file already yielded is not new; bytes it merely
/// held are not enough. A parent with the key where no rule matches it (no word boundary)
/// hid the real key in its child, in one push (found by the review of session 24).
#[test]
fn a_parent_holding_a_keys_bytes_without_a_finding_does_not_hide_it() -> TestResult {
    let s = Server::new()?;
    s.commit("README", "base\n", "base")?;
    assert!(s.push(&["origin", "main"])?.status.success());
    let key = github_token(53);
    s.commit("a.txt", format!("blob_x{key}x\n"), "parent: no finding")?;
    s.commit("a.txt", format!("token = \"{key}\"\n"), "child: the key")?;
    let out = s.push(&["origin", "main"])?;
    assert!(!out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("a.txt:1"), "{}", stderr(&out));
    Ok(())
}

/// A key anywhere a push leaves it on the server blocks it, not only in file content and
/// messages: the author's name or email, a header of the pusher's own, a branch or tag name,
/// the tagger, a file or directory name, an empty file named after a key (its content is
/// old) (found by the review of session 26: all nine went through).
#[test]
fn keys_in_names_headers_and_ref_names_are_rejected() -> TestResult {
    let key = github_token(62);
    let cases: [(&str, &str); 8] = [
        ("author name", "(commit header)"),
        ("author email", "(commit header)"),
        ("custom header", "(commit header)"),
        ("branch name", "(ref names)"),
        ("tag name and tagger", "(tag header)"),
        ("file name", "(file and directory names)"),
        ("directory name", "(file and directory names)"),
        ("empty file", "(file and directory names)"),
    ];
    for (case, shown) in cases {
        let s = Server::new()?;
        s.commit("README", "base\n", "base")?;
        assert!(s.push(&["origin", "main"])?.status.success());
        let mut refspec = "main".to_owned();
        match case {
            "author name" | "author email" => {
                let author = if case == "author name" {
                    format!("{key} <dev@example.com>")
                } else {
                    format!("Dev <{key}@example.com>")
                };
                git(&s.work, &["commit", "-q", "--allow-empty", "-m", "x", "--author", &author])?;
            }
            "custom header" => {
                let tree = git(&s.work, &["rev-parse", "HEAD^{tree}"])?;
                let parent = git(&s.work, &["rev-parse", "HEAD"])?;
                let raw = format!(
                    "tree {tree}\nparent {parent}\nauthor a <a@b> 0 +0000\n\
                     committer a <a@b> 0 +0000\nx-token {key}\n\nan ordinary message\n"
                );
                let id = git_stdin(
                    &s.work,
                    &["hash-object", "-t", "commit", "-w", "--stdin"],
                    raw.as_bytes(),
                )?;
                refspec = format!("{id}:refs/heads/main");
            }
            "branch name" => refspec = format!("HEAD:refs/heads/{key}"),
            "tag name and tagger" => {
                git(&s.work, &["tag", "-a", &key, "-m", "release"])?;
                refspec = format!("refs/tags/{key}");
            }
            "file name" => drop(s.commit(&format!("cfg/{key}"), "plain\n", "x")?),
            "directory name" => drop(s.commit(&format!("{key}/notes.txt"), "plain\n", "x")?),
            _ => drop(s.commit(&key, "", "x")?),
        }
        let out = s.push(&["origin", &refspec])?;
        assert!(!out.status.success(), "{case}: {}", stderr(&out));
        assert!(stderr(&out).contains(shown), "{case}: {}", stderr(&out));
        assert!(stderr(&out).contains("github-pat-classic"), "{case}: {}", stderr(&out));
    }
    // Signed commits (their headers hold base64 signatures) go through: an SSH and an
    // OpenPGP signature as git writes them (made with throwaway keys; git does not check them
    // on receive, nor does the hook).
    let s = Server::new()?;
    s.commit("README", "base\n", "base")?;
    assert!(s.push(&["origin", "main"])?.status.success());
    let signatures = [
        "gpgsig -----BEGIN SSH SIGNATURE-----\n U1NIU0lHAAAAAQAAADMAAAALc3NoLWVkMjU1MTkAAAAgz4mQUV2tWEDsGfYbCGbRRYOY8K\n RzUJUjPew2gZANaHEAAAADZ2l0AAAAAAAAAAZzaGE1MTIAAABTAAAAC3NzaC1lZDI1NTE5\n AAAAQK5HPwpLn51ZInzL9MAPj+T7sCRG9s26KmgwjriuuUpVASleNxX/eyD6aEexVhT+FI\n wxd3HHXsoXPkBYdlArmAI=\n -----END SSH SIGNATURE-----",
        "gpgsig -----BEGIN PGP SIGNATURE-----\n \n iHUEABYIAB0WIQRTs78PCw971rE9KBctvYR5tCelWwUCaxYhmwAKCRAtvYR5tCel\n WwDkAP4r0VvrBzJzUsIukxfSmJrfgDPYe+EphMrVz7uwKhPtYQEA7FTfC/rofrvo\n RL5XjHA7n2rSGo+MaOHypsbJmIxu8A4=\n =GAN0\n -----END PGP SIGNATURE-----",
    ];
    for signature in signatures {
        let tree = git(&s.work, &["rev-parse", "HEAD^{tree}"])?;
        let parent = git(&s.work, &["rev-parse", "HEAD"])?;
        let raw = format!(
            "tree {tree}\nparent {parent}\nauthor a <a@b> 0 +0000\ncommitter a <a@b> 0 +0000\n\
             {signature}\n\nsigned\n"
        );
        let id =
            git_stdin(&s.work, &["hash-object", "-t", "commit", "-w", "--stdin"], raw.as_bytes())?;
        git(&s.work, &["reset", "-q", "--soft", &id])?;
        let out = s.push(&["origin", "main"])?;
        assert!(out.status.success(), "{}", stderr(&out));
    }
    Ok(())
}

/// A commit message in the encoding its `encoding` header names is scanned as `git log` shows
/// it, decoded: a key in a UTF-16 message is found; an encoding leakgate cannot decode
/// (EBCDIC: `git log` shows the key) rejects the push as content; a Latin-1 message goes
/// through (found by the review of session 26: the EBCDIC message went through).
#[test]
fn commit_messages_are_scanned_in_the_encoding_they_declare() -> TestResult {
    let key = github_token(63);
    let utf16: Vec<u8> =
        format!("token = {key}\n").encode_utf16().flat_map(u16::to_le_bytes).collect();
    // IBM037 for the letters, digits and punctuation of `x <key>` (EBCDIC, not ASCII).
    let ebcdic = |text: &str| -> Vec<u8> {
        text.bytes()
            .map(|b| match b {
                b'a'..=b'i' => 0x81 + (b - b'a'),
                b'j'..=b'r' => 0x91 + (b - b'j'),
                b's'..=b'z' => 0xA2 + (b - b's'),
                b'A'..=b'I' => 0xC1 + (b - b'A'),
                b'J'..=b'R' => 0xD1 + (b - b'J'),
                b'S'..=b'Z' => 0xE2 + (b - b'S'),
                b'0'..=b'9' => 0xF0 + (b - b'0'),
                b'_' => 0x6D,
                b' ' => 0x40,
                _ => 0x25,
            })
            .collect()
    };
    let cases: [(&str, Vec<u8>, Option<&str>); 3] = [
        ("UTF-16LE", utf16, Some("github-pat-classic")),
        ("IBM037", ebcdic(&format!("token {key}\n")), Some("cannot decode")),
        ("ISO-8859-1", b"caf\xe9 au lait\n".to_vec(), None),
    ];
    // Loose, and kept as a pack (the pack traversal reads it; see `bulk`).
    for ((encoding, message, rejected), packed) in
        cases.iter().flat_map(|case| [(case, false), (case, true)])
    {
        let s = Server::new()?;
        if packed {
            s.config("receive.unpackLimit", "1")?;
        }
        s.commit("README", "base\n", "base")?;
        assert!(s.push(&["origin", "main"])?.status.success());
        let tree = git(&s.work, &["rev-parse", "HEAD^{tree}"])?;
        let parent = git(&s.work, &["rev-parse", "HEAD"])?;
        let mut raw = format!(
            "tree {tree}\nparent {parent}\nauthor a <a@b> 0 +0000\ncommitter a <a@b> 0 +0000\n\
             encoding {encoding}\n\n"
        )
        .into_bytes();
        raw.extend_from_slice(message);
        let id = git_stdin(
            &s.work,
            &["hash-object", "-t", "commit", "-w", "--literally", "--stdin"],
            &raw,
        )?;
        let out = s.push(&["origin", &format!("{id}:refs/heads/main")])?;
        match rejected {
            Some(why) => {
                assert!(!out.status.success(), "{encoding} {packed}: {}", stderr(&out));
                assert!(stderr(&out).contains(why), "{encoding} {packed}: {}", stderr(&out));
                // The warning reaches the pusher without terminal colour codes.
                assert!(!stderr(&out).contains('\u{1b}'), "{encoding}: {}", stderr(&out));
            }
            None => assert!(out.status.success(), "{encoding} {packed}: {}", stderr(&out)),
        }
    }
    Ok(())
}

/// A shallow clone pushes into an empty repository (`receive.shallowUpdate`): the commits of
/// its boundary lack their parents, and the hook takes them as roots, their whole trees new,
/// where it rejected every such push as unreadable until session 27 (only parents that are
/// missing are dropped: a commit listed as shallow whose parents are there is walked through).
#[test]
fn a_shallow_clone_pushes_into_an_empty_repository() -> TestResult {
    let s = Server::new()?;
    s.config("receive.shallowUpdate", "true")?;
    let source = s.dir.path().join("source");
    git(s.dir.path(), &["init", "-q", "-b", "main", super::path(&source)?])?;
    let commit = |file: &str, text: &str| -> Res<String> {
        std::fs::write(source.join(file), text)?;
        git(&source, &["add", "-A"])?;
        git(&source, &["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", file])?;
        git(&source, &["rev-parse", "HEAD"])
    };
    let old_key = github_token(95);
    commit("old.txt", &format!("token = {old_key}\n"))?;
    std::fs::remove_file(source.join("old.txt"))?;
    commit("a.txt", "a\n")?;
    commit("b.txt", "b\n")?;
    let shallow = s.dir.path().join("shallow");
    let url = format!("file://{}", source.display());
    git(s.dir.path(), &["clone", "-q", "--depth", "2", &url, super::path(&shallow)?])?;
    let bare = super::path(&s.bare)?.to_owned();
    let push = |refspec: &str| -> Res<std::process::Output> {
        Ok(git_in(&shallow, &["push", &bare, refspec])
            .env("LEAKGATE_DATA_DIR", s.dir.path().join("data"))
            .output()?)
    };
    // The key two commits down is not part of the push, nor on the server after it.
    let out = push("main")?;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(std::fs::read_to_string(s.bare.join("shallow")).is_ok_and(|t| !t.trim().is_empty()));
    // A key on top of the shallow history is found, and so is one in a boundary commit's tree.
    let key = github_token(96);
    std::fs::write(shallow.join("k.txt"), format!("token = {key}\n"))?;
    git(&shallow, &["add", "-A"])?;
    git(&shallow, &["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "k"])?;
    let out = push("main")?;
    assert!(!out.status.success() && stderr(&out).contains("k.txt"), "{}", stderr(&out));
    let other = s.dir.path().join("other");
    std::fs::write(source.join("c.txt"), format!("token = {key}\n"))?;
    commit("c.txt", &format!("token = {key}\n"))?;
    git(s.dir.path(), &["clone", "-q", "--depth", "1", &url, super::path(&other)?])?;
    let out = git_in(&other, &["push", &bare, "main:refs/heads/other"])
        .env("LEAKGATE_DATA_DIR", s.dir.path().join("data"))
        .output()?;
    assert!(!out.status.success() && stderr(&out).contains("c.txt"), "{}", stderr(&out));
    Ok(())
}

/// Review of session 28: a key in a compressed file (a `.gz`, as in a `.tar.gz`; a `.jar` or
/// `.whl` deflates its members the same way) and a key split by a line continuation went
/// through. Both are rejected, and the compressed one is shown at its file.
#[test]
fn keys_compressed_or_split_by_a_line_continuation_are_rejected() -> TestResult {
    let s = Server::new()?;
    s.commit("README.md", "base\n", "base")?;
    assert!(s.push(&["origin", "main"])?.status.success());
    let token = github_token(34);
    // gzip's and xz's (xz-utils is in every Debian) own output.
    for (tool, file) in [("gzip", "config.yml.gz"), ("xz", "config.yml.xz")] {
        std::fs::write(s.work.join("config.yml"), format!("github:\n  token: {token}\n"))?;
        let packed =
            std::process::Command::new(tool).arg("config.yml").current_dir(&s.work).output()?;
        assert!(packed.status.success(), "{tool}: {}", stderr(&packed));
        git(&s.work, &["add", "-A"])?;
        git(&s.work, &["commit", "-q", "-m", "compressed config"])?;
        let out = s.push(&["origin", "main"])?;
        assert!(!out.status.success(), "{tool}: {}", stderr(&out));
        assert!(stderr(&out).contains(file), "{}", stderr(&out));
        git(&s.work, &["reset", "-q", "--hard", "HEAD~1"])?;
    }
    let (a, b) = token.split_at(15);
    s.commit("deploy.sh", format!("#!/bin/sh\nexport GH_TOKEN={a}\\\n{b}\n"), "deploy")?;
    let out = s.push(&["origin", "main"])?;
    assert!(!out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains(&token), "the key is never shown");
    Ok(())
}

/// A Git LFS pointer pushed with its content in the server's LFS store, as git-lfs's pre-push
/// hook leaves it: the content is scanned at the pointer's path. Review of session 29: the
/// pointer alone was scanned, and a key in any LFS-tracked file went through.
#[test]
fn a_key_in_git_lfs_content_is_rejected() -> TestResult {
    use sha2::Digest;
    let s = Server::new()?;
    s.commit("README.md", "base\n", "base")?;
    assert!(s.push(&["origin", "main"])?.status.success());
    let token = github_token(35);
    let pointer = |content: &[u8]| {
        let oid = hex::encode(sha2::Sha256::digest(content));
        let text = format!(
            "version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {}\n",
            content.len()
        );
        (oid, text)
    };
    // The repository's own store (git-lfs-transfer's layout: the whole id as the name).
    let secret = format!("backup of settings\ngithub_token = {token}\n");
    let (oid, text) = pointer(secret.as_bytes());
    let store = s.bare.join("lfs").join("objects");
    let shard = store.join(&oid[..2]).join(&oid[2..4]);
    std::fs::create_dir_all(&shard)?;
    std::fs::write(shard.join(&oid), &secret)?;
    s.commit("backup/settings.db", &text, "track the backup with LFS")?;
    let out = s.push(&["origin", "main"])?;
    assert!(!out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("backup/settings.db"), "{}", stderr(&out));
    assert!(!stderr(&out).contains(&token), "the key is never shown");
    // Clean content in a store set by `leakgate.lfsObjects` (GitLab's and Gitea's layout:
    // the id after its first four characters), and a pointer whose content is not there.
    git(&s.work, &["reset", "-q", "--hard", "HEAD~1"])?;
    let gitlab = s.dir.path().join("lfs-objects");
    s.config("leakgate.lfsObjects", super::path(&gitlab)?)?;
    let clean = b"just a large file\n".repeat(100);
    let (oid, text) = pointer(&clean);
    let shard = gitlab.join(&oid[..2]).join(&oid[2..4]);
    std::fs::create_dir_all(&shard)?;
    std::fs::write(shard.join(&oid[4..]), &clean)?;
    s.commit("assets/big.bin", &text, "a clean LFS file")?;
    let out = s.push(&["origin", "main"])?;
    assert!(out.status.success(), "{}", stderr(&out));
    let (_, missing) = pointer(b"content the store does not have\n");
    s.commit("assets/missing.bin", &missing, "content never uploaded")?;
    let out = s.push(&["origin", "main"])?;
    assert!(!out.status.success(), "a pointer whose content cannot be read is not passed");
    assert!(stderr(&out).contains("Git LFS content missing"), "{}", stderr(&out));
    Ok(())
}
