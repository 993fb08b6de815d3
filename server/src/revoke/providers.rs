//! The providers, each to its published revocation contract.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use reqwest::{Method, RequestBuilder};
use serde_json::{json, Value};

use sha2::{Digest, Sha512};
use zeroize::Zeroizing;

use super::{guard, Attempt, Outcome, ProviderConfig};

/// What a provider call gets.
pub struct Call {
    /// The secret, trimmed (wiped from memory when the call ends).
    pub secret: Zeroizing<String>,
    /// The API base, without a trailing slash.
    pub base: String,
    /// Whether non-public destinations are allowed.
    pub allow_internal: bool,
    /// Time limit of the call.
    pub timeout: Duration,
    /// The provider's settings (credentials of leakgate's own, region).
    pub settings: ProviderConfig,
}

type Revoke = fn(Call) -> Pin<Box<dyn Future<Output = Attempt> + Send>>;

/// A revocation provider.
pub struct Provider {
    /// Its name, as in rules' `revoke` field and `[revoke.<name>]`.
    pub name: &'static str,
    /// Its public API base.
    pub default_base: &'static str,
    /// What it needs, for `leakgate revoke --help` and the docs.
    pub needs: &'static str,
    /// The call.
    pub revoke: Revoke,
}

/// Every provider leakgate knows, implemented or not.
pub static PROVIDERS: &[Provider] = &[
    Provider {
        name: "github",
        default_base: "https://api.github.com",
        needs: "the token alone",
        revoke: |c| Box::pin(github(c)),
    },
    Provider {
        name: "gitlab",
        default_base: "https://gitlab.com",
        needs: "the token alone",
        revoke: |c| Box::pin(gitlab(c)),
    },
    Provider {
        name: "slack",
        default_base: "https://slack.com",
        needs: "the token alone",
        revoke: |c| Box::pin(slack(c)),
    },
    Provider {
        name: "crates-io",
        default_base: "https://crates.io",
        needs: "the token alone",
        revoke: |c| Box::pin(crates_io(c)),
    },
    Provider {
        name: "vercel",
        default_base: "https://api.vercel.com",
        needs: "the token alone",
        revoke: |c| Box::pin(vercel(c)),
    },
    Provider {
        name: "buildkite",
        default_base: "https://api.buildkite.com",
        needs: "the token alone",
        revoke: |c| Box::pin(buildkite(c)),
    },
    Provider {
        name: "discord",
        default_base: "https://discord.com",
        needs: "the webhook URL",
        revoke: |c| Box::pin(discord(c)),
    },
    Provider {
        name: "doppler",
        default_base: "https://api.doppler.com",
        needs: "the token alone",
        revoke: |c| Box::pin(doppler(c)),
    },
    Provider {
        name: "aws",
        default_base: "https://iam.amazonaws.com",
        needs: "the key id, with its secret or [revoke.aws] credentials",
        revoke: |c| Box::pin(aws(c)),
    },
    Provider {
        name: "google",
        default_base: "https://oauth2.googleapis.com",
        needs: "the token alone",
        revoke: |c| Box::pin(google(c)),
    },
    Provider {
        name: "digitalocean",
        default_base: "https://cloud.digitalocean.com",
        needs: "the token alone",
        revoke: |c| Box::pin(digitalocean(c)),
    },
    Provider {
        name: "heroku",
        default_base: "https://api.heroku.com",
        needs: "the token alone",
        revoke: |c| Box::pin(heroku(c)),
    },
    Provider {
        name: "cloudflare",
        default_base: "https://api.cloudflare.com",
        needs: "the token alone",
        revoke: |c| Box::pin(cloudflare(c)),
    },
    Provider {
        name: "npm",
        default_base: "https://registry.npmjs.org",
        needs: "the token alone",
        revoke: |c| Box::pin(npm(c)),
    },
    Provider {
        name: "huggingface",
        default_base: "https://huggingface.co",
        needs: "nothing: no published revocation API",
        revoke: |_| Box::pin(no_api("invalidate it at https://huggingface.co/settings/tokens")),
    },
    Provider {
        name: "postman",
        default_base: "https://api.getpostman.com",
        needs: "nothing: no published revocation API",
        revoke: |_| {
            Box::pin(no_api(
            "revoke it at https://go.postman.co/settings/me/api-keys (team admins: Manage Postman Keys)",
        ))
        },
    },
];

