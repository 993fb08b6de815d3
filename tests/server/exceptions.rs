//! The operator API's exceptions: bypass requests and waivers, over real HTTP, behind the
//! admin token.

use std::time::Duration;

use crate::{Res, Service, TestResult, World};

#[test]
fn the_operator_api_reviews_bypass_requests_and_manages_waivers() -> TestResult {
    let world = World::new()?;
    let admin = "operator-token-for-exceptions";
    let service = Service::start_with_env(
        &world,
        &world.config("")?,
        &[("LEAKGATE_SERVER__ADMIN_TOKEN", admin)],
    )?;
    // A request as the hook opens it, in the service's database.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let store = runtime.block_on(leakgate_store::Store::connect(&world.database_url()))?;
    let (id, _) = runtime.block_on(store.open_bypass_request(&leakgate_store::NewBypassRequest {
        repo: "/srv/git/app.git".into(),
        pusher: "alice".into(),
        fingerprints: vec!["ab".repeat(32)],
        summary: r#"[{"rule_id":"github-pat-classic","path":"fixtures/t.txt","line":1,"redacted":"ghp_ab…"}]"#.into(),
        refs: "refs/heads/main".into(),
        lasts: Duration::from_secs(3600),
    }))?;

    let call = |method: &str, path: &str, auth: Option<&str>, body: &str| -> Res<(u16, String)> {
        let bearer = auth.map(|t| format!("Bearer {t}"));
        let mut headers: Vec<(&str, &str)> = vec![("Content-Type", "application/json")];
        headers.extend(bearer.as_deref().map(|b| ("Authorization", b)));
        Ok(crate::http::request(&service.addr, method, path, &headers, body.as_bytes())?)
    };
    assert_eq!(call("GET", "/api/bypass-requests", None, "")?.0, 401);
    assert_eq!(call("GET", "/api/bypass-requests", Some("wrong"), "")?.0, 401);
    assert_eq!(call("GET", "/api/bypass-requests?state=bogus", Some(admin), "")?.0, 400);
    let (code, list) = call("GET", "/api/bypass-requests?state=open", Some(admin), "")?;
    assert_eq!(code, 200, "{list}");
    let list: serde_json::Value = serde_json::from_str(&list)?;
    assert_eq!(list[0]["id"], id);
    assert_eq!(list[0]["pusher"], "alice");
    assert_eq!(list[0]["findings"][0]["path"], "fixtures/t.txt");

    let approve = format!("/api/bypass-requests/{id}/approve");
    let reject = format!("/api/bypass-requests/{id}/reject");
    assert_eq!(call("POST", &approve, Some("wrong"), r#"{"reviewer":"bob"}"#)?.0, 401);
    assert_eq!(call("POST", &approve, Some(admin), "not json")?.0, 400);
    assert_eq!(call("POST", &approve, Some(admin), r#"{"reviewer":"alice"}"#)?.0, 403);
    assert_eq!(call("POST", &reject, Some(admin), r#"{"reviewer":"bob"}"#)?.0, 400);
    assert_eq!(call("POST", "/api/bypass-requests/x/approve", Some(admin), "{}")?.0, 400);
    let missing =
        call("POST", "/api/bypass-requests/99999/approve", Some(admin), r#"{"reviewer":"bob"}"#)?;
    assert_eq!(missing.0, 404);
    let (code, done) =
        call("POST", &approve, Some(admin), r#"{"reviewer":"sec-lead","message":"fixture"}"#)?;
    assert_eq!(code, 200, "{done}");
    let done: serde_json::Value = serde_json::from_str(&done)?;
    assert_eq!(
        (done["state"].as_str(), done["reviewer"].as_str()),
        (Some("approved"), Some("sec-lead"))
    );
    assert_eq!(call("POST", &reject, Some(admin), r#"{"reviewer":"bob","message":"no"}"#)?.0, 409);

    // Waivers.
    assert_eq!(call("POST", "/api/waivers", None, "{}")?.0, 401);
    let bad = r#"{"fingerprint":"short","reason":"r","approved_by":"sec-lead","expires_in":"7d"}"#;
    assert_eq!(call("POST", "/api/waivers", Some(admin), bad)?.0, 400);
    let bad_time = format!(
        r#"{{"fingerprint":"{}","reason":"r","approved_by":"sec-lead","expires_in":"soon"}}"#,
        "cd".repeat(32)
    );
    assert_eq!(call("POST", "/api/waivers", Some(admin), &bad_time)?.0, 400);
    let good = format!(
        r#"{{"fingerprint":"{}","reason":"fixture","approved_by":"sec-lead","expires_in":"7d","path":"tests/**"}}"#,
        "cd".repeat(32)
    );
    let (code, created) = call("POST", "/api/waivers", Some(admin), &good)?;
    assert_eq!(code, 201, "{created}");
    let waiver = serde_json::from_str::<serde_json::Value>(&created)?["id"].clone();
    let (code, listed) = call("GET", "/api/waivers", Some(admin), "")?;
    assert_eq!(code, 200);
    let listed: serde_json::Value = serde_json::from_str(&listed)?;
    assert_eq!(listed[0]["path_glob"], "tests/**");
    assert_eq!(listed[0]["expired"], false);
    let delete = format!("/api/waivers/{waiver}");
    assert_eq!(call("DELETE", &delete, Some(admin), "")?.0, 400, "who removes it");
    assert_eq!(call("DELETE", &format!("{delete}?by=sec-lead"), Some(admin), "")?.0, 204);
    assert_eq!(call("DELETE", &format!("{delete}?by=sec-lead"), Some(admin), "")?.0, 404);

    let kinds: Vec<String> = runtime
        .block_on(store.audit_events(100))?
        .into_iter()
        .map(|e| format!("{}:{}", e.kind, e.actor))
        .collect();
    for expected in
        ["bypass_request_approved:sec-lead", "waiver_added:sec-lead", "waiver_removed:sec-lead"]
    {
        assert!(kinds.iter().any(|k| k == expected), "{expected} in {kinds:?}");
    }
    Ok(())
}
