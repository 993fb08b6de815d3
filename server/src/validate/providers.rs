//! The validators: for each provider, the rules whose keys it checks and its one read-only
//! call, written to the provider's published contract.

use std::future::Future;
use std::pin::Pin;

use reqwest::{Method, RequestBuilder};
use serde_json::json;
use zeroize::Zeroizing;

use super::{Check, Validity};
use crate::revoke::aws::{aws_query, xml_text, STS};
use crate::revoke::http::{code, send, Reply};
use crate::revoke::providers::Call;

type Run = fn(Call) -> Pin<Box<dyn Future<Output = Check> + Send>>;

/// A validator.
pub struct Validator {
    /// Its name, as in `[validate.<name>]` and `leakgate validate --provider`.
    pub name: &'static str,
    /// Its public API base.
    pub default_base: &'static str,
    /// The rules whose secrets it checks.
    pub rules: &'static [&'static str],
    /// The call, and what it means.
    pub check: Run,
}

macro_rules! v {
    ($name:literal, $base:literal, [$($rule:literal),* $(,)?], $f:path) => {
        Validator {
            name: $name,
            default_base: $base,
            rules: &[$($rule),*],
            check: |c| Box::pin($f(c)),
        }
    };
}

/// Every validator leakgate has.
pub static VALIDATORS: &[Validator] = &[
    v!(
        "github",
        "https://api.github.com",
        [
            "github-pat-classic",
            "github-fine-grained-pat",
            "github-oauth-token",
            "github-user-to-server-token",
            "github-installation-token",
            "github-installation-token-jwt",
        ],
        github
    ),
    v!("gitlab", "https://gitlab.com", ["gitlab-pat-routable", "gitlab-pat-legacy"], gitlab),
    v!("aws", "https://sts.amazonaws.com", ["aws-access-key-id", "aws-secret-access-key"], aws),
    v!(
        "slack",
        "https://slack.com",
        [
            "slack-bot-token",
            "slack-user-token",
            "slack-workspace-token",
            "slack-rotating-token",
            "slack-app-token",
            "slack-legacy-token",
        ],
        slack
    ),
    v!(
        "stripe",
        "https://api.stripe.com",
        ["stripe-secret-key-live", "stripe-restricted-key-live", "stripe-secret-key-test"],
        stripe
    ),
    v!(
        "openai",
        "https://api.openai.com",
        [
            "openai-project-key",
            "openai-service-account-key",
            "openai-admin-key",
            "openai-legacy-key"
        ],
        openai
    ),
    v!("anthropic", "https://api.anthropic.com", ["anthropic-api-key"], anthropic),
    v!("npm", "https://registry.npmjs.org", ["npm-access-token"], npm),
    v!("sendgrid", "https://api.sendgrid.com", ["sendgrid-api-key"], sendgrid),
    v!(
        "cloudflare",
        "https://api.cloudflare.com",
        ["cloudflare-api-token", "cloudflare-api-token-scannable"],
        cloudflare
    ),
    v!(
        "huggingface",
        "https://huggingface.co",
        ["huggingface-access-token", "huggingface-org-api-token"],
        huggingface
    ),
    v!(
        "digitalocean",
        "https://api.digitalocean.com",
        ["digitalocean-personal-access-token", "digitalocean-oauth-access-token"],
        digitalocean
    ),
    v!("datadog", "https://api.datadoghq.com", ["datadog-api-key"], datadog),
    v!(
        "doppler",
        "https://api.doppler.com",
        [
            "doppler-personal-token",
            "doppler-service-token",
            "doppler-cli-token",
            "doppler-service-account-token"
        ],
        doppler
    ),
    v!("telegram", "https://api.telegram.org", ["telegram-bot-token"], telegram),
    v!(
        "vercel",
        "https://api.vercel.com",
        ["vercel-personal-access-token", "vercel-integration-token", "vercel-access-token"],
        vercel
    ),
    v!("linear", "https://api.linear.app", ["linear-api-key"], linear),
    v!("mailgun", "https://api.mailgun.net", ["mailgun-api-key"], mailgun),
    v!("buildkite", "https://api.buildkite.com", ["buildkite-api-access-token"], buildkite),
    v!("circleci", "https://circleci.com", ["circleci-personal-token"], circleci),
];

/// The validator called `name`.
pub fn validator(name: &str) -> Option<&'static Validator> {
    VALIDATORS.iter().find(|v| v.name == name)
}

/// The validator that checks secrets of `rule_id`.
pub fn for_rule(rule_id: &str) -> Option<&'static Validator> {
    VALIDATORS.iter().find(|v| v.rules.contains(&rule_id))
}

