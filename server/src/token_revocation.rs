//! GitLab's Token Revocation API, served: self-managed GitLab forwards the secrets its
//! pipelines' secret detection finds to an external service "that teams must build
//! themselves". leakgate is that service.
//!
//! - `GET /v1/revocable_token_types` → `200 {"types": [...]}`: GitLab's type strings (the
//!   secrets analyzer's primary identifier, `gitleaks_rule_id_<rule>`) whose leakgate rules
//!   a provider revokes and whose policy is not `off`.
//! - `POST /v1/revoke_tokens` with `[{"type", "token", "location"}, ...]` (GitLab adds its own
//!   fields, which are ignored) → `204` once every token is recorded and queued; `400` for a
//!   malformed body or a type not answered above (GitLab does not retry it); `429` with
//!   `Retry-After` past the rate limit.
//!
//! Authentication is the raw pre-shared token in `Authorization` (no scheme), compared in
//! constant time. Each token is scanned with the service's rules: only a token that has the
//! format its type claims becomes a finding (a value that does not is recorded as ignored,
//! never sent anywhere), and goes through the same validation and revocation queue as a
//! pushed secret, deduplicated by keyed fingerprint, so a repeated request changes nothing.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::{web, HttpRequest, HttpResponse};
use leakgate_rules::Finding;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::config::Sensitive;
use crate::http::AppState;

/// `[gitlab_revocation]`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct GitlabRevocationConfig {
    /// The pre-shared token GitLab sends (`secret_detection_token_revocation_token`); without
    /// it the API does not exist (404).
    pub token: Option<Sensitive>,
    /// `token` read from a file.
    pub token_file: Option<PathBuf>,
    /// Requests per minute accepted (both endpoints, this replica); 429 beyond.
    pub requests_per_minute: u32,
    /// Tokens one request may carry; a larger request is refused (400).
    pub max_tokens: usize,
    /// More GitLab types: `"gitleaks_rule_id_<x>" = ["leakgate-rule-id", ...]`.
    pub types: BTreeMap<String, Vec<String>>,
}

impl Default for GitlabRevocationConfig {
    fn default() -> Self {
        GitlabRevocationConfig {
            token: None,
            token_file: None,
            requests_per_minute: 60,
            max_tokens: 10_000,
            types: BTreeMap::new(),
        }
    }
}

/// GitLab's type strings for the secrets analyzer's rules, and the leakgate rules that find
/// the same keys. AWS is not here: GitLab finds key ids, and a key id alone never
/// deactivates a key.
const TYPES: &[(&str, &[&str])] = &[
    (
        "gitleaks_rule_id_gitlab_personal_access_token",
        &["gitlab-pat-routable", "gitlab-pat-legacy"],
    ),
    ("gitleaks_rule_id_gitlab_personal_access_token_routable", &["gitlab-pat-routable"]),
    ("gitleaks_rule_id_github_personal_access_token", &["github-pat-classic"]),
    ("gitleaks_rule_id_github_fine_grained_personal_access_token", &["github-fine-grained-pat"]),
    ("gitleaks_rule_id_github_oauth_access_token", &["github-oauth-token"]),
    (
        "gitleaks_rule_id_github_app_token",
        &[
            "github-user-to-server-token",
            "github-installation-token",
            "github-installation-token-jwt",
        ],
    ),
    ("gitleaks_rule_id_github_refresh_token", &["github-refresh-token"]),
    (
        "gitleaks_rule_id_slack_token",
        &["slack-bot-token", "slack-user-token", "slack-rotating-token"],
    ),
    ("gitleaks_rule_id_npm_access_token", &["npm-access-token"]),
    (
        "gitleaks_rule_id_digitalocean_personal_access_token",
        &["digitalocean-personal-access-token"],
    ),
    ("gitleaks_rule_id_doppler_api_token", &["doppler-personal-token", "doppler-service-token"]),
    ("gitleaks_rule_id_google_oauth_access_token", &["google-oauth-access-token"]),
];

