//! The operator API's exceptions: bypass requests (list, approve, reject) and waivers (list,
//! add, remove), behind the admin token like the rest of `/api`. The store audits every
//! change; a reviewer is named in the body (the token says only that the caller operates).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use crate::http::{refused, AppState};

fn database_error(e: &leakgate_store::Error, what: &str) -> HttpResponse {
    tracing::error!(error = %e, "{what} failed");
    HttpResponse::ServiceUnavailable().json(json!({"error": "database error"}))
}

fn bad_request(why: impl std::fmt::Display) -> HttpResponse {
    HttpResponse::BadRequest().json(json!({"error": why.to_string()}))
}

fn request_json(r: &leakgate_store::BypassRequest, now: i64) -> serde_json::Value {
    json!({
        "id": r.id, "repo": r.repo, "pusher": r.pusher, "state": r.state_at(now),
        "fingerprints": r.fingerprint_list(),
        "findings": serde_json::from_str::<serde_json::Value>(&r.summary).unwrap_or_default(),
        "refs": r.refs, "created_at": r.created_at, "expires_at": r.expires_at,
        "reviewer": r.reviewer, "message": r.message, "decided_at": r.decided_at, "uses": r.uses,
    })
}

#[derive(Deserialize)]
struct StateQuery {
    state: Option<String>,
}

/// `GET /api/bypass-requests?state=open|approved|rejected|expired`: newest first.
async fn list_requests(
    req: HttpRequest,
    query: web::Query<StateQuery>,
    state: web::Data<AppState>,
) -> HttpResponse {
    if let Some(refusal) = refused(&req, &state) {
        return refusal;
    }
    let wanted = query.state.as_deref().filter(|s| !s.is_empty());
    if wanted.is_some_and(|s| !["open", "approved", "rejected", "expired"].contains(&s)) {
        return bad_request("state is one of open, approved, rejected, expired");
    }
    match state.store.bypass_requests(wanted).await {
        Ok(rows) => {
            let now = leakgate_store::now_ms();
            HttpResponse::Ok().json(rows.iter().map(|r| request_json(r, now)).collect::<Vec<_>>())
        }
        Err(e) => database_error(&e, "listing bypass requests"),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DecisionBody {
    reviewer: String,
    #[serde(default)]
    message: String,
}

/// `POST /api/bypass-requests/{id}/approve|reject` with `{"reviewer", "message"}`.
async fn decide(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    if let Some(refusal) = refused(&req, &state) {
        return refusal;
    }
    let (id, action) = path.into_inner();
    let Ok(id) = id.parse::<i64>() else { return bad_request("a request id is a number") };
    let approve = match action.as_str() {
        "approve" => true,
        "reject" => false,
        _ => return HttpResponse::NotFound().finish(),
    };
    let body: DecisionBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => return bad_request(format!("body: {e}")),
    };
    match decide_request(&state.store, id, approve, &body.reviewer, &body.message).await {
        Ok(r) => HttpResponse::Ok().json(request_json(&r, leakgate_store::now_ms())),
        Err(refusal) => refusal.json(),
    }
}

/// Why an operator's change was refused: the status to answer and what to tell them.
pub(crate) struct Refusal {
    pub status: StatusCode,
    pub message: String,
}

impl Refusal {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Refusal { status, message: message.into() }
    }

    fn bad(message: impl Into<String>) -> Self {
        Refusal::new(StatusCode::BAD_REQUEST, message)
    }

    fn database(e: &leakgate_store::Error, what: &str) -> Self {
        tracing::error!(error = %e, "{what} failed");
        Refusal::new(StatusCode::SERVICE_UNAVAILABLE, "database error")
    }

    fn json(&self) -> HttpResponse {
        HttpResponse::build(self.status).json(json!({"error": self.message}))
    }
}

/// Approves or rejects bypass request `id` as `reviewer` (the API's and the dashboard's
/// shared rules: a reviewer is named, a rejection explains itself, nobody reviews their own).
pub(crate) async fn decide_request(
    store: &leakgate_store::Store,
    id: i64,
    approve: bool,
    reviewer: &str,
    message: &str,
) -> Result<leakgate_store::BypassRequest, Refusal> {
    use leakgate_store::Decision;
    if reviewer.trim().is_empty() {
        return Err(Refusal::bad("name the reviewer"));
    }
    if !approve && message.trim().is_empty() {
        return Err(Refusal::bad("a rejection needs a message for the pusher"));
    }
    match store.decide_bypass_request(id, approve, reviewer, message).await {
        Ok(Decision::Done(r)) => Ok(*r),
        Ok(Decision::NotFound) => {
            Err(Refusal::new(StatusCode::NOT_FOUND, "no such bypass request"))
        }
        Ok(Decision::NotOpen(s)) => {
            Err(Refusal::new(StatusCode::CONFLICT, format!("the request is {s}")))
        }
        Ok(Decision::OwnRequest) => {
            Err(Refusal::new(StatusCode::FORBIDDEN, "the pusher cannot review their own request"))
        }
        Err(e) => Err(Refusal::database(&e, "deciding a bypass request")),
    }
}

