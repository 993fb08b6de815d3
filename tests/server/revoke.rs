//! `leakgate revoke` against local fakes of the providers' revocation endpoints, each
//! answering as its documentation says: success, a dead token, 401/403, 429 with
//! `Retry-After`, 500, an HTML error page, and a response slower than the time limit.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use crate::TestResult;

/// What the fake received: (path, the credential it was sent).
type Seen = Arc<Mutex<Vec<(String, String)>>>;

fn header(req: &HttpRequest, name: &str) -> String {
    req.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned()
}

/// The leaked credential a request carries, wherever its provider puts it.
fn credential(req: &HttpRequest, body: &[u8]) -> String {
    let path = req.path();
    if let Some(rest) = path.strip_prefix("/discord/api/webhooks/") {
        return rest.rsplit('/').next().unwrap_or("").to_owned();
    }
    let auth = header(req, "Authorization");
    if let Some(signed) = auth.strip_prefix("AWS4-HMAC-SHA256 Credential=") {
        return signed.split('/').next().unwrap_or("").to_owned();
    }
    let form: Vec<(String, String)> =
        if header(req, "content-type").starts_with("application/x-www-form-urlencoded") {
            String::from_utf8_lossy(body)
                .split('&')
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.replace("%2F", "/").replace("%2B", "+")))
                .collect()
        } else {
            Vec::new()
        };
    if let Some((_, token)) = form.iter().find(|(k, _)| k == "token") {
        return token.clone();
    }
    let json: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    if path.ends_with("/api/v4/admin/token") {
        return json["token"].as_str().unwrap_or("").to_owned();
    }
    if let Some(t) = auth.strip_prefix("Bearer ") {
        return t.to_owned();
    }
    if !auth.is_empty() {
        return auth;
    }
    if !header(req, "PRIVATE-TOKEN").is_empty() {
        return header(req, "PRIVATE-TOKEN");
    }
    json["credentials"][0].as_str().or(json["token"].as_str()).unwrap_or("").to_owned()
}

fn status(code: u16) -> actix_web::HttpResponseBuilder {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(code).unwrap_or_default())
}

fn iam_error(code: u16, error: &str) -> HttpResponse {
    status(code).content_type("text/xml").body(format!(
        "<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><Error><Type>Sender</Type>\
         <Code>{error}</Code><Message>x</Message></Error><RequestId>1</RequestId></ErrorResponse>"
    ))
}

