//! The HTTP side: webhook endpoints, health, readiness and metrics.
//!
//! A webhook is authenticated on its raw body before anything parses it; a push is stored
//! with its job (one transaction, batched with the deliveries that arrive together) before
//! the 202 goes out, so a delivery is never acknowledged and then lost. A batch the database
//! refuses is recorded one delivery at a time (one bad row fails alone); a delivery the
//! database cannot take at all goes to the spool ([`crate::spool`]) on local disk and is
//! replayed later: GitHub does not redeliver by itself, so a 503 would lose the push.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use leakgate_store::{Delivery, NewJob, Store};
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, oneshot, Notify};

use crate::config::Config;
use crate::event::{parse_push, Forge, Parsed};
use crate::metrics::Metrics;
use crate::signature::{verify_gitea, verify_github, verify_gitlab};

/// What the handlers share.
pub struct AppState {
    /// The store.
    pub store: Store,
    /// The configuration.
    pub config: Arc<Config>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// The delivery recorder.
    pub recorder: Recorder,
    /// Wakes idle workers in this process.
    pub wake: Arc<Notify>,
    /// The rules (receivers scan the tokens they are sent).
    pub rules: Arc<leakgate_rules::RuleSet>,
    /// The fingerprint key.
    pub key: Arc<leakgate_rules::FingerprintKey>,
    /// Encrypts secret material while it is needed.
    pub secret_key: Arc<leakgate_store::SecretKey>,
    /// The GitLab Token Revocation API's rate limit in this replica.
    pub gitlab_revocation_limit: crate::token_revocation::RateLimit,
    /// Sign-in attempts on the dashboard in this replica.
    pub ui_logins: crate::token_revocation::RateLimit,
    /// The partner senders' public keys.
    pub partner_keys: crate::partner::KeyCache,
}

/// What became of a delivery.
#[derive(Debug)]
enum Stored {
    /// Recorded; its job's id (`None`: no job, or the push was queued by another delivery).
    Recorded(Option<i64>),
    /// Seen before (the same delivery id).
    Duplicate,
    /// The database could not take it: kept in the spool until it can.
    Spooled,
}

type Reply = oneshot::Sender<Result<Stored, String>>;

/// Records deliveries in batches: each transaction takes every delivery waiting at that
/// moment (group commit), so a burst costs one commit per batch, not one per delivery.
#[derive(Clone)]
pub struct Recorder {
    tx: mpsc::Sender<(Delivery, Option<NewJob>, Reply)>,
}

impl Recorder {
    /// Starts the recording task on the current runtime; deliveries the database cannot take
    /// go to `spool`.
    pub fn start(store: Store, spool: Arc<crate::spool::Spool>) -> Self {
        let (tx, mut rx) = mpsc::channel::<(Delivery, Option<NewJob>, Reply)>(4096);
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut items = vec![first];
                while items.len() < 512 {
                    match rx.try_recv() {
                        Ok(item) => items.push(item),
                        Err(_) => break,
                    }
                }
                let (batch, replies): (Vec<_>, Vec<_>) =
                    items.into_iter().map(|(d, j, r)| ((d, j), r)).unzip();
                let results = match store.record_deliveries(&batch).await {
                    Ok(results) => results.into_iter().map(Ok).collect(),
                    Err(e) if batch.len() > 1 => {
                        tracing::warn!(error = %e, deliveries = batch.len(), "recording a batch failed: recording one at a time");
                        let mut results = Vec::with_capacity(batch.len());
                        for item in &batch {
                            let one = store.record_deliveries(std::slice::from_ref(item)).await;
                            results.push(one.map(|mut r| r.pop().flatten()));
                        }
                        results
                    }
                    Err(e) => vec![Err(e)],
                };
                for ((reply, result), (delivery, job)) in
                    replies.into_iter().zip(results).zip(&batch)
                {
                    let stored = match result {
                        Ok(Some(job)) => Ok(Stored::Recorded(job)),
                        Ok(None) => Ok(Stored::Duplicate),
                        Err(e) => {
                            tracing::error!(error = %e, delivery = delivery.delivery_id, "recording a delivery failed: spooling it");
                            spool
                                .put(delivery, job.as_ref())
                                .map(|()| Stored::Spooled)
                                .map_err(|spooled| format!("database: {e}; spool: {spooled}"))
                        }
                    };
                    let _ = reply.send(stored);
                }
            }
        });
        Recorder { tx }
    }

    /// Records one delivery (and its job).
    async fn record(&self, delivery: Delivery, job: Option<NewJob>) -> Result<Stored, String> {
        let (reply, answer) = oneshot::channel();
        self.tx.send((delivery, job, reply)).await.map_err(|_| "recorder stopped".to_owned())?;
        answer.await.map_err(|_| "recorder stopped".to_owned())?
    }
}

