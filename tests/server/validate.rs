//! Live validation against local fakes of each provider's read-only endpoint, answering as its
//! documentation says: a live key, a dead one (and, where the provider says so, revoked or
//! expired), 403 where it means "live without permission", 429 with `Retry-After`, 500, an
//! HTML page, a success status without the documented body, and an answer slower than the
//! time limit. Every call must be read-only, carry exactly the case's key, and no summary may
//! show it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use base64::Engine;
use serde_json::json;

use crate::TestResult;

/// What the fake received: (method, path, the credential it was sent).
type Seen = Arc<Mutex<Vec<(String, String, String)>>>;

fn header(req: &HttpRequest, name: &str) -> String {
    req.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned()
}

/// The key a request carries, wherever its provider puts it.
fn credential(req: &HttpRequest) -> String {
    if let Some(rest) = req.path().strip_prefix("/telegram/bot") {
        return rest.trim_end_matches("/getMe").to_owned();
    }
    for name in ["x-api-key", "DD-API-KEY", "Circle-Token", "PRIVATE-TOKEN"] {
        if !header(req, name).is_empty() {
            return header(req, name);
        }
    }
    let auth = header(req, "Authorization");
    if let Some(signed) = auth.strip_prefix("AWS4-HMAC-SHA256 Credential=") {
        return signed.split('/').next().unwrap_or("").to_owned();
    }
    if let Some(basic) = auth.strip_prefix("Basic ") {
        let decoded = base64::engine::general_purpose::STANDARD.decode(basic).unwrap_or_default();
        let text = String::from_utf8_lossy(&decoded).into_owned();
        return text.strip_prefix("api:").unwrap_or(&text).to_owned();
    }
    auth.strip_prefix("Bearer ").unwrap_or(&auth).to_owned()
}

fn reply(code: u16, body: serde_json::Value) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(code).unwrap_or_default()).json(body)
}

/// The documented success body of each endpoint.
fn live_body(path: &str) -> Option<serde_json::Value> {
    Some(match path {
        "/github/user" => json!({"login": "octocat", "id": 1}),
        "/github/installation/repositories" => json!({"total_count": 1, "repositories": []}),
        "/gitlab/api/v4/personal_access_tokens/self" => {
            json!({"id": 4, "name": "t", "revoked": false, "active": true, "expires_at": null})
        }
        "/slack/api/auth.test" => json!({"ok": true, "team": "T", "user": "u"}),
        "/stripe/v1/account" => json!({"id": "acct_1", "object": "account"}),
        "/openai/v1/models" | "/anthropic/v1/models" => json!({"object": "list", "data": []}),
        "/npm/-/whoami" => json!({"username": "dev"}),
        "/sendgrid/v3/scopes" => json!({"scopes": ["mail.send"]}),
        "/cf/client/v4/user/tokens/verify" => json!({
            "success": true, "errors": [], "messages": [],
            "result": {"id": "tok-1", "status": "active"}
        }),
        "/hf/api/whoami-v2" => json!({"type": "user", "name": "dev"}),
        "/do/v2/account" => json!({"account": {"status": "active"}}),
        "/datadog/api/v1/validate" => json!({"valid": true}),
        "/doppler/v3/me" => json!({"slug": "s", "type": "personal", "workplace": {"slug": "w"}}),
        "/vercel/v2/user" => json!({"user": {"id": "u"}}),
        "/linear/graphql" => json!({"data": {"viewer": {"id": "u-1"}}}),
        "/mailgun/v3/domains" => json!({"total_count": 0, "items": []}),
        "/buildkite/v2/access-token" => json!({"uuid": "b-1", "scopes": []}),
        "/circleci/api/v2/me" => json!({"id": "c-1", "login": "dev"}),
        p if p.starts_with("/telegram/bot") => json!({"ok": true, "result": {"id": 1}}),
        _ => return None,
    })
}

