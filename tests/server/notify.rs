//! Notifications, end to end: a push with a leaked key → Slack, Teams and a signed generic
//! webhook (local fakes of each, written to their incoming-webhook contracts) get the leak
//! and the revocation's outcome, each once, retried when the endpoint fails, signed where
//! configured, and never with the secret.

use std::sync::{Arc, Mutex};

use actix_web::{web, HttpRequest, HttpResponse};

use crate::{github_token, Service, TestResult, World};

/// What each endpoint received: (path, signature header, body).
#[derive(Default)]
struct Received {
    requests: Vec<(String, String, String)>,
    /// Answers to give before accepting, per path.
    failures: Vec<(String, u16)>,
}

type Shared = Arc<Mutex<Received>>;

async fn receive(req: HttpRequest, body: web::Bytes, shared: web::Data<Shared>) -> HttpResponse {
    let mut r = shared.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let path = req.path().to_owned();
    let signature = req
        .headers()
        .get("X-Leakgate-Signature-256")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    r.requests.push((path.clone(), signature, String::from_utf8_lossy(&body).into_owned()));
    if let Some(i) = r.failures.iter().position(|(p, _)| *p == path) {
        let (_, code) = r.failures.remove(i);
        return HttpResponse::build(
            actix_web::http::StatusCode::from_u16(code).unwrap_or_default(),
        )
        .finish();
    }
    // Slack answers `ok` as text; Teams and webhooks 200/202.
    match path.as_str() {
        "/slack" => HttpResponse::Ok().content_type("text/plain").body("ok"),
        "/teams" => HttpResponse::Accepted().finish(),
        _ => HttpResponse::Ok().finish(),
    }
}

/// The three endpoints' fake, recording what it receives.
fn endpoints() -> (Shared, crate::LocalServer) {
    let shared: Shared = Arc::default();
    let data = web::Data::new(shared.clone());
    let server = crate::LocalServer::start(1, move |cfg| {
        cfg.app_data(data.clone()).default_service(web::to(receive));
    });
    (shared, server)
}

#[test]
fn leaks_and_revocations_reach_slack_teams_and_signed_webhooks() -> TestResult {
    let world = World::new()?;
    let (shared, endpoints) = endpoints();
    shared
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .failures
        .push(("/slack".into(), 500));
    let base = &endpoints.base;
    let extra = format!(
        "[revoke.github]\npolicy = \"auto\"\napi_url = \"{fake}/github-api\"\nallow_internal = true\n\
         allow_http = true\nrequests_per_hour = 360000\n\
         [notify.chat]\nkind = \"slack\"\nurl = \"{base}/slack\"\nallow_internal = true\nallow_http = true\n\
         [notify.oncall]\nkind = \"teams\"\nurl = \"{base}/teams\"\nevents = [\"revocation\"]\n\
         allow_internal = true\nallow_http = true\n\
         [notify.siem]\nkind = \"webhook\"\nurl = \"{base}/hook\"\nsecret = \"siem-hmac-key\"\n\
         allow_internal = true\nallow_http = true\n",
        fake = world.fake.base
    );
    let service = Service::start(&world, &world.config(&extra)?)?;
    let repo = world.repo("github", "acme/notify")?;
    let token = github_token(81);
    repo.commit("deploy.env", &format!("TOKEN={token}\n"))?;
    let (before, after) = repo.push()?;
    assert_eq!(service.deliver("github", "push", "n-1", &repo.event(&before, &after))?.0, 202);
    let got = |path: &str, needle: &str| {
        shared
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .requests
            .iter()
            .filter(|(p, _, b)| p == path && b.contains(needle))
            .count()
    };
    service.wait("every notification", || {
        // The first Slack request failed (500) and was retried: three requests in all.
        got("/slack", "") == 3
            && got("/slack", "leak of") >= 1
            && got("/slack", "revocation") >= 1
            && got("/teams", "revocation") == 1
            && got("/hook", "\"event\":\"leak\"") == 1
            && got("/hook", "\"event\":\"revocation\"") == 1
    })?;
    std::thread::sleep(std::time::Duration::from_millis(300));
    let received = shared.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    assert_eq!(got_in(&received, "/slack", ""), 3, "one retry, nothing sent twice");
    // Teams takes only revocations.
    assert_eq!(got_in(&received, "/teams", "leak of"), 0);
    for (path, signature, body) in &received.requests {
        assert!(!body.contains(&token), "{path} got the secret");
        if path == "/hook" {
            let expected = leakgate_server::signature::sign_hex(b"siem-hmac-key", body.as_bytes());
            assert_eq!(signature, &format!("sha256={expected}"), "{body}");
            let event: serde_json::Value = serde_json::from_str(body)?;
            assert_eq!(event["repo"], "github:acme/notify", "{body}");
        }
    }
    let teams: serde_json::Value = serde_json::from_str(
        &received.requests.iter().find(|(p, _, _)| p == "/teams").ok_or("teams")?.2,
    )?;
    assert_eq!(teams["attachments"][0]["content"]["type"], "AdaptiveCard", "{teams}");
    assert!(teams.to_string().contains("`revoked`"), "{teams}");
    Ok(())
}