fn header<'r>(req: &'r HttpRequest, name: &str) -> Option<&'r str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

fn reply(status: StatusCode, body: serde_json::Value) -> HttpResponse {
    HttpResponse::build(status).json(body)
}

/// Authenticates a delivery for `forge`. `Err` is the response to send.
fn authenticate(
    forge: Forge,
    req: &HttpRequest,
    body: &[u8],
    state: &AppState,
) -> Result<(), Box<HttpResponse>> {
    let config = &state.config;
    let secret = match forge {
        Forge::Github => config.github.webhook_secret.as_ref(),
        Forge::Gitlab => config.gitlab.webhook_token.as_ref(),
        Forge::Gitea => config.gitea.webhook_secret.as_ref(),
    };
    let Some(secret) = secret.filter(|s| s.is_set()) else {
        state.metrics.delivery(forge.name(), "not_configured");
        return Err(Box::new(reply(
            StatusCode::NOT_FOUND,
            json!({"error": format!("{} webhooks are not configured on this server", forge.name())}),
        )));
    };
    let secret = secret.expose().as_bytes();
    let checked = match forge {
        Forge::Github => verify_github(secret, body, header(req, "X-Hub-Signature-256")),
        Forge::Gitlab => verify_gitlab(secret, header(req, "X-Gitlab-Token")),
        Forge::Gitea => verify_gitea(
            secret,
            body,
            header(req, "X-Gitea-Signature").or_else(|| header(req, "X-Forgejo-Signature")),
        ),
    };
    checked.map_err(|e| {
        state.metrics.delivery(forge.name(), "unauthorized");
        tracing::warn!(source = forge.name(), peer = ?req.peer_addr(), "rejected webhook: {e}");
        Box::new(reply(StatusCode::UNAUTHORIZED, json!({"error": "invalid or missing signature"})))
    })
}

fn event_name(forge: Forge, req: &HttpRequest) -> String {
    let name = match forge {
        Forge::Github => header(req, "X-GitHub-Event"),
        Forge::Gitlab => header(req, "X-Gitlab-Event"),
        Forge::Gitea => header(req, "X-Gitea-Event").or_else(|| header(req, "X-Forgejo-Event")),
    };
    name.unwrap_or("").chars().take(64).collect()
}

fn delivery_id(forge: Forge, req: &HttpRequest, body: &[u8]) -> String {
    let id = match forge {
        Forge::Github => header(req, "X-GitHub-Delivery"),
        Forge::Gitlab => {
            header(req, "Idempotency-Key").or_else(|| header(req, "X-Gitlab-Event-UUID"))
        }
        Forge::Gitea => {
            header(req, "X-Gitea-Delivery").or_else(|| header(req, "X-Forgejo-Delivery"))
        }
    };
    match id.map(str::trim).filter(|id| !id.is_empty()) {
        Some(id) => id.chars().take(128).collect(),
        // Older forges send no delivery id: the body's hash identifies a redelivery.
        None => format!("sha256:{}", hex::encode(Sha256::digest(body))),
    }
}