/// Sends one request; a failure without a usable answer ends the check.
macro_rules! answered {
    ($e:expr) => {
        match $e {
            Ok(reply) => reply,
            Err(attempt) => return Check::from_attempt(attempt),
        }
    };
}

/// A `GET` of `path` with `auth` applied.
async fn get(
    call: &Call,
    path: &str,
    auth: impl FnOnce(RequestBuilder) -> RequestBuilder,
) -> Result<Reply, crate::revoke::Attempt> {
    let url = format!("{}{path}", call.base);
    send(call, Method::GET, &url, |r| auth(r.header("accept", "application/json"))).await
}

/// The common reading: `live` statuses with a body that `body_ok` accepts are `valid`,
/// `dead` statuses `invalid`; an HTML page, 429, 5xx and anything undocumented `unknown`.
fn judge(reply: &Reply, live: &[u16], dead: &[u16], body_ok: impl Fn(&Reply) -> bool) -> Check {
    let status = reply.status;
    let (validity, summary) = if reply.html {
        (Validity::Unknown, "an HTML page where the API answer was expected".to_owned())
    } else if live.contains(&status) && body_ok(reply) {
        (Validity::Valid, format!("HTTP {status}"))
    } else if live.contains(&status) {
        (Validity::Unknown, format!("HTTP {status} without the documented body"))
    } else if dead.contains(&status) {
        (Validity::Invalid, format!("HTTP {status}: the key is not valid"))
    } else if status == 429 || status >= 500 {
        (Validity::Unknown, format!("HTTP {status}"))
    } else {
        (Validity::Unknown, format!("HTTP {status}: not a documented answer"))
    };
    Check { validity, status: Some(status), summary, retry_after: reply.retry_after }
}

/// Whether the answer's JSON has a value at `pointer` (RFC 6901).
fn has(reply: &Reply, pointer: &str) -> bool {
    reply.json.pointer(pointer).is_some_and(|v| !v.is_null())
}

fn bearer(call: &Call) -> impl FnOnce(RequestBuilder) -> RequestBuilder + '_ {
    move |r| r.bearer_auth(call.secret.as_str())
}

/// GitHub: `GET /user` (200 with `login`; 401 when the token is not valid). Installation
/// tokens (`ghs_`) cannot read `/user`: `GET /installation/repositories?per_page=1` (200 with
/// `total_count`).
async fn github(call: Call) -> Check {
    let (path, field) = if call.secret.starts_with("ghs_") {
        ("/installation/repositories?per_page=1", "/total_count")
    } else {
        ("/user", "/login")
    };
    let reply = answered!(
        get(&call, path, |r| r
            .bearer_auth(call.secret.as_str())
            .header("X-GitHub-Api-Version", "2022-11-28"))
        .await
    );
    judge(&reply, &[200], &[401], |r| has(r, field))
}

/// GitLab: `GET /api/v4/personal_access_tokens/self` (200 with `active`, `revoked`,
/// `expires_at`); 401 `invalid_token`, whose description says revoked or expired.
async fn gitlab(call: Call) -> Check {
    let reply = answered!(
        get(&call, "/api/v4/personal_access_tokens/self", |r| r
            .header("PRIVATE-TOKEN", call.secret.as_str()))
        .await
    );
    if reply.status == 200 && !reply.html {
        let revoked = reply.json["revoked"].as_bool();
        let active = reply.json["active"].as_bool();
        let (validity, summary) = match (active, revoked) {
            (_, Some(true)) => (Validity::Revoked, "HTTP 200: revoked"),
            (Some(true), _) => (Validity::Valid, "HTTP 200: active"),
            (Some(false), _) => (Validity::Expired, "HTTP 200: not active"),
            (None, _) => (Validity::Unknown, "HTTP 200 without the documented body"),
        };
        return Check { validity, status: Some(200), summary: summary.into(), retry_after: None };
    }
    if reply.status == 401 && !reply.html {
        let description =
            reply.json["error_description"].as_str().unwrap_or("").to_ascii_lowercase();
        let validity = if description.contains("revoked") {
            Validity::Revoked
        } else if description.contains("expired") {
            Validity::Expired
        } else {
            Validity::Invalid
        };
        return Check {
            validity,
            status: Some(401),
            summary: format!("HTTP 401: {}", validity.as_str()),
            retry_after: None,
        };
    }
    judge(&reply, &[], &[], |_| false)
}

