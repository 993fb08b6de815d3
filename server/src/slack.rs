//! Slack interactivity: the buttons on leakgate's Slack notifications (approve or reject a
//! bypass request, confirm a revocation) post to `POST /slack/interactions`. Each request is
//! verified with the app's signing secret (`X-Slack-Signature: v0=<hex HMAC-SHA256 of
//! "v0:<timestamp>:<raw body>">`, compared in constant time) and refused outside a 5-minute
//! window of `X-Slack-Request-Timestamp` (replays). Only Slack users listed in `[slack]
//! approvers` may act, under the leakgate name the list gives them; every action, done or
//! refused, is audited.

use std::collections::BTreeMap;
use std::path::PathBuf;

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::config::Sensitive;
use crate::http::AppState;

/// `[slack]`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SlackConfig {
    /// The Slack app's signing secret; without it the endpoint does not exist.
    pub signing_secret: Option<Sensitive>,
    /// `signing_secret` read from a file.
    pub signing_secret_file: Option<PathBuf>,
    /// Slack user ids allowed to act, and the reviewer name each acts as:
    /// `{ U024BE7LH = "carol" }`.
    pub approvers: BTreeMap<String, String>,
}

/// The action ids of leakgate's buttons.
pub const APPROVE_BYPASS: &str = "leakgate_approve_bypass";
/// Reject a bypass request.
pub const REJECT_BYPASS: &str = "leakgate_reject_bypass";
/// Send a revocation waiting for approval.
pub const REVOKE: &str = "leakgate_revoke";

/// How far a request's timestamp may be from now, in seconds.
const WINDOW: i64 = 300;

/// Whether `signature` signs `timestamp` and `body` under `secret`, within the window of
/// `now` (seconds).
pub fn verify(secret: &[u8], timestamp: &str, body: &[u8], signature: &str, now: i64) -> bool {
    let Ok(at) = timestamp.trim().parse::<i64>() else { return false };
    if (now - at).abs() > WINDOW {
        return false;
    }
    let mut base = format!("v0:{}:", timestamp.trim()).into_bytes();
    base.extend_from_slice(body);
    let expected = format!("v0={}", crate::signature::sign_hex(secret, &base));
    crate::signature::same_secret(signature.trim().as_bytes(), expected.as_bytes())
}

#[derive(Deserialize)]
struct Payload {
    #[serde(rename = "type")]
    kind: String,
    user: SlackUser,
    #[serde(default)]
    actions: Vec<Action>,
}

#[derive(Deserialize)]
struct SlackUser {
    id: String,
}

#[derive(Deserialize)]
struct Action {
    action_id: String,
    #[serde(default)]
    value: String,
}

fn answer(text: &str) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "response_type": "ephemeral", "text": text }))
}