/// The provider called `name`.
pub fn provider(name: &str) -> Option<&'static Provider> {
    PROVIDERS.iter().find(|p| p.name == name)
}

/// A provider that publishes no API to revoke its keys: the attempt says where to do it.
async fn no_api(where_to: &'static str) -> Attempt {
    Attempt::without_answer(
        Outcome::Unsupported,
        format!("the provider publishes no revocation API; {where_to}"),
    )
}

/// An answer, reduced to what classification needs.
struct Reply {
    status: u16,
    retry_after: Option<Duration>,
    html: bool,
    json: Value,
    /// The body as text (the first 64 KiB), for XML answers.
    text: String,
}

/// Sends one request to a checked destination. `Err` is the attempt to report (no answer).
async fn send(
    call: &Call,
    method: Method,
    url: &str,
    build: impl FnOnce(RequestBuilder) -> RequestBuilder,
) -> Result<Reply, Attempt> {
    send_inner(call, method, url, build, |_| {}).await
}

async fn send_inner(
    call: &Call,
    method: Method,
    url: &str,
    build: impl FnOnce(RequestBuilder) -> RequestBuilder,
    headers_seen: impl FnOnce(&reqwest::header::HeaderMap),
) -> Result<Reply, Attempt> {
    let client = guard::client_for(url, call.allow_internal, call.timeout)
        .await
        .map_err(|e| Attempt::without_answer(Outcome::FailedPermanent, e))?;
    let response = build(client.request(method, url)).send().await.map_err(|e| {
        let what = if e.is_timeout() { "timed out" } else { "no answer" };
        Attempt::without_answer(Outcome::FailedRetryable, format!("{what}: {}", e.without_url()))
    })?;
    let status = response.status().as_u16();
    headers_seen(response.headers());
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        // An hour at most: a provider's answer does not get to park the queue for longer.
        .map(|s| Duration::from_secs(s.min(3600)));
    let html = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    let body = response.bytes().await.map_err(|e| {
        Attempt::without_answer(
            Outcome::FailedRetryable,
            format!("reading the answer: {}", e.without_url()),
        )
    })?;
    let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let text = String::from_utf8_lossy(&body[..body.len().min(64 << 10)]).into_owned();
    Ok(Reply { status, retry_after, html, json, text })
}

/// The common rules: `success` statuses revoke, `invalid` statuses mean the token was dead
/// already; 429, 5xx and HTML pages are retryable; anything else is permanent.
fn classify(reply: &Reply, success: &[u16], invalid: &[u16], expect_json: bool) -> Attempt {
    let status = reply.status;
    // No provider documents an HTML answer: a page is a proxy's or a maintenance page.
    let _ = expect_json;
    let (outcome, summary) = if reply.html {
        (Outcome::FailedRetryable, "an HTML page where the API answer was expected".to_owned())
    } else if success.contains(&status) {
        (Outcome::Revoked, format!("HTTP {status}"))
    } else if invalid.contains(&status) {
        (Outcome::AlreadyInvalid, format!("HTTP {status}: the token is not valid"))
    } else if status == 429 || status >= 500 {
        (Outcome::FailedRetryable, format!("HTTP {status}"))
    } else {
        (Outcome::FailedPermanent, format!("HTTP {status}"))
    };
    Attempt { outcome, status: Some(status), summary, retry_after: reply.retry_after }
}

macro_rules! sent {
    ($e:expr) => {
        match $e {
            Ok(reply) => reply,
            Err(attempt) => return attempt,
        }
    };
}

