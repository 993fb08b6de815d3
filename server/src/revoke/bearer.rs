//! Providers whose token revokes itself with one request: GitLab (or its admin token API),
//! Slack, crates.io, Vercel, Buildkite, Doppler, Discord webhooks, Google and DigitalOcean
//! OAuth.

use reqwest::Method;
use serde_json::json;

use super::http::{classify, code, form, form_body, send, sent};
use super::providers::Call;
use super::{Attempt, Outcome};

/// GitLab: `DELETE /api/v4/personal_access_tokens/self` with the token (personal, project and
/// group access tokens): 204; 401 when the token is not valid.
pub(super) async fn gitlab(call: Call) -> Attempt {
    if let Some(admin) = call.settings.token.as_ref().filter(|t| t.is_set()) {
        // The admin token API (GitLab 17.7+): `DELETE /api/v4/admin/token` with the token in
        // the body revokes any kind of token; 204, or 404 when no such token exists.
        let url = format!("{}/api/v4/admin/token", call.base);
        let body = json!({ "token": call.secret.as_str() });
        let reply = sent!(
            send(&call, Method::DELETE, &url, |r| r
                .header("PRIVATE-TOKEN", admin.expose())
                .json(&body))
            .await
        );
        // 404 is also what a GitLab without the admin token API answers: the token itself
        // then says whether it is still valid.
        if reply.status != 404 {
            return classify(&reply, &[204], &[]);
        }
    }
    let url = format!("{}/api/v4/personal_access_tokens/self", call.base);
    let reply = sent!(
        send(&call, Method::DELETE, &url, |r| r.header("PRIVATE-TOKEN", call.secret.as_str()))
            .await
    );
    classify(&reply, &[204], &[401])
}

/// An organisation's own tokens, reported by a partner alert: `POST` `{"token": ...}` to the
/// internal endpoint configured for the token's type (with its bearer credential when one is
/// set): 200/202/204 revoked; 404/410 unknown or revoked before.
pub(super) async fn partner(call: Call) -> Attempt {
    let body = json!({ "token": call.secret.as_str() });
    let auth = call.settings.token.as_ref().filter(|t| t.is_set()).map(|t| t.expose().to_owned());
    let reply = sent!(
        send(&call, Method::POST, &call.base, |r| {
            let r = r.json(&body);
            match &auth {
                Some(token) => r.bearer_auth(token),
                None => r,
            }
        })
        .await
    );
    classify(&reply, &[200, 202, 204], &[404, 410])
}

/// Slack: `POST /api/auth.revoke` with the token; 200 with `{"ok": true, "revoked": true}`;
/// `invalid_auth`, `token_revoked`, `token_expired`, `account_inactive`, `not_authed` mean
/// the token is dead already.
pub(super) async fn slack(call: Call) -> Attempt {
    let url = format!("{}/api/auth.revoke", call.base);
    let reply =
        sent!(send(&call, Method::POST, &url, |r| r.bearer_auth(call.secret.as_str())).await);
    if reply.status != 200 || reply.html {
        return classify(&reply, &[], &[]);
    }
    let ok = reply.json["ok"].as_bool();
    let error = reply.json["error"].as_str().unwrap_or("");
    let (outcome, summary) = match (ok, reply.json["revoked"].as_bool()) {
        (Some(true), Some(true)) => (Outcome::Revoked, "ok, revoked".to_owned()),
        (Some(false), _)
            if [
                "invalid_auth",
                "token_revoked",
                "token_expired",
                "account_inactive",
                "not_authed",
            ]
            .contains(&error) =>
        {
            (Outcome::AlreadyInvalid, code(error))
        }
        (Some(false), _) if error == "ratelimited" => (Outcome::FailedRetryable, code(error)),
        (None, _) => (Outcome::FailedRetryable, "not the documented JSON answer".to_owned()),
        _ => (
            Outcome::FailedPermanent,
            if error.is_empty() { "not revoked".to_owned() } else { code(error) },
        ),
    };
    Attempt { outcome, status: Some(200), summary, retry_after: reply.retry_after }
}