/// The answered types and their rules: the built-in table and `[gitlab_revocation.types]`,
/// each kept only with the rules that exist and that an enabled provider revokes.
pub fn answered(state: &AppState) -> BTreeMap<String, Vec<String>> {
    let rules = state.rules.rules();
    let revocable = |id: &str| {
        rules.iter().any(|r| {
            r.id() == id
                && r.revoke().is_some_and(|p| {
                    state.config.revoke.provider(p).policy != crate::revoke::Policy::Off
                })
        })
    };
    let configured = state.config.gitlab_revocation.types.iter().map(|(t, r)| (t.as_str(), r));
    let builtin = TYPES.iter().map(|(t, r)| (*t, r.iter().map(|s| (*s).to_owned()).collect()));
    let mut out = BTreeMap::new();
    for (name, ids) in builtin
        .collect::<Vec<(&str, Vec<String>)>>()
        .into_iter()
        .chain(configured.map(|(t, r)| (t, r.clone())))
    {
        let kept: Vec<String> = ids.into_iter().filter(|id| revocable(id)).collect();
        if kept.is_empty() {
            out.remove(name);
        } else {
            out.insert(name.to_owned(), kept);
        }
    }
    out
}

/// A fixed-window limit: `per_minute` requests per minute in this replica.
#[derive(Debug, Default)]
pub struct RateLimit {
    window: Mutex<Option<(Instant, u32)>>,
}

impl RateLimit {
    /// `None` when a request may go on, else how long until the next window.
    pub fn check(&self, per_minute: u32) -> Option<Duration> {
        let mut window = self.window.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        let (start, count) = match *window {
            Some((start, count)) if now.duration_since(start) < Duration::from_secs(60) => {
                (start, count)
            }
            _ => (now, 0),
        };
        if count >= per_minute.max(1) {
            *window = Some((start, count));
            return Some(Duration::from_secs(60).saturating_sub(now.duration_since(start)));
        }
        *window = Some((start, count + 1));
        None
    }
}

/// The refusal to send, unless the request carries the pre-shared token (and is within the
/// rate limit).
fn refused(req: &HttpRequest, state: &AppState) -> Option<HttpResponse> {
    let config = &state.config.gitlab_revocation;
    let Some(token) = config.token.as_ref().filter(|t| t.is_set()) else {
        return Some(HttpResponse::NotFound().finish());
    };
    let given = req.headers().get("authorization").map(|v| v.as_bytes()).unwrap_or_default();
    if !crate::signature::same_secret(given, token.expose().as_bytes()) {
        state.metrics.delivery("gitlab-revocation", "unauthorized");
        return Some(HttpResponse::Unauthorized().json(json!({"error": "unauthorized"})));
    }
    if let Some(wait) = state.gitlab_revocation_limit.check(config.requests_per_minute) {
        state.metrics.delivery("gitlab-revocation", "rate_limited");
        return Some(
            HttpResponse::TooManyRequests()
                .insert_header(("Retry-After", wait.as_secs().max(1).to_string()))
                .json(json!({"error": "rate limited"})),
        );
    }
    None
}

/// `GET /v1/revocable_token_types`.
async fn types(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if let Some(refusal) = refused(&req, &state) {
        return refusal;
    }
    let types: Vec<String> = answered(&state).into_keys().collect();
    HttpResponse::Ok().json(json!({ "types": types }))
}

/// One element of GitLab's request (its other fields, such as `vulnerability`, ignored).
#[derive(Deserialize)]
struct Leaked {
    #[serde(rename = "type")]
    kind: String,
    token: Sensitive,
    #[serde(default)]
    location: Option<String>,
}

fn bad_request(why: impl Into<String>) -> HttpResponse {
    HttpResponse::BadRequest().json(json!({ "error": why.into() }))
}

/// A location safe to store and show: printable, at most 512 characters.
pub(crate) fn clean_location(location: Option<&str>) -> String {
    location.unwrap_or("").chars().filter(|c| !c.is_control()).take(512).collect::<String>()
}

/// `POST /v1/revoke_tokens`.
async fn revoke_tokens(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    if let Some(refusal) = refused(&req, &state) {
        return refusal;
    }
    // Parse errors never quote the body: it carries the tokens.
    let leaked: Vec<Leaked> = match serde_json::from_slice(&body) {
        Ok(leaked) => leaked,
        Err(e) => {
            state.metrics.delivery("gitlab-revocation", "malformed");
            return bad_request(format!(
                "the body is not an array of {{type, token, location}} (line {}, column {})",
                e.line(),
                e.column()
            ));
        }
    };
    let config = &state.config.gitlab_revocation;
    if leaked.len() > config.max_tokens {
        return bad_request(format!("more than {} tokens in one request", config.max_tokens));
    }
    let types = answered(&state);
    if let Some(unsupported) = leaked.iter().find(|l| !types.contains_key(&l.kind)) {
        state.metrics.delivery("gitlab-revocation", "unsupported");
        let kind: String = unsupported.kind.chars().filter(|c| !c.is_control()).take(100).collect();
        return bad_request(format!("unsupported token type {kind:?}"));
    }
    // The same request again (GitLab retries) records into the same scan.
    let request_key = crate::worker::report_key("gitlab-revocation", &body);
    match record(&state, &leaked, &types, request_key).await {
        Ok(()) => {
            state.metrics.delivery("gitlab-revocation", "accepted");
            state.wake.notify_waiters();
            HttpResponse::NoContent().finish()
        }
        Err(e) => {
            tracing::error!(error = %e, "recording revocation requests failed");
            HttpResponse::InternalServerError().json(json!({"error": "database error"}))
        }
    }
}

