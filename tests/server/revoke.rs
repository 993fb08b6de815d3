//! `leakgate revoke` against local fakes of the providers' revocation endpoints, each
//! answering as its documentation says: success, a dead token, 401/403, 429 with
//! `Retry-After`, 500, an HTML error page, and a response slower than the time limit.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use serde_json::json;

use crate::TestResult;

/// What the fake received: (path, the credential it was sent).
type Seen = Arc<Mutex<Vec<(String, String)>>>;

fn credential(req: &HttpRequest, body: &[u8]) -> String {
    let header =
        |n: &str| req.headers().get(n).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let auth = header("Authorization");
    if let Some(t) = auth.strip_prefix("Bearer ") {
        return t.to_owned();
    }
    if !auth.is_empty() {
        return auth;
    }
    if !header("PRIVATE-TOKEN").is_empty() {
        return header("PRIVATE-TOKEN");
    }
    let body: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    body["credentials"][0].as_str().or(body["token"].as_str()).unwrap_or("").to_owned()
}

/// The token's name picks the fake's answer: `ok`, `dead`, `limit`, `boom`, `html`, `slow`.
async fn answer(req: HttpRequest, body: web::Bytes, seen: web::Data<Seen>) -> HttpResponse {
    let token = credential(&req, &body);
    seen.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push((req.path().to_owned(), token.clone()));
    let path = req.path();
    let success = |ok: u16| {
        HttpResponse::build(actix_web::http::StatusCode::from_u16(ok).unwrap_or_default())
    };
    if token.contains("slow") {
        actix_web::rt::time::sleep(Duration::from_secs(3)).await;
    }
    if token.contains("limit") {
        return HttpResponse::TooManyRequests()
            .insert_header(("Retry-After", "7"))
            .json(json!({"message": "rate limited"}));
    }
    if token.contains("boom") {
        return HttpResponse::InternalServerError().json(json!({"message": "oops"}));
    }
    if token.contains("forbidden") {
        return HttpResponse::Forbidden().json(json!({"message": "403 Forbidden"}));
    }
    if token.contains("html") {
        return HttpResponse::Ok()
            .content_type("text/html")
            .body("<html><body>Maintenance</body></html>");
    }
    let dead = token.contains("dead");
    match path {
        "/github/credentials/revoke" => success(202).json(json!({})),
        "/github/installation/token" if dead => {
            HttpResponse::Unauthorized().json(json!({"message": "Bad credentials"}))
        }
        "/github/installation/token" => success(204).finish(),
        "/gitlab/api/v4/personal_access_tokens/self" if dead => {
            HttpResponse::Unauthorized().json(json!({"message": "401 Unauthorized"}))
        }
        "/gitlab/api/v4/personal_access_tokens/self" => success(204).finish(),
        "/slack/api/auth.revoke" if dead => {
            HttpResponse::Ok().json(json!({"ok": false, "error": "invalid_auth"}))
        }
        "/slack/api/auth.revoke" => HttpResponse::Ok().json(json!({"ok": true, "revoked": true})),
        "/crates/api/v1/tokens/current" if dead => {
            HttpResponse::Forbidden().json(json!({"errors": [{"detail": "authentication failed"}]}))
        }
        "/crates/api/v1/tokens/current" => success(204).finish(),
        _ => HttpResponse::NotFound().finish(),
    }
}

struct FakeProviders {
    base: String,
    seen: Seen,
    handle: actix_web::dev::ServerHandle,
}

impl Drop for FakeProviders {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        std::thread::spawn(move || actix_web::rt::System::new().block_on(handle.stop(false)));
    }
}

fn start() -> FakeProviders {
    let seen: Seen = Arc::default();
    let data = web::Data::new(seen.clone());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = HttpServer::new(move || {
                App::new().app_data(data.clone()).default_service(web::to(answer))
            })
            .workers(1)
            .disable_signals()
            .bind(("127.0.0.1", 0))
            .expect("bind");
            let port = server.addrs()[0].port();
            let server = server.run();
            tx.send((port, server.handle())).expect("port");
            server.await.expect("runs");
        });
    });
    let (port, handle) = rx.recv().expect("started");
    FakeProviders { base: format!("http://127.0.0.1:{port}"), seen, handle }
}

fn config(dir: &std::path::Path, fake: &FakeProviders, allow_internal: bool) -> std::path::PathBuf {
    let mut text = String::from("[revoke]\ntimeout_seconds = 1\n");
    for (name, path) in
        [("github", "github"), ("gitlab", "gitlab"), ("slack", "slack"), ("crates-io", "crates")]
    {
        text.push_str(&format!(
            "[revoke.{name}]\napi_url = \"{}/{path}\"\nallow_internal = {allow_internal}\n",
            fake.base
        ));
    }
    let path = dir.join(format!("revoke-{allow_internal}.toml"));
    std::fs::write(&path, text).expect("config");
    path
}

