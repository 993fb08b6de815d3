//! A local stand-in for the forges, written to their documented REST contracts: GitHub
//! (App installation tokens minted against an RS256 JWT, commit statuses, issues), GitLab
//! (`PRIVATE-TOKEN`, statuses, issues by project path) and Gitea (`Authorization: token`,
//! statuses, issues), plus git's smart HTTP protocol through the real `git http-backend`
//! with Basic authentication, as the forges serve it.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use base64::Engine;
use serde_json::{json, Value};

#[derive(Clone, Debug)]
pub struct Status {
    pub forge: String,
    pub repo: String,
    pub sha: String,
    pub state: String,
    pub description: String,
}

#[derive(Clone, Debug)]
pub struct Issue {
    pub forge: String,
    pub repo: String,
    pub number: i64,
    pub title: String,
    pub body: String,
    pub edits: u32,
    /// GitLab: opened confidential.
    pub confidential: bool,
}

#[derive(Default)]
pub struct State {
    pub statuses: Vec<Status>,
    pub issues: Vec<Issue>,
    pub tokens_minted: u32,
    pub installation_tokens: Vec<String>,
    /// Issue creations to refuse with 429 and `Retry-After: 1`.
    pub rate_limit_issue_creates: u32,
    /// Delay before answering a commit status.
    pub status_delay: Duration,
    /// Every request, `METHOD path`.
    pub requests: Vec<String>,
    /// Every body the fake received (to check that no plaintext secret reached a forge).
    pub bodies: Vec<String>,
    /// Tokens received by GitHub's credential revocation API, with when they arrived.
    pub revoked: Vec<(String, std::time::Instant)>,
    /// Requests to the credential revocation API.
    pub revoke_requests: u32,
    /// Statuses to answer the next revocation requests with, in order, before accepting
    /// (429 comes with `Retry-After: 1`).
    pub revoke_failures: Vec<u16>,
    /// Commit statuses to refuse with 502 before accepting.
    pub status_failures: u32,
    /// Send the answer of a protocol v2 `fetch` command (the pack) from repositories whose
    /// path holds this text one byte every 100 ms (a remote that is slow, not silent).
    pub trickle_packs: Option<String>,
    /// GitLab tokens revoked: (how, token) with how `self` (the token revoked itself) or
    /// `admin` (the admin token API).
    pub gitlab_revoked: Vec<(String, String)>,
    /// Tokens that `GET /user` refuses (never valid), besides the revoked ones.
    pub dead: Vec<String>,
    /// Tokens `GET /user` was asked about (live validation), in order.
    pub validated: Vec<String>,
    /// Secret scanning alerts by (repository, number): `secret_type`, `secret`, `state`.
    pub alerts: std::collections::HashMap<(String, u64), (String, String, String)>,
    /// Alert updates received: (repository, number, body).
    pub alert_patches: Vec<(String, u64, Value)>,
}

pub struct Fake {
    pub base: String,
    pub git_root: PathBuf,
    pub state: Arc<Mutex<State>>,
    _server: crate::LocalServer,
}

pub const GITLAB_TOKEN: &str = "gitlab-api-token-for-tests";
pub const GITEA_TOKEN: &str = "gitea-api-token-for-tests";
pub const GITLAB_ADMIN_TOKEN: &str = "gitlab-admin-token-for-tests";

struct Shared {
    state: Arc<Mutex<State>>,
    git_root: PathBuf,
    app_id: u64,
    public_key_pem: Vec<u8>,
}

impl Fake {
    /// Starts the fake; `app_id` and the App's public key check GitHub's JWTs.
    pub fn start(git_root: &Path, app_id: u64, public_key_pem: Vec<u8>) -> Self {
        let state = Arc::new(Mutex::new(State::default()));
        let shared = web::Data::new(Shared {
            state: state.clone(),
            git_root: git_root.to_owned(),
            app_id,
            public_key_pem,
        });
        let server = crate::LocalServer::start(2, move |cfg| {
            cfg.app_data(shared.clone())
                .app_data(web::PayloadConfig::new(64 << 20))
                .route(
                    "/github-api/app/installations/{id}/access_tokens",
                    web::post().to(mint_token),
                )
                .default_service(web::to(dispatch));
        });
        Fake { base: server.base.clone(), git_root: git_root.to_owned(), state, _server: server }
    }