/// Whether a delivery is a push: by its event header, and for GitLab's system hooks (one
/// hook for every project of the instance, `X-Gitlab-Event: System Hook`) by the body's
/// `event_name`.
fn is_push(forge: Forge, event: &str, payload: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct SystemHook {
        #[serde(default)]
        event_name: String,
    }
    match forge {
        Forge::Github | Forge::Gitea => event == "push",
        Forge::Gitlab if event == "System Hook" => serde_json::from_slice::<SystemHook>(payload)
            .is_ok_and(|h| h.event_name == "push" || h.event_name == "tag_push"),
        Forge::Gitlab => event == "Push Hook" || event == "Tag Push Hook",
    }
}

/// The JSON payload of a delivery: the body, or for a form-encoded delivery (GitHub and
/// Gitea can send `application/x-www-form-urlencoded`) its `payload` field. The signature
/// was checked on the raw body before.
fn payload<'b>(req: &HttpRequest, body: &'b [u8]) -> Result<Cow<'b, [u8]>, &'static str> {
    let form = header(req, "Content-Type").is_some_and(|t| {
        t.split(';')
            .next()
            .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
    });
    if !form {
        return Ok(Cow::Borrowed(body));
    }
    let fields: Vec<(String, String)> =
        serde_urlencoded::from_bytes(body).map_err(|_| "a form body that does not decode")?;
    fields
        .into_iter()
        .find(|(k, _)| k == "payload")
        .map(|(_, v)| Cow::Owned(v.into_bytes()))
        .ok_or("a form body without a `payload` field")
}

async fn receive(
    forge: Forge,
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    if let Err(response) = authenticate(forge, &req, &body, &state) {
        return *response;
    }
    let event = event_name(forge, &req);
    let source = forge.name();
    if event == "ping" {
        state.metrics.delivery(source, "ping");
        return reply(StatusCode::OK, json!({"ok": "pong"}));
    }
    let payload = match payload(&req, &body) {
        Ok(payload) => payload,
        Err(why) => {
            state.metrics.delivery(source, "malformed");
            tracing::warn!(source, "refused a delivery: {why}");
            return reply(StatusCode::BAD_REQUEST, json!({"error": why}));
        }
    };
    let alert = forge == Forge::Github && event == "secret_scanning_alert";
    if !alert && !is_push(forge, &event, &payload) {
        state.metrics.delivery(source, "ignored");
        return reply(StatusCode::ACCEPTED, json!({"ignored": event}));
    }
    let delivery = |outcome: &str| Delivery {
        source: source.to_owned(),
        delivery_id: delivery_id(forge, &req, &body),
        event: event.clone(),
        outcome: outcome.to_owned(),
    };
    let what = if alert { "secret scanning alert" } else { "push" };
    let (record, job, status, outcome) = if alert {
        match crate::event::parse_alert(&payload) {
            Ok(Some(alert)) => {
                let job = crate::job::Work::Alert(alert).job();
                (delivery("queued"), Some(job), StatusCode::ACCEPTED, "alert_queued")
            }
            Ok(None) => (delivery("ignored"), None, StatusCode::ACCEPTED, "alert_ignored"),
            Err(e) => {
                tracing::warn!(source, "{e}");
                (delivery("malformed"), None, StatusCode::BAD_REQUEST, "alert_malformed")
            }
        }
    } else {
        match parse_push(forge, &payload) {
            Ok(Parsed::Push(push)) => match crate::job::Work::push_job(&push, &state.secret_key) {
                Ok(job) => (delivery("queued"), Some(job), StatusCode::ACCEPTED, "queued"),
                Err(e) => {
                    tracing::error!(source, error = e, "a push could not be queued");
                    return reply(
                        StatusCode::SERVICE_UNAVAILABLE,
                        json!({"error": "the push could not be queued; deliver it again"}),
                    );
                }
            },
            Ok(Parsed::Delete) => (delivery("ignored"), None, StatusCode::ACCEPTED, "deleted_ref"),
            Err(e) => {
                tracing::warn!(source, "{e}");
                (delivery("malformed"), None, StatusCode::BAD_REQUEST, "malformed")
            }
        }
    };
    let had_job = job.is_some();
    match state.recorder.record(record, job).await {
        // A new delivery id for a push already queued (a forge's manual redelivery).
        Ok(Stored::Recorded(None)) if had_job => {
            state.metrics.delivery(source, "duplicate");
            reply(StatusCode::ACCEPTED, json!({"duplicate": true}))
        }
        Ok(Stored::Duplicate) => {
            state.metrics.delivery(source, "duplicate");
            reply(StatusCode::ACCEPTED, json!({"duplicate": true}))
        }
        Ok(Stored::Spooled) => {
            state.metrics.delivery(source, "spooled");
            if status == StatusCode::BAD_REQUEST {
                reply(status, json!({"error": format!("malformed {what} payload")}))
            } else {
                reply(status, json!({"outcome": outcome, "spooled": true}))
            }
        }
        Ok(Stored::Recorded(job)) => {
            state.metrics.delivery(source, outcome);
            if job.is_some() {
                state.wake.notify_one();
            }
            if status == StatusCode::BAD_REQUEST {
                reply(status, json!({"error": format!("malformed {what} payload")}))
            } else {
                reply(status, json!({"outcome": outcome, "job": job}))
            }
        }
        Err(e) => {
            state.metrics.delivery(source, "store_error");
            tracing::error!(source, "delivery neither stored nor spooled: {e}");
            // 503: nothing was acknowledged; the forge may redeliver.
            reply(
                StatusCode::SERVICE_UNAVAILABLE,
                json!({"error": "cannot store the delivery now"}),
            )
        }
    }
}