/// AWS account ids of canaries (Thinkst canarytokens and look-alikes): such a key is a trap,
/// and any call with it (even `GetCallerIdentity`) is what sets it off.
const CANARY_ACCOUNTS: &[&str] = &[
    "052310077262",
    "171436882533",
    "266735846894",
    "534261010715",
    "595918472158",
    "717712589309",
    "730335385048",
    "819147034852",
    "893192397702",
    "992382622183",
    "044858866125",
    "251535659677",
    "344043088457",
    "351906852752",
    "390477818340",
    "426127672474",
    "427150556519",
    "439872796651",
    "445142720921",
    "465867158099",
    "637958123769",
    "693412236332",
    "732624840810",
    "735421457923",
    "959235150393",
    "982842642351",
];

/// The AWS account an access key id (`AKIA…`, `ASIA…`) belongs to, decoded offline: the
/// base32 text after the four-character prefix carries the account id in bits 1–40 of its
/// first six bytes.
pub fn aws_account(key_id: &str) -> Option<String> {
    let body = key_id.get(4..)?;
    if key_id.len() != 20 || !key_id.starts_with('A') {
        return None;
    }
    let mut bits: u64 = 0;
    // Ten base32 characters carry 50 bits: the first six bytes and two bits more.
    for c in body.bytes().take(10) {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'2'..=b'7' => c - b'2' + 26,
            _ => return None,
        };
        bits = (bits << 5) | u64::from(value);
    }
    let first_six = bits >> 2;
    Some(format!("{:012}", (first_six & 0x7fff_ffff_ff80) >> 7))
}

/// AWS: STS `GetCallerIdentity` (signed with the leaked pair; it needs no permission): 200 is
/// live; `InvalidClientTokenId` means no such key. `SignatureDoesNotMatch` says only that the
/// secret found with the key id is not its secret: the key id may well be live, so it is
/// `unknown`, never dead (a dead answer would release nothing and settle the revocation). A key id alone cannot be checked, a temporary
/// key (`ASIA`) not without its session token, and a canary account's key is never called.
async fn aws(call: Call) -> Check {
    let mut parts = call.secret.split('\n').map(str::trim);
    let key_id = parts.next().unwrap_or("").to_owned();
    let account = aws_account(&key_id);
    if let Some(account) = account.as_deref().filter(|a| CANARY_ACCOUNTS.contains(a)) {
        return Check::offline(
            Validity::Canary,
            format!("account {account} is a known canary account: not called"),
        );
    }
    let Some(secret) = parts.next().filter(|s| !s.is_empty()).map(|s| Zeroizing::new(s.to_owned()))
    else {
        return Check::offline(
            Validity::NotCheckable,
            "the key id was found without its secret: only the pair can be checked",
        );
    };
    if !key_id.starts_with("AKIA") {
        return Check::offline(
            Validity::NotCheckable,
            "a temporary key (ASIA) is checked only with its session token",
        );
    }
    let params = [("Action", "GetCallerIdentity")];
    let reply = answered!(aws_query(&call, STS, "us-east-1", &key_id, &secret, &params).await);
    if reply.html {
        return judge(&reply, &[], &[], |_| false);
    }
    if reply.status == 200 {
        let ok = xml_text(&reply.text, "Account").is_some();
        return judge(&reply, &[200], &[], |_| ok);
    }
    let error = code(&xml_text(&reply.text, "Code").unwrap_or_default());
    let validity = match error.as_str() {
        "InvalidClientTokenId" => Validity::Invalid,
        "ExpiredToken" => Validity::Expired,
        _ => Validity::Unknown,
    };
    Check {
        validity,
        status: Some(reply.status),
        summary: format!("HTTP {}: {error}", reply.status),
        retry_after: reply.retry_after,
    }
}

/// Slack: `POST /api/auth.test` with the token; HTTP 200 always, `ok` tells: `invalid_auth`,
/// `not_authed`, `account_inactive` mean invalid, `token_revoked` revoked, `token_expired`
/// expired.
async fn slack(call: Call) -> Check {
    let url = format!("{}/api/auth.test", call.base);
    let reply = answered!(send(&call, Method::POST, &url, bearer(&call)).await);
    if reply.status != 200 || reply.html {
        return judge(&reply, &[], &[], |_| false);
    }
    let error = reply.json["error"].as_str().unwrap_or("");
    let validity = match (reply.json["ok"].as_bool(), error) {
        (Some(true), _) => Validity::Valid,
        (Some(false), "invalid_auth" | "not_authed" | "account_inactive") => Validity::Invalid,
        (Some(false), "token_revoked") => Validity::Revoked,
        (Some(false), "token_expired") => Validity::Expired,
        _ => Validity::Unknown,
    };
    let summary = if error.is_empty() { "ok".to_owned() } else { code(error) };
    Check { validity, status: Some(200), summary, retry_after: reply.retry_after }
}

