//! What every provider call shares: one request to a checked destination, the answer reduced
//! to what classification needs, the common classification, and form and code helpers.

use std::time::Duration;

use reqwest::{Method, RequestBuilder};
use serde_json::Value;

use super::providers::Call;
use super::{guard, Attempt, Outcome};

/// An answer, reduced to what classification needs.
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) retry_after: Option<Duration>,
    pub(crate) html: bool,
    pub(crate) json: Value,
    /// The body as text (the first 64 KiB), for XML answers.
    pub(crate) text: String,
}

/// Sends one request to a checked destination. `Err` is the attempt to report (no answer).
pub(crate) async fn send(
    call: &Call,
    method: Method,
    url: &str,
    build: impl FnOnce(RequestBuilder) -> RequestBuilder,
) -> Result<Reply, Attempt> {
    send_inner(call, method, url, build, |_| {}).await
}

/// Largest provider answer read, in bytes.
const MAX_ANSWER: usize = 1 << 20;

async fn send_inner(
    call: &Call,
    method: Method,
    url: &str,
    build: impl FnOnce(RequestBuilder) -> RequestBuilder,
    headers_seen: impl FnOnce(&reqwest::header::HeaderMap),
) -> Result<Reply, Attempt> {
    let client =
        guard::client_for(url, call.allow_internal, call.settings.allow_http, call.timeout)
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
    // A provider's answer is small; a larger one is read no further (memory stays bounded
    // whatever a provider, or something posing as one, sends).
    let mut response = response;
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) if body.len() + chunk.len() > MAX_ANSWER => {
                return Err(Attempt {
                    outcome: Outcome::FailedRetryable,
                    status: Some(status),
                    summary: format!(
                        "HTTP {status}: the answer is larger than {} KiB",
                        MAX_ANSWER >> 10
                    ),
                    retry_after,
                });
            }
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) => break,
            Err(e) => {
                return Err(Attempt::without_answer(
                    Outcome::FailedRetryable,
                    format!("reading the answer: {}", e.without_url()),
                ))
            }
        }
    }
    let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let text = String::from_utf8_lossy(&body[..body.len().min(64 << 10)]).into_owned();
    Ok(Reply { status, retry_after, html, json, text })
}

/// Like `send`, also returning the values of the named response headers.
pub(crate) async fn send_with_headers(
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

/// The common rules: `success` statuses revoke, `invalid` statuses mean the token was dead
/// already; 429, 5xx and HTML pages are retryable; anything else is permanent.
pub(crate) fn classify(reply: &Reply, success: &[u16], invalid: &[u16]) -> Attempt {
    let status = reply.status;
    // No provider documents an HTML answer: a page is a proxy's or a maintenance page.
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
pub(crate) use sent;

/// `r` with `pairs` as its form body.
pub(crate) fn form(r: RequestBuilder, pairs: &[(&str, &str)]) -> RequestBuilder {
    r.header("content-type", "application/x-www-form-urlencoded").body(form_body(pairs))
}

/// `application/x-www-form-urlencoded` text of `pairs`.
pub(crate) fn form_body(pairs: &[(&str, &str)]) -> String {
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

/// Provider text (an error code, a status) reduced to what an audit line and an issue may
/// show: at most 64 characters of `[A-Za-z0-9_.:-]`, so that an answer echoing the request
/// cannot carry the secret along.
pub(crate) fn code(text: &str) -> String {
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
pub(crate) fn path_segment(id: &str) -> String {
    form_escape(id)
}