async fn github(req: HttpRequest, body: web::Bytes, state: web::Data<AppState>) -> HttpResponse {
    receive(Forge::Github, req, body, state).await
}

async fn gitlab(req: HttpRequest, body: web::Bytes, state: web::Data<AppState>) -> HttpResponse {
    receive(Forge::Gitlab, req, body, state).await
}

async fn gitea(req: HttpRequest, body: web::Bytes, state: web::Data<AppState>) -> HttpResponse {
    receive(Forge::Gitea, req, body, state).await
}

/// The operator token (`[server] admin_token`), when one is configured.
pub(crate) fn admin_token(state: &AppState) -> Option<&[u8]> {
    state.config.server.admin_token.as_ref().filter(|t| t.is_set()).map(|t| t.expose().as_bytes())
}

/// Whether the request's `Authorization: Bearer` credential is `token`, compared in constant
/// time (length included); `None` without an `Authorization` header.
pub(crate) fn bearer_is(req: &HttpRequest, token: &[u8]) -> Option<bool> {
    let given = req.headers().get("authorization")?;
    let given = given.to_str().ok().and_then(|v| v.strip_prefix("Bearer ")).unwrap_or("");
    Some(crate::signature::same_secret(given.as_bytes(), token))
}

/// The operator API's check: `Authorization: Bearer <[server] admin_token>`; without a
/// configured token the API does not exist (404). `Some` is the refusal to send.
pub(crate) fn refused(req: &HttpRequest, state: &AppState) -> Option<HttpResponse> {
    let Some(token) = admin_token(state) else {
        return Some(HttpResponse::NotFound().finish());
    };
    if bearer_is(req, token) == Some(true) {
        None
    } else {
        Some(
            HttpResponse::Unauthorized()
                .insert_header(("WWW-Authenticate", "Bearer"))
                .json(json!({"error": "the operator API needs the admin token"})),
        )
    }
}

#[derive(serde::Deserialize)]
struct RevocationQuery {
    state: Option<String>,
    limit: Option<i64>,
}

fn revocation_json(r: &leakgate_store::Revocation) -> serde_json::Value {
    json!({
        "fingerprint": r.fingerprint, "provider": r.provider, "rule_id": r.rule_id,
        "finding_id": r.finding_id, "state": r.state, "summary": r.summary,
        "attempts": r.attempts, "created_at": r.created_at, "updated_at": r.updated_at,
        "found_in": serde_json::from_str::<serde_json::Value>(&r.context).unwrap_or_default(),
    })
}