/// GitHub. Installation tokens (`ghs_`) revoke themselves: `DELETE /installation/token` (204;
/// 401 when already invalid). Every other kind goes to the credential revocation API:
/// `POST /credentials/revoke` with `{"credentials": [...]}` (202 Accepted; processed
/// asynchronously, so a dead token is not told apart).
async fn github(call: Call) -> Attempt {
    let headers = |r: RequestBuilder| {
        r.header("Accept", "application/vnd.github+json")
            .header("X-GitHub-Api-Version", "2022-11-28")
    };
    if call.secret.starts_with("ghs_") {
        let url = format!("{}/installation/token", call.base);
        let reply = sent!(
            send(&call, Method::DELETE, &url, |r| headers(r).bearer_auth(call.secret.as_str()))
                .await
        );
        return classify(&reply, &[204], &[401], false);
    }
    let secrets = [call.secret.as_str()];
    github_credentials(&call, &secrets).await
}

/// GitHub's credential revocation API for up to [`GITHUB_BATCH`] tokens in one request: 202
/// Accepted for all of them. It is unauthenticated on github.com and authenticated on
/// GitHub Enterprise Server (`[revoke.github] token`).
pub async fn github_batch(
    secrets: &[&str],
    base: String,
    settings: ProviderConfig,
    timeout: Duration,
) -> Attempt {
    let call = Call {
        secret: Zeroizing::new(String::new()),
        base,
        allow_internal: settings.allow_internal,
        timeout,
        settings,
    };
    github_credentials(&call, secrets).await
}

/// Tokens per request to GitHub's credential revocation API.
pub const GITHUB_BATCH: usize = 1000;

async fn github_credentials(call: &Call, secrets: &[&str]) -> Attempt {
    let url = format!("{}/credentials/revoke", call.base);
    let body = json!({ "credentials": secrets });
    // Authenticated only on GitHub Enterprise Server (an `api_url` of its own): github.com's
    // endpoint is unauthenticated.
    let token =
        call.settings.token.as_ref().filter(|t| t.is_set() && call.settings.api_url.is_some());
    let reply = sent!(
        send(call, Method::POST, &url, |r| {
            let r = r
                .header("Accept", "application/vnd.github+json")
                .header("X-GitHub-Api-Version", "2022-11-28")
                .json(&body);
            match token {
                Some(t) => r.bearer_auth(t.expose()),
                None => r,
            }
        })
        .await
    );
    // 422 is "Validation failed, or the endpoint has been spammed": not the tokens' fault.
    if reply.status == 422 && !reply.html {
        return Attempt {
            outcome: Outcome::FailedRetryable,
            status: Some(422),
            summary: "HTTP 422: validation failed or rate limited".into(),
            retry_after: reply.retry_after.or(Some(Duration::from_secs(60))),
        };
    }
    classify(&reply, &[202], &[], true)
}

/// GitLab: `DELETE /api/v4/personal_access_tokens/self` with the token (personal, project and
/// group access tokens): 204; 401 when the token is not valid.
async fn gitlab(call: Call) -> Attempt {
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
            return classify(&reply, &[204], &[], false);
        }
    }
    let url = format!("{}/api/v4/personal_access_tokens/self", call.base);
    let reply = sent!(
        send(&call, Method::DELETE, &url, |r| r.header("PRIVATE-TOKEN", call.secret.as_str()))
            .await
    );
    classify(&reply, &[204], &[401], false)
}