/// The token's name picks the fake's answer: `ok`, `dead`, `limit` (429, `Retry-After: 7`),
/// `boom` (500), `forbidden` (403), `html` (an HTML page), `slow` (3 s: past the limit),
/// `lag` (300 ms, then success), `nomatch` (listed tokens do not include it).
async fn answer(req: HttpRequest, body: web::Bytes, seen: web::Data<Seen>) -> HttpResponse {
    let token = credential(&req, &body);
    seen.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push((req.path().to_owned(), token.clone()));
    let path = req.path();
    let has = |word: &str| token.to_ascii_lowercase().contains(word);
    if has("slow") {
        actix_web::rt::time::sleep(Duration::from_secs(3)).await;
    }
    if has("lag") {
        actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    }
    if has("limit") {
        return HttpResponse::TooManyRequests()
            .insert_header(("Retry-After", "7"))
            .json(json!({"message": "rate limited"}));
    }
    if has("boom") {
        return HttpResponse::InternalServerError().json(json!({"message": "oops"}));
    }
    if has("forbidden") {
        return HttpResponse::Forbidden().json(json!({"message": "403 Forbidden"}));
    }
    if has("html") {
        return HttpResponse::Ok()
            .content_type("text/html")
            .body("<html><body>Maintenance</body></html>");
    }
    let dead = has("dead");
    let unauthorized = || HttpResponse::Unauthorized().json(json!({"message": "Bad credentials"}));
    let method = req.method().as_str();
    match path {
        "/github/credentials/revoke" if has("spam") => status(422)
            .json(json!({"message": "Validation Failed", "documentation_url": "https://docs.github.com"})),
        "/github/credentials/revoke" => status(202).json(json!({})),
        // A misbehaving answer that echoes the token back.
        "/slack/api/auth.revoke" if has("echo") => {
            HttpResponse::Ok().json(json!({"ok": false, "error": token}))
        }
        "/github/installation/token" if dead => unauthorized(),
        "/github/installation/token" => status(204).finish(),
        "/gitlab/api/v4/personal_access_tokens/self" if dead => unauthorized(),
        "/gitlab/api/v4/personal_access_tokens/self" => status(204).finish(),
        "/gitlab/api/v4/admin/token" if header(&req, "PRIVATE-TOKEN") != "admin-token" => {
            unauthorized()
        }
        "/gitlab/api/v4/admin/token" if dead => HttpResponse::NotFound().json(json!({})),
        "/gitlab/api/v4/admin/token" => status(204).finish(),
        "/slack/api/auth.revoke" if dead => {
            HttpResponse::Ok().json(json!({"ok": false, "error": "invalid_auth"}))
        }
        "/slack/api/auth.revoke" => HttpResponse::Ok().json(json!({"ok": true, "revoked": true})),
        "/crates/api/v1/tokens/current" if dead => {
            HttpResponse::Forbidden().json(json!({"errors": [{"detail": "authentication failed"}]}))
        }
        "/crates/api/v1/tokens/current" => status(204).finish(),
        "/vercel/v3/user/tokens/current" if dead => {
            HttpResponse::Forbidden().json(json!({"error": {"code": "forbidden"}}))
        }
        "/vercel/v3/user/tokens/current" => HttpResponse::Ok().json(json!({"tokenId": "t1"})),
        "/buildkite/v2/access-token" if dead => unauthorized(),
        "/buildkite/v2/access-token" => status(204).finish(),
        "/doppler/v3/auth/revoke" if dead => unauthorized(),
        "/doppler/v3/auth/revoke" => HttpResponse::Ok().json(json!({"success": true})),
        p if p.starts_with("/discord/api/webhooks/") && dead => {
            HttpResponse::NotFound().json(json!({"message": "Unknown Webhook", "code": 10015}))
        }
        p if p.starts_with("/discord/api/webhooks/") => status(204).finish(),
        "/google/revoke" if dead => HttpResponse::BadRequest()
            .json(json!({"error": "invalid_token", "error_description": "Token expired or revoked"})),
        "/google/revoke" => HttpResponse::Ok().json(json!({})),
        "/do/v1/oauth/revoke" if dead => unauthorized(),
        "/do/v1/oauth/revoke" => HttpResponse::Ok().finish(),
        "/heroku/oauth/authorizations" if dead => unauthorized(),
        "/heroku/oauth/authorizations" => {
            // Two pages: a decoy first; the leaked token's authorization on the second.
            let decoy = json!({"id": "auth-1", "access_token": {"token": "HRKU-someone-else", "id": "t-1"}});
            if header(&req, "Range").is_empty() {
                return status(206)
                    .insert_header(("Next-Range", "id ]auth-1..; max=1"))
                    .json(json!([decoy]));
            }
            let mine = if has("nomatch") { token.replace("nomatch", "other") } else { token.clone() };
            HttpResponse::Ok().json(json!([{"id": "auth-2", "access_token": {"token": mine, "id": "t-2"}}]))
        }
        "/heroku/oauth/authorizations/auth-2" if method == "DELETE" => {
            HttpResponse::Ok().json(json!({"id": "auth-2"}))
        }
        "/cf/client/v4/user/tokens/verify" if dead => HttpResponse::Unauthorized().json(json!({
            "success": false, "errors": [{"code": 1000, "message": "Invalid API Token"}], "result": null
        })),
        "/cf/client/v4/user/tokens/verify" => HttpResponse::Ok().json(json!({
            "success": true, "errors": [], "result": {"id": "tok-77", "status": "active"}
        })),
        "/cf/client/v4/user/tokens/tok-77" if method == "DELETE" => {
            HttpResponse::Ok().json(json!({"success": true, "errors": [], "result": {"id": "tok-77"}}))
        }
        "/npm/-/npm/v1/tokens" if dead => unauthorized(),
        "/npm/-/npm/v1/tokens" => {
            use sha2::Digest;
            let key = hex::encode(sha2::Sha512::digest(token.as_bytes()));
            let decoy = json!({"token": "abcdef", "key": "0".repeat(128), "readonly": false});
            let mut objects = vec![decoy];
            if !has("nomatch") {
                objects.push(json!({"token": &token[..6], "key": key, "readonly": false}));
            }
            HttpResponse::Ok().json(json!({"objects": objects, "urls": {}}))
        }
        p if p.starts_with("/npm/-/npm/v1/tokens/token/") && method == "DELETE" => {
            use sha2::Digest;
            let key = hex::encode(sha2::Sha512::digest(token.as_bytes()));
            if p.ends_with(&key) {
                status(204).finish()
            } else {
                HttpResponse::NotFound().finish()
            }
        }
        "/aws/" if dead => iam_error(403, "InvalidClientTokenId"),
        "/aws/" if String::from_utf8_lossy(&body).contains("Action=GetAccessKeyLastUsed") => {
            if String::from_utf8_lossy(&body).contains("AKIAGONE") {
                return iam_error(404, "NoSuchEntity");
            }
            HttpResponse::Ok().content_type("text/xml").body(
                "<GetAccessKeyLastUsedResponse><GetAccessKeyLastUsedResult><UserName>dev-7</UserName>\
                 <AccessKeyLastUsed><Region>N/A</Region></AccessKeyLastUsed>\
                 </GetAccessKeyLastUsedResult></GetAccessKeyLastUsedResponse>",
            )
        }
        "/aws/" if has("mismatch") => iam_error(403, "SignatureDoesNotMatch"),
        // A live key that may not change itself: authenticated, then refused.
        "/aws/" if has("denied") => iam_error(403, "AccessDenied"),
        "/aws/" => HttpResponse::Ok().content_type("text/xml").body(
            "<UpdateAccessKeyResponse><ResponseMetadata><RequestId>1</RequestId>\
             </ResponseMetadata></UpdateAccessKeyResponse>",
        ),
        _ => HttpResponse::NotFound().finish(),
    }
}

