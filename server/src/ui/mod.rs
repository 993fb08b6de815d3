//! The dashboard under `/ui/`: server-rendered HTML (maud), no script. It reads what the
//! store keeps and offers the operator API's actions (approve a revocation, decide a bypass
//! request, add or remove a waiver), through the same code paths, so the same rules and
//! audit events apply.
//!
//! Access: the operator token in an `Authorization: Bearer` header, or a login cookie that the
//! login form sets after checking the token ([`session`]). Every form carries the session's
//! token (CSRF), the cookie is `HttpOnly` and `SameSite=Strict`, and every page is sent with a
//! content security policy that allows no script, no inline style and no framing. Without a
//! configured admin token the dashboard does not exist (404), like the API.

pub mod chart;
pub mod pages;
pub mod session;

use std::time::Duration;

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use leakgate_store::{SecretFilter, Store};
use maud::Markup;
use serde::Deserialize;

use crate::http::AppState;
use pages::{SecretsQuery, Viewer};

/// The overview's window.
pub const OVERVIEW_DAYS: i64 = 30;
/// Rows per page of secrets unless asked; at most [`MAX_ROWS`].
pub const DEFAULT_ROWS: i64 = 200;
/// The most rows one page lists.
pub const MAX_ROWS: i64 = 10_000;
/// Decided bypass requests shown under the open ones.
pub const DECIDED_REQUESTS: usize = 100;
/// The furthest a page starts.
pub const MAX_OFFSET: i64 = 10_000_000;
/// Sign-in attempts per minute per replica (a token cannot be guessed online).
pub const LOGINS_PER_MINUTE: u32 = 30;

const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

fn html(status: StatusCode, markup: Markup) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(markup.into_string())
}

fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

fn now_secs() -> u64 {
    u64::try_from(leakgate_store::now_ms() / 1000).unwrap_or(0)
}

fn cookie<'r>(req: &'r HttpRequest, name: &str) -> Option<&'r str> {
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Who the request comes from, or the answer for a stranger: 404 without an admin token,
/// 401 for a wrong bearer token, and for anyone else the login form (a redirect to it for a
/// page, 401 for an action).
fn viewer(req: &HttpRequest, state: &AppState, page: bool) -> Result<Viewer, Box<HttpResponse>> {
    let Some(token) = crate::http::admin_token(state) else {
        return Err(Box::new(HttpResponse::NotFound().finish()));
    };
    if let Some(genuine) = crate::http::bearer_is(req, token) {
        return if genuine {
            Ok(Viewer::default())
        } else {
            Err(Box::new(
                HttpResponse::Unauthorized()
                    .insert_header((header::WWW_AUTHENTICATE, "Bearer"))
                    .body("the dashboard needs the admin token"),
            ))
        };
    }
    if let Some(s) =
        cookie(req, session::COOKIE).and_then(|v| session::verify(token, v, now_secs()))
    {
        return Ok(Viewer { name: Some(s.name), csrf: Some(s.csrf), notice: None });
    }
    if page {
        let next = req.uri().path_and_query().map_or("/ui/", |p| p.as_str());
        Err(Box::new(see_other(&format!(
            "/ui/login?{}",
            serde_urlencoded::to_string([("next", next)]).unwrap_or_default()
        ))))
    } else {
        Err(Box::new(HttpResponse::Unauthorized().body("sign in at /ui/login")))
    }
}

/// An action's caller and their name: a session's form must carry its token; a bearer
/// caller names themselves in `name_field`.
fn actor(
    req: &HttpRequest,
    state: &AppState,
    form: &[(String, String)],
    name_field: &str,
) -> Result<(Viewer, String), Box<HttpResponse>> {
    let viewer = viewer(req, state, false)?;
    if let Some(expected) = &viewer.csrf {
        let given = field(form, "csrf").unwrap_or("");
        if !crate::signature::same_secret(given.as_bytes(), expected.as_bytes()) {
            return Err(Box::new(html(
                StatusCode::FORBIDDEN,
                pages::problem(&viewer, "Refused", "This form is stale or was not sent from the dashboard: reload the page and try again."),
            )));
        }
    }
    let name = match &viewer.name {
        Some(name) => name.clone(),
        None => match field(form, name_field).map(str::trim).filter(|n| session::valid_name(n)) {
            Some(name) => name.to_owned(),
            None => {
                return Err(Box::new(html(
                    StatusCode::BAD_REQUEST,
                    pages::problem(
                        &viewer,
                        "Refused",
                        &format!("Name yourself in `{name_field}`."),
                    ),
                )))
            }
        },
    };
    Ok((viewer, name))
}