/// The token's words pick the answer: `ok`, `dead`, `revoked`, `expired`, `forbidden` (403),
/// `limit` (429, `Retry-After: 7`), `boom` (500), `html`, `nobody` (200 without the documented
/// body), `slow` (3 s: past the limit).
async fn answer(req: HttpRequest, body: web::Bytes, seen: web::Data<Seen>) -> HttpResponse {
    let token = credential(&req);
    let path = req.path().to_owned();
    seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push((
        req.method().to_string(),
        path.clone(),
        token.clone(),
    ));
    let has = |word: &str| token.to_ascii_lowercase().contains(word);
    if has("slow") {
        actix_web::rt::time::sleep(Duration::from_secs(3)).await;
    }
    if has("limit") {
        return HttpResponse::TooManyRequests()
            .insert_header(("Retry-After", "7"))
            .json(json!({"message": "rate limited"}));
    }
    if has("boom") {
        return reply(500, json!({"message": "oops"}));
    }
    if has("html") {
        return HttpResponse::Ok().content_type("text/html").body("<html>Maintenance</html>");
    }
    if path == "/anthropic/v1/models" && header(&req, "anthropic-version").is_empty() {
        return reply(400, json!({"type": "error"}));
    }
    if path == "/linear/graphql" && !String::from_utf8_lossy(&body).contains("viewer") {
        return reply(400, json!({"errors": [{"message": "bad query"}]}));
    }
    if path == "/aws/" {
        let form = String::from_utf8_lossy(&body).into_owned();
        if !form.contains("Action=GetCallerIdentity") || !form.contains("Version=2011-06-15") {
            return reply(400, json!({}));
        }
        let error = |code: u16, name: &str| {
            HttpResponse::build(actix_web::http::StatusCode::from_u16(code).unwrap_or_default())
                .content_type("text/xml")
                .body(format!(
                    "<ErrorResponse><Error><Type>Sender</Type><Code>{name}</Code>\
                     <Message>x</Message></Error></ErrorResponse>"
                ))
        };
        if has("dead") {
            return error(403, "InvalidClientTokenId");
        }
        if has("nobody") {
            return HttpResponse::Ok()
                .content_type("text/xml")
                .body("<GetCallerIdentityResponse/>");
        }
        if has("forbidden") {
            return error(403, "AccessDenied");
        }
        if has("mismatch") {
            return error(403, "SignatureDoesNotMatch");
        }
        return HttpResponse::Ok().content_type("text/xml").body(
            "<GetCallerIdentityResponse><GetCallerIdentityResult><Arn>arn:aws:iam::1:user/x</Arn>\
             <UserId>AIDA</UserId><Account>123456789012</Account></GetCallerIdentityResult>\
             </GetCallerIdentityResponse>",
        );
    }
    let forge_dead = |description: &str| {
        reply(401, json!({"error": "invalid_token", "error_description": description}))
    };
    match path.as_str() {
        "/gitlab/api/v4/personal_access_tokens/self" if has("revoked") => {
            return forge_dead("Token was revoked. You have to re-authorize from the user.")
        }
        "/gitlab/api/v4/personal_access_tokens/self" if has("expired") => {
            return forge_dead(
                "Token is expired. You can either do re-authorization or token refresh.",
            )
        }
        "/gitlab/api/v4/personal_access_tokens/self" if has("dead") => {
            return reply(401, json!({"message": "401 Unauthorized"}))
        }
        "/slack/api/auth.test" => {
            let error =
                ["dead", "revoked", "expired", "nobody"].into_iter().find(|w| has(w)).map(|w| {
                    match w {
                        "dead" => "invalid_auth",
                        "revoked" => "token_revoked",
                        "expired" => "token_expired",
                        _ => "",
                    }
                });
            return match error {
                Some("") => reply(200, json!({"warning": "x"})),
                Some(e) => reply(200, json!({"ok": false, "error": e})),
                None if has("forbidden") => reply(403, json!({})),
                None => reply(200, live_body(&path).unwrap_or_default()),
            };
        }
        "/cf/client/v4/user/tokens/verify" if has("revoked") || has("expired") => {
            let status = if has("revoked") { "disabled" } else { "expired" };
            return reply(
                200,
                json!({"success": true, "errors": [], "result": {"id": "t", "status": status}}),
            );
        }
        "/linear/graphql" if has("dead") => {
            return reply(
                400,
                json!({"errors": [{"message": "Authentication required, not authenticated",
                    "extensions": {"type": "authentication error", "code": "AUTHENTICATION_ERROR"}}]}),
            )
        }
        "/datadog/api/v1/validate" if has("dead") => {
            return reply(403, json!({"errors": ["Forbidden"]}))
        }
        // SendGrid's documented 403 (a key without the permission).
        "/sendgrid/v3/scopes" if has("forbidden") => {
            return reply(403, json!({"errors": [{"field": null, "message": "access forbidden"}]}))
        }
        _ => {}
    }
    if has("dead") {
        return reply(401, json!({"message": "Bad credentials"}));
    }
    if has("forbidden") {
        return reply(403, json!({"error": {"message": "insufficient permissions"}}));
    }
    match live_body(&path) {
        Some(_) if has("nobody") => reply(200, json!({})),
        Some(body) => reply(200, body),
        None => HttpResponse::NotFound().finish(),
    }
}

