//! Providers whose token finds itself in its account's list, then is deleted: Heroku, npm,
//! and Cloudflare (verify gives the id). Only the exact token is ever deleted: taking "the
//! first token in the list" could revoke someone else's key.

use reqwest::{Method, RequestBuilder};
use sha2::{Digest, Sha512};

use super::http::{classify, code, path_segment, send, send_with_headers, sent};
use super::providers::Call;
use super::{Attempt, Outcome};

/// Heroku: the account's OAuth authorizations are listed with the token
/// (`GET /oauth/authorizations`, paged with `Range`/`Next-Range`); the one whose access token
/// is exactly the leaked one is deleted (`DELETE /oauth/authorizations/{id}`: 200). 401
/// means the token is not valid. No exact match: nothing is deleted.
pub(super) async fn heroku(call: Call) -> Attempt {
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
            return classify(&reply, &[], &[401]);
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
    classify(&reply, &[200], &[401, 404])
}

/// Cloudflare API tokens: `GET /client/v4/user/tokens/verify` with the token gives its id
/// and status; `DELETE /client/v4/user/tokens/{id}` with the same token deletes it (200 and
/// `success: true`; it needs the "API Tokens Write" permission, else 403). A verify answer
/// of 401, error 1000 ("Invalid API Token") or a status other than `active` means dead.
pub(super) async fn cloudflare(call: Call) -> Attempt {
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
        return classify(&reply, &[], &[]);
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
    classify(&reply, &[200], &[404])
}

/// npm: the account's tokens are listed with the token (`GET /-/npm/v1/tokens`, paged by
/// `urls.next`); each carries `key`, the SHA-512 of the token in hex. The entry whose key is
/// the leaked token's hash is deleted (`DELETE /-/npm/v1/tokens/token/{key}`: 204). 401 means
/// the token is not valid. No exact match: nothing is deleted.
pub(super) async fn npm(call: Call) -> Attempt {
    let key = hex::encode(Sha512::digest(call.secret.as_bytes()));
    let auth = |r: RequestBuilder| r.bearer_auth(call.secret.as_str());
    let mut url = format!("{}/-/npm/v1/tokens", call.base);
    let mut found = false;
    for _page in 0..50 {
        let reply = sent!(send(&call, Method::GET, &url, auth).await);
        if reply.status != 200 || !reply.json["objects"].is_array() {
            return classify(&reply, &[], &[401]);
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
    classify(&reply, &[204, 200], &[401, 404])
}