/// Runs `leakgate revoke`, secret on stdin; returns (exit code, stdout).
fn revoke(config: &std::path::Path, args: &[&str], secret: &str) -> (i32, String) {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_leakgate"))
        .arg("revoke")
        .args(args)
        .arg("--config")
        .arg(config)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    child.stdin.take().expect("stdin").write_all(format!("{secret}\n").as_bytes()).expect("write");
    let out = child.wait_with_output().expect("wait");
    let text =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(secret.len() < 8 || !text.contains(secret), "the output shows the secret: {text}");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn each_documented_answer_maps_to_its_outcome() -> TestResult {
    let fake = start();
    let dir = tempfile::tempdir()?;
    let config = config(dir.path(), &fake, true);
    let cases: &[(&str, &str, i32, &str)] = &[
        ("github", "ghp_ok_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0, "revoked: github"),
        ("github", "ghs_ok_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0, "revoked: github"),
        ("github", "ghs_dead_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0, "already_invalid: github"),
        (
            "github",
            "ghp_limit_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            1,
            "failed_retryable: github (HTTP 429)",
        ),
        (
            "github",
            "ghp_boom_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            1,
            "failed_retryable: github (HTTP 500)",
        ),
        (
            "github",
            "ghp_html_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            1,
            "failed_retryable: github (an HTML page",
        ),
        (
            "github",
            "ghp_slow_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            1,
            "failed_retryable: github (timed out",
        ),
        ("gitlab", "glpat-ok-aaaaaaaaaaaaaaaaaaaa", 0, "revoked: gitlab"),
        ("gitlab", "glpat-dead-aaaaaaaaaaaaaaaaaa", 0, "already_invalid: gitlab"),
        ("gitlab", "glpat-forbidden-aaaaaaaaaaaa", 1, "failed_permanent: gitlab (HTTP 403)"),
        ("slack", "xoxb-ok-1111-2222-aaaaaaaa", 0, "revoked: slack"),
        ("slack", "xoxb-dead-1111-2222-aaaaaa", 0, "already_invalid: slack (invalid_auth)"),
        ("slack", "xoxb-html-1111-2222-aaaaaa", 1, "failed_retryable: slack"),
        ("crates-io", "cio_ok_aaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0, "revoked: crates-io"),
        ("crates-io", "cio_dead_aaaaaaaaaaaaaaaaaaaaaaaaaa", 0, "already_invalid: crates-io"),
    ];
    for (provider, secret, code, line) in cases {
        let (got, out) = revoke(&config, &["--provider", provider], secret);
        assert_eq!(got, *code, "{provider} {secret}: {out}");
        assert!(out.starts_with(line), "{provider} {secret}: {out}");
    }
    // Each provider received exactly the token it was given, once per call.
    let seen = fake.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
    assert_eq!(seen.len(), cases.len());
    for ((_, secret, _, _), (_, token)) in cases.iter().zip(&seen) {
        assert_eq!(secret, token);
    }
    Ok(())
}

#[test]
fn secrets_go_only_to_public_addresses_unless_allowed() -> TestResult {
    let fake = start();
    let dir = tempfile::tempdir()?;
    // Plain http is refused outright; https to a loopback address is refused for the address.
    let config = config(dir.path(), &fake, false);
    let (code, out) =
        revoke(&config, &["--provider", "github"], "ghp_ok_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("https only"), "{out}");
    let https = dir.path().join("https.toml");
    let port = fake.base.rsplit(':').next().unwrap_or("1");
    std::fs::write(
        &https,
        format!("[revoke.gitlab]\napi_url = \"https://127.0.0.1:{port}/gitlab\"\n"),
    )?;
    let (code, out) = revoke(&https, &["--provider", "gitlab"], "glpat-ok-bbbbbbbbbbbbbbbbbbbb");
    assert_eq!(code, 1, "{out}");
    assert!(
        out.starts_with("failed_permanent: gitlab") && out.contains("not a public address"),
        "{out}"
    );
    assert!(
        fake.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner).is_empty(),
        "nothing was sent"
    );
    Ok(())
}

#[test]
fn usage_dry_run_rules_and_unsupported_providers() -> TestResult {
    let fake = start();
    let dir = tempfile::tempdir()?;
    let config = config(dir.path(), &fake, true);
    let (code, out) = revoke(
        &config,
        &["--provider", "github", "--dry-run"],
        "ghp_ok_cccccccccccccccccccccccccccccccccc",
    );
    assert_eq!((code, out.starts_with("dry run")), (0, true), "{out}");
    assert!(
        fake.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner).is_empty(),
        "a dry run sends nothing"
    );
    let (code, _) = revoke(&config, &["--provider", "nosuch"], "x");
    assert_eq!(code, 2);
    let (code, _) = revoke(&config, &["--provider", "github"], "");
    assert_eq!(code, 2, "an empty stdin is a usage error");
    let (code, out) = revoke(&config, &["--provider", "aws"], "AKIAEXAMPLEEXAMPLE12");
    assert_eq!((code, out.starts_with("unsupported: aws")), (1, true), "{out}");
    // --rule finds the provider through the rule's `revoke` field.
    let (code, out) =
        revoke(&config, &["--rule", "gitlab-pat-legacy"], "glpat-ok-cccccccccccccccccccc");
    assert_eq!((code, out.starts_with("revoked: gitlab")), (0, true), "{out}");
    let (code, out) =
        revoke(&config, &["--rule", "gitlab-feed-token"], "glft-ok-cccccccccccccccccccc");
    assert_eq!(
        (code, out.starts_with("unsupported")),
        (1, true),
        "a rule without a provider: {out}"
    );
    let (code, _) = revoke(&config, &["--rule", "no-such-rule"], "x");
    assert_eq!(code, 2);
    Ok(())
}