/// Each validator's path on the fake.
const BASES: &[(&str, &str)] = &[
    ("github", "github"),
    ("gitlab", "gitlab"),
    ("aws", "aws"),
    ("slack", "slack"),
    ("stripe", "stripe"),
    ("openai", "openai"),
    ("anthropic", "anthropic"),
    ("npm", "npm"),
    ("sendgrid", "sendgrid"),
    ("cloudflare", "cf"),
    ("huggingface", "hf"),
    ("digitalocean", "do"),
    ("datadog", "datadog"),
    ("doppler", "doppler"),
    ("telegram", "telegram"),
    ("vercel", "vercel"),
    ("linear", "linear"),
    ("mailgun", "mailgun"),
    ("buildkite", "buildkite"),
    ("circleci", "circleci"),
];

/// A key of `provider` carrying `word`, and the credential the fake sees.
fn key_for(provider: &str, word: &str) -> (String, String) {
    let key = match provider {
        "github" => format!("ghp_{word}_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
        "gitlab" => format!("glpat-{word}-aaaaaaaaaaaaaaaaaaaa"),
        "slack" => format!("xoxb-{word}-1111-2222-aaaaaaaa"),
        "stripe" => format!("sk_live_{word}aaaaaaaaaaaaaaaaaaaaaaaa"),
        "openai" => format!("sk-proj-{word}aaaaaaaaaaaaaaaaaaaaaaaa"),
        "anthropic" => format!("sk-ant-api03-{word}aaaaaaaaaaaaaaaaaaaa"),
        "npm" => format!("npm_{word}aaaaaaaaaaaaaaaaaaaaaaaaaa"),
        "sendgrid" => format!("SG.{word}aaaaaaaaaaaa.bbbbbbbbbbbbbbbbbbbb"),
        "cloudflare" => format!("cf{word}aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
        "huggingface" => format!("hf_{word}aaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
        "digitalocean" => format!("dop_v1_{word}aaaaaaaaaaaaaaaaaaaa"),
        "datadog" => format!("{word}0123456789abcdef0123456789"),
        "doppler" => format!("dp.pt.{word}aaaaaaaaaaaaaaaaaaaa"),
        "telegram" => format!("123456789:AA{word}aaaaaaaaaaaaaaaaaaaaaaaaaa"),
        "vercel" => format!("vcp_{word}aaaaaaaaaaaaaaaaaaaaaaaa"),
        "linear" => format!("lin_api_{word}aaaaaaaaaaaaaaaaaaaaaaaa"),
        "mailgun" => format!("key-{word}aaaaaaaaaaaaaaaaaaaaaaaa"),
        "buildkite" => format!("bkua_{word}aaaaaaaaaaaaaaaaaaaaaa"),
        "circleci" => format!("CCIPAT_{word}_aaaaaaaaaaaaaaaaaaaa"),
        "aws" => {
            let id: String = format!("AKIA{}", word.to_uppercase())
                .chars()
                .chain(std::iter::repeat('Q'))
                .take(20)
                .collect();
            return (format!("{id}\nwJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"), id);
        }
        other => panic!("no test key for {other}"),
    };
    (key.clone(), key)
}

/// What a provider's documented answer to `word` means.
fn expected(provider: &str, word: &str) -> &'static str {
    match (provider, word) {
        (_, "ok") => "valid",
        (_, "dead") => "invalid",
        ("gitlab" | "slack" | "cloudflare", "revoked") => "revoked",
        ("gitlab" | "slack" | "cloudflare", "expired") => "expired",
        // A restricted Stripe key or a SendGrid key without the scope: authenticated.
        ("stripe" | "sendgrid", "forbidden") => "valid",
        // The secret found with an AWS key id is not its secret: the key id may be live.
        ("aws", "mismatch") => "unknown",
        // Vercel's and Datadog's answer for a key that is not valid.
        ("vercel" | "datadog", "forbidden") => "invalid",
        _ => "unknown",
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

/// Every validator against its fake, for every documented kind of answer.
#[test]
fn every_validator_maps_every_documented_answer() -> TestResult {
    use leakgate_server::validate::{self, ValidatorConfig};
    let _ = rustls::crypto::ring::default_provider().install_default();
    let fake = start();
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let words = [
        "ok",
        "dead",
        "revoked",
        "expired",
        "forbidden",
        "limit",
        "boom",
        "html",
        "nobody",
        "slow",
        "mismatch",
    ];
    let mut tasks = tokio::task::JoinSet::new();
    let _guard = runtime.enter();
    for (name, path) in BASES {
        for word in words {
            // Only these providers document a revoked or expired answer of their own.
            let documented = matches!(*name, "gitlab" | "slack" | "cloudflare");
            if matches!(word, "revoked" | "expired") && !documented {
                continue;
            }
            if word == "mismatch" && *name != "aws" {
                continue;
            }
            let settings = ValidatorConfig {
                api_url: Some(format!("{}/{path}", fake.base)),
                allow_internal: true,
                allow_http: true,
                ..ValidatorConfig::default()
            };
            let (key, seen) = key_for(name, word);
            tasks.spawn(async move {
                let v = validate::validator(name).expect("known");
                let base = settings.api_url.clone().unwrap_or_default();
                let check =
                    validate::validate(v, key.as_bytes(), &settings, base, Duration::from_secs(1))
                        .await;
                (*name, word, seen, check)
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
    for (name, word, credential, check) in &results {
        let want = expected(name, word);
        if check.validity.as_str() != want {
            failures.push(format!("{name}/{word}: {check:?}, expected {want}"));
        }
        if *word == "limit" && check.retry_after != Some(Duration::from_secs(7)) {
            failures.push(format!("{name}/{word}: Retry-After not kept: {check:?}"));
        }
        if *word == "slow" && !check.summary.contains("timed out") {
            failures.push(format!("{name}/{word}: {check:?}"));
        }
        if check.summary.contains(credential.as_str()) {
            failures.push(format!("{name}/{word}: the summary shows the key"));
        }
        let mine: Vec<_> = requests.iter().filter(|(_, _, c)| c == credential).collect();
        if mine.len() != 1 {
            failures.push(format!("{name}/{word}: {} requests with its key", mine.len()));
        }
        // Read-only calls only: GET, or the documented read-only POSTs (Slack's auth.test,
        // STS's Query API, Linear's GraphQL query).
        for (method, path, _) in &mine {
            let read_only = method == "GET"
                || (method == "POST"
                    && ["/slack/api/auth.test", "/aws/", "/linear/graphql"]
                        .contains(&path.as_str()));
            if !read_only {
                failures.push(format!("{name}/{word}: {method} {path} is not read-only"));
            }
        }
    }
    for (method, path, c) in &requests {
        if !results.iter().any(|(_, _, credential, _)| credential == c) {
            failures.push(format!("unexpected request {method} {path}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(results.len() >= 20 * 8 + 3 * 2, "{} cases", results.len());
    Ok(())
}

/// Facts known offline come first: test-mode keys, AWS key ids alone, canary accounts and
/// temporary keys are never sent; a validator turned off sends nothing.
#[test]
fn keys_that_no_call_can_check_are_never_sent() -> TestResult {
    use leakgate_server::validate::{self, ValidatorConfig};
    let _ = rustls::crypto::ring::default_provider().install_default();
    let fake = start();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let settings = |path: &str, enabled: Option<bool>| ValidatorConfig {
        api_url: Some(format!("{}/{path}", fake.base)),
        allow_internal: true,
        allow_http: true,
        enabled,
        ..ValidatorConfig::default()
    };
    // AKIASP2TPHJSQH3FJXYZ decodes to 171436882533, a canarytokens.org account. leakgate:allow (test fixture)
    let cases = [
        ("stripe", "stripe", "sk_test_okaaaaaaaaaaaaaaaaaaaaaa", None, "not_checkable"),
        ("aws", "aws", "AKIAOKQQQQQQQQQQQQQQ", None, "not_checkable"),
        (
            "aws",
            "aws",
            "AKIASP2TPHJSQH3FJXYZ\nwJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", // leakgate:allow (test fixture)
            None,
            "canary",
        ),
        (
            "aws",
            "aws",
            "ASIAOKQQQQQQQQQQQQQQ\nwJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            None,
            "not_checkable",
        ),
        ("github", "github", "ghp_ok_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", Some(false), "not_checkable"),
    ];
    for (name, path, key, enabled, want) in cases {
        let v = validate::validator(name).expect("known");
        let config = settings(path, enabled);
        let base = config.api_url.clone().unwrap_or_default();
        let check = runtime.block_on(validate::validate(
            v,
            key.as_bytes(),
            &config,
            base,
            Duration::from_secs(1),
        ));
        assert_eq!(check.validity.as_str(), want, "{name} {key:?}: {check:?}");
    }
    let requests = fake.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
    assert!(requests.is_empty(), "nothing is sent: {requests:?}");
    // And the destination guard applies: a loopback address is refused unless allowed.
    let v = validate::validator("slack").expect("slack");
    let guarded = ValidatorConfig { allow_http: true, ..settings("slack", None) };
    let guarded = ValidatorConfig { allow_internal: false, ..guarded };
    let check = runtime.block_on(validate::validate(
        v,
        b"xoxb-ok-1111-2222-aaaaaaaa",
        &guarded,
        format!("{}/slack", fake.base),
        Duration::from_secs(1),
    ));
    assert_eq!(check.validity.as_str(), "not_checkable", "{check:?}");
    assert!(check.summary.contains("not a public address"), "{check:?}");
    assert!(fake.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner).is_empty());
    Ok(())
}

/// `leakgate validate`: the exit codes (0 valid, 1 not live, 3 unknown, 2 usage), the key
/// read from standard input and never printed, and `--rule` picking the validator.
#[test]
fn the_validate_command_reads_stdin_and_exits_by_validity() -> TestResult {
    use std::io::Write;
    let fake = start();
    let dir = tempfile::tempdir()?;
    let mut text = String::from("[validate]\ntimeout_seconds = 1\n");
    for (name, path) in BASES {
        text.push_str(&format!(
            "[validate.{name}]\napi_url = \"{}/{path}\"\nallow_internal = true\nallow_http = true\n",
            fake.base
        ));
    }
    let config = dir.path().join("validate.toml");
    std::fs::write(&config, text)?;
    let run = |args: &[&str], key: &str| -> (i32, String) {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_leakgate"))
            .arg("validate")
            .args(args)
            .arg("--config")
            .arg(&config)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn");
        let _ = child.stdin.take().expect("stdin").write_all(format!("{key}\n").as_bytes());
        let out = child.wait_with_output().expect("wait");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(key.len() < 8 || !text.contains(key), "the output shows the key: {text}");
        (out.status.code().unwrap_or(-1), text)
    };
    let (code, out) = run(&["--provider", "github"], "ghp_ok_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    assert_eq!((code, out.starts_with("valid: github")), (0, true), "{out}");
    let (code, out) = run(&["--rule", "slack-bot-token"], "xoxb-revoked-1111-2222-aaaaaaaa");
    assert_eq!((code, out.starts_with("revoked: slack")), (1, true), "{out}");
    let (code, out) = run(&["--provider", "npm"], "npm_boomaaaaaaaaaaaaaaaaaaaaaaaaaa");
    assert_eq!((code, out.starts_with("unknown: npm (HTTP 500)")), (3, true), "{out}");
    let (code, out) = run(&["--rule", "aws-access-key-id"], "AKIAOKQQQQQQQQQQQQQQ");
    assert_eq!((code, out.starts_with("not_checkable: aws")), (3, true), "{out}");
    let (code, out) = run(&["--provider", "nosuch"], "x");
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("unknown provider nosuch"), "{out}");
    let (code, out) = run(&["--rule", "generic-password"], "x");
    assert_eq!(code, 2, "{out}");
    let (code, out) = run(&["--provider", "github"], "");
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("no secret on standard input"), "{out}");
    let (code, out) = run(&["--list"], "");
    assert_eq!(code, 0, "{out}");
    assert!(out.lines().count() >= 20, "{out}");
    Ok(())
}

/// Every rule a validator names is a rule of the built-in catalog.
#[test]
fn every_validator_names_catalog_rules() -> TestResult {
    let rules = leakgate_rules::RuleSet::builtin();
    let ids: std::collections::HashSet<&str> = rules.rules().iter().map(|r| r.id()).collect();
    for v in leakgate_server::validate::VALIDATORS {
        for rule in v.rules {
            assert!(ids.contains(rule), "{}: no rule {rule}", v.name);
        }
    }
    Ok(())
}