/// Stripe: `GET /v1/account` (200 with `id`); a restricted key without the permission gets
/// 403, which still means live; 401 not valid. Test-mode keys are never sent.
async fn stripe(call: Call) -> Check {
    if call.secret.contains("_test_") {
        return Check::offline(Validity::NotCheckable, "a test-mode key: not checked");
    }
    let reply = answered!(get(&call, "/v1/account", bearer(&call)).await);
    if reply.status == 403 && !reply.html && has(&reply, "/error") {
        return Check {
            validity: Validity::Valid,
            status: Some(403),
            summary: "HTTP 403: live, without permission to read the account".into(),
            retry_after: None,
        };
    }
    judge(&reply, &[200], &[401], |r| has(r, "/id"))
}

/// OpenAI: `GET /v1/models` (200 with `data`); 401 not valid.
async fn openai(call: Call) -> Check {
    let reply = answered!(get(&call, "/v1/models", bearer(&call)).await);
    judge(&reply, &[200], &[401], |r| r.json["data"].is_array())
}

/// Anthropic: `GET /v1/models` with `x-api-key` and `anthropic-version` (200 with `data`);
/// 401 `authentication_error`.
async fn anthropic(call: Call) -> Check {
    let reply = answered!(
        get(&call, "/v1/models", |r| r
            .header("x-api-key", call.secret.as_str())
            .header("anthropic-version", "2023-06-01"))
        .await
    );
    judge(&reply, &[200], &[401], |r| r.json["data"].is_array())
}

/// npm: `GET /-/whoami` (200 with `username`); 401 not valid.
async fn npm(call: Call) -> Check {
    let reply = answered!(get(&call, "/-/whoami", bearer(&call)).await);
    judge(&reply, &[200], &[401], |r| has(r, "/username"))
}

/// SendGrid: `GET /v3/scopes` (200 with `scopes`); 403 is a live key without that scope; 401
/// not valid.
async fn sendgrid(call: Call) -> Check {
    let reply = answered!(get(&call, "/v3/scopes", bearer(&call)).await);
    // SendGrid's documented 403 body: `{"errors": [{"field": null, "message": ...}]}`.
    if reply.status == 403 && !reply.html && reply.json["errors"].is_array() {
        return Check {
            validity: Validity::Valid,
            status: Some(403),
            summary: "HTTP 403: live, without the scopes permission".into(),
            retry_after: None,
        };
    }
    judge(&reply, &[200], &[401], |r| r.json["scopes"].is_array())
}

/// Cloudflare: `GET /client/v4/user/tokens/verify` (200, `success`, `result.status`:
/// `active`, `disabled`, `expired`); 401 not valid.
async fn cloudflare(call: Call) -> Check {
    let reply = answered!(get(&call, "/client/v4/user/tokens/verify", bearer(&call)).await);
    if reply.status == 200 && !reply.html && reply.json["success"].as_bool() == Some(true) {
        let status = reply.json["result"]["status"].as_str().unwrap_or("");
        let validity = match status {
            "active" => Validity::Valid,
            "disabled" => Validity::Revoked,
            "expired" => Validity::Expired,
            _ => Validity::Unknown,
        };
        return Check {
            validity,
            status: Some(200),
            summary: format!("HTTP 200: {}", code(status)),
            retry_after: None,
        };
    }
    judge(&reply, &[], &[401], |_| false)
}

/// Hugging Face: `GET /api/whoami-v2` (200 with `name`); 401 not valid.
async fn huggingface(call: Call) -> Check {
    let reply = answered!(get(&call, "/api/whoami-v2", bearer(&call)).await);
    judge(&reply, &[200], &[401], |r| has(r, "/name"))
}

/// DigitalOcean: `GET /v2/account` (200 with `account`); 401 `unauthorized`.
async fn digitalocean(call: Call) -> Check {
    let reply = answered!(get(&call, "/v2/account", bearer(&call)).await);
    judge(&reply, &[200], &[401], |r| has(r, "/account"))
}

/// Datadog: `GET /api/v1/validate` with `DD-API-KEY` (200 `{"valid": true}`); 403 not valid.
async fn datadog(call: Call) -> Check {
    let reply = answered!(
        get(&call, "/api/v1/validate", |r| r.header("DD-API-KEY", call.secret.as_str())).await
    );
    judge(&reply, &[200], &[403], |r| r.json["valid"].as_bool() == Some(true))
}

/// Doppler: `GET /v3/me` (200 with the token's `slug` and `workplace`); 401 not valid.
async fn doppler(call: Call) -> Check {
    let reply = answered!(get(&call, "/v3/me", bearer(&call)).await);
    judge(&reply, &[200], &[401], |r| has(r, "/slug") || has(r, "/workplace"))
}