/// `GET /api/revocations?state=&limit=`: newest first, no secret material.
async fn list_revocations(
    req: HttpRequest,
    query: web::Query<RevocationQuery>,
    state: web::Data<AppState>,
) -> HttpResponse {
    if let Some(refusal) = refused(&req, &state) {
        return refusal;
    }
    let limit = query.limit.unwrap_or(100).clamp(1, 1000);
    let wanted = match query.state.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(name) => match leakgate_store::RevocationState::parse(name) {
            Some(wanted) => Some(wanted),
            None => {
                return HttpResponse::BadRequest()
                    .json(json!({"error": format!("no revocation state {name:?}")}))
            }
        },
    };
    listed("revocations", state.store.revocations(wanted, limit).await, revocation_json)
}

/// A listing's answer: the rows as JSON, or 503 (logged) when the database failed.
fn listed<T>(
    what: &str,
    rows: Result<Vec<T>, leakgate_store::Error>,
    to_json: fn(&T) -> serde_json::Value,
) -> HttpResponse {
    match rows {
        Ok(rows) => HttpResponse::Ok().json(rows.iter().map(to_json).collect::<Vec<_>>()),
        Err(e) => {
            tracing::error!(error = %e, "listing {what} failed");
            HttpResponse::ServiceUnavailable().json(json!({"error": "database error"}))
        }
    }
}

