//! GitHub: the credential revocation API, in batches, and installation tokens revoking
//! themselves.

use std::time::Duration;

use reqwest::{Method, RequestBuilder};
use serde_json::json;
use zeroize::Zeroizing;

use super::http::{classify, send, sent};
use super::providers::Call;
use super::{Attempt, Outcome, ProviderConfig};

/// GitHub. Installation tokens (`ghs_`) revoke themselves: `DELETE /installation/token` (204;
/// 401 when already invalid). Every other kind goes to the credential revocation API:
/// `POST /credentials/revoke` with `{"credentials": [...]}` (202 Accepted; processed
/// asynchronously, so a dead token is not told apart).
pub(super) async fn github(call: Call) -> Attempt {
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
        return classify(&reply, &[204], &[401]);
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
    classify(&reply, &[202], &[])
}
