//! The hook under platform conventions: GitLab's message prefix, `git daemon`, installation
//! layouts, and input that is not what git sends.

use std::io::Write;
use std::net::TcpListener;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use super::{git, git_in, github_token, leakgate, path, stderr, Res, Server, TestResult};

#[test]
fn gitlab_sees_every_line_with_its_prefix() -> TestResult {
    let s = Server::new()?;
    s.commit("a.txt", format!("{}\n", github_token(20)), "a")?;
    let mut cmd = s.push_cmd(&["origin", "main"]);
    cmd.env("GL_ID", "user-1").env("GL_PROTOCOL", "ssh");
    let out = cmd.output()?;
    assert!(!out.status.success());
    let err = stderr(&out);
    let hook_lines: Vec<&str> =
        err.lines().filter(|l| l.starts_with("remote: ") && l.len() > 8).collect();
    assert!(!hook_lines.is_empty());
    assert!(hook_lines.iter().all(|l| l.starts_with("remote: GL-HOOK-ERR: ")), "{err}");
    Ok(())
}

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn pushes_over_git_daemon_are_checked() -> TestResult {
    let s = Server::new()?;
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let base = s.dir.path();
    let daemon = Daemon(
        git_in(
            base,
            &[
                "daemon",
                "--reuseaddr",
                "--listen=127.0.0.1",
                "--export-all",
                "--enable=receive-pack",
            ],
        )
        .arg(format!("--port={port}"))
        .arg(format!("--base-path={}", path(base)?))
        .env("LEAKGATE_DATA_DIR", base.join("data"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?,
    );
    let url = format!("git://127.0.0.1:{port}/repo.git");
    let start = Instant::now();
    while git(&s.work, &["ls-remote", &url]).is_err() {
        if start.elapsed() > Duration::from_secs(10) {
            return Err("git daemon did not start".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    s.commit("ok.txt", "fine\n", "ok")?;
    let out = git_in(&s.work, &["push", &url, "main"]).output()?;
    assert!(out.status.success(), "{}", stderr(&out));
    s.commit("bad.txt", format!("{}\n", github_token(21)), "bad")?;
    let out = git_in(&s.work, &["push", &url, "main"]).output()?;
    assert!(!out.status.success());
    assert!(stderr(&out).contains("bad.txt:1"), "{}", stderr(&out));
    drop(daemon);
    Ok(())
}

pub fn run_hook(s: &Server, input: &[u8], extra: &[(&str, &str)]) -> Res<std::process::Output> {
    let mut cmd = leakgate(s.dir.path());
    cmd.arg("pre-receive")
        .env("GIT_DIR", &s.bare)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn()?;
    child.stdin.take().ok_or("stdin")?.write_all(input)?;
    Ok(child.wait_with_output()?)
}

#[test]
fn malformed_input_gets_a_clear_error() -> TestResult {
    // The pusher shapes the hook's input (git hands it ref names it refuses afterwards): input
    // that is not a list of ref updates rejects the push whatever `failOpen` says, and none of
    // it is quoted back.
    let s = Server::new()?;
    let out = run_hook(&s, b"not_a_ref_update\x1b[2J\n", &[])?;
    assert_eq!(out.status.code(), Some(1), "rejected, fail-open or not");
    let err = stderr(&out);
    assert!(err.contains("line 1: expected `<old-id> <new-id> <ref>`"), "{err}");
    assert!(!err.contains('\x1b') && !err.contains("not_a_ref_update"), "{err}");
    let out = run_hook(&s, b"abc def refs/heads/main\n", &[("LEAKGATE_FAIL_OPEN", "false")])?;
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("not sha1 hex"), "{}", stderr(&out));
    let out = run_hook(&s, &[0xff, 0xfe, 0x00], &[("LEAKGATE_FAIL_OPEN", "true")])?;
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("line 1: expected"), "{}", stderr(&out));
    let out = run_hook(&s, b"", &[])?;
    assert_eq!(out.status.code(), Some(0));
    Ok(())
}

#[test]
fn install_writes_each_platforms_layout_and_respects_foreign_hooks() -> TestResult {
    let s = Server::new()?;
    let plain = std::fs::read_to_string(s.bare.join("hooks/pre-receive"))?;
    assert!(plain.contains("pre-receive") && plain.contains("managed by leakgate"));
    assert_eq!(git(&s.bare, &["config", "receive.advertisePushOptions"])?, "true");
    for (flavor, file) in [
        ("gitlab", "custom_hooks/pre-receive.d/leakgate"),
        ("gitea", "hooks/pre-receive.d/leakgate"),
    ] {
        let out = leakgate(s.dir.path())
            .args(["hook", "install", "--repo", path(&s.bare)?, "--flavor", flavor])
            .output()?;
        assert!(out.status.success(), "{}", stderr(&out));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(s.bare.join(file))?.permissions().mode() & 0o111, 0o111);
        }
    }
    // Gitea's own hooks/pre-receive is never overwritten by the gitea flavor, and a foreign
    // plain hook is kept unless --force.
    std::fs::write(s.bare.join("hooks/pre-receive"), "#!/bin/sh\necho gitea\n")?;
    let out =
        leakgate(s.dir.path()).args(["hook", "install", "--repo", path(&s.bare)?]).output()?;
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--force"), "{}", stderr(&out));
    assert!(std::fs::read_to_string(s.bare.join("hooks/pre-receive"))?.contains("gitea"));
    let out = leakgate(s.dir.path())
        .args(["hook", "install", "--repo", path(&s.bare)?, "--force"])
        .output()?;
    assert!(out.status.success());
    let global = s.dir.path().join("global-hooks");
    let out = leakgate(s.dir.path())
        .args(["hook", "install", "--global", path(&global)?])
        .env("GIT_CONFIG_SYSTEM", s.dir.path().join("system-gitconfig"))
        .output()?;
    assert!(out.status.success() && global.join("pre-receive").exists());
    // Issue 12: a server-wide hook also turns push options on server-wide.
    let system = std::fs::read_to_string(s.dir.path().join("system-gitconfig"))?;
    assert!(system.contains("advertisePushOptions = true"), "{system}");
    Ok(())
}