/// Slack: `POST /api/auth.revoke` with the token; 200 with `{"ok": true, "revoked": true}`;
/// `invalid_auth`, `token_revoked`, `token_expired`, `account_inactive`, `not_authed` mean
/// the token is dead already.
async fn slack(call: Call) -> Attempt {
    let url = format!("{}/api/auth.revoke", call.base);
    let reply =
        sent!(send(&call, Method::POST, &url, |r| r.bearer_auth(call.secret.as_str())).await);
    if reply.status != 200 || reply.html {
        return classify(&reply, &[], &[], true);
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
async fn crates_io(call: Call) -> Attempt {
    let url = format!("{}/api/v1/tokens/current", call.base);
    let reply = sent!(
        send(&call, Method::DELETE, &url, |r| r.header("Authorization", call.secret.as_str()))
            .await
    );
    classify(&reply, &[204], &[401, 403], false)
}

/// Vercel: `DELETE /v3/user/tokens/current` with the bearer token: 200; 401/403 when invalid.
async fn vercel(call: Call) -> Attempt {
    let url = format!("{}/v3/user/tokens/current", call.base);
    let reply =
        sent!(send(&call, Method::DELETE, &url, |r| r.bearer_auth(call.secret.as_str())).await);
    classify(&reply, &[200], &[401, 403], false)
}

/// Buildkite: `DELETE /v2/access-token` with the bearer token: 204; 401 when invalid.
async fn buildkite(call: Call) -> Attempt {
    let url = format!("{}/v2/access-token", call.base);
    let reply =
        sent!(send(&call, Method::DELETE, &url, |r| r.bearer_auth(call.secret.as_str())).await);
    classify(&reply, &[204], &[401], false)
}

/// Doppler: `POST /v3/auth/revoke` with `{"token": ...}`, authenticated by the token: 200;
/// 401 when invalid.
async fn doppler(call: Call) -> Attempt {
    let url = format!("{}/v3/auth/revoke", call.base);
    let body = json!({ "token": call.secret.as_str() });
    let reply = sent!(
        send(&call, Method::POST, &url, |r| r.bearer_auth(call.secret.as_str()).json(&body)).await
    );
    classify(&reply, &[200], &[401], false)
}

/// Discord webhooks: the secret is the webhook URL; `DELETE` on it: 204; 404 (unknown
/// webhook) or 401 (bad token) when it is gone already. Only Discord's own hosts (or the
/// configured base, for tests) receive it.
async fn discord(call: Call) -> Attempt {
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
    classify(&reply, &[204], &[401, 404], false)
}

/// Google OAuth: `POST /revoke` with the token as a form field: 200; 400 with
/// `invalid_token` when it is not valid (expired, revoked, never issued).
async fn google(call: Call) -> Attempt {
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
    classify(&reply, &[200], &[], false)
}

/// DigitalOcean: `POST /v1/oauth/revoke` with the token as a form field, authenticated by
/// it: 200; 401 when it is not valid.
async fn digitalocean(call: Call) -> Attempt {
    let url = format!("{}/v1/oauth/revoke", call.base);
    let reply = sent!(
        send(&call, Method::POST, &url, |r| r
            .bearer_auth(call.secret.as_str())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form_body(&[("token", call.secret.as_str())])))
        .await
    );
    classify(&reply, &[200], &[401], false)
}

/// Heroku: the account's OAuth authorizations are listed with the token
/// (`GET /oauth/authorizations`, paged with `Range`/`Next-Range`); the one whose access token
/// is exactly the leaked one is deleted (`DELETE /oauth/authorizations/{id}`: 200). 401
/// means the token is not valid. No exact match: nothing is deleted.
async fn heroku(call: Call) -> Attempt {
    let accept = |r: RequestBuilder| {
        r.header("Accept", "application/vnd.heroku+json; version=3")
            .bearer_auth(call.secret.as_str())
    };
    let url = format!("{}/oauth/authorizations", call.base);
    let mut range: Option<String> = None;
    let mut found = None;
    for _page in 0..20 {
        let reply = sent!(
            send_with_headers(&call, Method::GET, &url, &["next-range"], |r| {
                let r = accept(r);
                match &range {
                    Some(next) => r.header("Range", next.as_str()),
                    None => r,
                }
            })
            .await
        );
        let (reply, headers) = reply;
        if !matches!(reply.status, 200 | 206) || !reply.json.is_array() {
            return classify(&reply, &[], &[401], true);
        }
        found = reply.json.as_array().into_iter().flatten().find_map(|a| {
            (a["access_token"]["token"].as_str() == Some(call.secret.as_str()))
                .then(|| a["id"].as_str().map(str::to_owned))
                .flatten()
        });
        match (&found, reply.status, headers.into_iter().next().flatten()) {
            (None, 206, Some(next)) => range = Some(next),
            _ => break,
        }
    }
    let Some(id) = found else {
        return Attempt::without_answer(
            Outcome::FailedPermanent,
            "no authorization of the account carries exactly this token (an account API key: \
             regenerate it in the account settings)",
        );
    };
    let url = format!("{}/oauth/authorizations/{}", call.base, path_segment(&id));
    let reply = sent!(send(&call, Method::DELETE, &url, accept).await);
    classify(&reply, &[200], &[401, 404], false)
}

/// Cloudflare API tokens: `GET /client/v4/user/tokens/verify` with the token gives its id
/// and status; `DELETE /client/v4/user/tokens/{id}` with the same token deletes it (200 and
/// `success: true`; it needs the "API Tokens Write" permission, else 403). A verify answer
/// of 401, error 1000 ("Invalid API Token") or a status other than `active` means dead.
async fn cloudflare(call: Call) -> Attempt {
    let auth = |r: RequestBuilder| r.bearer_auth(call.secret.as_str());
    let url = format!("{}/client/v4/user/tokens/verify", call.base);
    let reply = sent!(send(&call, Method::GET, &url, auth).await);
    let invalid_code = reply.json["errors"]
        .as_array()
        .is_some_and(|errors| errors.iter().any(|e| e["code"].as_i64() == Some(1000)));
    if reply.status == 401 || invalid_code {
        return Attempt {
            outcome: Outcome::AlreadyInvalid,
            status: Some(reply.status),
            summary: format!("HTTP {}: the token is not valid", reply.status),
            retry_after: None,
        };
    }
    if reply.status != 200 || reply.json["success"].as_bool() != Some(true) {
        return classify(&reply, &[], &[], true);
    }
    let status = reply.json["result"]["status"].as_str().unwrap_or("");
    if status != "active" {
        return Attempt {
            outcome: Outcome::AlreadyInvalid,
            status: Some(200),
            summary: format!("the token is {}", code(status)),
            retry_after: None,
        };
    }
    let Some(id) = reply.json["result"]["id"].as_str() else {
        return Attempt {
            outcome: Outcome::FailedRetryable,
            status: Some(200),
            summary: "the verify answer has no token id".into(),
            retry_after: None,
        };
    };
    let url = format!("{}/client/v4/user/tokens/{}", call.base, path_segment(id));
    let reply = sent!(send(&call, Method::DELETE, &url, auth).await);
    if reply.status == 200 && reply.json["success"].as_bool() != Some(true) {
        return Attempt {
            outcome: Outcome::FailedRetryable,
            status: Some(200),
            summary: "HTTP 200 without success: true".into(),
            retry_after: reply.retry_after,
        };
    }
    classify(&reply, &[200], &[404], true)
}

/// npm: the account's tokens are listed with the token (`GET /-/npm/v1/tokens`, paged by
/// `urls.next`); each carries `key`, the SHA-512 of the token in hex. The entry whose key is
/// the leaked token's hash is deleted (`DELETE /-/npm/v1/tokens/token/{key}`: 204). 401 means
/// the token is not valid. No exact match: nothing is deleted.
async fn npm(call: Call) -> Attempt {
    let key = hex::encode(Sha512::digest(call.secret.as_bytes()));
    let auth = |r: RequestBuilder| r.bearer_auth(call.secret.as_str());
    let mut url = format!("{}/-/npm/v1/tokens", call.base);
    let mut found = false;
    for _page in 0..50 {
        let reply = sent!(send(&call, Method::GET, &url, auth).await);
        if reply.status != 200 || !reply.json["objects"].is_array() {
            return classify(&reply, &[], &[401], true);
        }
        found = reply.json["objects"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|t| t["key"].as_str().is_some_and(|k| k.eq_ignore_ascii_case(&key)));
        match reply.json["urls"]["next"].as_str() {
            // Only pages of the same registry: the token goes with every request.
            Some(next) if !found && next.starts_with(&format!("{}/", call.base)) => {
                url = next.to_owned();
            }
            _ => break,
        }
    }
    if !found {
        return Attempt::without_answer(
            Outcome::FailedPermanent,
            "the token list has no token with exactly this token's hash",
        );
    }
    let url = format!("{}/-/npm/v1/tokens/token/{key}", call.base);
    let reply = sent!(send(&call, Method::DELETE, &url, auth).await);
    classify(&reply, &[204, 200], &[401, 404], false)
}

/// AWS IAM: `UpdateAccessKey` to `Inactive` (Query API, SigV4 for service `iam`). With the
/// leaked pair (the key id and its secret, as `ID\nSECRET`) the key deactivates itself; with
/// only the id (or a pair whose secret is not the key's: `SignatureDoesNotMatch`),
/// `[revoke.aws]` credentials find its user (`GetAccessKeyLastUsed`) and deactivate it.
/// `NoSuchEntity`, and `InvalidClientTokenId` for the leaked key itself, mean the key is dead
/// already; leakgate's own credentials being refused is a permanent failure, not a dead key.
async fn aws(call: Call) -> Attempt {
    let mut parts = call.secret.split('\n').map(str::trim);
    let key_id = parts.next().unwrap_or("").to_owned();
    let pair_secret = parts.next().filter(|s| !s.is_empty()).map(|s| Zeroizing::new(s.to_owned()));
    if !key_id.starts_with("AKIA") || key_id.len() != 20 {
        return Attempt::without_answer(
            Outcome::Unsupported,
            "only long-term IAM user keys (AKIA...) can be deactivated, with their key id",
        );
    }
    let region = call.settings.region.clone().unwrap_or_else(|| "us-east-1".to_owned());
    let deactivate =
        [("Action", "UpdateAccessKey"), ("AccessKeyId", key_id.as_str()), ("Status", "Inactive")];
    if let Some(secret) = &pair_secret {
        let reply = sent!(aws_query(&call, &region, &key_id, secret, &deactivate).await);
        let attempt = aws_classify(&reply, Signer::Leaked);
        if !attempt.summary.ends_with("SignatureDoesNotMatch") {
            return attempt;
        }
    }
    let (Some(admin_id), Some(admin_secret)) = (
        call.settings.access_key_id.clone(),
        call.settings.secret_access_key.as_ref().filter(|s| s.is_set()),
    ) else {
        return Attempt::without_answer(
            Outcome::Unsupported,
            if pair_secret.is_some() {
                "the secret found with the key id is not its secret, and [revoke.aws] has no credentials"
            } else {
                "the key id was found without its secret and [revoke.aws] has no credentials"
            },
        );
    };
    let admin_secret = Zeroizing::new(admin_secret.expose().to_owned());
    let params = [("Action", "GetAccessKeyLastUsed"), ("AccessKeyId", key_id.as_str())];
    let reply = sent!(aws_query(&call, &region, &admin_id, &admin_secret, &params).await);
    if reply.status != 200 || reply.html {
        return aws_classify(&reply, Signer::Configured);
    }
    let Some(user) = xml_text(&reply.text, "UserName") else {
        return Attempt {
            outcome: Outcome::FailedRetryable,
            status: Some(200),
            summary: "GetAccessKeyLastUsed answered without a UserName".into(),
            retry_after: None,
        };
    };
    let mut params = deactivate.to_vec();
    params.push(("UserName", user.as_str()));
    let reply = sent!(aws_query(&call, &region, &admin_id, &admin_secret, &params).await);
    aws_classify(&reply, Signer::Configured)
}

/// Whose credentials signed an IAM call.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Signer {
    /// The leaked key itself.
    Leaked,
    /// `[revoke.aws]`.
    Configured,
}