/// Scans each token for the rules of its type; records the findings (one scan per request)
/// and plans their validation and revocation.
async fn record(
    state: &AppState,
    leaked: &[Leaked],
    types: &BTreeMap<String, Vec<String>>,
    request_key: String,
) -> Result<(), leakgate_store::Error> {
    let mut findings: Vec<Finding> = Vec::new();
    let mut ignored = Vec::new();
    for (index, l) in leaked.iter().enumerate() {
        let rules = &types[&l.kind];
        let location = clean_location(l.location.as_deref());
        let wanted = |id: &str| rules.iter().any(|r| r == id);
        let found = crate::worker::token_findings(
            &state.rules,
            &state.key,
            l.token.expose(),
            &location,
            wanted,
        );
        match found.into_iter().next() {
            Some(f) => findings.push(f),
            None => ignored.push(json!({ "index": index, "type": l.kind })),
        }
    }
    let store = &state.store;
    let scan = leaked_scan(findings.len() + ignored.len(), request_key);
    let (scan, ids) = crate::worker::record_received(store, &scan, &findings).await?;
    let origin = crate::revoke::run::Origin {
        forge: Some(crate::event::Forge::Gitlab),
        repo: "gitlab-secret-detection".into(),
        installation_id: None,
        partner_type: None,
    };
    let with_ids: Vec<(&Finding, Option<i64>)> =
        findings.iter().zip(ids.iter().map(|id| Some(*id))).collect();
    let queued =
        crate::revoke::run::respond(store, &state.secret_key, &state.config, &origin, &with_ids)
            .await?;
    let detail = json!({
        "scan": scan,
        "findings": findings.iter().zip(&ids).map(|(f, id)| json!({
            "finding": id, "rule": f.rule_id, "fingerprint": f.fingerprint.as_str(),
        })).collect::<Vec<_>>(),
        "ignored": ignored,
        "queued": queued,
    });
    store.audit("gitlab_revocation_request", "gitlab", &detail.to_string()).await
}

/// The scan row of one request.
fn leaked_scan(tokens: usize, request_key: String) -> leakgate_store::NewScan {
    leakgate_store::NewScan {
        repo: "gitlab-secret-detection".into(),
        refs: format!("{tokens} tokens"),
        before: None,
        after: None,
        pusher: None,
        source: "gitlab-revocation".into(),
        job_key: Some(request_key),
    }
}

/// Registers the two endpoints (bodies up to 4 MiB).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/v1")
            .app_data(web::PayloadConfig::new(4 << 20))
            .route("/revocable_token_types", web::get().to(types))
            .route("/revoke_tokens", web::post().to(revoke_tokens)),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_names_revocable_catalog_rules() {
        let rules = leakgate_rules::RuleSet::builtin();
        for (name, ids) in TYPES {
            assert!(name.starts_with("gitleaks_rule_id_"), "{name}");
            for id in *ids {
                let rule = rules.rules().iter().find(|r| r.id() == *id);
                assert!(rule.is_some_and(|r| r.revoke().is_some()), "{name}: {id}");
            }
        }
    }

    #[test]
    fn the_limit_holds_within_a_minute() {
        let limit = RateLimit::default();
        assert!(limit.check(2).is_none());
        assert!(limit.check(2).is_none());
        let wait = limit.check(2).expect("the third is refused");
        assert!(wait <= Duration::from_secs(60) && wait > Duration::from_secs(50), "{wait:?}");
    }

    #[test]
    fn locations_lose_control_characters_and_length() {
        assert_eq!(clean_location(Some("a\nb\u{1b}[31mc")), "ab[31mc");
        assert_eq!(clean_location(None), "");
        assert_eq!(clean_location(Some(&"x".repeat(600))).len(), 512);
    }
}