/// Telegram: `GET /bot<token>/getMe` (200 `{"ok": true}`); 401 `Unauthorized`, 404 for a
/// token that is not one. The token is in the path: errors never print the URL.
async fn telegram(call: Call) -> Check {
    let reply = answered!(get(&call, &format!("/bot{}/getMe", call.secret.as_str()), |r| r).await);
    judge(&reply, &[200], &[401, 404], |r| r.json["ok"].as_bool() == Some(true))
}

/// Vercel: `GET /v2/user` (200 with `user`); 401/403 not valid.
async fn vercel(call: Call) -> Check {
    let reply = answered!(get(&call, "/v2/user", bearer(&call)).await);
    judge(&reply, &[200], &[401, 403], |r| has(r, "/user"))
}

/// Linear: the GraphQL query `{ viewer { id } }` with the key in `Authorization` (personal
/// keys take no scheme): 200 with `data.viewer.id`; an authentication error (401, or 400 with
/// an `AUTHENTICATION_ERROR` code) is not valid.
async fn linear(call: Call) -> Check {
    let url = format!("{}/graphql", call.base);
    let body = json!({ "query": "{ viewer { id } }" });
    let reply = answered!(
        send(&call, Method::POST, &url, |r| r
            .header("Authorization", call.secret.as_str())
            .json(&body))
        .await
    );
    let auth_error = reply.json["errors"].as_array().is_some_and(|errors| {
        errors.iter().any(|e| {
            let code = e["extensions"]["code"].as_str().unwrap_or("");
            let kind = e["extensions"]["type"].as_str().unwrap_or("");
            code.eq_ignore_ascii_case("AUTHENTICATION_ERROR")
                || kind.eq_ignore_ascii_case("authentication error")
        })
    });
    if auth_error && !reply.html && matches!(reply.status, 200 | 400 | 401) {
        return Check {
            validity: Validity::Invalid,
            status: Some(reply.status),
            summary: format!("HTTP {}: AUTHENTICATION_ERROR", reply.status),
            retry_after: None,
        };
    }
    judge(&reply, &[200], &[401], |r| has(r, "/data/viewer/id"))
}

/// Mailgun: `GET /v3/domains` with basic auth `api:<key>` (200 with `items`); 401 not valid.
async fn mailgun(call: Call) -> Check {
    let reply = answered!(
        get(&call, "/v3/domains?limit=1", |r| r.basic_auth("api", Some(call.secret.as_str())))
            .await
    );
    judge(&reply, &[200], &[401], |r| r.json["items"].is_array())
}

/// Buildkite: `GET /v2/access-token` (200 with `uuid`); 401 not valid.
async fn buildkite(call: Call) -> Check {
    let reply = answered!(get(&call, "/v2/access-token", bearer(&call)).await);
    judge(&reply, &[200], &[401], |r| has(r, "/uuid"))
}

/// CircleCI: `GET /api/v2/me` with `Circle-Token` (200 with `id`); 401 not valid.
async fn circleci(call: Call) -> Check {
    let reply = answered!(
        get(&call, "/api/v2/me", |r| r.header("Circle-Token", call.secret.as_str())).await
    );
    judge(&reply, &[200], &[401], |r| has(r, "/id"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_key_ids_decode_to_their_account() {
        // Published examples of the decoding (key id -> account).
        assert_eq!(aws_account("AKIASP2TPHJSQH3FJXYZ").as_deref(), Some("171436882533")); // leakgate:allow (test fixture)
        assert_eq!(aws_account("AKIAVJTCYHPL6QWFVZ4Q").as_deref(), Some("364205587415")); // leakgate:allow (test fixture)
        assert_eq!(aws_account("AKIA6ODU5DHT7HGWSLU5").as_deref(), Some("992382622183")); // leakgate:allow (test fixture)
        assert_eq!(aws_account("ASIAY34FZKBOKMUTVV7A").as_deref(), Some("609629065308")); // leakgate:allow (test fixture)
        assert_eq!(aws_account("AKIA1234"), None, "too short");
        assert_eq!(aws_account("AKIA0000000000000000"), None, "not base32");
    }

    #[test]
    fn every_rule_has_at_most_one_validator_and_at_least_twenty_providers() {
        assert!(VALIDATORS.len() >= 20, "{} validators", VALIDATORS.len());
        let mut seen = std::collections::HashSet::new();
        for v in VALIDATORS {
            for rule in v.rules {
                assert!(seen.insert(*rule), "{rule} has two validators");
            }
        }
    }
}