fn got_in(received: &Received, path: &str, needle: &str) -> usize {
    received.requests.iter().filter(|(p, _, b)| p == path && b.contains(needle)).count()
}

/// What the pre-receive hook records (a bypass, a bypass request it opens) in the service's
/// database reaches the targets that take those events, once each, through the service.
#[test]
fn the_hooks_bypasses_and_bypass_requests_are_announced() -> TestResult {
    use leakgate_hooks::Exceptions;
    let world = World::new()?;
    let (shared, endpoints) = endpoints();
    let extra = format!(
        "[notify.siem]\nkind = \"webhook\"\nurl = \"{}/hook\"\nsecret = \"siem-hmac-key\"\n\
         events = [\"bypass\", \"bypass_request\"]\nallow_internal = true\nallow_http = true\n",
        endpoints.base
    );
    let service = Service::start(&world, &world.config(&extra)?)?;
    let url = world.database_url();
    // As the hook records a bypass, in the service's database.
    let record = leakgate_hooks::AuditRecord {
        event: "bypass",
        at: 0,
        user: "alice".into(),
        repo: "/srv/git/app.git".into(),
        refs: vec!["refs/heads/main".into()],
        commits: vec!["c0ffee".into()],
        reason: Some("false_positive".into()),
        comment: None,
        findings: vec![leakgate_hooks::AuditFinding {
            rule_id: "github-pat-classic".into(),
            fingerprint: "ab".repeat(32),
            commit: "c0ffee".into(),
            path: "a.env".into(),
            line: 1,
        }],
        why: None,
        updates: Vec::new(),
    };
    leakgate_server::hook::record(&url, &record, true, std::time::Duration::from_secs(10))?;
    // As the hook opens a bypass request, twice (the pusher pushes the same secrets again).
    let exceptions = leakgate_server::hook::HookExceptions::new(&url)
        .notifying(std::sync::Arc::new(leakgate_server::hook::NotifyFlag::fixed(true)));
    let request = leakgate_hooks::RequestToOpen {
        repo: "/srv/git/app.git".into(),
        pusher: "bob".into(),
        fingerprints: vec!["cd".repeat(32)],
        summary: "[]".into(),
        refs: "refs/heads/main".into(),
        lasts: std::time::Duration::from_secs(3600),
    };
    let (id, new) = exceptions.open_request(&request)?;
    assert!(new);
    assert_eq!(exceptions.open_request(&request)?, (id, false));
    let bodies = || -> Vec<String> {
        shared
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .requests
            .iter()
            .map(|(_, _, b)| b.clone())
            .collect()
    };
    service.wait("both events", || bodies().len() == 2)?;
    std::thread::sleep(std::time::Duration::from_millis(300));
    let bodies = bodies();
    assert_eq!(bodies.len(), 2, "once each: {bodies:?}");
    let events: Vec<serde_json::Value> =
        bodies.iter().map(|b| serde_json::from_str(b)).collect::<Result<_, _>>()?;
    let bypass = events.iter().find(|e| e["event"] == "bypass").ok_or("a bypass event")?;
    assert_eq!((bypass["user"].as_str(), bypass["secrets"].as_u64()), (Some("alice"), Some(1)));
    let asked = events.iter().find(|e| e["event"] == "bypass_request").ok_or("a request")?;
    assert_eq!((asked["id"].as_i64(), asked["pusher"].as_str()), (Some(id), Some("bob")));
    Ok(())
}