fn form(body: &[u8]) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes(body).unwrap_or_default()
}

fn field<'f>(form: &'f [(String, String)], name: &str) -> Option<&'f str> {
    form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).filter(|v| !v.trim().is_empty())
}

fn database_error(viewer: &Viewer, e: &leakgate_store::Error, what: &str) -> HttpResponse {
    tracing::error!(error = %e, "dashboard: {what} failed");
    html(
        StatusCode::SERVICE_UNAVAILABLE,
        pages::problem(viewer, "Database error", "The database did not answer; try again."),
    )
}

/// The fixed texts an action's redirect may ask a page to show.
fn notice(done: Option<&str>) -> Option<&'static str> {
    Some(match done? {
        "revocation-queued" => "Revocation queued.",
        "revocation-settled" => "Nothing to send: the key is revoked or known dead already.",
        "check-queued" => "Validity check queued: reload in a moment.",
        "approved" => "Bypass request approved.",
        "rejected" => "Bypass request rejected.",
        "waiver-added" => "Waiver added.",
        "waiver-removed" => "Waiver removed.",
        _ => return None,
    })
}

#[derive(Deserialize)]
struct Done {
    done: Option<String>,
}

fn is_fingerprint(fp: &str) -> bool {
    fp.len() == 64 && fp.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The data and markup of each page, apart from HTTP: what the handlers serve and what the
/// benchmark measures.
pub mod render {
    use super::*;

    /// The overview.
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn overview(store: &Store, viewer: &Viewer) -> Result<Markup, leakgate_store::Error> {
        let now = leakgate_store::now_ms();
        let since = (now / 86_400_000 - OVERVIEW_DAYS + 1) * 86_400_000;
        let o = store.overview(since).await?;
        Ok(pages::overview(viewer, &o, now, OVERVIEW_DAYS))
    }

    /// A page of secrets.
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn secrets(
        store: &Store,
        viewer: &Viewer,
        q: &SecretsQuery,
    ) -> Result<Markup, leakgate_store::Error> {
        let filter = SecretFilter {
            open_only: !q.all,
            repo: Some(q.repo.clone()).filter(|r| !r.is_empty()),
            rule: Some(q.rule.clone()).filter(|r| !r.is_empty()),
            limit: q.limit,
            offset: q.offset,
        };
        let (rows, total) = store.secrets(&filter).await?;
        Ok(pages::secrets(viewer, q, &rows, total, leakgate_store::now_ms()))
    }

    /// One secret's page; `None` when the store knows nothing of it.
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn secret(
        store: &Store,
        viewer: &Viewer,
        fingerprint: &str,
        validating: bool,
    ) -> Result<Option<Markup>, leakgate_store::Error> {
        let sightings = store.sightings(fingerprint, 1000).await?;
        let revocation = store.revocation(fingerprint).await?;
        let validation = store.validation(fingerprint).await?;
        if sightings.is_empty() && revocation.is_none() && validation.is_none() {
            return Ok(None);
        }
        let attempts = store.revocation_attempts(fingerprint).await?;
        let issues = store.issue_links(fingerprint).await?;
        let waivers: Vec<_> =
            store.waivers().await?.into_iter().filter(|w| w.fingerprint == fingerprint).collect();
        let view = pages::SecretView {
            fingerprint,
            sightings: &sightings,
            revocation: revocation.as_ref(),
            attempts: &attempts,
            validation: validation.as_ref(),
            issues: &issues,
            waivers: &waivers,
            validating,
        };
        Ok(Some(pages::secret(viewer, &view, leakgate_store::now_ms())))
    }

    /// The revocations, optionally in one state.
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn revocations(
        store: &Store,
        viewer: &Viewer,
        state: &str,
    ) -> Result<Markup, leakgate_store::Error> {
        let rows = store.revocation_rows(Some(state).filter(|s| !s.is_empty()), 1000).await?;
        Ok(pages::revocations(viewer, state, &rows))
    }

    /// Bypass requests, bypasses and waivers.
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn exceptions(
        store: &Store,
        viewer: &Viewer,
    ) -> Result<Markup, leakgate_store::Error> {
        // Every open request, then the latest decided ones: a flood of old requests cannot
        // push an open one off the page.
        let mut requests = store.bypass_requests(Some("open")).await?;
        let decided = store.bypass_requests(None).await?;
        requests.extend(decided.into_iter().filter(|r| r.state != "open").take(DECIDED_REQUESTS));
        let bypasses = store.bypasses(500).await?;
        let waivers = store.waivers().await?;
        Ok(pages::exceptions(viewer, &requests, &bypasses, &waivers, leakgate_store::now_ms()))
    }
}

fn served(
    viewer: &Viewer,
    what: &str,
    page: Result<Markup, leakgate_store::Error>,
) -> HttpResponse {
    match page {
        Ok(markup) => html(StatusCode::OK, markup),
        Err(e) => database_error(viewer, &e, what),
    }
}

async fn overview(
    req: HttpRequest,
    q: web::Query<Done>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let mut viewer = match viewer(&req, &state, true) {
        Ok(v) => v,
        Err(refusal) => return *refusal,
    };
    viewer.notice = notice(q.done.as_deref());
    served(&viewer, "the overview", render::overview(&state.store, &viewer).await)
}

#[derive(Deserialize)]
struct SecretsParams {
    state: Option<String>,
    repo: Option<String>,
    rule: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

async fn secrets(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let viewer = match viewer(&req, &state, true) {
        Ok(v) => v,
        Err(refusal) => return *refusal,
    };
    let Ok(p) = web::Query::<SecretsParams>::from_query(req.query_string()) else {
        return html(
            StatusCode::BAD_REQUEST,
            pages::problem(&viewer, "Bad request", "limit and offset are numbers"),
        );
    };
    let q = SecretsQuery {
        all: p.state.as_deref() == Some("all"),
        repo: p.repo.clone().unwrap_or_default(),
        rule: p.rule.clone().unwrap_or_default(),
        limit: p.limit.unwrap_or(DEFAULT_ROWS).clamp(1, MAX_ROWS),
        offset: p.offset.unwrap_or(0).clamp(0, MAX_OFFSET),
    };
    served(&viewer, "listing secrets", render::secrets(&state.store, &viewer, &q).await)
}

async fn secret(
    req: HttpRequest,
    fp: web::Path<String>,
    q: web::Query<Done>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let mut viewer = match viewer(&req, &state, true) {
        Ok(v) => v,
        Err(refusal) => return *refusal,
    };
    viewer.notice = notice(q.done.as_deref());
    let not_found = |viewer: &Viewer| {
        html(
            StatusCode::NOT_FOUND,
            pages::problem(viewer, "Not found", "No secret has this fingerprint."),
        )
    };
    if !is_fingerprint(&fp) {
        return not_found(&viewer);
    }
    let validating = state.config.validate.enabled;
    match render::secret(&state.store, &viewer, &fp.to_ascii_lowercase(), validating).await {
        Ok(Some(markup)) => html(StatusCode::OK, markup),
        Ok(None) => not_found(&viewer),
        Err(e) => database_error(&viewer, &e, "reading a secret"),
    }
}

#[derive(Deserialize)]
struct StateParam {
    state: Option<String>,
}

async fn revocations(
    req: HttpRequest,
    q: web::Query<StateParam>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let viewer = match viewer(&req, &state, true) {
        Ok(v) => v,
        Err(refusal) => return *refusal,
    };
    let wanted = q.state.as_deref().unwrap_or("");
    if !wanted.is_empty() && leakgate_store::RevocationState::parse(wanted).is_none() {
        return html(
            StatusCode::BAD_REQUEST,
            pages::problem(&viewer, "Bad request", "No such revocation state."),
        );
    }
    served(&viewer, "listing revocations", render::revocations(&state.store, &viewer, wanted).await)
}

async fn exceptions(
    req: HttpRequest,
    q: web::Query<Done>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let mut viewer = match viewer(&req, &state, true) {
        Ok(v) => v,
        Err(refusal) => return *refusal,
    };
    viewer.notice = notice(q.done.as_deref());
    served(&viewer, "listing exceptions", render::exceptions(&state.store, &viewer).await)
}

/// `POST /ui/secrets/{fp}/revoke`: the API's approval of a waiting revocation.
async fn approve_revocation(
    req: HttpRequest,
    fp: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    use crate::revoke::run::{approve, Approval};
    let form = form(&body);
    let (viewer, name) = match actor(&req, &state, &form, "reviewer") {
        Ok(a) => a,
        Err(refusal) => return *refusal,
    };
    let refuse =
        |status, message: &str| html(status, pages::problem(&viewer, "Not approved", message));
    let Some(id) = field(&form, "finding_id").and_then(|v| v.parse::<i64>().ok()) else {
        return refuse(StatusCode::BAD_REQUEST, "Which finding?");
    };
    // The finding must be one of this secret's.
    match state.store.finding(id).await {
        Ok(Some(f)) if f.fingerprint.eq_ignore_ascii_case(&fp) => {}
        Ok(_) => return refuse(StatusCode::NOT_FOUND, "No such finding of this secret."),
        Err(e) => return database_error(&viewer, &e, "reading a finding"),
    }
    let back =
        |done: &str| see_other(&format!("/ui/secrets/{}?done={done}", fp.to_ascii_lowercase()));
    match approve(&state.store, &state.config.revoke, id, &name).await {
        Ok(Approval::Queued(_)) => {
            state.wake.notify_waiters();
            back("revocation-queued")
        }
        Ok(Approval::Settled(_)) => back("revocation-settled"),
        Ok(Approval::NoFinding) => refuse(StatusCode::NOT_FOUND, "No such finding."),
        Ok(Approval::NoRevocation { rule_id }) => {
            refuse(StatusCode::UNPROCESSABLE_ENTITY, &format!("No provider revokes rule {rule_id}."))
        }
        Ok(Approval::Off { provider }) => {
            refuse(StatusCode::CONFLICT, &format!("[revoke.{provider}] policy is off."))
        }
        Ok(Approval::NoMaterial(row)) => refuse(
            StatusCode::CONFLICT,
            &format!("The key's encrypted material is gone: revoke it with `leakgate revoke --provider {}` (key on stdin).", row.provider),
        ),
        Err(e) => database_error(&viewer, &e, "approving a revocation"),
    }
}

/// `POST /ui/secrets/{fp}/validate`: the API's "check now".
async fn validate_now(
    req: HttpRequest,
    fp: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let form = form(&body);
    let (viewer, name) = match actor(&req, &state, &form, "by") {
        Ok(a) => a,
        Err(refusal) => return *refusal,
    };
    let refuse =
        |status, message: &str| html(status, pages::problem(&viewer, "Not checked", message));
    if !is_fingerprint(&fp) {
        return refuse(StatusCode::NOT_FOUND, "No secret has this fingerprint.");
    }
    if !state.config.validate.enabled {
        return refuse(StatusCode::CONFLICT, "[validate] enabled is false.");
    }
    let fp = fp.to_ascii_lowercase();
    match crate::http::recheck(&state.store, &fp, &name).await {
        Ok(Some(_)) => {
            state.wake.notify_waiters();
            see_other(&format!("/ui/secrets/{fp}?done=check-queued"))
        }
        Ok(None) => refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            "No validation of this key is kept: check it with `leakgate validate` (key on stdin).",
        ),
        Err(e) => database_error(&viewer, &e, "requesting a validation"),
    }
}

/// `POST /ui/bypass-requests/{id}/approve|reject`.
async fn decide(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let form = form(&body);
    let (viewer, name) = match actor(&req, &state, &form, "reviewer") {
        Ok(a) => a,
        Err(refusal) => return *refusal,
    };
    let (id, action) = path.into_inner();
    let approve = match action.as_str() {
        "approve" => true,
        "reject" => false,
        _ => return HttpResponse::NotFound().finish(),
    };
    let Ok(id) = id.parse::<i64>() else { return HttpResponse::NotFound().finish() };
    let message = field(&form, "message").unwrap_or("");
    match crate::exceptions_api::decide_request(&state.store, id, approve, &name, message).await {
        Ok(_) => see_other(&format!(
            "/ui/exceptions?done={}",
            if approve { "approved" } else { "rejected" }
        )),
        Err(refusal) => {
            html(refusal.status, pages::problem(&viewer, "Not decided", &refusal.message))
        }
    }
}

/// `POST /ui/waivers`.
async fn add_waiver(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let form = form(&body);
    let (viewer, name) = match actor(&req, &state, &form, "approved_by") {
        Ok(a) => a,
        Err(refusal) => return *refusal,
    };
    let fingerprint = field(&form, "fingerprint").map(str::to_ascii_lowercase);
    let waiver = crate::exceptions_api::WaiverBody {
        fingerprint: fingerprint.clone(),
        finding_id: None,
        reason: field(&form, "reason").unwrap_or("").to_owned(),
        approved_by: name,
        expires_in: field(&form, "expires_in").unwrap_or("").to_owned(),
        repo: field(&form, "repo").map(str::to_owned),
        path: field(&form, "path").map(str::to_owned),
    };
    match crate::exceptions_api::waive(&state.store, waiver).await {
        Ok(_) => match fingerprint {
            Some(fp) => see_other(&format!("/ui/secrets/{fp}?done=waiver-added")),
            None => see_other("/ui/exceptions?done=waiver-added"),
        },
        Err(refusal) => {
            html(refusal.status, pages::problem(&viewer, "Waiver not added", &refusal.message))
        }
    }
}

/// `POST /ui/waivers/{id}/remove`.
async fn remove_waiver(
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let form = form(&body);
    let (viewer, name) = match actor(&req, &state, &form, "by") {
        Ok(a) => a,
        Err(refusal) => return *refusal,
    };
    let Ok(id) = id.parse::<i64>() else { return HttpResponse::NotFound().finish() };
    match state.store.remove_waiver(id, &name).await {
        Ok(true) => see_other("/ui/exceptions?done=waiver-removed"),
        Ok(false) => html(
            StatusCode::NOT_FOUND,
            pages::problem(&viewer, "Not removed", "No such waiver in force."),
        ),
        Err(e) => database_error(&viewer, &e, "removing a waiver"),
    }
}

#[derive(Deserialize)]
struct Next {
    next: Option<String>,
}

/// Where a login may return to: a dashboard page, never another site.
fn safe_next(next: Option<&str>) -> &str {
    next.filter(|n| {
        n.starts_with("/ui/") && !n.starts_with("//") && !n.contains(['\\', '\r', '\n'])
    })
    .unwrap_or("/ui/")
}

async fn login_form(q: web::Query<Next>, state: web::Data<AppState>) -> HttpResponse {
    if crate::http::admin_token(&state).is_none() {
        return HttpResponse::NotFound().finish();
    }
    html(StatusCode::OK, pages::login(safe_next(q.next.as_deref()), None))
}

async fn login(body: web::Bytes, state: web::Data<AppState>) -> HttpResponse {
    let Some(token) = crate::http::admin_token(&state) else {
        return HttpResponse::NotFound().finish();
    };
    let form = form(&body);
    let next = safe_next(field(&form, "next")).to_owned();
    if let Some(wait) = state.ui_logins.check(LOGINS_PER_MINUTE) {
        return HttpResponse::TooManyRequests()
            .insert_header((header::RETRY_AFTER, wait.as_secs().max(1).to_string()))
            .body("too many sign-in attempts; try again in a minute");
    }
    let name = field(&form, "name").map(str::trim).unwrap_or("");
    let given = field(&form, "token").unwrap_or("");
    if !crate::signature::same_secret(given.as_bytes(), token) {
        tracing::warn!("dashboard: a sign-in with a wrong token");
        return html(
            StatusCode::UNAUTHORIZED,
            pages::login(&next, Some("That is not the operator token.")),
        );
    }
    if !session::valid_name(name) {
        return html(
            StatusCode::BAD_REQUEST,
            pages::login(&next, Some("Give your name (up to 64 characters).")),
        );
    }
    let value = session::issue(token, name, now_secs());
    let detail = serde_json::json!({ "from": "dashboard" }).to_string();
    if let Err(e) = state.store.audit("ui_login", name, &detail).await {
        return database_error(&Viewer::default(), &e, "recording a sign-in");
    }
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, next))
        .insert_header((
            header::SET_COOKIE,
            format!(
                "{}={value}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age={}",
                session::COOKIE,
                session::LIFETIME_SECS
            ),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// Signing out clears the cookie, whatever state it is in (a stale one too).
async fn logout() -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/ui/login"))
        .insert_header((
            header::SET_COOKIE,
            format!("{}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0", session::COOKIE),
        ))
        .finish()
}

async fn style() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/css; charset=utf-8"))
        .insert_header((
            header::CACHE_CONTROL,
            format!("max-age={}", Duration::from_secs(3600).as_secs()),
        ))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(pages::STYLE.0)
}

/// Registers `/ui/...`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/ui", web::get().to(|| async { see_other("/ui/") })).service(
        web::scope("/ui")
            .route("/", web::get().to(overview))
            .route("/style.css", web::get().to(style))
            .route("/login", web::get().to(login_form))
            .route("/login", web::post().to(login))
            .route("/logout", web::post().to(logout))
            .route("/secrets", web::get().to(secrets))
            .route("/secrets/{fp}", web::get().to(secret))
            .route("/secrets/{fp}/revoke", web::post().to(approve_revocation))
            .route("/secrets/{fp}/validate", web::post().to(validate_now))
            .route("/revocations", web::get().to(revocations))
            .route("/exceptions", web::get().to(exceptions))
            .route("/bypass-requests/{id}/{action}", web::post().to(decide))
            .route("/waivers", web::post().to(add_waiver))
            .route("/waivers/{id}/remove", web::post().to(remove_waiver)),
    );
}
