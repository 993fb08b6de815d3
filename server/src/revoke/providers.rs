//! The providers, each to its published revocation contract.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use reqwest::{Method, RequestBuilder};
use serde_json::{json, Value};

use super::{guard, Attempt, Outcome};

/// What a provider call gets.
pub struct Call {
    /// The secret, trimmed.
    pub secret: String,
    /// The API base, without a trailing slash.
    pub base: String,
    /// Whether non-public destinations are allowed.
    pub allow_internal: bool,
    /// Time limit of the call.
    pub timeout: Duration,
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
        needs: "the key id and its secret",
        revoke: |c| Box::pin(unsupported(c)),
    },
    Provider {
        name: "google",
        default_base: "https://oauth2.googleapis.com",
        needs: "the token alone",
        revoke: |c| Box::pin(unsupported(c)),
    },
    Provider {
        name: "digitalocean",
        default_base: "https://cloud.digitalocean.com",
        needs: "the token alone",
        revoke: |c| Box::pin(unsupported(c)),
    },
    Provider {
        name: "heroku",
        default_base: "https://api.heroku.com",
        needs: "the token alone",
        revoke: |c| Box::pin(unsupported(c)),
    },
    Provider {
        name: "cloudflare",
        default_base: "https://api.cloudflare.com",
        needs: "the token alone",
        revoke: |c| Box::pin(unsupported(c)),
    },
    Provider {
        name: "npm",
        default_base: "https://registry.npmjs.org",
        needs: "the token alone",
        revoke: |c| Box::pin(unsupported(c)),
    },
    Provider {
        name: "huggingface",
        default_base: "https://huggingface.co",
        needs: "the token alone",
        revoke: |c| Box::pin(unsupported(c)),
    },
    Provider {
        name: "postman",
        default_base: "https://api.getpostman.com",
        needs: "the token alone",
        revoke: |c| Box::pin(unsupported(c)),
    },
];

/// The provider called `name`.
pub fn provider(name: &str) -> Option<&'static Provider> {
    PROVIDERS.iter().find(|p| p.name == name)
}

async fn unsupported(_call: Call) -> Attempt {
    Attempt::without_answer(
        Outcome::Unsupported,
        "revocation for this provider is not implemented yet",
    )
}

/// An answer, reduced to what classification needs.
struct Reply {
    status: u16,
    retry_after: Option<Duration>,
    html: bool,
    json: Value,
}

/// Sends one request to a checked destination. `Err` is the attempt to report (no answer).
async fn send(
    call: &Call,
    method: Method,
    url: &str,
    build: impl FnOnce(RequestBuilder) -> RequestBuilder,
) -> Result<Reply, Attempt> {
    let client = guard::client_for(url, call.allow_internal, call.timeout)
        .await
        .map_err(|e| Attempt::without_answer(Outcome::FailedPermanent, e))?;
    let response = build(client.request(method, url)).send().await.map_err(|e| {
        let what = if e.is_timeout() { "timed out" } else { "no answer" };
        Attempt::without_answer(Outcome::FailedRetryable, format!("{what}: {}", e.without_url()))
    })?;
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
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
    Ok(Reply { status, retry_after, html, json })
}

/// The common rules: `success` statuses revoke, `invalid` statuses mean the token was dead
/// already; 429, 5xx and HTML pages are retryable; anything else is permanent.
fn classify(reply: &Reply, success: &[u16], invalid: &[u16], expect_json: bool) -> Attempt {
    let status = reply.status;
    let (outcome, summary) = if reply.html && (expect_json || !(200..300).contains(&status)) {
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
            send(&call, Method::DELETE, &url, |r| headers(r).bearer_auth(&call.secret)).await
        );
        return classify(&reply, &[204], &[401], false);
    }
    let url = format!("{}/credentials/revoke", call.base);
    let body = json!({ "credentials": [call.secret] });
    let reply = sent!(send(&call, Method::POST, &url, |r| headers(r).json(&body)).await);
    classify(&reply, &[202], &[], true)
}

/// GitLab: `DELETE /api/v4/personal_access_tokens/self` with the token (personal, project and
/// group access tokens): 204; 401 when the token is not valid.
async fn gitlab(call: Call) -> Attempt {
    let url = format!("{}/api/v4/personal_access_tokens/self", call.base);
    let reply =
        sent!(send(&call, Method::DELETE, &url, |r| r.header("PRIVATE-TOKEN", &call.secret)).await);
    classify(&reply, &[204], &[401], false)
}

/// Slack: `POST /api/auth.revoke` with the token; 200 with `{"ok": true, "revoked": true}`;
/// `invalid_auth`, `token_revoked`, `token_expired`, `account_inactive`, `not_authed` mean
/// the token is dead already.
async fn slack(call: Call) -> Attempt {
    let url = format!("{}/api/auth.revoke", call.base);
    let reply = sent!(send(&call, Method::POST, &url, |r| r.bearer_auth(&call.secret)).await);
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
            (Outcome::AlreadyInvalid, error.to_owned())
        }
        (Some(false), _) if error == "ratelimited" => (Outcome::FailedRetryable, error.to_owned()),
        (None, _) => (Outcome::FailedRetryable, "not the documented JSON answer".to_owned()),
        _ => (
            Outcome::FailedPermanent,
            if error.is_empty() { "not revoked".to_owned() } else { error.to_owned() },
        ),
    };
    Attempt { outcome, status: Some(200), summary, retry_after: reply.retry_after }
}

/// crates.io: `DELETE /api/v1/tokens/current` with the token in `Authorization`: 204;
/// 401/403 when the token is not valid.
async fn crates_io(call: Call) -> Attempt {
    let url = format!("{}/api/v1/tokens/current", call.base);
    let reply =
        sent!(send(&call, Method::DELETE, &url, |r| r.header("Authorization", &call.secret)).await);
    classify(&reply, &[204], &[401, 403], false)
}

/// Vercel: `DELETE /v3/user/tokens/current` with the bearer token: 200; 401/403 when invalid.
async fn vercel(call: Call) -> Attempt {
    let url = format!("{}/v3/user/tokens/current", call.base);
    let reply = sent!(send(&call, Method::DELETE, &url, |r| r.bearer_auth(&call.secret)).await);
    classify(&reply, &[200], &[401, 403], false)
}

/// Buildkite: `DELETE /v2/access-token` with the bearer token: 204; 401 when invalid.
async fn buildkite(call: Call) -> Attempt {
    let url = format!("{}/v2/access-token", call.base);
    let reply = sent!(send(&call, Method::DELETE, &url, |r| r.bearer_auth(&call.secret)).await);
    classify(&reply, &[204], &[401], false)
}

/// Doppler: `POST /v3/auth/revoke` with `{"token": ...}`, authenticated by the token: 200;
/// 401 when invalid.
async fn doppler(call: Call) -> Attempt {
    let url = format!("{}/v3/auth/revoke", call.base);
    let body = json!({ "token": call.secret });
    let reply =
        sent!(send(&call, Method::POST, &url, |r| r.bearer_auth(&call.secret).json(&body)).await);
    classify(&reply, &[200], &[401], false)
}

/// Discord webhooks: the secret is the webhook URL; `DELETE` on it: 204; 404 (unknown
/// webhook) or 401 (bad token) when it is gone already. Only Discord's own hosts (or the
/// configured base, for tests) receive it.
async fn discord(call: Call) -> Attempt {
    let Some(path_start) = call.secret.find("/api/webhooks/") else {
        return Attempt::without_answer(Outcome::FailedPermanent, "not a Discord webhook URL");
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