/// One signed IAM Query API call.
async fn aws_query(
    call: &Call,
    region: &str,
    key_id: &str,
    secret: &str,
    params: &[(&str, &str)],
) -> Result<Reply, Attempt> {
    use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
    let mut form: Vec<(&str, &str)> = params.to_vec();
    form.push(("Version", "2010-05-08"));
    let body = form_body(&form);
    let url = format!("{}/", call.base);
    let content_type = "application/x-www-form-urlencoded; charset=utf-8";
    let identity =
        aws_credential_types::Credentials::new(key_id, secret, None, None, "leakgate").into();
    let signed = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("iam")
        .time(std::time::SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| Attempt::without_answer(Outcome::FailedPermanent, format!("signing: {e}")))
        .and_then(|params| {
            let request = SignableRequest::new(
                "POST",
                &url,
                [("content-type", content_type)].into_iter(),
                SignableBody::Bytes(body.as_bytes()),
            )
            .map_err(|e| {
                Attempt::without_answer(Outcome::FailedPermanent, format!("signing: {e}"))
            })?;
            sign(request, &params.into()).map(|s| s.into_parts().0).map_err(|e| {
                Attempt::without_answer(Outcome::FailedPermanent, format!("signing: {e}"))
            })
        })?;
    let headers: Vec<(String, String)> =
        signed.headers().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
    send(call, Method::POST, &url, |mut r| {
        for (k, v) in &headers {
            r = r.header(k.as_str(), v.as_str());
        }
        r.header("content-type", content_type).body(body.clone())
    })
    .await
}

