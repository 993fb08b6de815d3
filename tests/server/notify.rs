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

#[test]
fn leaks_and_revocations_reach_slack_teams_and_signed_webhooks() -> TestResult {
    let world = World::new()?;
    let shared: Shared = Arc::default();
    shared
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .failures
        .push(("/slack".into(), 500));
    let data = web::Data::new(shared.clone());
    let endpoints = crate::LocalServer::start(1, move |cfg| {
        cfg.app_data(data.clone()).default_service(web::to(receive));
    });
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