    pub fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, State> {
    shared.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// `POST /app/installations/{id}/access_tokens`: the App authenticates with an RS256 JWT
/// whose `iss` is its id.
async fn mint_token(req: HttpRequest, shared: web::Data<Shared>) -> HttpResponse {
    use octocrab::jsonwebtoken::{decode, Algorithm, DecodingKey, Validation};
    let bearer = req
        .headers()
        .get("Authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let Ok(key) = DecodingKey::from_rsa_pem(&shared.public_key_pem) else {
        return HttpResponse::InternalServerError().finish();
    };
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_required_spec_claims(&["exp"]);
    // GitHub's `iss` is the App's id (octocrab sends it as a number; a string is accepted too).
    let issuer_ok = |claims: &Value| {
        claims["iat"].is_u64()
            && (claims["iss"].as_u64() == Some(shared.app_id)
                || claims["iss"].as_str() == Some(&shared.app_id.to_string()))
    };
    match decode::<Value>(bearer, &key, &validation) {
        Ok(data) if issuer_ok(&data.claims) => {}
        Ok(_) => return HttpResponse::Unauthorized().json(json!({"message": "wrong issuer"})),
        Err(e) => {
            return HttpResponse::Unauthorized()
                .json(json!({"message": format!("A JSON web token could not be decoded: {e:?}")}))
        }
    }
    let mut state = lock(&shared);
    state.tokens_minted += 1;
    let token = format!("ghs_fakeinstallationtoken{:012}", state.tokens_minted);
    state.installation_tokens.push(token.clone());
    state.requests.push(format!("POST {}", req.path()));
    HttpResponse::Created().json(json!({
        "token": token,
        "expires_at": "2099-01-01T00:00:00Z",
        "permissions": {"issues": "write", "statuses": "write", "contents": "read"},
    }))
}

fn authorized(forge: &str, req: &HttpRequest, state: &State) -> bool {
    let header =
        |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    match forge {
        "github" => {
            let auth = header("Authorization");
            let token =
                auth.strip_prefix("Bearer ").or_else(|| auth.strip_prefix("token ")).unwrap_or("");
            state.installation_tokens.iter().any(|t| t == token)
        }
        "gitlab" => header("PRIVATE-TOKEN") == GITLAB_TOKEN,
        _ => header("Authorization") == format!("token {GITEA_TOKEN}"),
    }
}

fn git_password_ok(forge: &str, req: &HttpRequest, state: &State) -> bool {
    let auth = req.headers().get("Authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
    let Some(encoded) = auth.strip_prefix("Basic ") else { return false };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded) else {
        return false;
    };
    let text = String::from_utf8_lossy(&decoded).into_owned();
    let Some((user, password)) = text.split_once(':') else { return false };
    match forge {
        "github" => {
            user == "x-access-token" && state.installation_tokens.iter().any(|t| t == password)
        }
        "gitlab" => user == "oauth2" && password == GITLAB_TOKEN,
        _ => password == GITEA_TOKEN,
    }
}

async fn dispatch(req: HttpRequest, body: web::Bytes, shared: web::Data<Shared>) -> HttpResponse {
    let path = req.path().to_owned();
    if let Some(rest) = path.strip_prefix("/git/") {
        return git_http(&req, rest, &body, &shared);
    }
    // GitLab and Gitea serve git under the instance's own address, beside `/api/`.
    for forge in ["gitlab", "gitea"] {
        if let Some(rest) = path.strip_prefix(&format!("/{forge}/")) {
            if !rest.starts_with("api/") {
                return git_http(&req, &format!("{forge}/{rest}"), &body, &shared);
            }
        }
    }
    // GitLab's token revocation: the token revokes itself (`DELETE
    // /personal_access_tokens/self`, 204; 401 for a dead token), or the admin token API
    // (`DELETE /admin/token` with `{"token": ...}`, 204).
    let private_token = |req: &HttpRequest| {
        req.headers().get("PRIVATE-TOKEN").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned()
    };
    if path == "/gitlab/api/v4/personal_access_tokens/self" && req.method() == "DELETE" {
        let token = private_token(&req);
        let mut state = lock(&shared);
        state.requests.push(format!("DELETE {path}"));
        if !token.starts_with("glpat-") || token == GITLAB_TOKEN {
            return HttpResponse::Unauthorized().json(json!({"message": "401 Unauthorized"}));
        }
        state.gitlab_revoked.push(("self".into(), token));
        return HttpResponse::NoContent().finish();
    }
    if path == "/gitlab/api/v4/admin/token" && req.method() == "DELETE" {
        let mut state = lock(&shared);
        state.requests.push(format!("DELETE {path}"));
        if private_token(&req) != GITLAB_ADMIN_TOKEN {
            return HttpResponse::Unauthorized().json(json!({"message": "401 Unauthorized"}));
        }
        let json_body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let token = json_body["token"].as_str().unwrap_or("").to_owned();
        state.gitlab_revoked.push(("admin".into(), token));
        return HttpResponse::NoContent().finish();
    }
    // Live validation: `GET /user` answers 200 with the user for a live token, 401 for a
    // revoked or unknown one.
    if path == "/github-api/user" && req.method() == "GET" {
        let token = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("")
            .to_owned();
        let mut state = lock(&shared);
        state.requests.push(format!("GET {path}"));
        state.validated.push(token.clone());
        let dead = state.dead.contains(&token) || state.revoked.iter().any(|(t, _)| *t == token);
        if dead || !token.starts_with("ghp_") {
            return HttpResponse::Unauthorized().json(json!({"message": "Bad credentials"}));
        }
        return HttpResponse::Ok().json(json!({"login": "dev", "id": 7}));
    }
    if path == "/github-api/credentials/revoke" && req.method() == actix_web::http::Method::POST {
        // GitHub's credential revocation API: unauthenticated on github.com, up to 1000
        // tokens per request, 202 Accepted.
        let json_body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let Some(tokens) = json_body["credentials"].as_array().filter(|t| t.len() <= 1000) else {
            return HttpResponse::UnprocessableEntity()
                .json(json!({"message": "Validation Failed"}));
        };
        let now = std::time::Instant::now();
        let mut state = lock(&shared);
        state.revoke_requests += 1;
        if !state.revoke_failures.is_empty() {
            let status = state.revoke_failures.remove(0);
            let mut answer = HttpResponse::build(
                actix_web::http::StatusCode::from_u16(status).unwrap_or_default(),
            );
            if status == 429 {
                answer.insert_header(("Retry-After", "1"));
            }
            return answer.json(json!({"message": "try later"}));
        }
        for t in tokens {
            state.revoked.push((t.as_str().unwrap_or("").to_owned(), now));
        }
        return HttpResponse::Accepted().json(json!({}));
    }
    let (forge, rest) = if let Some(rest) = path.strip_prefix("/github-api") {
        ("github", rest.to_owned())
    } else if let Some(rest) = path.strip_prefix("/gitlab/api/v4") {
        ("gitlab", rest.to_owned())
    } else if let Some(rest) = path.strip_prefix("/gitea/api/v1") {
        ("gitea", rest.to_owned())
    } else {
        return HttpResponse::NotFound().finish();
    };
    let delay = {
        let mut state = lock(&shared);
        state.requests.push(format!("{} {path}", req.method()));
        state.bodies.push(String::from_utf8_lossy(&body).into_owned());
        if !authorized(forge, &req, &state) {
            return HttpResponse::Unauthorized().json(json!({"message": "Bad credentials"}));
        }
        state.status_delay
    };
    let method = req.method().as_str().to_owned();
    let parts: Vec<String> = rest
        .trim_start_matches('/')
        .split('/')
        .map(|p| p.replace("%2F", "/").replace("%2f", "/"))
        .collect();
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    let json_body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    // (repo, what, tail) for `/repos/{o}/{r}/...` and `/projects/{id}/...`.
    let (repo, tail): (String, Vec<&str>) = match parts.as_slice() {
        ["repos", owner, name, tail @ ..] => (format!("{owner}/{name}"), tail.to_vec()),
        ["projects", id, tail @ ..] => {
            let repo = if id.chars().all(|c| c.is_ascii_digit()) {
                format!("project-{id}")
            } else {
                (*id).to_owned()
            };
            (repo, tail.to_vec())
        }
        _ => return HttpResponse::NotFound().finish(),
    };
    match (method.as_str(), tail.as_slice()) {
        ("GET" | "PATCH", ["secret-scanning", "alerts", number]) if forge == "github" => {
            let number: u64 = number.parse().unwrap_or_default();
            let mut state = lock(&shared);
            let key = (repo.clone(), number);
            let Some((secret_type, secret, alert_state)) = state.alerts.get(&key).cloned() else {
                return HttpResponse::NotFound().json(json!({"message": "Not Found"}));
            };
            if method == "PATCH" {
                if let Some(new) = json_body["state"].as_str() {
                    state.alerts.insert(key, (secret_type.clone(), secret.clone(), new.to_owned()));
                }
                state.alert_patches.push((repo.clone(), number, json_body.clone()));
                return HttpResponse::Ok()
                    .json(json!({"number": number, "state": json_body["state"]}));
            }
            // The documented alert object (the fields leakgate reads, and some it does not).
            HttpResponse::Ok().json(json!({
                "number": number, "state": alert_state, "secret_type": secret_type,
                "secret_type_display_name": "Token", "secret": secret, "validity": "active",
                "html_url": format!("https://github.example/{repo}/security/secret-scanning/{number}"),
                "resolution": null, "publicly_leaked": false,
            }))
        }
        ("POST", ["statuses", sha]) => {
            if !delay.is_zero() {
                actix_web::rt::time::sleep(delay).await;
            }
            {
                let mut state = lock(&shared);
                if state.status_failures > 0 {
                    state.status_failures -= 1;
                    return HttpResponse::BadGateway().json(json!({"message": "try again"}));
                }
            }
            let state_field = json_body["state"].as_str().unwrap_or("").to_owned();
            let context =
                json_body.get("context").or_else(|| json_body.get("name")).and_then(Value::as_str);
            if context != Some("leakgate") {
                return HttpResponse::UnprocessableEntity()
                    .json(json!({"message": "context required"}));
            }
            let mut state = lock(&shared);
            state.statuses.push(Status {
                forge: forge.into(),
                repo,
                sha: (*sha).to_owned(),
                state: state_field,
                description: json_body["description"].as_str().unwrap_or("").to_owned(),
            });
            HttpResponse::Created()
                .json(json!({"id": state.statuses.len(), "state": json_body["state"]}))
        }
        ("POST", ["issues"]) => {
            let mut state = lock(&shared);
            if state.rate_limit_issue_creates > 0 {
                state.rate_limit_issue_creates -= 1;
                return HttpResponse::TooManyRequests()
                    .insert_header(("Retry-After", "1"))
                    .json(json!({"message": "You have exceeded a secondary rate limit"}));
            }
            let text_field = if forge == "gitlab" { "description" } else { "body" };
            let number = state.issues.iter().filter(|i| i.forge == forge && i.repo == repo).count()
                as i64
                + 1;
            let issue = Issue {
                forge: forge.into(),
                repo: repo.clone(),
                number,
                title: json_body["title"].as_str().unwrap_or("").to_owned(),
                body: json_body[text_field].as_str().unwrap_or("").to_owned(),
                edits: 0,
                confidential: json_body["confidential"].as_bool() == Some(true),
            };
            state.issues.push(issue);
            HttpResponse::Created().json(issue_json(forge, &repo, number, &json_body["title"]))
        }
        ("GET", ["issues"]) => {
            let state = lock(&shared);
            let list: Vec<Value> = state
                .issues
                .iter()
                .filter(|i| i.forge == forge && i.repo == repo)
                .map(|i| issue_json(forge, &repo, i.number, &Value::String(i.title.clone())))
                .collect();
            HttpResponse::Ok().json(list)
        }
        ("PATCH" | "PUT", ["issues", number]) => {
            let number: i64 = number.parse().unwrap_or(0);
            let text_field = if forge == "gitlab" { "description" } else { "body" };
            let mut state = lock(&shared);
            let Some(issue) = state
                .issues
                .iter_mut()
                .find(|i| i.forge == forge && i.repo == repo && i.number == number)
            else {
                return HttpResponse::NotFound().json(json!({"message": "Not Found"}));
            };
            if let Some(text) = json_body[text_field].as_str() {
                issue.body = text.to_owned();
            }
            issue.edits += 1;
            let title = Value::String(issue.title.clone());
            HttpResponse::Ok().json(issue_json(forge, &repo, number, &title))
        }
        _ => HttpResponse::NotFound().json(json!({"message": "Not Found"})),
    }
}

fn issue_json(forge: &str, repo: &str, number: i64, title: &Value) -> Value {
    let url = format!("https://{forge}.example/{repo}/issues/{number}");
    if forge == "gitlab" {
        json!({"iid": number, "id": number + 1000, "web_url": url, "title": title})
    } else {
        json!({"number": number, "id": number + 1000, "html_url": url, "title": title})
    }
}

/// Git's smart HTTP protocol via `git http-backend` (CGI), behind Basic authentication.
fn git_http(req: &HttpRequest, rest: &str, body: &[u8], shared: &Shared) -> HttpResponse {
    let Some((forge, path_info)) = rest.split_once('/') else {
        return HttpResponse::NotFound().finish();
    };
    {
        let state = lock(shared);
        if !git_password_ok(forge, req, &state) {
            return HttpResponse::Unauthorized()
                .insert_header(("WWW-Authenticate", "Basic realm=\"git\""))
                .finish();
        }
    }
    let header =
        |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let Ok(mut child) = Command::new("git")
        .arg("http-backend")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("GIT_PROJECT_ROOT", shared.git_root.join(forge))
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("PATH_INFO", format!("/{path_info}"))
        .env("REQUEST_METHOD", req.method().as_str())
        .env("QUERY_STRING", req.query_string())
        .env("CONTENT_TYPE", header("Content-Type"))
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("GIT_PROTOCOL", header("Git-Protocol"))
        .env("HTTP_CONTENT_ENCODING", header("Content-Encoding"))
        .env("REMOTE_USER", "leakgate")
        .env("REMOTE_ADDR", "127.0.0.1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    else {
        return HttpResponse::InternalServerError().finish();
    };
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(body);
    }
    let Ok(out) = child.wait_with_output() else {
        return HttpResponse::InternalServerError().finish();
    };
    let split = out
        .stdout
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| (p, 4))
        .or_else(|| out.stdout.windows(2).position(|w| w == b"\n\n").map(|p| (p, 2)));
    let Some((at, sep)) = split else {
        return HttpResponse::InternalServerError().body(out.stderr);
    };
    let head = String::from_utf8_lossy(&out.stdout[..at]).into_owned();
    let mut response = HttpResponse::Ok();
    let mut headers = HashMap::new();
    for line in head.lines() {
        if let Some((name, value)) = line.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
        }
    }
    if let Some(status) =
        headers.get("status").and_then(|s| s.split_whitespace().next()).and_then(|s| s.parse().ok())
    {
        response.status(actix_web::http::StatusCode::from_u16(status).unwrap_or_default());
    }
    for (name, value) in &headers {
        if name != "status" {
            response.insert_header((name.as_str(), value.as_str()));
        }
    }
    let body = out.stdout[at + sep..].to_vec();
    // The answer to a protocol v2 `fetch` command: the pack.
    let fetching = body.starts_with(b"000dpackfile");
    let slow = lock(shared).trickle_packs.as_ref().is_some_and(|path| rest.contains(path.as_str()));
    if rest.ends_with("git-upload-pack") && fetching && slow {
        return response.body(Trickle { data: body, at: 0, wait: None });
    }
    response.body(body)
}

/// A body sent one byte every 100 ms.
struct Trickle {
    data: Vec<u8>,
    at: usize,
    wait: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
}

impl actix_web::body::MessageBody for Trickle {
    type Error = std::convert::Infallible;

    fn size(&self) -> actix_web::body::BodySize {
        actix_web::body::BodySize::Stream
    }

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<actix_web::web::Bytes, Self::Error>>> {
        use std::future::Future;
        let this = &mut *self;
        if this.at >= this.data.len() {
            return std::task::Poll::Ready(None);
        }
        let wait = this
            .wait
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(Duration::from_millis(100))));
        if wait.as_mut().poll(cx).is_pending() {
            return std::task::Poll::Pending;
        }
        this.wait = None;
        let byte = actix_web::web::Bytes::copy_from_slice(&this.data[this.at..this.at + 1]);
        this.at += 1;
        std::task::Poll::Ready(Some(Ok(byte)))
    }
}
