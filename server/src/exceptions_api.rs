//! The operator API's exceptions: bypass requests (list, approve, reject) and waivers (list,
//! add, remove), behind the admin token like the rest of `/api`. The store audits every
//! change; a reviewer is named in the body (the token says only that the caller operates).

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
    use leakgate_store::Decision;
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
    if body.reviewer.trim().is_empty() {
        return bad_request("name the reviewer");
    }
    if !approve && body.message.trim().is_empty() {
        return bad_request("a rejection needs a message for the pusher");
    }
    match state.store.decide_bypass_request(id, approve, &body.reviewer, &body.message).await {
        Ok(Decision::Done(r)) => {
            HttpResponse::Ok().json(request_json(&r, leakgate_store::now_ms()))
        }
        Ok(Decision::NotFound) => {
            HttpResponse::NotFound().json(json!({"error": "no such bypass request"}))
        }
        Ok(Decision::NotOpen(s)) => {
            HttpResponse::Conflict().json(json!({"error": format!("the request is {s}")}))
        }
        Ok(Decision::OwnRequest) => HttpResponse::Forbidden()
            .json(json!({"error": "the pusher cannot review their own request"})),
        Err(e) => database_error(&e, "deciding a bypass request"),
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WaiverBody {
    #[serde(default)]
    fingerprint: Option<String>,
    #[serde(default)]
    finding_id: Option<i64>,
    reason: String,
    approved_by: String,
    /// `30d`, `12h`, ...
    expires_in: String,
    #[serde(default)]
    repo: Option<String>,
    #[serde(default)]
    path: Option<String>,
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
    let lasts = match humantime::parse_duration(&body.expires_in) {
        Ok(d) => d,
        Err(e) => return bad_request(format!("expires_in: {e}")),
    };
    if body.reason.trim().is_empty() || body.approved_by.trim().is_empty() {
        return bad_request("a waiver needs a reason and approved_by");
    }
    if let Some(glob) = &body.path {
        if let Err(e) = globset::Glob::new(glob) {
            return bad_request(format!("path: {e}"));
        }
    }
    let fingerprint = match (body.fingerprint, body.finding_id) {
        (Some(fp), None) if fp.len() == 64 && fp.bytes().all(|b| b.is_ascii_hexdigit()) => fp,
        (None, Some(id)) => match state.store.finding(id).await {
            Ok(Some(f)) => f.fingerprint,
            Ok(None) => return HttpResponse::NotFound().json(json!({"error": "no such finding"})),
            Err(e) => return database_error(&e, "reading a finding"),
        },
        _ => return bad_request("give a fingerprint (64 hex) or a finding_id"),
    };
    let waiver = leakgate_store::NewWaiver {
        fingerprint,
        repo: body.repo,
        path_glob: body.path,
        reason: body.reason,
        approved_by: body.approved_by,
        lasts,
    };
    match state.store.add_waiver(&waiver).await {
        Ok(id) => HttpResponse::Created().json(json!({"id": id})),
        Err(e) => database_error(&e, "adding a waiver"),
    }
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
