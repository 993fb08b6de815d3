//! GitLab's Token Revocation API, served by `leakgate serve` and called the way GitLab's
//! `Security::TokenRevocationService` calls it: `GET` the revocable types with the raw token
//! in `Authorization` and `Content-Type: application/json`, keep the findings whose type is
//! listed, `POST` them as one JSON array (with GitLab's own `vulnerability` field).

use std::time::Duration;

use serde_json::{json, Value};

use crate::{assert_no_plaintext, github_token, Res, Service, TestResult, World};

const TOKEN: &str = "gitlab-revocation-token-for-tests";

/// GitLab's two calls; returns (types status, types, revoke status, revoke body).
fn gitlab_revokes(service: &Service, keys: &[Value]) -> Res<(u16, Vec<String>, u16, String)> {
    let headers = [("Content-Type", "application/json"), ("Authorization", TOKEN)];
    let (code, body) =
        crate::http::request(&service.addr, "GET", "/v1/revocable_token_types", &headers, b"")?;
    let types: Vec<String> = serde_json::from_str::<Value>(&body)?["types"]
        .as_array()
        .map(|a| a.iter().filter_map(|t| t.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    // GitLab filters its findings by the answered types, then posts what is left.
    let kept: Vec<&Value> =
        keys.iter().filter(|k| types.iter().any(|t| k["type"] == t.as_str())).collect();
    let body = serde_json::to_vec(&kept)?;
    let (status, reply) =
        crate::http::request(&service.addr, "POST", "/v1/revoke_tokens", &headers, &body)?;
    Ok((code, types, status, reply))
}

fn slack_token(seed: u64) -> String {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let tail: String = (0..24)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from(alphabet[(x % alphabet.len() as u64) as usize])
        })
        .collect();
    format!("xoxb-{}-{}-{tail}", 100_000_000 + seed, 7_000_000_000 + seed)
}