/// `r` with `pairs` as its form body.
fn form(r: RequestBuilder, pairs: &[(&str, &str)]) -> RequestBuilder {
    r.header("content-type", "application/x-www-form-urlencoded").body(form_body(pairs))
}

/// `application/x-www-form-urlencoded` text of `pairs`.
fn form_body(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", form_escape(k), form_escape(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Percent-encodes everything but RFC 3986's unreserved characters, as SigV4 expects.
fn form_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// IAM's answers: 200 is done; the error `Code` decides the rest. The summary ends with the
/// code.
fn aws_classify(reply: &Reply, signer: Signer) -> Attempt {
    if reply.status == 200 && !reply.html {
        return Attempt {
            outcome: Outcome::Revoked,
            status: Some(200),
            summary: "HTTP 200: the key is Inactive".into(),
            retry_after: None,
        };
    }
    let code = code(&xml_text(&reply.text, "Code").unwrap_or_default());
    let outcome = match code.as_str() {
        "NoSuchEntity" => Outcome::AlreadyInvalid,
        "InvalidClientTokenId" if signer == Signer::Leaked => Outcome::AlreadyInvalid,
        "InvalidClientTokenId" | "SignatureDoesNotMatch" | "AccessDenied" => {
            Outcome::FailedPermanent
        }
        "Throttling" | "ServiceUnavailable" | "InternalFailure" | "RequestExpired" => {
            Outcome::FailedRetryable
        }
        _ => return classify(reply, &[], &[], false),
    };
    let whose = if signer == Signer::Configured { "[revoke.aws] credentials: " } else { "" };
    Attempt {
        outcome,
        status: Some(reply.status),
        summary: format!("HTTP {}: {whose}{code}", reply.status),
        retry_after: reply.retry_after,
    }
}

/// The text of the first `<tag>` element (IAM's XML answers are flat and unescaped where
/// leakgate reads them: user names and error codes).
fn xml_text(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{tag}>"))? + start;
    Some(xml[start..end].trim().to_owned()).filter(|s| !s.is_empty())
}

/// Provider text (an error code, a status) reduced to what an audit line and an issue may
/// show: at most 64 characters of `[A-Za-z0-9_.:-]`, so that an answer echoing the request
/// cannot carry the secret along.
fn code(text: &str) -> String {
    let kept: String = text
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-'))
        .take(64)
        .collect();
    if kept.is_empty() {
        "unknown".into()
    } else {
        kept
    }
}

/// A value safe to put in a URL path segment (ids from provider answers).
fn path_segment(id: &str) -> String {
    form_escape(id)
}

/// Like `send`, also returning the values of the named response headers.
async fn send_with_headers(
    call: &Call,
    method: Method,
    url: &str,
    names: &[&str],
    build: impl FnOnce(RequestBuilder) -> RequestBuilder,
) -> Result<(Reply, Vec<Option<String>>), Attempt> {
    let mut captured = Vec::new();
    let reply = send_inner(call, method, url, build, |headers| {
        captured = names
            .iter()
            .map(|n| headers.get(*n).and_then(|v| v.to_str().ok()).map(str::to_owned))
            .collect();
    })
    .await?;
    Ok((reply, captured))
}