/// crates.io: `DELETE /api/v1/tokens/current` with the token in `Authorization`: 204;
/// 401/403 when the token is not valid.
pub(super) async fn crates_io(call: Call) -> Attempt {
    let url = format!("{}/api/v1/tokens/current", call.base);
    let reply = sent!(
        send(&call, Method::DELETE, &url, |r| r.header("Authorization", call.secret.as_str()))
            .await
    );
    classify(&reply, &[204], &[401, 403])
}

/// Vercel: `DELETE /v3/user/tokens/current` with the bearer token: 200; 401/403 when invalid.
pub(super) async fn vercel(call: Call) -> Attempt {
    let url = format!("{}/v3/user/tokens/current", call.base);
    let reply =
        sent!(send(&call, Method::DELETE, &url, |r| r.bearer_auth(call.secret.as_str())).await);
    classify(&reply, &[200], &[401, 403])
}

/// Buildkite: `DELETE /v2/access-token` with the bearer token: 204; 401 when invalid.
pub(super) async fn buildkite(call: Call) -> Attempt {
    let url = format!("{}/v2/access-token", call.base);
    let reply =
        sent!(send(&call, Method::DELETE, &url, |r| r.bearer_auth(call.secret.as_str())).await);
    classify(&reply, &[204], &[401])
}

/// Doppler: `POST /v3/auth/revoke` with `{"token": ...}`, authenticated by the token: 200;
/// 401 when invalid.
pub(super) async fn doppler(call: Call) -> Attempt {
    let url = format!("{}/v3/auth/revoke", call.base);
    let body = json!({ "token": call.secret.as_str() });
    let reply = sent!(
        send(&call, Method::POST, &url, |r| r.bearer_auth(call.secret.as_str()).json(&body)).await
    );
    classify(&reply, &[200], &[401])
}

/// Discord webhooks: the secret is the webhook URL; `DELETE` on it: 204; 404 (unknown
/// webhook) or 401 (bad token) when it is gone already. Only Discord's own hosts (or the
/// configured base, for tests) receive it.
pub(super) async fn discord(call: Call) -> Attempt {
    let Some(path_start) = call.secret.find("/api/webhooks/") else {
        return Attempt::without_answer(
            Outcome::Unsupported,
            "a bot token, not a webhook URL: reset it in the Discord developer portal",
        );
    };
    let host_ok = [
        "https://discord.com/",
        "https://discordapp.com/",
        "https://ptb.discord.com/",
        "https://canary.discord.com/",
    ]
    .iter()
    .any(|h| call.secret.starts_with(h));
    if !host_ok {
        return Attempt::without_answer(Outcome::FailedPermanent, "not a Discord host");
    }
    let url = format!("{}{}", call.base, &call.secret[path_start..]);
    let reply = sent!(send(&call, Method::DELETE, &url, |r| r).await);
    classify(&reply, &[204], &[401, 404])
}

/// Google OAuth: `POST /revoke` with the token as a form field: 200; 400 with
/// `invalid_token` when it is not valid (expired, revoked, never issued).
pub(super) async fn google(call: Call) -> Attempt {
    let url = format!("{}/revoke", call.base);
    let reply = sent!(
        send(&call, Method::POST, &url, |r| form(r, &[("token", call.secret.as_str())])).await
    );
    if reply.status == 400 && reply.json["error"].as_str() == Some("invalid_token") {
        return Attempt {
            outcome: Outcome::AlreadyInvalid,
            status: Some(400),
            summary: "invalid_token".into(),
            retry_after: None,
        };
    }
    classify(&reply, &[200], &[])
}

/// DigitalOcean: `POST /v1/oauth/revoke` with the token as a form field, authenticated by
/// it: 200; 401 when it is not valid.
pub(super) async fn digitalocean(call: Call) -> Attempt {
    let url = format!("{}/v1/oauth/revoke", call.base);
    let reply = sent!(
        send(&call, Method::POST, &url, |r| r
            .bearer_auth(call.secret.as_str())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form_body(&[("token", call.secret.as_str())])))
        .await
    );
    classify(&reply, &[200], &[401])
}