#[test]
fn gitlab_forwards_leaked_tokens_and_leakgate_revokes_them_once() -> TestResult {
    let world = World::new()?;
    let extra = format!(
        "[gitlab_revocation]\nrequests_per_minute = 12\n\
         [revoke.github]\npolicy = \"auto\"\napi_url = \"{}/github-api\"\nallow_internal = true\n\
         allow_http = true\nrequests_per_hour = 360000\n[revoke.npm]\npolicy = \"off\"\n",
        world.fake.base
    );
    let service = Service::start_with_env(
        &world,
        &world.config(&extra)?,
        &[("LEAKGATE_GITLAB_REVOCATION__TOKEN", TOKEN)],
    )?;
    let github = github_token(51);
    let slack = slack_token(52);
    let location = "https://gitlab.example/acme/app/-/blob/abc123/config/ci.env#L3";
    let keys = vec![
        json!({"type": "gitleaks_rule_id_github_personal_access_token", "token": github,
               "location": location, "vulnerability": {"id": 1, "report_type": "secret_detection"}}),
        json!({"type": "gitleaks_rule_id_slack_token", "token": slack, "location": location,
               "vulnerability": {"id": 2}}),
        // Not a GitHub token at all: recorded as ignored, sent nowhere.
        json!({"type": "gitleaks_rule_id_github_personal_access_token",
               "token": "ghp_notarealtokenbutclaimsone", "location": location}),
        // A type leakgate does not answer (AWS key ids never revoke a key): GitLab drops it.
        json!({"type": "gitleaks_rule_id_aws", "token": "AKIAIOSFODNN7EXAMPLF"}), // leakgate:allow (test fixture)
    ];
    let (code, types, status, reply) = gitlab_revokes(&service, &keys)?;
    assert_eq!(code, 200);
    assert!(types.contains(&"gitleaks_rule_id_github_personal_access_token".to_owned()));
    assert!(types.contains(&"gitleaks_rule_id_slack_token".to_owned()), "{types:?}");
    assert!(!types.iter().any(|t| t == "gitleaks_rule_id_aws"), "{types:?}");
    assert!(!types.iter().any(|t| t == "gitleaks_rule_id_npm_access_token"), "policy off");
    assert_eq!(status, 204, "{reply}");
    let revoked =
        |token: &str| world.fake.state().revoked.iter().filter(|(t, _)| t == token).count();
    service.wait("the GitHub token revoked", || revoked(&github) == 1)?;

    // GitLab's retries and repeated pipelines: the same tokens again change nothing.
    let (_, _, status, reply) = gitlab_revokes(&service, &keys)?;
    assert_eq!(status, 204, "{reply}");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(revoked(&github), 1, "revoked once");
    assert_eq!(revoked("ghp_notarealtokenbutclaimsone"), 0);

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let store = runtime
        .block_on(leakgate_store::Store::connect_without_migrating(&world.database_url()))?;
    let rows = runtime.block_on(store.revocations(None, 10))?;
    let state = |rule: &str| rows.iter().find(|r| r.rule_id == rule).map(|r| r.state.as_str());
    assert_eq!(state("github-pat-classic"), Some("revoked"), "{rows:?}");
    // Slack's default policy is manual: recorded, waiting for a person.
    assert_eq!(state("slack-bot-token"), Some("awaiting_approval"), "{rows:?}");
    assert_eq!(rows.len(), 2, "{rows:?}");
    // The retried request is the same record, not a second sighting of each key.
    let (secrets, _) = runtime.block_on(
        store.secrets(&leakgate_store::SecretFilter { limit: 10, ..Default::default() }),
    )?;
    assert!(secrets.iter().all(|s| s.occurrences == 1), "{secrets:?}");
    let audit = runtime.block_on(store.audit_events(100))?;
    let requests: Vec<_> = audit.iter().filter(|e| e.kind == "gitlab_revocation_request").collect();
    assert_eq!(requests.len(), 2);
    assert!(
        requests.iter().all(|e| e.detail.contains("\"ignored\":[{\"index\":2")),
        "{requests:?}"
    );
    drop(store);

    // The contract's refusals.
    let post = |headers: &[(&str, &str)], body: &[u8]| {
        crate::http::request_with_head(&service.addr, "POST", "/v1/revoke_tokens", headers, body)
    };
    let json_auth = [("Content-Type", "application/json"), ("Authorization", TOKEN)];
    let (code, _, _) = post(&[("Content-Type", "application/json")], b"[]")?;
    assert_eq!(code, 401, "no token");
    let (code, _, _) =
        post(&[("Content-Type", "application/json"), ("Authorization", "Bearer x")], b"[]")?;
    assert_eq!(code, 401, "a wrong token");
    let bearer = format!("Bearer {TOKEN}");
    let (code, _, _) =
        post(&[("Content-Type", "application/json"), ("Authorization", &bearer)], b"[]")?;
    assert_eq!(code, 401, "the token is sent raw, without a scheme");
    let secret_in_bad_body = format!("[{{\"type\": \"x\", \"token\": \"{github}\"");
    let (code, _, body) = post(&json_auth, secret_in_bad_body.as_bytes())?;
    assert_eq!(code, 400, "malformed: {body}");
    assert!(!body.contains(&github), "the error does not quote the body");
    let unsupported = json!([{"type": "gitleaks_rule_id_aws", "token": "AKIA", "location": ""}]);
    let (code, _, body) = post(&json_auth, unsupported.to_string().as_bytes())?;
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("unsupported token type"), "{body}");
    let (code, _, _) = post(&json_auth, b"{\"type\": \"not an array\"}")?;
    assert_eq!(code, 400);
    // Rate-limited: 12 a minute, then 429 with Retry-After.
    let mut limited = None;
    for _ in 0..20 {
        let (code, head, _) = post(&json_auth, b"[]")?;
        if code == 429 {
            limited = Some(head);
            break;
        }
        assert_eq!(code, 204);
    }
    let head = limited.ok_or("no 429 within 20 requests")?;
    assert!(head.to_ascii_lowercase().contains("retry-after: "), "{head}");
    assert_no_plaintext(&world, &[service.log()], &github)?;
    assert_no_plaintext(&world, &[service.log()], &slack)?;
    Ok(())
}

/// Without a configured token the API does not exist.
#[test]
fn the_api_is_absent_without_a_token() -> TestResult {
    let world = World::new()?;
    let service = Service::start(&world, &world.config("")?)?;
    let headers = [("Authorization", "")];
    let (code, _) =
        crate::http::request(&service.addr, "GET", "/v1/revocable_token_types", &headers, b"")?;
    assert_eq!(code, 404);
    let (code, _) =
        crate::http::request(&service.addr, "POST", "/v1/revoke_tokens", &headers, b"[]")?;
    assert_eq!(code, 404);
    Ok(())
}
