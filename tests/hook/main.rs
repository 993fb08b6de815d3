//! End-to-end tests of the pre-receive hook: real `git push` into bare repositories with the
//! hook installed by `leakgate hook install`, over the local transport and `git daemon`.

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

mod exceptions;
mod gate;
mod platform;

type TestResult = Result<(), Box<dyn std::error::Error>>;
type Res<T> = Result<T, Box<dyn std::error::Error>>;

#[path = "../common/mod.rs"]
mod common;
#[path = "../../store/tests/conformance/pg.rs"]
mod pg;

/// A checksum-valid (fake) `ghp_` token made at run time.
pub fn github_token(seed: u64) -> String {
    common::github_token("ghp_", seed)
}

/// A bare repository with the hook installed, and a clone to push from.
pub struct Server {
    pub dir: tempfile::TempDir,
    pub bare: PathBuf,
    pub work: PathBuf,
}

pub fn git_in(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new("git");
    cmd.args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Dev")
        .env("GIT_AUTHOR_EMAIL", "dev@example.invalid")
        .env("GIT_COMMITTER_NAME", "Dev")
        .env("GIT_COMMITTER_EMAIL", "dev@example.invalid")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env_remove("GIT_DIR")
        .stdin(Stdio::null());
    cmd
}

pub fn git(dir: &Path, args: &[&str]) -> Res<String> {
    let out = git_in(dir, args).output()?;
    if !out.status.success() {
        return Err(format!("git {args:?}: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

impl Server {
    pub fn new() -> Res<Self> {
        Self::with_format("sha1")
    }

    pub fn with_format(format: &str) -> Res<Self> {
        let dir = tempfile::tempdir()?;
        let bare = dir.path().join("repo.git");
        let work = dir.path().join("work");
        git(
            dir.path(),
            &[
                "init",
                "-q",
                "--bare",
                &format!("--object-format={format}"),
                "-b",
                "main",
                path(&bare)?,
            ],
        )?;
        let out =
            leakgate(dir.path()).args(["hook", "install", "--repo", path(&bare)?]).output()?;
        assert!(out.status.success(), "install: {}", String::from_utf8_lossy(&out.stderr));
        git(dir.path(), &["clone", "-q", path(&bare)?, path(&work)?])?;
        git(&work, &["checkout", "-q", "-b", "main"]).ok();
        git(&work, &["config", "core.compression", "0"])?;
        Ok(Server { dir, bare, work })
    }

    pub fn config(&self, key: &str, value: &str) -> Res<()> {
        git(&self.bare, &["config", key, value]).map(|_| ())
    }

    pub fn commit(&self, file: &str, content: impl AsRef<[u8]>, message: &str) -> Res<String> {
        let p = self.work.join(file);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(p, content)?;
        git(&self.work, &["add", "-A"])?;
        git(&self.work, &["commit", "-q", "-m", message])?;
        git(&self.work, &["rev-parse", "HEAD"])
    }

    /// `git push` with the test's data directory for the hook; returns the output.
    pub fn push(&self, args: &[&str]) -> Res<Output> {
        Ok(self.push_cmd(args).output()?)
    }

    /// The `git push` command of [`Server::push`], for a test to add arguments or variables.
    pub fn push_cmd(&self, args: &[&str]) -> Command {
        let mut cmd = git_in(&self.work, &["push"]);
        cmd.args(args).env("LEAKGATE_DATA_DIR", self.dir.path().join("data"));
        cmd
    }

    pub fn server_ref(&self, name: &str) -> Option<String> {
        git(&self.bare, &["rev-parse", "-q", "--verify", name]).ok()
    }

    /// A push spoken to `git receive-pack` directly, as a crafted client can: the ref
    /// `updates` (old, new, name: any bytes, which `git push` would refuse to send) and a pack
    /// of the commits `revs` names (`git pack-objects --revs` lines). Returns what
    /// receive-pack and the hook wrote.
    pub fn raw_push(&self, updates: &[(&str, &str, &[u8])], revs: &str) -> Res<String> {
        use std::io::Write;
        let mut packer = git_in(&self.work, &["pack-objects", "--stdout", "--revs", "-q"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        packer.stdin.take().ok_or("stdin")?.write_all(revs.as_bytes())?;
        let pack = packer.wait_with_output()?;
        assert!(pack.status.success(), "pack-objects failed");
        let mut request = Vec::new();
        for (i, (old, new, name)) in updates.iter().enumerate() {
            let mut line = format!("{old} {new} ").into_bytes();
            line.extend_from_slice(name);
            if i == 0 {
                line.extend_from_slice(b"\0report-status");
            }
            line.push(b'\n');
            request.extend_from_slice(format!("{:04x}", line.len() + 4).as_bytes());
            request.extend_from_slice(&line);
        }
        request.extend_from_slice(b"0000");
        request.extend_from_slice(&pack.stdout);
        let mut receive = git_in(self.dir.path(), &["receive-pack", path(&self.bare)?])
            .env("LEAKGATE_DATA_DIR", self.dir.path().join("data"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let mut stdin = receive.stdin.take().ok_or("stdin")?;
        // The advertisement is read by `wait_with_output` meanwhile: write from a thread.
        let writer = std::thread::spawn(move || stdin.write_all(&request));
        let out = receive.wait_with_output()?;
        writer.join().map_err(|_| "writer thread")??;
        Ok(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

pub fn leakgate(data: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_leakgate"));
    cmd.env("LEAKGATE_DATA_DIR", data.join("data")).stdin(Stdio::null());
    cmd
}

pub fn path(p: &Path) -> Res<&str> {
    p.to_str().ok_or_else(|| "non-utf-8 temp path".into())
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn a_clean_push_lands() -> TestResult {
    let s = Server::new()?;
    let c = s.commit("src/main.rs", "fn main() { let token = read_token(); }\n", "clean")?;
    let out = s.push(&["origin", "main"])?;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(s.server_ref("refs/heads/main").as_deref(), Some(c.as_str()));
    Ok(())
}

#[test]
fn a_push_with_a_key_is_rejected_and_nothing_moves() -> TestResult {
    let s = Server::new()?;
    let base = s.commit("README.md", "hello\n", "base")?;
    assert!(s.push(&["origin", "main"])?.status.success());
    let token = github_token(1);
    let bad = s.commit(
        "config/settings.py",
        format!("DEBUG = False\nGITHUB_TOKEN = '{token}'\n"),
        "add config",
    )?;
    let out = s.push(&["origin", "main"])?;
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert_eq!(s.server_ref("refs/heads/main").as_deref(), Some(base.as_str()));
    assert!(err.contains("remote: leakgate: 1 secret(s) found"), "{err}");
    assert!(err.contains(&bad[..12]), "names the commit: {err}");
    assert!(err.contains("config/settings.py:2"), "names path:line: {err}");
    assert!(err.contains("github-pat-classic"), "names the rule: {err}");
    assert!(err.contains("ghp_…"), "shows the redacted form: {err}");
    assert!(err.contains("git commit --amend") && err.contains("rotate"), "says how to fix: {err}");
    assert!(!err.contains(&token) && !err.contains(&token[4..16]), "never the secret: {err}");
    // The pushed objects lived in git's quarantine and were discarded with it: the hook read
    // them from there (gix alone would not have seen them).
    assert!(git(&s.bare, &["cat-file", "-e", &bad]).is_err());
    Ok(())
}

#[test]
fn every_ref_of_a_push_is_scanned() -> TestResult {
    let s = Server::new()?;
    s.commit("a.txt", "a\n", "a")?;
    git(&s.work, &["checkout", "-q", "-b", "feature"])?;
    s.commit("b.txt", format!("{}\n", github_token(2)), "b")?;
    git(&s.work, &["checkout", "-q", "main"])?;
    let out = s.push(&["origin", "main", "feature"])?;
    assert!(!out.status.success());
    assert!(
        s.server_ref("refs/heads/main").is_none() && s.server_ref("refs/heads/feature").is_none()
    );
    assert!(stderr(&out).contains("b.txt:1"), "{}", stderr(&out));
    Ok(())
}

#[test]
fn old_commits_are_not_rescanned_and_a_parents_secret_is_not_new() -> TestResult {
    let s = Server::new()?;
    s.config("leakgate.mode", "warn")?;
    let token = github_token(3);
    let old = s.commit("keys.env", format!("A=1\nKEY={token}\n"), "old secret")?;
    let out = s.push(&["origin", "main"])?;
    assert!(out.status.success() && stderr(&out).contains("warning only"), "{}", stderr(&out));
    s.config("leakgate.mode", "block")?;
    // A new branch at an old commit adds nothing.
    git(&s.work, &["branch", "from-old", &old])?;
    let out = s.push(&["origin", "from-old"])?;
    assert!(out.status.success(), "{}", stderr(&out));
    // Editing another line of the file keeps the secret the parent already had: not new.
    s.commit("keys.env", format!("A=2\nKEY={token}\n"), "touch another line")?;
    let out = s.push(&["origin", "main"])?;
    assert!(out.status.success(), "{}", stderr(&out));
    // Renaming the file moves a blob the server already has: not new.
    git(&s.work, &["mv", "keys.env", "moved.env"])?;
    git(&s.work, &["commit", "-q", "-m", "rename"])?;
    assert!(s.push(&["origin", "main"])?.status.success());
    Ok(())
}

#[test]
fn force_pushes_deletes_and_tags() -> TestResult {
    let s = Server::new()?;
    s.commit("a.txt", "a\n", "a")?;
    git(&s.work, &["checkout", "-q", "-b", "topic"])?;
    s.commit("t.txt", "t\n", "t")?;
    assert!(s.push(&["origin", "main", "topic"])?.status.success());
    // A force push of a rewritten commit that now carries a key is rejected.
    std::fs::write(s.work.join("t.txt"), format!("{}\n", github_token(4)))?;
    git(&s.work, &["commit", "-q", "-a", "--amend", "-m", "t"])?;
    let out = s.push(&["--force", "origin", "topic"])?;
    assert!(!out.status.success(), "{}", stderr(&out));
    // Rewritten again without it: accepted.
    std::fs::write(s.work.join("t.txt"), "t2\n")?;
    git(&s.work, &["commit", "-q", "-a", "--amend", "-m", "t"])?;
    assert!(s.push(&["--force", "origin", "topic"])?.status.success());
    // A delete has nothing to scan.
    let out = s.push(&["origin", ":topic"])?;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(s.server_ref("refs/heads/topic").is_none());
    // An annotated tag of a pushed commit adds nothing; a lightweight tag of a new commit
    // with a key is rejected.
    git(&s.work, &["checkout", "-q", "main"])?;
    git(&s.work, &["tag", "-a", "v1", "-m", "release"])?;
    assert!(s.push(&["origin", "v1"])?.status.success());
    let bad = s.commit("leak.txt", format!("{}\n", github_token(5)), "leak")?;
    git(&s.work, &["tag", "v2", &bad])?;
    let out = s.push(&["origin", "v2"])?;
    assert!(!out.status.success() && stderr(&out).contains("leak.txt:1"), "{}", stderr(&out));
    Ok(())
}

#[test]
fn bypass_is_honoured_only_when_allowed_and_is_recorded() -> TestResult {
    let s = Server::new()?;
    let token = github_token(6);
    s.commit("fixtures/token.txt", format!("{token}\n"), "fixture")?;
    // Not allowed by configuration: refused.
    let out = s.push(&["-o", "leakgate.bypass=used-in-tests", "origin", "main"])?;
    assert!(!out.status.success(), "{}", stderr(&out));
    s.config("leakgate.allowBypass", "true")?;
    s.config("leakgate.bypassUsers", "release-bot")?;
    let out = s.push(&["-o", "leakgate.bypass=used-in-tests", "origin", "main"])?;
    assert!(!out.status.success());
    assert!(stderr(&out).contains("may not bypass"), "{}", stderr(&out));
    // An unknown reason is refused with the list of reasons.
    s.config("leakgate.bypassUsers", "")?;
    let out = s.push(&["-o", "leakgate.bypass=because", "origin", "main"])?;
    assert!(!out.status.success() && stderr(&out).contains("false-positive"), "{}", stderr(&out));
    let out = s.push(&["-o", "leakgate.bypass=used-in-tests:parser fixture", "origin", "main"])?;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("bypass accepted"));
    let audit = std::fs::read_to_string(s.bare.join("leakgate/audit.jsonl"))?;
    let record: serde_json::Value = serde_json::from_str(audit.lines().last().ok_or("record")?)?;
    assert_eq!(record["event"], "bypass");
    assert_eq!(record["reason"], "used-in-tests");
    assert_eq!(record["comment"], "parser fixture");
    assert_eq!(record["refs"][0], "refs/heads/main");
    assert_eq!(record["findings"][0]["rule_id"], "github-pat-classic");
    assert_eq!(record["findings"][0]["fingerprint"].as_str().map(str::len), Some(64));
    assert!(!audit.contains(&token));
    Ok(())
}

/// An exhausted budget rejects the push whatever `failOpen` says (the pusher decides how long
/// a push takes to scan), with findings made before it and no `unscanned` record; only the
/// server's `acceptIncomplete` lets it through, recorded for a rescan.
#[test]
fn an_exhausted_budget_rejects_unless_the_server_accepts_incomplete_scans() -> TestResult {
    let s = Server::new()?;
    s.config("leakgate.timeoutMs", "0")?;
    s.config("leakgate.failOpen", "true")?;
    s.commit("k.txt", "nothing to see\n", "k")?;
    let out = s.push(&["origin", "main"])?;
    assert!(!out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("could not be scanned in full"), "{}", stderr(&out));
    assert!(stderr(&out).contains("time budget of 0 ms exhausted"), "{}", stderr(&out));
    let log = s.bare.join("leakgate/audit.jsonl");
    let audit = || std::fs::read_to_string(&log).unwrap_or_default();
    assert!(!audit().contains("unscanned"), "{}", audit());
    // Nor can a push option or an environment variable the pusher sets turn it.
    let out = s.push(&["-o", "leakgate.acceptIncomplete=true", "origin", "main"])?;
    assert!(!out.status.success(), "{}", stderr(&out));
    s.config("leakgate.acceptIncomplete", "true")?;
    let out = s.push(&["origin", "main"])?;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("not fully scanned"), "{}", stderr(&out));
    assert!(audit().contains("\"event\":\"unscanned\"") && audit().contains("refs/heads/main"));
    Ok(())
}

/// One blob crafted to be slow (nothing but a keyword, over and over: each hit runs a rule's
/// regex) does not outlast the budget: the scan stops inside it, and the push is rejected as
/// not scanned in full, or with `acceptIncomplete` accepted and recorded. Before, the deadline
/// was read between blobs only, and 40 MiB of `AKIA` held the hook 27 s against a 4 s budget
/// (found by the review of session 26).
#[test]
fn a_blob_slower_than_the_budget_is_stopped_inside() -> TestResult {
    let s = Server::new()?;
    s.config("leakgate.timeoutMs", "1000")?;
    s.commit("dense.txt", "AKIA ".repeat(3 << 20), "dense")?;
    let started = std::time::Instant::now();
    let out = s.push(&["origin", "main"])?;
    let took = started.elapsed();
    assert!(!out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("time budget of 1000 ms exhausted"), "{}", stderr(&out));
    assert!(took < std::time::Duration::from_secs(10), "the push took {took:?}");
    s.config("leakgate.acceptIncomplete", "true")?;
    let out = s.push(&["origin", "main"])?;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("not fully scanned"), "{}", stderr(&out));
    Ok(())
}

/// Megabytes of strings holding escaped strings, each with a keyword (the densest decoding
/// work there is), do not exhaust decoding: the push is scanned in full and the encoded key
/// after them blocks it. (What a spent budget does to a push is the unit tests' in
/// `prereceive`: no input exhausts it since decoding is linear.)
#[test]
fn dense_encoded_content_is_scanned_in_full() -> TestResult {
    use base64::Engine as _;
    let s = Server::new()?;
    let nested = r#""token\"A\"";"#.repeat(200_000);
    let encoded = base64::engine::general_purpose::STANDARD.encode(github_token(12));
    s.commit("fixture.json", format!("x = {nested}\ndata:\n  GITHUB_TOKEN: {encoded}\n"), "k")?;
    let out = s.push(&["origin", "main"])?;
    assert!(!out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("github-pat-classic"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("in full"), "{}", stderr(&out));
    Ok(())
}

/// Issue 12, item 5: a NUL at the start of a file no longer hides a key from the distinctive
/// rules, nor an encoded key, nor a generic secret that blocks a push; the other generic rules
/// stay off for binary content.
#[test]
fn binary_blobs_are_scanned_by_distinctive_rules_and_low_severity_does_not_block() -> TestResult {
    let s = Server::new()?;
    s.commit("settings.py", "db_password = \"Xq7!vR2@pL9#mK4$\"\n", "low")?; // leakgate:allow (test fixture)
    let out = s.push(&["origin", "main"])?;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("below the blocking severity"), "{}", stderr(&out));
    let mut bin = b"\x00\x01PNG".to_vec();
    bin.extend_from_slice(
        format!(" {} password = \"Xq7!vR2@pL9#mK4$\"", github_token(8)).as_bytes(), // leakgate:allow (test fixture)
    );
    s.commit("logo.png", bin, "binary")?;
    let mut env = b"\x00".to_vec();
    env.extend_from_slice(format!("GITHUB_TOKEN={}\n", github_token(18)).as_bytes());
    s.commit(".env", env, "nul first")?;
    // Nor does it hide an encoded one: decoding runs on binary content too.
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(github_token(19));
    let manifest = format!("\0\napiVersion: v1\nkind: Secret\ndata:\n  token: {encoded}\n");
    s.commit("k8s/secret.yaml", manifest, "nul first, base64")?;
    // Nor a password that blocks a push (a generic rule of the blocking severity).
    let netrc = "\0machine git.acme-corp.com login ci-bot password 7GbX2kQw9PzR4mTn8VcY\n"; // leakgate:allow (test fixture)
    s.commit("ci/.netrc", netrc, "nul first, netrc")?;
    let out = s.push(&["origin", "main"])?;
    assert!(!out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("logo.png:1  github-pat-classic") && err.contains(".env:1"), "{err}");
    assert!(err.contains("k8s/secret.yaml:5  github-pat-classic"), "{err}");
    assert!(err.contains("ci/.netrc:1  generic-netrc-password"), "{err}");
    assert!(
        !err.lines().any(|l| l.contains("generic-") && !l.contains("generic-netrc-password")),
        "generic rules below the blocking severity do not run on binary content: {err}"
    );
    Ok(())
}

/// A key in UTF-16 text (PowerShell 5's `>` writes UTF-16LE with a mark, regedit's `.reg`
/// exports too) is found, whole-push (the initial push's pack traversal) and incremental
/// (the walk), with its line: its bytes hold no keyword until transcoded. So is one in a
/// UTF-16 string inside binary data (a .NET assembly's string literals).
#[test]
fn a_key_in_utf16_text_is_found() -> TestResult {
    let s = Server::new()?;
    let utf16 = |text: &str, mark: bool| -> Vec<u8> {
        let body = text.encode_utf16().flat_map(u16::to_le_bytes);
        (if mark { vec![0xFF, 0xFE] } else { vec![] }).into_iter().chain(body).collect()
    };
    let ps1 = format!("# deploy\r\n$owner = 'ops'\r\n$env:GH_TOKEN = '{}'\r\n", github_token(31));
    s.commit("deploy/setup.ps1", utf16(&ps1, true), "deploy script")?;
    let out = s.push(&["origin", "main"])?;
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("deploy/setup.ps1:3  github-pat-classic"), "{err}");
    assert_eq!(s.server_ref("refs/heads/main"), None, "nothing landed");

    let s = Server::new()?;
    s.commit("README.md", "hello\n", "base")?;
    assert!(s.push(&["origin", "main"])?.status.success());
    let reg = format!(
        "Windows Registry Editor Version 5.00\r\n\r\n[HKEY_CURRENT_USER\\Software\\Tool]\r\n\"Token\"=\"{}\"\r\n",
        github_token(32)
    );
    s.commit("tool.reg", utf16(&reg, false), "registry export")?;
    let out = s.push(&["origin", "main"])?;
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("tool.reg:4  github-pat-classic"), "{err}");

    // A compiled .NET assembly keeps string literals as UTF-16LE in binary data.
    let s = Server::new()?;
    s.commit("README.md", "hello\n", "base")?;
    assert!(s.push(&["origin", "main"])?.status.success());
    let mut dll = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00".to_vec();
    dll.extend(std::iter::repeat_n([0u8, 1, 0x90, 0xff], 4096).flatten());
    dll.extend(utf16(&github_token(33), false));
    dll.extend([0u8; 64]);
    s.commit("bin/Release/Tool.dll", dll, "build output")?;
    let out = s.push(&["origin", "main"])?;
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("bin/Release/Tool.dll") && err.contains("github-pat-classic"), "{err}");

    // `Add-Content` appends ANSI to a file `Out-File` wrote in UTF-16: the appended line is
    // not UTF-16, and its bytes are scanned.
    let s = Server::new()?;
    s.commit("README.md", "hello\n", "base")?;
    assert!(s.push(&["origin", "main"])?.status.success());
    let mut log = utf16("# written by Out-File\r\n$owner = 'ops'\r\n", true);
    log.extend(format!("$env:GH_TOKEN = '{}'\r\n", github_token(34)).bytes());
    s.commit("deploy/env.ps1", log, "appended")?;
    let out = s.push(&["origin", "main"])?;
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("deploy/env.ps1:3  github-pat-classic"), "{err}");

    // And the other way round: PowerShell 5's `>>` appends UTF-16 to an ASCII file.
    let s = Server::new()?;
    s.commit("README.md", "hello\n", "base")?;
    assert!(s.push(&["origin", "main"])?.status.success());
    let mut log = "build step ok\r\n".repeat(1000).into_bytes();
    log.extend(utf16(&format!("$env:GH_TOKEN = '{}'\r\n", github_token(35)), false));
    s.commit("logs/build.log", log, "appended by >>")?;
    let out = s.push(&["origin", "main"])?;
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("logs/build.log:1001  github-pat-classic"), "{err}");
    Ok(())
}

#[test]
fn a_sha256_repository_is_scanned() -> TestResult {
    let s = Server::with_format("sha256")?;
    s.commit("a.txt", "a\n", "a")?;
    assert!(s.push(&["origin", "main"])?.status.success());
    s.commit("b.txt", format!("{}\n", github_token(9)), "b")?;
    let out = s.push(&["origin", "main"])?;
    assert!(!out.status.success());
    assert!(stderr(&out).contains("b.txt:1"), "{}", stderr(&out));
    Ok(())
}

/// A streamed blob (`streamAboveBytes`) is read in 1 MiB chunks: a long base64 line or an
/// escaped string literal that a chunk's end cuts is decoded with what follows it, so a key
/// encoded past the boundary blocks the push (both passed until session 17).
#[test]
fn encoded_keys_across_a_streamed_chunk_boundary_block_the_push() -> TestResult {
    use base64::Engine as _;
    let s = Server::new()?;
    s.config("leakgate.streamAboveBytes", "4096")?;
    s.commit("README", "base\n", "base")?;
    let filler = format!("{}\n", "x".repeat(99)).repeat((1 << 20) / 100 - 100);
    let text = format!("{} token={} end", "lorem ipsum ".repeat(20_000), github_token(13));
    let line = base64::engine::general_purpose::STANDARD.encode(text);
    s.commit("image.yaml", format!("{filler}image: {line}\n"), "base64")?;
    let out = s.push(&["origin", "main"])?;
    assert!(!out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("image.yaml:10386"), "{}", stderr(&out));
    git(&s.work, &["reset", "-q", "--hard", "HEAD~1"])?;
    let escaped: String = github_token(14).bytes().map(|b| format!("\\x{b:02x}")).collect();
    let literal = format!("token = \"{}{escaped} \" + \" end\"", r#"\"x\" "#.repeat(10_000));
    s.commit("bundle.js", format!("{filler}{literal}\n"), "literal")?;
    let out = s.push(&["origin", "main"])?;
    assert!(!out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("bundle.js:10386"), "{}", stderr(&out));
    Ok(())
}

/// Escaping one character of a key's prefix (`"\x67hp_..."`, XML's `&#103;hp_...`) hid the
/// keyword from the gate on a line with no other keyword: the push passed until session 18.
#[test]
fn a_key_whose_prefix_is_escaped_blocks_the_push() -> TestResult {
    let s = Server::new()?;
    s.commit("README", "base\n", "base")?;
    let (python, xml) = (github_token(15), github_token(16));
    s.commit("settings.py", format!("import os\n\nv = \"\\x67{}\"\n", &python[1..]), "py")?;
    let config = format!("<config>\n  <add key=\"x\" value=\"&#103;{}\"/>\n</config>\n", &xml[1..]);
    s.commit("app.config", config, "xml")?;
    let out = s.push(&["origin", "main"])?;
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("settings.py:3") && err.contains("app.config:2"), "{err}");
    assert!(!err.contains(&python[4..]) && !err.contains(&xml[4..]), "{err}");
    Ok(())
}

#[test]
fn a_200_mib_blob_is_streamed_and_scanned() -> TestResult {
    let s = Server::new()?;
    s.config("leakgate.timeoutMs", "120000")?;
    let mut big = Vec::with_capacity(200 << 20);
    let line = b"let value = compute(arguments, more_arguments); // ordinary code\n";
    while big.len() < (200 << 20) - 200 {
        big.extend_from_slice(line);
    }
    let token_line = big.len() / line.len() + 1;
    big.extend_from_slice(format!("token = {}\n", github_token(10)).as_bytes());
    s.commit("huge.rs", &big, "huge")?;
    drop(big);
    let out = s.push(&["origin", "main"])?;
    assert!(!out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains(&format!("huge.rs:{token_line}")), "{}", stderr(&out));
    Ok(())
}

/// With `[revoke] blocked_pushes`, a rejected push's keys are queued for revocation (the
/// service sends them): the material encrypted under the data directory's key, never in
/// plaintext. Without it, a rejected push queues nothing. A hook does not know which GitHub
/// issued a token: only `[revoke.github] api_url` says where to send it; without it the
/// revocation is `unsupported`, says where to revoke by hand, and keeps no material.
#[test]
fn a_rejected_push_queues_revocations_only_when_configured() -> TestResult {
    let s = Server::new()?;
    let base = s.commit("README.md", "hello\n", "base")?;
    assert!(s.push(&["origin", "main"])?.status.success());
    let db = s.dir.path().join("leakgate.db");
    s.config("leakgate.database", &format!("sqlite://{}", db.display()))?;
    let write = |name: &str, text: &str| -> Res<std::path::PathBuf> {
        let p = s.dir.path().join(name);
        std::fs::write(&p, text)?;
        Ok(p)
    };
    let off = write("off.toml", "[revoke.github]\npolicy = \"auto\"\n")?;
    let on = write(
        "on.toml",
        "[revoke]\nblocked_pushes = true\n[revoke.github]\npolicy = \"auto\"\n\
         api_url = \"https://api.github.com\"\n",
    )?;
    let unknown = write(
        "unknown.toml",
        "[revoke]\nblocked_pushes = true\n[revoke.github]\npolicy = \"auto\"\n",
    )?;
    let push_with = |config: &Path| -> Res<Output> {
        // `info`: a failure shows what the hook queued.
        Ok(s.push_cmd(&["origin", "main"])
            .env("LEAKGATE_CONFIG", config)
            .env("LEAKGATE_LOG", "info")
            .output()?)
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let url = format!("sqlite://{}", db.display());
    let revocations = || -> Res<Vec<leakgate_store::Revocation>> {
        Ok(runtime.block_on(async {
            let store = leakgate_store::Store::connect(&url).await?;
            store.revocations(None, 100).await
        })?)
    };

    let first = github_token(71);
    s.commit("a.env", format!("TOKEN={first}\n"), "first")?;
    assert!(!push_with(&off)?.status.success(), "rejected");
    assert!(revocations()?.is_empty(), "blocked_pushes is off: nothing queued");
    // The rejected push is recorded all the same (the dashboard and /metrics count it).
    let listed = sightings(&runtime, &url)?;
    let overview = runtime
        .block_on(async { leakgate_store::Store::connect(&url).await?.overview(0).await })?;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(
        (listed[0].source.as_str(), listed[0].status.as_str(), listed[0].refs.as_str()),
        ("hook", "blocked", "refs/heads/main")
    );
    assert_eq!((listed[0].path.as_str(), listed[0].line), ("a.env", 1));
    assert!(!listed[0].redacted.contains(&first));
    assert_eq!(overview.blocked_by_repo.len(), 1, "{overview:?}");

    git(&s.work, &["reset", "-q", "--hard", &base])?;
    let second = github_token(72);
    s.commit("b.env", format!("TOKEN={second}\n"), "second")?;
    let out = push_with(&on)?;
    assert!(!out.status.success(), "still rejected: {}", stderr(&out));
    assert!(!stderr(&out).contains(&second));
    let rows = revocations()?;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!((rows[0].provider.as_str(), rows[0].state.as_str()), ("github", "queued"));
    let key_hex = std::fs::read_to_string(s.dir.path().join("data/encryption.key"))?;
    let key = leakgate_store::SecretKey::from_hex(&key_hex)?;
    let (material, (queued, _, _, _)) = runtime.block_on(async {
        let store = leakgate_store::Store::connect(&url).await?;
        let material = store.get_secret(&key, &rows[0].fingerprint).await?;
        Ok::<_, leakgate_store::Error>((material, store.job_counts().await?))
    })?;
    assert_eq!(material.as_slice(), second.as_bytes());
    assert_eq!(queued, 1, "one revoke job for the service");
    for key in [&first, &second] {
        let holding = common::database_files_holding(s.dir.path(), key)?;
        assert!(holding.is_empty(), "plaintext in {holding:?}");
    }

    git(&s.work, &["reset", "-q", "--hard", &base])?;
    let third = github_token(73);
    s.commit("c.env", format!("TOKEN={third}\n"), "third")?;
    assert!(!push_with(&unknown)?.status.success(), "rejected");
    let rows = revocations()?;
    let row = rows.iter().find(|r| r.fingerprint != rows_first(&rows)).ok_or("a second row")?;
    assert_eq!(row.state.as_str(), "unsupported", "{row:?}");
    assert!(row.summary.contains("issuing GitHub instance is unknown"), "{}", row.summary);
    let kept = runtime.block_on(async {
        let store = leakgate_store::Store::connect(&url).await?;
        store.has_secret(&row.fingerprint).await
    })?;
    assert!(!kept, "no material for a revocation that will not be sent");

    // A waived key rejected together with another one is not revoked; the other one is.
    git(&s.work, &["reset", "-q", "--hard", &base])?;
    let (waived, other) = (github_token(74), github_token(75));
    let probe = s.dir.path().join("probe.env");
    std::fs::write(&probe, format!("TOKEN={waived}\n"))?;
    let scanned = leakgate(s.dir.path()).args(["scan", "-f", "jsonl"]).arg(&probe).output()?;
    let line: serde_json::Value = serde_json::from_slice(&scanned.stdout)?;
    let fp = line["fingerprint"].as_str().ok_or("fingerprint")?.to_owned();
    let add = leakgate(s.dir.path())
        .args(["waive", "add", "--fingerprint", &fp, "--reason", "fixture", "--expires", "1d"])
        .args(["--as", "sec-lead", "--database", &url])
        .output()?;
    assert!(add.status.success(), "{}", stderr(&add));
    s.commit("d.env", format!("TOKEN={waived}\n"), "waived")?;
    s.commit("e.env", format!("TOKEN={other}\n"), "other")?;
    let out = push_with(&on)?;
    assert!(!out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("waived"), "{}", stderr(&out));
    let rows = revocations()?;
    assert!(!rows.iter().any(|r| r.fingerprint == fp), "the waived key is not revoked: {rows:?}");
    assert_eq!(rows.len(), 3, "the other key is: {rows:?}\n{}", stderr(&out));
    Ok(())
}

/// The fingerprint of the oldest revocation (the list is newest first).
fn rows_first(rows: &[leakgate_store::Revocation]) -> String {
    rows.last().map(|r| r.fingerprint.clone()).unwrap_or_default()
}

/// No key leaves the hook in a name: a branch, a directory and nested directories named after
/// keys are shown and recorded (hook output, audit log, database) with the keys redacted,
/// whether the push is rejected, bypassed, or accepted unscanned by a fail-open setup failure.
/// Until session 27 the rejected push's ref names were stored as pushed, and a finding's path
/// as found.
#[test]
fn no_key_leaves_the_hook_in_a_name() -> TestResult {
    let s = Server::new()?;
    let db = s.dir.path().join("leakgate.db");
    let url = format!("sqlite://{}", db.display());
    s.config("leakgate.database", &url)?;
    s.commit("README", "base\n", "base")?;
    assert!(s.push(&["origin", "main"])?.status.success());
    let (branch_key, dir_key, content_key) = (github_token(81), github_token(82), github_token(83));
    // An AWS secret key alone is nothing a rule recognises: it is known from the file below
    // the directories it names, and it holds a `/`.
    let aws = "Xq7vB2nR9tKp4LmW8yZc/3Hd6Jf1Gs5Na0Ue2VoT"; // leakgate:allow (test fixture)
    s.commit(&format!("{dir_key}/a.env"), format!("TOKEN={content_key}\n"), "dir")?;
    s.commit(
        &format!("creds/{aws}/credentials"),
        format!("[default]\naws_secret_access_key = {aws}\n"),
        "aws",
    )?;
    let keys = [branch_key.as_str(), dir_key.as_str(), content_key.as_str(), aws];
    let leaked = |text: &str| keys.iter().filter(|k| text.contains(*k)).count();
    // What the hook wrote (git's own lines name the refs the pusher gave).
    let hook = |out: &Output| -> String {
        stderr(out).lines().filter(|l| l.starts_with("remote:")).collect::<Vec<_>>().join("\n")
    };
    let audit = || std::fs::read_to_string(s.bare.join("leakgate/audit.jsonl")).unwrap_or_default();
    let out = s.push(&["origin", &format!("HEAD:refs/heads/{branch_key}")])?;
    assert!(!out.status.success(), "{}", stderr(&out));
    for shown in ["(ref names)", "ghp_…/a.env", "creds/", "github-pat-classic", "aws-secret"] {
        assert!(stderr(&out).contains(shown), "{shown}: {}", stderr(&out));
    }
    assert_eq!(leaked(&hook(&out)), 0, "{}", hook(&out));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let sightings = sightings(&runtime, &url)?;
    assert!(sightings.len() >= 4, "{sightings:?}");
    for sighting in &sightings {
        assert_eq!(sighting.refs, "refs/heads/ghp_…", "{sighting:?}");
        assert_eq!(leaked(&sighting.path), 0, "{sighting:?}");
    }
    assert!(sightings.iter().any(|f| f.path == "ghp_…/a.env"), "{sightings:?}");
    // The AWS key's path keeps what is not the key.
    let aws_path = sightings.iter().find(|f| f.path.starts_with("creds/")).ok_or("aws path")?;
    assert!(aws_path.path.ends_with("/credentials") && aws_path.path.len() < 30, "{aws_path:?}");

    // A branch named with a key's base64: `refs/heads/` is base64's alphabet too, and the
    // name was decoded out of step (review of session 27).
    let encoded = {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("token: {branch_key}\n"))
    };
    // Split by a `/` on the encoding's 4-character grid: in step only from that component.
    let split = format!("{}/{}", &encoded[..16], &encoded[16..]);
    for name in [encoded.as_str(), split.as_str()] {
        let out = s.push(&["origin", &format!("HEAD:refs/heads/{name}")])?;
        assert!(!out.status.success() && hook(&out).contains("(ref names)"), "{}", hook(&out));
    }

    // Bypassed: the record of what went through names the branch without its key, and a key
    // in the bypass comment stays out too.
    s.config("leakgate.allowBypass", "true")?;
    let comment_key = github_token(85);
    let refspec = format!("HEAD:refs/heads/{branch_key}");
    let option = format!("leakgate.bypass=used-in-tests:{comment_key} is revoked");
    let out = s.push(&["-o", &option, "origin", &refspec])?;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(leaked(&hook(&out)), 0, "{}", hook(&out));
    assert!(audit().contains("\"refs/heads/ghp_…\""), "{}", audit());
    assert!(audit().contains("\"ghp_… is revoked\""), "{}", audit());

    // The hook cannot load its rules and the server fails open: the unscanned push's record,
    // and the rescan it asks for, name the branch without its key (the built-in rules read
    // it), a byte that is not UTF-8 before the key included (escaped as `\xff`, it joined
    // the key's first word).
    let unscanned_key = github_token(84);
    s.config("leakgate.rules", path(&s.dir.path().join("missing.toml"))?)?;
    s.config("leakgate.failOpen", "true")?;
    let refspec = [b"HEAD:refs/heads/x/\xff".as_slice(), unscanned_key.as_bytes()].concat();
    let out = s.push_cmd(&["origin"]).arg(std::ffi::OsStr::from_bytes(&refspec)).output()?;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("not fully scanned"), "{}", stderr(&out));
    assert!(audit().contains("\"refs/heads/x/\\\\xffghp_…\""), "{}", audit());
    for key in keys.iter().chain([&unscanned_key.as_str(), &comment_key.as_str()]) {
        assert!(!hook(&out).contains(key), "{}", hook(&out));
        assert!(!audit().contains(key), "{}", audit());
        let holding = common::database_files_holding(s.dir.path(), key)?;
        assert!(holding.is_empty(), "plaintext in {holding:?}");
    }
    Ok(())
}

/// Where the database at `url` saw each of its first 10 secrets.
fn sightings(runtime: &tokio::runtime::Runtime, url: &str) -> Res<Vec<leakgate_store::Sighting>> {
    Ok(runtime.block_on(async {
        let store = leakgate_store::Store::connect(url).await?;
        let all = leakgate_store::SecretFilter { limit: 10, ..Default::default() };
        let (rows, _) = store.secrets(&all).await?;
        let mut sightings = Vec::new();
        for row in &rows {
            sightings.extend(store.sightings(&row.fingerprint, 10).await?);
        }
        Ok::<_, leakgate_store::Error>(sightings)
    })?)
}

/// A ref name git refuses (a space, a control character, a newline that makes two lines of
/// one) reaches the hook before git refuses it, beside the real branch: the pusher wrote it,
/// so the whole push is rejected whatever `failOpen` says, and the hook shows nothing of the
/// name
/// (review of session 30: a second ref named `refs/heads/a b` made the hook fail open, and the
/// branch beside it landed with its key).
#[test]
fn a_ref_name_git_refuses_rejects_the_whole_push() -> TestResult {
    let server = Server::new()?;
    server.config("leakgate.failOpen", "true")?;
    let base = server.commit("README", "base\n", "base")?;
    assert!(server.push(&["-q", "origin", "main"])?.status.success());
    let token = github_token(301);
    let key = server.commit(".env", format!("GITHUB_TOKEN={token}\n"), "key")?;
    let zero = "0".repeat(40);
    let revs = format!("{key}\n^{base}\n");
    let named = format!("refs/heads/{token} x");
    let split = format!("refs/heads/a\n{zero} {key} refs/heads/{token}");
    for odd in [
        b"refs/heads/a b".as_slice(),
        b"refs/heads/a\tb",
        b"refs/heads/a\x01b",
        named.as_bytes(),
        split.as_bytes(),
    ] {
        let out =
            server.raw_push(&[(&zero, &key, b"refs/heads/evil"), (&zero, &key, odd)], &revs)?;
        let what = String::from_utf8_lossy(odd);
        assert!(out.contains("pre-receive hook declined"), "{what}: {out}");
        // A newline makes two well-formed lines of one name: both are scanned (the second
        // names the key, found in the ref names); any other refused name is unreadable input.
        if !odd.contains(&b'\n') {
            assert!(out.contains("ref updates of this push cannot be read"), "{what}: {out}");
        }
        assert_eq!(server.server_ref("refs/heads/evil"), None, "{out}");
        // git's own report names the ref (the pusher wrote it); the hook does not.
        let hook: Vec<&str> = out.lines().filter(|l| l.contains("leakgate")).collect();
        assert!(!hook.is_empty() && !hook.iter().any(|l| l.contains(&token[4..20])), "{out}");
    }
    // The same push without the odd ref: rejected for its key, as a control.
    let out = server.raw_push(&[(&zero, &key, b"refs/heads/evil")], &revs)?;
    assert!(out.contains("pre-receive hook declined"), "{out}");
    assert!(!out.contains("cannot be read"), "rejected for its key: {out}");
    Ok(())
}

/// Objects a push carries that none of its refs reaches: git keeps them, serves them by id
/// (protocol v2 checks only that an object exists), and `clone --recurse-submodules` fetches
/// a commit a pushed tree names as a submodule with `url = ./` (review of session 30: the walk
/// and git's connectivity check both stop at a gitlink, and the key landed). They are scanned,
/// as loose objects (a small push) and in a kept pack, and a thin pack's bases (objects the
/// repository has) are not taken for them.
#[test]
fn objects_the_push_carries_that_no_ref_reaches_are_scanned() -> TestResult {
    for unpack_limit in ["100", "1"] {
        let server = Server::new()?;
        server.config("receive.unpackLimit", unpack_limit)?;
        let base = server.commit("README", "base\n", "base")?;
        assert!(server.push(&["-q", "origin", "main"])?.status.success());
        // A commit S holding a key, named by a gitlink in main's next commit.
        let token = github_token(302);
        let blob = hash_object(&server.work, format!("GITHUB_TOKEN={token}\n").as_bytes())?;
        let sub_tree = mktree(&server.work, &format!("100644 blob {blob}\t.env\n"))?;
        let sub = git(&server.work, &["commit-tree", "-m", "sub", &sub_tree])?;
        let modules =
            hash_object(&server.work, b"[submodule \"sub\"]\n\tpath = sub\n\turl = ./\n")?;
        let readme = git(&server.work, &["rev-parse", "HEAD:README"])?;
        let tree = mktree(
            &server.work,
            &format!(
                "100644 blob {modules}\t.gitmodules\n100644 blob {readme}\tREADME\n160000 commit {sub}\tsub\n"
            ),
        )?;
        let main = git(&server.work, &["commit-tree", "-p", &base, "-m", "add sub", &tree])?;
        let out = server.raw_push(
            &[(&base, &main, b"refs/heads/main")],
            &format!("{main}\n{sub}\n^{base}\n"),
        )?;
        assert!(out.contains("pre-receive hook declined"), "limit {unpack_limit}: {out}");
        assert!(out.contains("no ref reaches"), "limit {unpack_limit}: {out}");
        assert_eq!(server.server_ref("refs/heads/main").as_deref(), Some(base.as_str()));
        // The same commit without S: lands.
        let out = server
            .raw_push(&[(&base, &main, b"refs/heads/main")], &format!("{main}\n^{base}\n"))?;
        assert!(!out.contains("declined"), "limit {unpack_limit}: {out}");
        // A tree no ref reaches, with a file named after a key (its content clean): the
        // name is kept and served by id as content is.
        let named = github_token(304);
        let loose_tree = mktree(&server.work, &format!("100644 blob {readme}\t{named}\n"))?;
        let next = git(&server.work, &["commit-tree", "-p", &main, "-m", "next", &tree])?;
        let out = server.raw_push(
            &[(&main, &next, b"refs/heads/main")],
            &format!("{next}\n{loose_tree}\n^{main}\n"),
        )?;
        assert!(out.contains("pre-receive hook declined"), "limit {unpack_limit}: {out}");
        assert!(out.contains("no ref reaches"), "limit {unpack_limit}: {out}");
        assert!(!out.contains(&named), "limit {unpack_limit}: the key is not echoed");
        // A key-named file a ref does reach is reported once, as a name, not as unreferenced.
        let reached = mktree(&server.work, &format!("100644 blob {readme}\t{named}\n"))?;
        let with_name = git(&server.work, &["commit-tree", "-p", &main, "-m", "name", &reached])?;
        let out = server.raw_push(
            &[(&main, &with_name, b"refs/heads/main")],
            &format!("{with_name}\n^{main}\n"),
        )?;
        assert!(out.contains("pre-receive hook declined"), "limit {unpack_limit}: {out}");
        assert!(!out.contains("no ref reaches"), "limit {unpack_limit}: {out}");
    }
    // A key already in the repository (pushed while the hook was off), its file changed by a
    // thin pack whose base is the old blob: nothing new, and the base is not unreferenced.
    let server = Server::new()?;
    server.config("receive.unpackLimit", "1")?;
    server.config("leakgate.mode", "off")?;
    let token = github_token(303);
    let lines: String = (0..200).map(|i| format!("setting_{i} = {i}\n")).collect();
    server.commit("app.env", format!("GITHUB_TOKEN={token}\n{lines}"), "old key")?;
    assert!(server.push(&["-q", "origin", "main"])?.status.success());
    server.config("leakgate.mode", "block")?;
    server.commit("app.env", format!("GITHUB_TOKEN={token}\n{lines}setting_x = 1\n"), "more")?;
    let out = server.push(&["origin", "main"])?;
    assert!(out.status.success(), "{}", stderr(&out));
    Ok(())
}

fn hash_object(dir: &Path, content: &[u8]) -> Res<String> {
    use std::io::Write;
    let mut child = git_in(dir, &["hash-object", "-w", "--stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    child.stdin.take().ok_or("stdin")?.write_all(content)?;
    let out = child.wait_with_output()?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn mktree(dir: &Path, entries: &str) -> Res<String> {
    use std::io::Write;
    let mut child =
        git_in(dir, &["mktree"]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn()?;
    child.stdin.take().ok_or("stdin")?.write_all(entries.as_bytes())?;
    let out = child.wait_with_output()?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}