pub struct FakeProviders {
    pub base: String,
    pub seen: Seen,
    _server: crate::LocalServer,
}

pub fn start() -> FakeProviders {
    let seen: Seen = Arc::default();
    let data = web::Data::new(seen.clone());
    let server = crate::LocalServer::start(1, move |cfg| {
        cfg.app_data(data.clone()).default_service(web::to(answer));
    });
    FakeProviders { base: server.base.clone(), seen, _server: server }
}

/// Each provider's path on the fake.
const BASES: &[(&str, &str)] = &[
    ("github", "github"),
    ("gitlab", "gitlab"),
    ("slack", "slack"),
    ("crates-io", "crates"),
    ("vercel", "vercel"),
    ("buildkite", "buildkite"),
    ("doppler", "doppler"),
    ("discord", "discord"),
    ("google", "google"),
    ("digitalocean", "do"),
    ("heroku", "heroku"),
    ("cloudflare", "cf"),
    ("npm", "npm"),
    ("aws", "aws"),
];

fn config(dir: &std::path::Path, fake: &FakeProviders, allow_internal: bool) -> std::path::PathBuf {
    let mut text = String::from("[revoke]\ntimeout_seconds = 1\n");
    for (name, path) in BASES {
        text.push_str(&format!(
            "[revoke.{name}]\napi_url = \"{}/{path}\"\nallow_internal = {allow_internal}\nallow_http = {allow_internal}\n",
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
    // A usage error exits before reading stdin: a broken pipe here is not the test's failure.
    let _ = child.stdin.take().expect("stdin").write_all(format!("{secret}\n").as_bytes());
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
        ("slack", "xoxb-echo-1111-2222-aaaaaa", 1, "failed_permanent: slack ((summary withheld"),
        (
            "github",
            "ghp_spam_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            1,
            "failed_retryable: github (HTTP 422",
        ),
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
    // allow_internal permits the address, not plain http: that is allow_http.
    let internal = dir.path().join("internal.toml");
    std::fs::write(
        &internal,
        format!("[revoke.github]\napi_url = \"{}/github\"\nallow_internal = true\n", fake.base),
    )?;
    let (code, out) =
        revoke(&internal, &["--provider", "github"], "ghp_ok_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
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
    // Discord revokes webhook URLs; a bot token is reset by hand.
    let (code, out) = revoke(
        &config,
        &["--provider", "discord"],
        "MTAxMjM0NTY3ODkwMTIzNDU2.GaBcDe.xyzxyzxyzxyzxyzxyzxyzxyzxyz",
    );
    assert_eq!((code, out.starts_with("unsupported: discord")), (1, true), "{out}");
    let (code, out) = revoke(&config, &["--provider", "postman"], "PMAK-0123456789abcdef");
    assert!(code == 1 && out.contains("no revocation API"), "{out}");
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

/// A provider's test secret carrying `word` (which picks the fake's answer), and the
/// credential the fake should see for it.
fn secret_for(provider: &str, word: &str) -> (String, String) {
    let secret = match provider {
        "github" => format!("ghp_{word}_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
        "gitlab" => format!("glpat-{word}-aaaaaaaaaaaaaaaaaaaa"),
        "slack" => format!("xoxb-{word}-1111-2222-aaaaaaaa"),
        "crates-io" => format!("cio{word}aaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
        "vercel" => format!("vercel{word}aaaaaaaaaaaaaaaa"),
        "buildkite" => format!("bkua_{word}aaaaaaaaaaaaaaaaaaaaaa"),
        "doppler" => format!("dp.pt.{word}aaaaaaaaaaaaaaaaaaaa"),
        "discord" => format!("https://discord.com/api/webhooks/123456/{word}-aaaaaaaa"),
        "google" => format!("ya29.{word}-aaaaaaaaaaaaaaaa"),
        "digitalocean" => format!("dop_v1_{word}aaaaaaaaaaaaaaaaaaaa"),
        "heroku" => format!("HRKU-{word}-aaaaaaaaaaaaaaaa"),
        "cloudflare" => format!("cf{word}aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
        "npm" => format!("npm_{word}aaaaaaaaaaaaaaaaaaaaaaaaaa"),
        "aws" => {
            let id: String = format!("AKIA{}", word.to_uppercase())
                .chars()
                .chain(std::iter::repeat('A'))
                .take(20)
                .collect();
            return (format!("{id}\nwJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"), id);
        }
        other => panic!("no test secret for {other}"),
    };
    let seen = match provider {
        "discord" => secret.rsplit('/').next().unwrap_or("").to_owned(),
        _ => secret.clone(),
    };
    (secret, seen)
}

/// Every provider against its fake, for every documented kind of answer: the outcome, the
/// `Retry-After`, and that every request of a case carried exactly that case's credential.
#[test]
fn every_provider_maps_every_documented_answer() -> TestResult {
    use leakgate_server::revoke::{self, Outcome, ProviderConfig};
    let _ = rustls::crypto::ring::default_provider().install_default();
    let fake = start();
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let words = ["ok", "lag", "dead", "forbidden", "limit", "boom", "html", "slow", "nomatch"];
    let mut tasks = tokio::task::JoinSet::new();
    let _guard = runtime.enter();
    for (provider, path) in BASES {
        for word in words {
            if word == "nomatch" && !matches!(*provider, "heroku" | "npm") {
                continue;
            }
            let settings = ProviderConfig {
                api_url: Some(format!("{}/{path}", fake.base)),
                allow_internal: true,
                allow_http: true,
                ..ProviderConfig::default()
            };
            let (secret, seen) = secret_for(provider, word);
            tasks.spawn(async move {
                let p = revoke::provider(provider).expect("known");
                let base = revoke::base_url(p, &settings);
                let attempt =
                    revoke::revoke(p, secret.as_bytes(), &settings, base, Duration::from_secs(1))
                        .await;
                (*provider, word, seen, attempt)
            });
        }
    }
    let results = runtime.block_on(async {
        let mut out = Vec::new();
        while let Some(r) = tasks.join_next().await {
            out.push(r.expect("task"));
        }
        out
    });
    let requests = fake.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
    let mut failures = Vec::new();
    for (provider, word, credential, attempt) in &results {
        let expected = match *word {
            "ok" | "lag" => Outcome::Revoked,
            // GitHub's credential revocation API answers 202 for any token it accepts to
            // process; it does not tell a dead token apart (installation tokens do: 401).
            "dead" if *provider == "github" => Outcome::Revoked,
            "dead" => Outcome::AlreadyInvalid,
            // crates.io and Vercel document 403 for a token that is not valid.
            "forbidden" if matches!(*provider, "crates-io" | "vercel") => Outcome::AlreadyInvalid,
            "forbidden" | "nomatch" => Outcome::FailedPermanent,
            _ => Outcome::FailedRetryable,
        };
        if attempt.outcome != expected {
            failures.push(format!("{provider}/{word}: {attempt:?}, expected {expected:?}"));
        }
        if *word == "limit" && attempt.retry_after != Some(Duration::from_secs(7)) {
            failures.push(format!("{provider}/{word}: Retry-After not kept: {attempt:?}"));
        }
        if *word == "slow" && !attempt.summary.contains("timed out") {
            failures.push(format!("{provider}/{word}: {attempt:?}"));
        }
        if attempt.summary.contains(credential.as_str()) {
            failures.push(format!("{provider}/{word}: the summary shows the secret"));
        }
        let mine: Vec<&(String, String)> =
            requests.iter().filter(|(_, c)| c == credential).collect();
        if mine.is_empty() {
            failures.push(format!("{provider}/{word}: the fake saw no request with its token"));
        }
        // Listing providers delete exactly the entry that matched, and nothing on no match.
        let deletes = mine
            .iter()
            .filter(|(p, _)| p.contains("/authorizations/") || p.contains("/tokens/token/"))
            .count();
        match (*provider, *word) {
            ("heroku" | "npm", "ok" | "lag") if deletes != 1 => {
                failures.push(format!("{provider}/{word}: {deletes} deletions"));
            }
            ("heroku" | "npm", "nomatch") if deletes != 0 => {
                failures.push(format!("{provider}/{word}: deleted without an exact match"));
            }
            _ => {}
        }
    }
    // Every request the fake saw belongs to one of the cases (nothing went elsewhere).
    for (path, c) in &requests {
        if !results.iter().any(|(_, _, credential, _)| credential == c) {
            failures.push(format!("unexpected request {path} with another credential"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(results.len() >= 14 * 8, "{} cases", results.len());
    Ok(())
}

/// GitLab with an admin token configured revokes through the admin token API.
#[test]
fn gitlab_admin_token_api() -> TestResult {
    use leakgate_server::config::Sensitive;
    use leakgate_server::revoke::{self, Outcome, ProviderConfig};
    let _ = rustls::crypto::ring::default_provider().install_default();
    let fake = start();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let settings = |admin: &str| ProviderConfig {
        api_url: Some(format!("{}/gitlab", fake.base)),
        allow_internal: true,
        allow_http: true,
        token: Some(Sensitive::new(admin)),
        ..ProviderConfig::default()
    };
    let gitlab = revoke::provider("gitlab").expect("known");
    let run = |secret: &str, admin: &str| {
        runtime.block_on(revoke::revoke(
            gitlab,
            secret.as_bytes(),
            &settings(admin),
            format!("{}/gitlab", fake.base),
            Duration::from_secs(2),
        ))
    };
    assert_eq!(run("glpat-ok-dddddddddddddddddddd", "admin-token").outcome, Outcome::Revoked);
    assert_eq!(
        run("glpat-dead-dddddddddddddddddd", "admin-token").outcome,
        Outcome::AlreadyInvalid
    );
    // A wrong admin token is leakgate's problem, not the leaked token's: permanent.
    assert_eq!(run("glpat-ok-eeeeeeeeeeeeeeeeeeee", "wrong").outcome, Outcome::FailedPermanent);
    // The admin API's 404 is ambiguous (no such token, or no such API): the token itself
    // then says it is dead.
    let seen = fake.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
    let paths: Vec<&str> = seen.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/gitlab/api/v4/admin/token",
            "/gitlab/api/v4/admin/token",
            "/gitlab/api/v4/personal_access_tokens/self",
            "/gitlab/api/v4/admin/token",
        ]
    );
    Ok(())
}

/// The registry and the catalog agree: every rule's `revoke` names a known provider, and
/// every provider revokes some rule's keys; `--list` shows both.
#[test]
fn every_rule_provider_is_registered_and_listed() -> TestResult {
    let rules = leakgate_rules::RuleSetBuilder::new().builtin().build();
    let names: Vec<&str> = leakgate_server::revoke::PROVIDERS.iter().map(|p| p.name).collect();
    for rule in rules.rules() {
        if let Some(p) = rule.revoke() {
            assert!(names.contains(&p), "rule {} names unknown provider {p}", rule.id());
        }
    }
    // `partner` revokes an organisation's own token types, configured in [partner.types].
    for name in names.iter().filter(|n| **n != "partner") {
        assert!(
            rules.rules().iter().any(|r| r.revoke() == Some(*name)),
            "no rule is revoked by {name}"
        );
    }
    let dir = tempfile::tempdir()?;
    let config = dir.path().join("c.toml");
    std::fs::write(&config, "[revoke.github]\npolicy = \"auto\"\n")?;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_leakgate"))
        .args(["revoke", "--list", "--config"])
        .arg(&config)
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert_eq!(text.lines().count(), names.len(), "{text}");
    let github = text.lines().find(|l| l.starts_with("github ")).ok_or("github listed")?;
    assert!(github.contains("policy auto") && github.contains("github-pat-classic"), "{github}");
    assert!(text.lines().any(|l| l.starts_with("aws ") && l.contains("policy manual")), "{text}");
    Ok(())
}

/// AWS: a key id alone never deactivates a key, with or without `[revoke.aws]` credentials,
/// and nothing is sent; a pair deactivates itself, or, when IAM authenticated it but refused
/// (`AccessDenied`: the pair proved itself live), the credentials deactivate it through its
/// user; a pair whose secret is not the key's proves nothing and deactivates nothing;
/// leakgate's own credentials being refused is a permanent failure, never "already invalid".
#[test]
fn aws_keys_are_deactivated_only_when_the_pair_proves_itself() -> TestResult {
    use leakgate_server::config::Sensitive;
    use leakgate_server::revoke::{self, Outcome, ProviderConfig};
    let _ = rustls::crypto::ring::default_provider().install_default();
    let fake = start();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let settings = |admin: Option<&str>| ProviderConfig {
        api_url: Some(format!("{}/aws", fake.base)),
        allow_internal: true,
        allow_http: true,
        access_key_id: admin.map(str::to_owned),
        secret_access_key: admin
            .map(|_| Sensitive::new("adminsecretadminsecretadminsecretadminse")),
        ..ProviderConfig::default()
    };
    let aws = revoke::provider("aws").expect("known");
    let run = |secret: &str, admin: Option<&str>| {
        runtime.block_on(revoke::revoke(
            aws,
            secret.as_bytes(),
            &settings(admin),
            format!("{}/aws", fake.base),
            Duration::from_secs(2),
        ))
    };
    let seen = || fake.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
    let secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    let good_admin = Some("AKIAADMINAAAAAAAAAAA");

    let alone = run("AKIAOKAAAAAAAAAAAAAA", good_admin);
    assert_eq!(alone.outcome, Outcome::Unsupported, "{alone:?}");
    assert!(alone.summary.contains("without its secret"), "{alone:?}");
    assert!(seen().is_empty(), "an id alone sends nothing: {:?}", seen());

    let itself = run(&format!("AKIAOKAAAAAAAAAAAAAA\n{secret}"), good_admin);
    assert_eq!(itself.outcome, Outcome::Revoked, "{itself:?}");
    assert!(seen().iter().all(|(_, c)| c != "AKIAADMINAAAAAAAAAAA"), "no credentials needed");

    let mismatch = run(&format!("AKIAMISMATCHAAAAAAAA\n{secret}"), good_admin);
    assert_eq!(mismatch.outcome, Outcome::Unsupported, "{mismatch:?}");
    assert!(seen().iter().all(|(_, c)| c != "AKIAADMINAAAAAAAAAAA"), "a mismatch proves nothing");

    let denied = run(&format!("AKIADENIEDAAAAAAAAAA\n{secret}"), good_admin);
    assert_eq!(denied.outcome, Outcome::Revoked, "proven, then deactivated: {denied:?}");
    // GetAccessKeyLastUsed and UpdateAccessKey, signed with the credentials.
    assert_eq!(seen().iter().filter(|(_, c)| c == "AKIAADMINAAAAAAAAAAA").count(), 2);

    let gone = run(&format!("AKIAGONEDENIEDAAAAAA\n{secret}"), good_admin);
    assert_eq!(gone.outcome, Outcome::AlreadyInvalid, "{gone:?}");
    let refused = run(&format!("AKIADENIEDAAAAAAAAAA\n{secret}"), Some("AKIADEADADMINAAAAAAA"));
    assert_eq!(refused.outcome, Outcome::FailedPermanent, "our credentials: {refused:?}");
    assert!(refused.summary.contains("[revoke.aws] credentials"), "{refused:?}");
    let no_admin = run(&format!("AKIADENIEDAAAAAAAAAA\n{secret}"), None);
    assert_eq!(no_admin.outcome, Outcome::FailedPermanent, "{no_admin:?}");
    Ok(())
}
