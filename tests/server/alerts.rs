//! The GitHub secret scanning alert responder, end to end: a signed `secret_scanning_alert`
//! webhook → the secret fetched from the (fake) GitHub API with the App's installation token
//! → revoked through GitHub's credential revocation API → the alert resolved as `revoked` →
//! an issue saying so; redeliveries and later actions change nothing.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::{assert_no_plaintext, github_token, Service, TestResult, World};

fn alert_event(repo: &str, number: u64, action: &str) -> String {
    json!({
        "action": action,
        "alert": {"number": number, "secret_type": "github_personal_access_token",
                  "state": "open", "html_url": "https://github.example/x"},
        "repository": {"full_name": repo, "private": true},
        "installation": {"id": 99},
        "sender": {"login": "github"},
    })
    .to_string()
}

fn config(world: &World) -> String {
    format!(
        "[revoke.github]\npolicy = \"auto\"\napi_url = \"{}/github-api\"\nallow_internal = true\n\
         allow_http = true\nrequests_per_hour = 360000\n",
        world.fake.base
    )
}

fn plant(world: &World, repo: &str, number: u64, secret: &str) {
    world.fake.state().alerts.insert(
        (repo.to_owned(), number),
        ("github_personal_access_token".into(), secret.to_owned(), "open".into()),
    );
}

#[test]
fn a_secret_scanning_alert_is_revoked_resolved_and_reported_once() -> TestResult {
    let world = World::new()?;
    let service = Service::start(&world, &world.config(&config(&world))?)?;
    let token = github_token(61);
    plant(&world, "acme/app", 7, &token);
    let event = alert_event("acme/app", 7, "created");
    let (code, reply) = service.deliver("github", "secret_scanning_alert", "a-1", &event)?;
    assert_eq!(code, 202, "{reply}");
    let revoked = |t: &str| world.fake.state().revoked.iter().filter(|(r, _)| r == t).count();
    service.wait("the alert's token revoked", || revoked(&token) == 1)?;
    service.wait("the alert resolved", || !world.fake.state().alert_patches.is_empty())?;
    {
        let state = world.fake.state();
        let (repo, number, body) = &state.alert_patches[0];
        assert_eq!((repo.as_str(), *number), ("acme/app", 7));
        assert_eq!(
            (body["state"].as_str(), body["resolution"].as_str()),
            (Some("resolved"), Some("revoked"))
        );
    }
    service.wait("the issue saying revoked", || {
        world.fake.state().issues.iter().any(|i| {
            i.body.contains("secret scanning alert #7") && i.body.contains("**revoked** via github")
        })
    })?;

    // A redelivery, the same action under a new delivery id, and a later `validated` action:
    // no second revocation, no second resolution, one issue.
    assert_eq!(service.deliver("github", "secret_scanning_alert", "a-1", &event)?.0, 202);
    assert_eq!(service.deliver("github", "secret_scanning_alert", "a-1-bis", &event)?.0, 202);
    let validated = alert_event("acme/app", 7, "validated");
    assert_eq!(service.deliver("github", "secret_scanning_alert", "a-2", &validated)?.0, 202);
    service.wait("the later action handled", || {
        // The alert, its revocation and the `validated` action (the second delivery of
        // `created` is the same job).
        let (queued, running, done, _) = crate::job_counts(&world).unwrap_or_default();
        done >= 3 && queued + running == 0
    })?;
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(revoked(&token), 1, "revoked once");
    assert_eq!(world.fake.state().alert_patches.len(), 1, "resolved once");
    assert_eq!(world.fake.state().issues.len(), 1, "one issue");
    // Actions that say nothing about the key are acknowledged and ignored.
    let resolved = alert_event("acme/app", 7, "resolved");
    let (code, reply) = service.deliver("github", "secret_scanning_alert", "a-3", &resolved)?;
    assert_eq!(code, 202);
    assert!(reply.contains("ignored"), "{reply}");
    // A payload that is not an alert: 400, nothing queued.
    let (code, _) =
        service.deliver("github", "secret_scanning_alert", "a-4", "{\"action\":\"created\"}")?;
    assert_eq!(code, 400);

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let store = runtime
        .block_on(leakgate_store::Store::connect_without_migrating(&world.database_url()))?;
    let alert = runtime.block_on(store.alert("acme/app", 7))?.ok_or("the alert is recorded")?;
    assert_eq!(alert.state, "resolved");
    let audit = runtime.block_on(store.audit_events(100))?;
    assert!(audit.iter().any(|e| e.kind == "alert_resolved"));
    drop(store);
    assert_no_plaintext(&world, &[service.log()], &token)?;
    Ok(())
}