/// `POST /api/findings/{id}/revoke`: approves the revocation of a finding's secret (the
/// manual policy's "API call"); 202 when queued, 200 when the key is dead already.
async fn approve_revocation(
    req: HttpRequest,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> HttpResponse {
    use crate::revoke::run::{approve, Approval};
    if let Some(refusal) = refused(&req, &state) {
        return refusal;
    }
    let Ok(id) = id.parse::<i64>() else {
        return HttpResponse::BadRequest().json(json!({"error": "a finding id is a number"}));
    };
    match approve(&state.store, &state.config.revoke, id, "api").await {
        Ok(Approval::NoFinding) => {
            HttpResponse::NotFound().json(json!({"error": "no such finding"}))
        }
        Ok(Approval::NoRevocation { rule_id }) => HttpResponse::UnprocessableEntity()
            .json(json!({"error": format!("no provider revokes rule {rule_id}")})),
        Ok(Approval::Off { provider }) => HttpResponse::Conflict()
            .json(json!({"error": format!("[revoke.{provider}] policy is off")})),
        Ok(Approval::Settled(row)) => HttpResponse::Ok().json(revocation_json(&row)),
        Ok(Approval::NoMaterial(row)) => HttpResponse::Conflict().json(json!({
            "error": format!(
                "the key's encrypted material is gone: revoke it with `leakgate revoke --provider {}` (key on stdin)",
                row.provider
            ),
            "revocation": revocation_json(&row),
        })),
        Ok(Approval::Queued(row)) => {
            state.wake.notify_waiters();
            HttpResponse::Accepted().json(revocation_json(&row))
        }
        Err(e) => {
            tracing::error!(error = %e, "approving a revocation failed");
            HttpResponse::ServiceUnavailable().json(json!({"error": "database error"}))
        }
    }
}

fn validation_json(v: &leakgate_store::Validation) -> serde_json::Value {
    json!({
        "fingerprint": v.fingerprint, "validator": v.validator, "rule_id": v.rule_id,
        "finding_id": v.finding_id, "state": v.state, "status": v.status, "summary": v.summary,
        "checks": v.checks, "created_at": v.created_at, "checked_at": v.checked_at,
        "next_check_at": v.next_check_at,
    })
}

/// `GET /api/validations?limit=`: the latest checks first, no secret material.
async fn list_validations(
    req: HttpRequest,
    query: web::Query<RevocationQuery>,
    state: web::Data<AppState>,
) -> HttpResponse {
    if let Some(refusal) = refused(&req, &state) {
        return refusal;
    }
    let limit = query.limit.unwrap_or(100).clamp(1, 1000);
    listed("validations", state.store.validations(limit).await, validation_json)
}

/// Queues a check of the secret `fingerprint` now, audited as `actor`'s request, when its
/// validation is kept; its row, or `None` when there is nothing to check with.
pub(crate) async fn recheck(
    store: &leakgate_store::Store,
    fingerprint: &str,
    actor: &str,
) -> Result<Option<leakgate_store::Validation>, leakgate_store::Error> {
    let row = store.validation(fingerprint).await?;
    if row.is_some() {
        let job = crate::validate::run::job(fingerprint, crate::job::Round::Requested);
        store.enqueue(&job).await?;
        let detail = json!({ "fingerprint": fingerprint });
        store.audit("validation_requested", actor, &detail.to_string()).await?;
    }
    Ok(row)
}

/// `POST /api/findings/{id}/validate`: checks the finding's key again now (a `validate`
/// job); 202 with the validation as it stands.
async fn request_validation(
    req: HttpRequest,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> HttpResponse {
    if let Some(refusal) = refused(&req, &state) {
        return refusal;
    }
    let Ok(id) = id.parse::<i64>() else {
        return HttpResponse::BadRequest().json(json!({"error": "a finding id is a number"}));
    };
    if !state.config.validate.enabled {
        return HttpResponse::Conflict().json(json!({"error": "[validate] enabled is false"}));
    }
    let found = async {
        let Some(finding) = state.store.finding(id).await? else { return Ok(None) };
        let row = recheck(&state.store, &finding.fingerprint, "api").await?;
        Ok::<_, leakgate_store::Error>(Some((finding.rule_id, row)))
    };
    match found.await {
        Ok(None) => HttpResponse::NotFound().json(json!({"error": "no such finding"})),
        Ok(Some((rule_id, None))) => HttpResponse::UnprocessableEntity().json(json!({
            "error": format!(
                "no validation of this finding's key is kept (rule {rule_id}): check it with `leakgate validate --rule {rule_id}` (key on stdin)"
            ),
        })),
        Ok(Some((_, Some(row)))) => {
            state.wake.notify_waiters();
            HttpResponse::Accepted().json(validation_json(&row))
        }
        Err(e) => {
            tracing::error!(error = %e, "requesting a validation failed");
            HttpResponse::ServiceUnavailable().json(json!({"error": "database error"}))
        }
    }
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok\n")
}

async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let ready =
        tokio::time::timeout(Duration::from_secs(2), state.store.ping()).await.unwrap_or(false);
    if ready {
        HttpResponse::Ok().content_type("text/plain").body("ready\n")
    } else {
        HttpResponse::ServiceUnavailable().content_type("text/plain").body("database unreachable\n")
    }
}

async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    if let Ok(Ok((queued, running, done, dead))) =
        tokio::time::timeout(Duration::from_secs(2), state.store.job_counts()).await
    {
        state.metrics.set_jobs(queued, running, done, dead);
    }
    if let Ok(Ok(gauges)) = tokio::time::timeout(Duration::from_secs(2), state.store.gauges()).await
    {
        state.metrics.set_gauges(&gauges, leakgate_store::now_ms());
    }
    HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(state.metrics.encode())
}

/// Registers the routes; webhook bodies up to `max_body` bytes (413 above).
pub fn routes(cfg: &mut web::ServiceConfig, max_body: usize) {
    cfg.service(
        web::scope("/webhooks")
            .app_data(web::PayloadConfig::new(max_body))
            .route("/github", web::post().to(github))
            .route("/gitlab", web::post().to(gitlab))
            .route("/gitea", web::post().to(gitea)),
    )
    .service(crate::exceptions_api::routes(
        web::scope("/api")
            .app_data(web::PayloadConfig::new(64 << 10))
            .route("/revocations", web::get().to(list_revocations))
            .route("/findings/{id}/revoke", web::post().to(approve_revocation))
            .route("/validations", web::get().to(list_validations))
            .route("/findings/{id}/validate", web::post().to(request_validation)),
    ))
    .configure(crate::token_revocation::routes)
    .configure(crate::partner::routes)
    .configure(crate::slack::routes)
    .configure(crate::ui::routes)
    .route("/healthz", web::get().to(healthz))
    .route("/readyz", web::get().to(readyz))
    .route("/metrics", web::get().to(metrics));
}
