//! End-to-end tests of `leakgate serve`: the real binary on a loopback port, deliveries signed
//! as the forges sign them, real repositories served over git's smart HTTP protocol, and a
//! local fake of the GitHub, GitLab and Gitea REST APIs.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod alerts;
mod browser;
mod deploy;
mod exceptions;
mod exposed;
mod fake;
mod flows;
mod notify;
mod partner;
mod replicas;
mod revocation;
mod revoke;
mod token_revocation;
mod ui;
mod validate;

#[path = "../../store/tests/conformance/pg.rs"]
mod pg;

#[path = "../common/mod.rs"]
mod common;
#[path = "../common/http.rs"]
mod http;

type TestResult = Result<(), Box<dyn std::error::Error>>;
type Res<T> = Result<T, Box<dyn std::error::Error>>;

pub const GITHUB_SECRET: &str = "github-webhook-secret-for-tests";
pub const GITLAB_WEBHOOK_TOKEN: &str = "gitlab-webhook-token-for-tests";
pub const GITEA_SECRET: &str = "gitea-webhook-secret-for-tests";
pub const APP_ID: u64 = 4242;
pub const FINGERPRINT_KEY: &str =
    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

pub fn git(dir: &Path, args: &[&str]) -> Res<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Dev")
        .env("GIT_AUTHOR_EMAIL", "dev@example.invalid")
        .env("GIT_COMMITTER_NAME", "Dev")
        .env("GIT_COMMITTER_EMAIL", "dev@example.invalid")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .stdin(Stdio::null())
        .output()?;
    if !out.status.success() {
        return Err(format!("git {args:?}: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Everything one test needs: a temp directory, the fake forge, the App key, a config.
pub struct World {
    pub dir: tempfile::TempDir,
    pub fake: fake::Fake,
}

/// A repository on the fake forge and a work tree to push from.
pub struct Repo {
    pub forge: &'static str,
    pub name: String,
    pub work: PathBuf,
}

impl World {
    pub fn new() -> Res<Self> {
        let dir = tempfile::tempdir()?;
        let key = dir.path().join("app.pem");
        let out = Command::new("openssl")
            .args(["genrsa", "-traditional", "-out"])
            .arg(&key)
            .arg("2048")
            .stderr(Stdio::null())
            .status()?;
        assert!(out.success(), "openssl genrsa");
        let public = Command::new("openssl")
            .args(["rsa", "-pubout", "-in"])
            .arg(&key)
            .stderr(Stdio::null())
            .output()?;
        assert!(public.status.success(), "openssl rsa -pubout");
        let git_root = dir.path().join("forge");
        let fake = fake::Fake::start(&git_root, APP_ID, public.stdout);
        Ok(World { dir, fake })
    }

    pub fn config(&self, extra: &str) -> Res<PathBuf> {
        let d = self.dir.path();
        let fake = &self.fake.base;
        let text = format!(
            r#"
[server]
bind = "127.0.0.1:0"
workers = 2
http_threads = 2
lease_seconds = 5
poll_interval_ms = 50
shutdown_grace_seconds = 2
mirror_dir = "{mirrors}"

[database]
url = "sqlite://{db}"

[github]
webhook_secret = "{GITHUB_SECRET}"
app_id = {APP_ID}
private_key_path = "{key}"
api_url = "{fake}/github-api"
clone_url = "{fake}/git/github"

[gitlab]
webhook_token = "{GITLAB_WEBHOOK_TOKEN}"
token = "{gitlab_token}"
api_url = "{fake}/gitlab/api/v4"
clone_url = "{fake}/git/gitlab"

[gitea]
webhook_secret = "{GITEA_SECRET}"
token = "{gitea_token}"
api_url = "{fake}/gitea/api/v1"
clone_url = "{fake}/git/gitea"
{extra}
"#,
            mirrors = d.join("mirrors").display(),
            db = d.join("leakgate.db").display(),
            key = d.join("app.pem").display(),
            gitlab_token = fake::GITLAB_TOKEN,
            gitea_token = fake::GITEA_TOKEN,
        );
        let path = d.join("leakgate.toml");
        std::fs::write(&path, text)?;
        Ok(path)
    }

    /// [`World::config`] with each `(from, to)` replaced in the generated text (a setting of
    /// a section the base configuration writes already).
    pub fn config_edit(&self, extra: &str, edits: &[(&str, &str)]) -> Res<PathBuf> {
        let path = self.config(extra)?;
        let mut text = std::fs::read_to_string(&path)?;
        for (from, to) in edits {
            assert!(text.contains(from), "the configuration has no {from:?}");
            text = text.replace(from, to);
        }
        std::fs::write(&path, text)?;
        Ok(path)
    }

    /// A bare repository `name` on `forge`, with one clean commit pushed.
    pub fn repo(&self, forge: &'static str, name: &str) -> Res<Repo> {
        let bare = self.fake.git_root.join(forge).join(format!("{name}.git"));
        std::fs::create_dir_all(&bare)?;
        git(&bare, &["init", "-q", "--bare", "-b", "main"])?;
        let work = self.dir.path().join("work").join(forge).join(name);
        std::fs::create_dir_all(&work)?;
        git(&work, &["init", "-q", "-b", "main"])?;
        git(&work, &["remote", "add", "origin", bare.to_str().ok_or("path")?])?;
        let repo = Repo { forge, name: name.to_owned(), work };
        repo.commit("README.md", "# app\n")?;
        git(&repo.work, &["push", "-q", "origin", "main"])?;
        Ok(repo)
    }

    pub fn database_url(&self) -> String {
        format!("sqlite://{}", self.dir.path().join("leakgate.db").display())
    }
}

impl Repo {
    pub fn commit(&self, file: &str, content: &str) -> Res<String> {
        let path = self.work.join(file);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, content)?;
        git(&self.work, &["add", "-A"])?;
        git(&self.work, &["commit", "-q", "-m", &format!("change {file}")])?;
        git(&self.work, &["rev-parse", "HEAD"])
    }

    /// Pushes `main`; returns (before, after).
    pub fn push(&self) -> Res<(String, String)> {
        let before = git(&self.work, &["rev-parse", "origin/main"])?;
        git(&self.work, &["push", "-q", "origin", "main"])?;
        let after = git(&self.work, &["rev-parse", "HEAD"])?;
        Ok((before, after))
    }

    /// The push event body, as this repo's forge sends it.
    pub fn event(&self, before: &str, after: &str) -> String {
        match self.forge {
            "gitlab" => serde_json::json!({
                "object_kind": "push", "ref": "refs/heads/main", "before": before, "after": after,
                "project_id": 77, "user_username": "dev",
                "project": {"path_with_namespace": self.name, "git_http_url": "https://gitlab.invalid/x.git", "default_branch": "main"},
                "commits": [], "total_commits_count": 1,
            })
            .to_string(),
            _ => serde_json::json!({
                "ref": "refs/heads/main", "before": before, "after": after, "created": false,
                "deleted": false, "forced": false, "commits": [],
                "repository": {"full_name": self.name, "clone_url": "https://forge.invalid/x.git", "private": true, "default_branch": "main"},
                "pusher": {"name": "dev", "email": "dev@example.invalid"},
                "installation": {"id": 99},
            })
            .to_string(),
        }
    }
}

/// A running `leakgate serve`.
pub struct Service {
    pub child: Child,
    pub addr: String,
    pub log: Arc<Mutex<String>>,
}

impl Service {
    pub fn start(world: &World, config: &Path) -> Res<Self> {
        Self::start_with_env(world, config, &[])
    }

    pub fn start_with_env(world: &World, config: &Path, env: &[(&str, &str)]) -> Res<Self> {
        let mut child = Command::new(env!("CARGO_BIN_EXE_leakgate"))
            .args(["serve", "--config"])
            .arg(config)
            .env("LEAKGATE_DATA_DIR", world.dir.path().join("data"))
            .env("LEAKGATE_FINGERPRINT_KEY", FINGERPRINT_KEY)
            .env("LEAKGATE_LOG", "info")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().ok_or("stderr")?;
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut log = sink.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                log.push_str(&line);
                log.push('\n');
            }
        });
        let stdout = child.stdout.take().ok_or("stdout")?;
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line.split("listening on http://").nth(1) {
                    let _ = tx.send(addr.trim().to_owned());
                }
                let mut log = sink.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                log.push_str(&line);
                log.push('\n');
            }
        });
        let Ok(addr) = rx.recv_timeout(Duration::from_secs(60)) else {
            let _ = child.kill();
            let log = log.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
            return Err(format!("the service did not start:\n{log}").into());
        };
        Ok(Service { child, addr, log })
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Sends a delivery to `/webhooks/{forge}`, signed as that forge signs it.
    pub fn deliver(
        &self,
        forge: &str,
        event: &str,
        delivery: &str,
        body: &str,
    ) -> Res<(u16, String)> {
        self.deliver_as(forge, event, delivery, body, "application/json")
    }

    /// [`Service::deliver`] with a content type of its own (the body is sent and signed as
    /// given).
    pub fn deliver_as(
        &self,
        forge: &str,
        event: &str,
        delivery: &str,
        body: &str,
        content_type: &str,
    ) -> Res<(u16, String)> {
        let (auth_name, auth_value, event_header, id_header) = match forge {
            "github" => (
                "X-Hub-Signature-256",
                leakgate_server::signature::sign_github(GITHUB_SECRET.as_bytes(), body.as_bytes()),
                "X-GitHub-Event",
                "X-GitHub-Delivery",
            ),
            "gitlab" => (
                "X-Gitlab-Token",
                GITLAB_WEBHOOK_TOKEN.to_owned(),
                "X-Gitlab-Event",
                "X-Gitlab-Event-UUID",
            ),
            _ => (
                "X-Gitea-Signature",
                leakgate_server::signature::sign_hex(GITEA_SECRET.as_bytes(), body.as_bytes()),
                "X-Gitea-Event",
                "X-Gitea-Delivery",
            ),
        };
        let headers = [
            ("Content-Type", content_type),
            (auth_name, auth_value.as_str()),
            (event_header, event),
            (id_header, delivery),
        ];
        Ok(http::request(
            &self.addr,
            "POST",
            &format!("/webhooks/{forge}"),
            &headers,
            body.as_bytes(),
        )?)
    }

    /// [`wait_until`], with this service's log in the error.
    pub fn wait(&self, what: &str, check: impl FnMut() -> bool) -> Res<()> {
        wait_until(what, check)
            .map_err(|e| format!("{e}\n--- service log ---\n{}", self.log()).into())
    }

    pub fn get(&self, path: &str) -> Res<(u16, String)> {
        Ok(http::request(&self.addr, "GET", path, &[], b"")?)
    }

    /// SIGKILL: no chance to release anything.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits for the process to end.
    pub fn terminate(&mut self) -> Res<std::process::ExitStatus> {
        Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status()?;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() > deadline {
                return Err("the service did not stop on SIGTERM".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `check` until it holds or 60 s pass.
pub fn wait_until(what: &str, mut check: impl FnMut() -> bool) -> Res<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if check() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!("timed out waiting for {what}").into())
}

/// Job counts in the service's database: (queued, running, done, dead).
pub fn job_counts(world: &World) -> Res<(i64, i64, i64, i64)> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let url = world.database_url();
    Ok(runtime.block_on(async move {
        let store = leakgate_store::Store::connect_without_migrating(&url).await?;
        store.job_counts().await
    })?)
}