/// `GET /api/waivers`: every waiver not removed, with `expired`.
async fn list_waivers(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if let Some(refusal) = refused(&req, &state) {
        return refusal;
    }
    match state.store.waivers().await {
        Ok(rows) => {
            let now = leakgate_store::now_ms();
            let rows: Vec<serde_json::Value> = rows
                .iter()
                .map(|w| {
                    let mut v = serde_json::to_value(w).unwrap_or_default();
                    v["expired"] = json!(w.expired(now));
                    v
                })
                .collect();
            HttpResponse::Ok().json(rows)
        }
        Err(e) => database_error(&e, "listing waivers"),
    }
}

/// A waiver as the API and the dashboard's form describe it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WaiverBody {
    #[serde(default)]
    pub fingerprint: Option<String>,
    #[serde(default)]
    pub finding_id: Option<i64>,
    pub reason: String,
    pub approved_by: String,
    /// `30d`, `12h`, ...
    pub expires_in: String,
    #[serde(default)]
    pub repo: Option<String>,
    #[serde(default)]
    pub path: Option<String>,
}

/// `POST /api/waivers`: 201 with the new waiver's id.
async fn add_waiver(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    if let Some(refusal) = refused(&req, &state) {
        return refusal;
    }
    let body: WaiverBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => return bad_request(format!("body: {e}")),
    };
    match waive(&state.store, body).await {
        Ok(id) => HttpResponse::Created().json(json!({"id": id})),
        Err(refusal) => refusal.json(),
    }
}

/// Adds the waiver `body` describes, once it is complete: a reason, an approver, a duration,
/// a path glob that compiles, and a secret named by fingerprint or finding id.
pub(crate) async fn waive(store: &leakgate_store::Store, body: WaiverBody) -> Result<i64, Refusal> {
    let lasts = humantime::parse_duration(&body.expires_in)
        .map_err(|e| Refusal::bad(format!("expires_in: {e}")))?;
    if body.reason.trim().is_empty() || body.approved_by.trim().is_empty() {
        return Err(Refusal::bad("a waiver needs a reason and approved_by"));
    }
    if let Some(glob) = &body.path {
        globset::Glob::new(glob).map_err(|e| Refusal::bad(format!("path: {e}")))?;
    }
    let fingerprint = match (body.fingerprint, body.finding_id) {
        (Some(fp), None) if fp.len() == 64 && fp.bytes().all(|b| b.is_ascii_hexdigit()) => fp,
        (None, Some(id)) => match store.finding(id).await {
            Ok(Some(f)) => f.fingerprint,
            Ok(None) => return Err(Refusal::new(StatusCode::NOT_FOUND, "no such finding")),
            Err(e) => return Err(Refusal::database(&e, "reading a finding")),
        },
        _ => return Err(Refusal::bad("give a fingerprint (64 hex) or a finding_id")),
    };
    let waiver = leakgate_store::NewWaiver {
        fingerprint,
        repo: body.repo,
        path_glob: body.path,
        reason: body.reason,
        approved_by: body.approved_by,
        lasts,
    };
    store.add_waiver(&waiver).await.map_err(|e| Refusal::database(&e, "adding a waiver"))
}

#[derive(Deserialize)]
struct ByQuery {
    by: Option<String>,
}

/// `DELETE /api/waivers/{id}?by=NAME`.
async fn remove_waiver(
    req: HttpRequest,
    id: web::Path<String>,
    query: web::Query<ByQuery>,
    state: web::Data<AppState>,
) -> HttpResponse {
    if let Some(refusal) = refused(&req, &state) {
        return refusal;
    }
    let Ok(id) = id.parse::<i64>() else { return bad_request("a waiver id is a number") };
    let Some(by) = query.by.as_deref().filter(|b| !b.trim().is_empty()) else {
        return bad_request("say who removes it: ?by=NAME");
    };
    match state.store.remove_waiver(id, by).await {
        Ok(true) => HttpResponse::NoContent().finish(),
        Ok(false) => HttpResponse::NotFound().json(json!({"error": "no such waiver in force"})),
        Err(e) => database_error(&e, "removing a waiver"),
    }
}

/// The exceptions' routes, inside `/api`.
pub fn routes(scope: actix_web::Scope) -> actix_web::Scope {
    scope
        .route("/bypass-requests", web::get().to(list_requests))
        .route("/bypass-requests/{id}/{action}", web::post().to(decide))
        .route("/waivers", web::get().to(list_waivers))
        .route("/waivers", web::post().to(add_waiver))
        .route("/waivers/{id}", web::delete().to(remove_waiver))
}