/// Slack's buttons: an interactive Slack target gets Approve/Reject on a bypass request and
/// "Revoke now" on a leak; `POST /slack/interactions` acts only on requests signed with the
/// app's signing secret within five minutes, and only for listed approvers, under their
/// leakgate name (so nobody approves their own request).
#[test]
fn slack_buttons_are_verified_and_act_for_listed_approvers_only() -> TestResult {
    use leakgate_hooks::Exceptions;
    let world = World::new()?;
    let (shared, endpoints) = endpoints();
    let extra = format!(
        "[revoke.github]\npolicy = \"manual\"\napi_url = \"{fake}/github-api\"\nallow_internal = true\n\
         allow_http = true\nrequests_per_hour = 360000\n\
         [slack]\nsigning_secret = \"slack-signing-secret\"\n\
         [slack.approvers]\nU0CAROL = \"carol\"\nU0BOB = \"bob\"\n\
         [notify.chat]\nkind = \"slack\"\nurl = \"{base}/slack\"\ninteractive = true\n\
         allow_internal = true\nallow_http = true\n",
        fake = world.fake.base,
        base = endpoints.base
    );
    let service = Service::start(&world, &world.config(&extra)?)?;
    let url = world.database_url();
    let exceptions = leakgate_server::hook::HookExceptions::new(&url)
        .notifying(std::sync::Arc::new(leakgate_server::hook::NotifyFlag::fixed(true)));
    let (id, _) = exceptions.open_request(&leakgate_hooks::RequestToOpen {
        repo: "/srv/git/app.git".into(),
        pusher: "bob".into(),
        fingerprints: vec!["ef".repeat(32)],
        summary: "[]".into(),
        refs: "refs/heads/main".into(),
        lasts: std::time::Duration::from_secs(3600),
    })?;
    let slack_bodies = || -> Vec<serde_json::Value> {
        shared
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .requests
            .iter()
            .filter_map(|(_, _, b)| serde_json::from_str(b).ok())
            .collect()
    };
    service.wait("the request's message", || !slack_bodies().is_empty())?;
    let message = slack_bodies()[0].to_string();
    assert!(
        message.contains("leakgate_approve_bypass") && message.contains("leakgate_reject_bypass"),
        "{message}"
    );

    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
    let interact =
        |user: &str, action: &str, value: &str, at: u64, key: &str| -> crate::Res<(u16, String)> {
            let payload = serde_json::json!({
                "type": "block_actions", "user": {"id": user, "username": user},
                "actions": [{"action_id": action, "value": value, "type": "button"}],
            });
            let body = format!("payload={}", urlencode(&payload.to_string()));
            let base = format!("v0:{at}:{body}");
            let signature = format!(
                "v0={}",
                leakgate_server::signature::sign_hex(key.as_bytes(), base.as_bytes())
            );
            let at = at.to_string();
            let headers = [
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("X-Slack-Request-Timestamp", at.as_str()),
                ("X-Slack-Signature", signature.as_str()),
            ];
            Ok(crate::http::request(
                &service.addr,
                "POST",
                "/slack/interactions",
                &headers,
                body.as_bytes(),
            )?)
        };
    let value = id.to_string();
    let approve = "leakgate_approve_bypass";
    assert_eq!(interact("U0CAROL", approve, &value, now, "wrong-secret")?.0, 401, "wrong key");
    assert_eq!(
        interact("U0CAROL", approve, &value, now - 301, "slack-signing-secret")?.0,
        401,
        "stale"
    );
    let (code, reply) = interact("U0MALLORY", approve, &value, now, "slack-signing-secret")?;
    assert_eq!(code, 200);
    assert!(reply.contains("not a leakgate approver"), "{reply}");
    let (_, reply) = interact("U0BOB", approve, &value, now, "slack-signing-secret")?;
    assert!(reply.contains("Nobody reviews their own"), "{reply}");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let store = runtime.block_on(leakgate_store::Store::connect_without_migrating(&url))?;
    let state = || runtime.block_on(store.bypass_request(id)).ok().flatten().map(|r| r.state);
    assert_eq!(state().as_deref(), Some("open"), "nothing decided yet");
    let (_, reply) = interact("U0CAROL", approve, &value, now, "slack-signing-secret")?;
    assert!(reply.contains("approved by carol"), "{reply}");
    let decided = runtime.block_on(store.bypass_request(id))?.ok_or("the request")?;
    assert_eq!((decided.state.as_str(), decided.reviewer.as_deref()), ("approved", Some("carol")));

    // A leak under the manual policy: "Revoke now" sends it.
    let repo = world.repo("github", "acme/slack")?;
    let token = github_token(82);
    repo.commit("a.env", &format!("TOKEN={token}\n"))?;
    let (before, after) = repo.push()?;
    assert_eq!(service.deliver("github", "push", "s-1", &repo.event(&before, &after))?.0, 202);
    service.wait("the leak's message", || {
        slack_bodies().iter().any(|b| b.to_string().contains("leakgate_revoke"))
    })?;
    let leak = slack_bodies()
        .into_iter()
        .find(|b| b.to_string().contains("leakgate_revoke"))
        .ok_or("leak")?;
    let finding =
        leak["blocks"][1]["elements"][0]["value"].as_str().ok_or("a finding id")?.to_owned();
    assert!(world.fake.state().revoked.is_empty(), "manual: nothing sent yet");
    let (_, reply) = interact("U0CAROL", "leakgate_revoke", &finding, now, "slack-signing-secret")?;
    assert!(reply.contains("queued by carol"), "{reply}");
    service.wait("the token revoked", || {
        world.fake.state().revoked.iter().any(|(t, _)| *t == token)
    })?;
    let audit = runtime.block_on(store.audit_events(100))?;
    assert!(audit.iter().any(|e| e.kind == "slack_action_refused"));
    assert_eq!(audit.iter().filter(|e| e.kind == "slack_action").count(), 3);
    Ok(())
}

/// `application/x-www-form-urlencoded` escaping, as Slack sends its payload.
fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                char::from(b).to_string()
            }
            b' ' => "+".to_owned(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