/// An alert a person resolved on GitHub before leakgate read it is left alone; an alert
/// whose secret matches no rule of its type is recorded as unsupported.
#[test]
fn resolved_and_unrecognised_alerts_revoke_nothing() -> TestResult {
    let world = World::new()?;
    let service = Service::start(&world, &world.config(&config(&world))?)?;
    let token = github_token(62);
    world.fake.state().alerts.insert(
        ("acme/app".into(), 8),
        ("github_personal_access_token".into(), token.clone(), "resolved".into()),
    );
    plant(&world, "acme/app", 9, "not-a-github-token-at-all");
    for (id, number) in [("b-1", 8), ("b-2", 9)] {
        let event = alert_event("acme/app", number, "created");
        assert_eq!(service.deliver("github", "secret_scanning_alert", id, &event)?.0, 202);
    }
    service.wait("both alerts handled", || {
        let (queued, running, done, _) = crate::job_counts(&world).unwrap_or_default();
        done >= 2 && queued + running == 0
    })?;
    assert!(world.fake.state().revoked.is_empty());
    assert!(world.fake.state().alert_patches.is_empty());
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let store = runtime
        .block_on(leakgate_store::Store::connect_without_migrating(&world.database_url()))?;
    let state = |n| runtime.block_on(store.alert("acme/app", n)).ok().flatten().map(|a| a.state);
    assert_eq!(state(8).as_deref(), Some("resolved"));
    assert_eq!(state(9).as_deref(), Some("unsupported"));
    Ok(())
}

/// Alert webhook → revoked on loopback, for the README: `cargo test --release --test server
/// alert_latency -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement, not a check: run it by hand"]
fn alert_latency() -> TestResult {
    let world = World::new()?;
    let service = Service::start(&world, &world.config(&config(&world))?)?;
    let mut samples = Vec::new();
    for i in 0..21u64 {
        let token = github_token(2000 + i);
        plant(&world, "acme/latency", 100 + i, &token);
        let event = alert_event("acme/latency", 100 + i, "created");
        let sent = Instant::now();
        let id = format!("lat-{i}");
        assert_eq!(service.deliver("github", "secret_scanning_alert", &id, &event)?.0, 202);
        let deadline = sent + Duration::from_secs(30);
        let at = loop {
            if let Some((_, at)) = world.fake.state().revoked.iter().find(|(t, _)| *t == token) {
                break *at;
            }
            assert!(Instant::now() < deadline, "not revoked within 30 s");
            std::thread::sleep(Duration::from_millis(1));
        };
        samples.push(at.duration_since(sent));
        service.wait("the alert resolved", || {
            world.fake.state().alert_patches.iter().any(|(_, n, _)| *n == 100 + i)
        })?;
    }
    samples.sort();
    println!(
        "alert webhook -> revoked (GitHub, loopback, {} alerts): median {:.1} ms, min {:.1} ms, max {:.1} ms",
        samples.len(),
        samples[samples.len() / 2].as_secs_f64() * 1e3,
        samples[0].as_secs_f64() * 1e3,
        samples[samples.len() - 1].as_secs_f64() * 1e3,
    );
    Ok(())
}