/// `POST /slack/interactions`.
async fn interactions(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let config = &state.config.slack;
    let Some(secret) = config.signing_secret.as_ref().filter(|s| s.is_set()) else {
        return HttpResponse::NotFound().finish();
    };
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("");
    let now = leakgate_store::now_ms() / 1000;
    let signed = verify(
        secret.expose().as_bytes(),
        header("X-Slack-Request-Timestamp"),
        &body,
        header("X-Slack-Signature"),
        now,
    );
    if !signed {
        state.metrics.delivery("slack", "unauthorized");
        return HttpResponse::Unauthorized().json(json!({"error": "bad or stale signature"}));
    }
    let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let Some(payload) = fields
        .iter()
        .find(|(k, _)| k == "payload")
        .and_then(|(_, v)| serde_json::from_str::<Payload>(v).ok())
    else {
        return HttpResponse::BadRequest().json(json!({"error": "no interaction payload"}));
    };
    let Some(action) = payload.actions.first().filter(|_| payload.kind == "block_actions") else {
        return answer("nothing to do");
    };
    let who =
        payload.user.id.chars().filter(char::is_ascii_alphanumeric).take(32).collect::<String>();
    let audit = |kind: &'static str, detail: serde_json::Value| {
        let store = state.store.clone();
        let who = format!("slack:{who}");
        async move { store.audit(kind, &who, &detail.to_string()).await }
    };
    let Some(reviewer) = config.approvers.get(&who) else {
        let _ = audit(
            "slack_action_refused",
            json!({"action": action.action_id, "why": "not an approver"}),
        )
        .await;
        return answer("You are not a leakgate approver ([slack] approvers).");
    };
    let Ok(id) = action.value.trim().parse::<i64>() else {
        return answer("This button names nothing leakgate knows.");
    };
    let text = match action.action_id.as_str() {
        APPROVE_BYPASS | REJECT_BYPASS => {
            let approve = action.action_id == APPROVE_BYPASS;
            let message =
                if approve { String::new() } else { format!("rejected in Slack by {reviewer}") };
            match state.store.decide_bypass_request(id, approve, reviewer, &message).await {
                Ok(leakgate_store::Decision::Done(_)) => {
                    format!(
                        "Bypass request {id} {} by {reviewer}.",
                        if approve { "approved" } else { "rejected" }
                    )
                }
                Ok(leakgate_store::Decision::NotFound) => format!("No bypass request {id}."),
                Ok(leakgate_store::Decision::NotOpen(s)) => format!("Bypass request {id} is {s}."),
                Ok(leakgate_store::Decision::OwnRequest) => {
                    "Nobody reviews their own bypass request.".to_owned()
                }
                Err(e) => {
                    tracing::error!(error = %e, "a Slack decision failed");
                    return HttpResponse::ServiceUnavailable().finish();
                }
            }
        }
        REVOKE => {
            use crate::revoke::run::{approve, Approval};
            match approve(&state.store, &state.config.revoke, id, &format!("slack:{reviewer}"))
                .await
            {
                Ok(Approval::Queued(_)) => {
                    state.wake.notify_waiters();
                    format!("Revocation of finding {id} queued by {reviewer}.")
                }
                Ok(Approval::Settled(r)) => format!("Finding {id}: {}.", r.state.as_str()),
                Ok(Approval::NoFinding) => format!("No finding {id}."),
                Ok(Approval::NoRevocation { rule_id }) => format!("No provider revokes {rule_id}."),
                Ok(Approval::Off { provider }) => format!("[revoke.{provider}] policy is off."),
                Ok(Approval::NoMaterial(_)) => {
                    format!("The key of finding {id} is no longer kept: revoke it by hand.")
                }
                Err(e) => {
                    tracing::error!(error = %e, "a Slack revocation approval failed");
                    return HttpResponse::ServiceUnavailable().finish();
                }
            }
        }
        _ => return answer("This button names nothing leakgate knows."),
    };
    let _ = audit(
        "slack_action",
        json!({"action": action.action_id, "id": id, "as": reviewer, "result": text}),
    )
    .await;
    answer(&text)
}

/// Registers `POST /slack/interactions` (bodies up to 64 KiB).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/slack/interactions")
            .app_data(web::PayloadConfig::new(64 << 10))
            .route(web::post().to(interactions)),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_hold_within_five_minutes_only() {
        let body = b"payload=%7B%7D";
        let base = b"v0:1700000000:payload=%7B%7D";
        let signature = format!("v0={}", crate::signature::sign_hex(b"s3cret", base));
        assert!(verify(b"s3cret", "1700000000", body, &signature, 1_700_000_100));
        assert!(!verify(b"s3cret", "1700000000", body, &signature, 1_700_000_301), "stale");
        assert!(!verify(b"s3cret", "1700000000", body, &signature, 1_699_999_699), "future");
        assert!(!verify(b"other", "1700000000", body, &signature, 1_700_000_000), "wrong key");
        assert!(!verify(b"s3cret", "1700000001", body, &signature, 1_700_000_000), "other time");
        assert!(!verify(b"s3cret", "1700000000", b"payload=x", &signature, 1_700_000_000));
        assert!(!verify(b"s3cret", "soon", body, &signature, 1_700_000_000));
    }
}