/// A checksum-valid (fake) GitHub token, made at run time.
pub fn github_token(seed: u64) -> String {
    common::github_token("ghp_", seed)
}

/// No plaintext in the service log, issues, forge requests (the revocation endpoint aside:
/// it is where the key must go) or any database file.
pub fn assert_no_plaintext(world: &World, logs: &[String], secret: &str) -> Res<()> {
    for log in logs {
        assert!(!log.contains(secret), "a log holds the secret");
    }
    let state = world.fake.state();
    for issue in &state.issues {
        assert!(!issue.body.contains(secret) && !issue.title.contains(secret), "an issue holds it");
    }
    assert!(state.bodies.iter().all(|b| !b.contains(secret)), "a forge request holds the secret");
    drop(state);
    let holding = common::database_files_holding(world.dir.path(), secret)?;
    assert!(holding.is_empty(), "{holding:?} hold the secret");
    Ok(())
}

/// A local HTTP server on a loopback port, in a thread of its own (a fake of some remote
/// API); it stops when dropped.
pub struct LocalServer {
    pub base: String,
    handle: actix_web::dev::ServerHandle,
}

impl LocalServer {
    /// Serves the routes `configure` sets up with `workers` threads.
    pub fn start(
        workers: usize,
        configure: impl Fn(&mut actix_web::web::ServiceConfig) + Clone + Send + 'static,
    ) -> Self {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let server = actix_web::HttpServer::new(move || {
                    actix_web::App::new().configure(configure.clone())
                })
                .workers(workers)
                .disable_signals()
                .bind(("127.0.0.1", 0))
                .expect("bind a loopback port");
                let port = server.addrs()[0].port();
                let server = server.run();
                tx.send((port, server.handle())).expect("report the port");
                server.await.expect("the local server runs");
            });
        });
        let (port, handle) = rx.recv().expect("the local server started");
        LocalServer { base: format!("http://127.0.0.1:{port}"), handle }
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        std::thread::spawn(move || actix_web::rt::System::new().block_on(handle.stop(false)));
    }
}
