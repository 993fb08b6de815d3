//! One conformance story for every Store operation, run on SQLite and on a real PostgreSQL
//! that the harness starts itself.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use leakgate_store::{
    AlertRecord, Bypass, Decision, Delivery, Error, FindingRecord, IssueClaim, IssueLock,
    IssueRecord, JobState, NewBypassRequest, NewJob, NewRevocation, NewScan, NewValidation,
    NewWaiver, RevocationEnd, RevocationState, SecretKey, Store,
};

mod pg;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn fps_of(claimed: Vec<(String, i64)>) -> Vec<String> {
    claimed.into_iter().map(|(f, _)| f).collect()
}

/// Revocations: recorded once per secret; claimed in batches with the asked-for one first;
/// a second claimer gets none; an expired claim is taken over; a claim's end counts the
/// attempt and fails for a worker that lost it; state moves only from the states named;
/// pacing hands out one slot per interval and a held lane stays closed.
/// Validations: planned once per secret, each check recorded (state, count, next round) and
/// audited; alerts: recorded, reopened, listed open by secret, resolved once.
async fn validations(store: &Store) -> TestResult {
    let new = |fp: &str| NewValidation {
        fingerprint: fp.into(),
        validator: "github".into(),
        rule_id: "github-pat-classic".into(),
        finding_id: Some(7),
        context: "{}".into(),
    };
    assert!(store.add_validation(&new("v-1")).await?);
    assert!(!store.add_validation(&new("v-1")).await?, "one validation per secret");
    let v = store.validation("v-1").await?.ok_or("planned")?;
    assert_eq!((v.state.as_str(), v.checks, v.checked_at), ("pending", 0, None));
    store.record_validation("v-1", "valid", Some(200), "HTTP 200", Some(42), "w").await?;
    assert_eq!(store.gauges().await?.live_secrets, 1, "a live secret");
    store.record_validation("v-1", "revoked", None, "revoked via github", None, "w").await?;
    assert_eq!(store.gauges().await?.live_secrets, 0);
    let v = store.validation("v-1").await?.ok_or("recorded")?;
    assert_eq!((v.state.as_str(), v.checks, v.next_check_at), ("revoked", 2, None));
    assert!(v.checked_at.is_some());
    assert!(matches!(
        store.record_validation("nope", "valid", None, "", None, "w").await,
        Err(Error::NotFound)
    ));
    assert_eq!(store.validations(10).await?.len(), 1);
    let audited = store.audit_events(10).await?;
    assert_eq!(audited.iter().filter(|e| e.kind == "validated").count(), 2);

    let alert = |number: i64, fp: Option<&str>, state: &str| AlertRecord {
        repo: "acme/app".into(),
        number,
        installation_id: Some(99),
        fingerprint: fp.map(str::to_owned),
        secret_type: "github_personal_access_token".into(),
        state: state.into(),
        created_at: 0,
        resolved_at: None,
    };
    store.record_alert(&alert(1, Some("v-1"), "open")).await?;
    store.record_alert(&alert(2, Some("v-1"), "open")).await?;
    store.record_alert(&alert(3, None, "unsupported")).await?;
    assert_eq!(store.open_alerts("v-1").await?.len(), 2);
    assert!(store.alert_resolved("acme/app", 1).await?);
    assert!(!store.alert_resolved("acme/app", 1).await?, "resolved once");
    assert!(!store.alert_resolved("acme/app", 3).await?, "not open");
    let one = store.alert("acme/app", 1).await?.ok_or("alert 1")?;
    assert_eq!(one.state, "resolved");
    assert!(one.resolved_at.is_some());
    // Reopened: open again, its resolution cleared.
    store.record_alert(&alert(1, Some("v-1"), "open")).await?;
    let one = store.alert("acme/app", 1).await?.ok_or("alert 1")?;
    assert_eq!((one.state.as_str(), one.resolved_at), ("open", None));
    assert_eq!(store.open_alerts("v-1").await?.len(), 2);
    Ok(())
}

/// Waivers and bypass requests: scope, expiry, reuse of an open request, decisions, audit.
async fn exceptions(store: &Store) -> TestResult {
    let waiver = |repo: Option<&str>, lasts: Duration| NewWaiver {
        fingerprint: "fp-known".into(),
        repo: repo.map(str::to_owned),
        path_glob: Some("tests/**".into()),
        reason: "test fixture".into(),
        approved_by: "sec-lead".into(),
        lasts,
    };
    let everywhere = store.add_waiver(&waiver(None, Duration::from_secs(3600))).await?;
    let here = store.add_waiver(&waiver(Some("/srv/git/app.git"), Duration::ZERO)).await?;
    store.add_waiver(&waiver(Some("/srv/git/other.git"), Duration::from_secs(60))).await?;
    let for_app = store.waivers_for("/srv/git/app.git").await?;
    assert_eq!(for_app.iter().map(|w| w.id).collect::<Vec<_>>(), [everywhere, here]);
    let now = i64::try_from(std::time::UNIX_EPOCH.elapsed()?.as_millis())?;
    assert!(!for_app[0].expired(now) && for_app[1].expired(now));
    store.waivers_used(&[everywhere]).await?;
    let used = store.waivers().await?;
    assert_eq!(used.len(), 3);
    assert_eq!((used[0].uses, used[1].uses), (1, 0));
    assert!(used[0].last_used_at.is_some() && used[1].last_used_at.is_none());
    assert!(store.remove_waiver(here, "sec-lead").await?);
    assert!(!store.remove_waiver(here, "sec-lead").await?, "removed once");
    assert_eq!(store.waivers_for("/srv/git/app.git").await?.len(), 1);

    let request = |fps: &[&str], pusher: &str| NewBypassRequest {
        repo: "/srv/git/app.git".into(),
        pusher: pusher.into(),
        fingerprints: fps.iter().map(|f| (*f).to_owned()).collect(),
        summary: "[]".into(),
        refs: "refs/heads/main".into(),
        lasts: Duration::from_secs(3600),
    };
    let (id, new) = store.open_bypass_request(&request(&["fp-b", "fp-a"], "alice")).await?;
    assert!(new);
    // The same secrets in another order, by the same pusher: the same request.
    assert_eq!(
        store.open_bypass_request(&request(&["fp-a", "fp-b", "fp-a"], "alice")).await?,
        (id, false)
    );
    let (other, new) = store.open_bypass_request(&request(&["fp-a"], "alice")).await?;
    assert!(new && other != id);
    let (bobs, _) = store.open_bypass_request(&request(&["fp-a", "fp-b"], "bob")).await?;
    assert!(bobs != id && bobs != other);
    let stored = store.bypass_request(id).await?.ok_or("stored")?;
    assert_eq!((stored.state.as_str(), stored.fingerprint_list()), ("open", vec!["fp-a", "fp-b"]));
    assert_eq!(store.decide_bypass_request(id, true, "alice", "mine").await?, Decision::OwnRequest);
    let Decision::Done(approved) =
        store.decide_bypass_request(id, true, "sec-lead", "fixture").await?
    else {
        panic!("approved");
    };
    assert_eq!(approved.state, "approved");
    assert_eq!(approved.reviewer.as_deref(), Some("sec-lead"));
    assert_eq!(
        store.decide_bypass_request(id, false, "sec-lead", "again").await?,
        Decision::NotOpen("approved".into())
    );
    assert_eq!(store.decide_bypass_request(999_999, true, "x", "").await?, Decision::NotFound);
    assert!(matches!(
        store.decide_bypass_request(other, false, "sec-lead", "real key").await?,
        Decision::Done(r) if r.state == "rejected"
    ));
    store.bypass_request_used(id).await?;
    assert_eq!(store.bypass_request(id).await?.ok_or("stored")?.uses, 1);
    let open = store.bypass_requests(Some("open")).await?;
    assert_eq!(open.iter().map(|r| r.id).collect::<Vec<_>>(), [bobs]);
    assert_eq!(store.bypass_requests(None).await?.len(), 3);
    // An expired request cannot be decided, and lists as expired.
    let expired = NewBypassRequest { lasts: Duration::ZERO, ..request(&["fp-c"], "carol") };
    let (late, _) = store.open_bypass_request(&expired).await?;
    assert_eq!(
        store.decide_bypass_request(late, true, "sec-lead", "").await?,
        Decision::NotOpen("expired".into())
    );
    assert_eq!(store.bypass_requests(Some("expired")).await?.len(), 1);
    let kinds: Vec<String> = store.audit_events(100).await?.into_iter().map(|e| e.kind).collect();
    for kind in [
        "waiver_added",
        "waiver_removed",
        "bypass_request_opened",
        "bypass_request_approved",
        "bypass_request_rejected",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} audited: {kinds:?}");
    }
    Ok(())
}

async fn revocations(store: &Store) -> TestResult {
    let lease = Duration::from_secs(60);
    let new = |fp: &str| NewRevocation {
        fingerprint: fp.to_owned(),
        provider: "github".into(),
        lane: "github-batch".into(),
        rule_id: "github-pat-classic".into(),
        finding_id: None,
        context: "{}".into(),
        state: RevocationState::Queued,
        summary: "queued".into(),
    };
    let fps: Vec<String> = (0..5).map(|i| format!("{i:064}")).collect();
    for fp in &fps {
        let (row, fresh) = store.add_revocation(&new(fp)).await?;
        assert!(fresh && row.state == RevocationState::Queued && row.attempts == 0);
    }
    let (again, fresh) = store
        .add_revocation(&NewRevocation { state: RevocationState::Off, ..new(&fps[0]) })
        .await?;
    assert!(!fresh && again.state == RevocationState::Queued, "a secret has one revocation");
    let batch = fps_of(store.claim_revocations("github-batch", &fps[3], 3, "w1", lease).await?);
    assert_eq!(batch.len(), 3);
    assert_eq!(
        batch.iter().filter(|f| **f == fps[3]).count(),
        1,
        "the asked-for one is in the batch"
    );
    let rest = fps_of(store.claim_revocations("github-batch", &fps[3], 10, "w2", lease).await?);
    assert_eq!(rest.len(), 2, "only unclaimed rows: {rest:?}");
    assert!(rest.iter().all(|f| !batch.contains(f)));
    assert!(
        fps_of(store.claim_revocations("github-batch", &fps[0], 10, "w3", lease).await?).is_empty()
    );
    assert!(
        fps_of(store.claim_revocations("other-lane", &fps[0], 10, "w3", lease).await?).is_empty()
    );
    let end = |fp: &str, state: &str, wipe: bool| RevocationEnd {
        fingerprint: fp.to_owned(),
        outcome: state.to_owned(),
        state: RevocationState::parse(state).expect("a state"),
        status: Some(202),
        summary: "HTTP 202".into(),
        wipe,
    };
    let key = SecretKey::new([9; 32]);
    for fp in &batch {
        store.put_secret(&key, fp, b"ghp_material").await?;
    }
    // A worker whose claim was taken records its attempt but changes nothing else.
    let lost = store.end_revocations("w2", "github", 1, &[end(&batch[0], "revoked", true)]).await?;
    assert_eq!(lost, vec![batch[0].clone()]);
    assert_eq!(store.revocation(&batch[0]).await?.expect("stored").state, RevocationState::Sending);
    assert!(store.get_secret(&key, &batch[0]).await.is_ok(), "not wiped by a lost claim");
    let ends: Vec<RevocationEnd> = batch.iter().map(|f| end(f, "revoked", true)).collect();
    assert!(store.end_revocations("w1", "github", 3, &ends).await?.is_empty());
    let done = store.revocation(&batch[0]).await?.expect("stored");
    assert!(done.is_final() && done.attempts == 1 && done.summary == "HTTP 202");
    assert!(matches!(store.get_secret(&key, &batch[0]).await, Err(Error::NotFound)), "wiped");
    let audited = store.audit_events(100).await?;
    assert_eq!(audited.iter().filter(|e| e.kind == "revocation_attempt").count(), 4);
    // w2 dies holding its claim; once it expires another worker takes it over.
    let expired =
        fps_of(store.claim_revocations("github-batch", &rest[0], 10, "w2", Duration::ZERO).await?);
    assert!(expired.is_empty(), "still held by w2 under its first lease");
    assert!(
        store
            .move_revocation(
                &rest[0],
                &[RevocationState::Sending],
                RevocationState::Queued,
                "released"
            )
            .await?
    );
    let short =
        fps_of(store.claim_revocations("github-batch", &rest[0], 1, "w4", Duration::ZERO).await?);
    assert_eq!(short, vec![rest[0].clone()]);
    tokio::time::sleep(Duration::from_millis(5)).await;
    let taken = fps_of(store.claim_revocations("github-batch", &rest[0], 1, "w5", lease).await?);
    assert_eq!(taken, vec![rest[0].clone()], "an expired claim is taken over");
    store.end_revocations("w5", "github", 1, &[end(&rest[0], "queued", false)]).await?;
    assert_eq!(store.revocation(&rest[0]).await?.expect("stored").state, RevocationState::Queued);
    assert!(
        !store
            .move_revocation(
                &batch[0],
                &[RevocationState::AwaitingApproval],
                RevocationState::Queued,
                "x"
            )
            .await?
    );
    assert_eq!(store.revocations(Some(RevocationState::Revoked), 10).await?.len(), 3);
    assert_eq!(store.revocations(None, 10).await?.len(), 5);
    // The claim holder's heartbeat keeps its claims; a claim nobody renews is stale and
    // the sweep finds it, as it finds a queued revocation nobody has touched for a while.
    let fresh = new(&"9".repeat(64));
    store.add_revocation(&fresh).await?;
    let held = store
        .claim_revocations("github-batch", &fresh.fingerprint, 1, "w6", Duration::ZERO)
        .await?;
    assert_eq!(held, vec![(fresh.fingerprint.clone(), 0)], "with its call count");
    assert_eq!(store.renew_revocations("w6", lease).await?, 1);
    assert!(store
        .stale_revocations(Duration::ZERO, 10)
        .await?
        .iter()
        .all(|(f, _)| *f != fresh.fingerprint));
    store.renew_revocations("w6", Duration::ZERO).await?;
    tokio::time::sleep(Duration::from_millis(5)).await;
    let stale = store.stale_revocations(Duration::from_secs(3600), 10).await?;
    assert!(stale.iter().any(|(f, _)| *f == fresh.fingerprint), "an expired claim is stale");
    assert!(!store.has_secret(&fresh.fingerprint).await?);
    store.put_secret(&key, &fresh.fingerprint, b"x").await?;
    assert!(store.has_secret(&fresh.fingerprint).await?);
    assert!(store.wipe_secret(&fresh.fingerprint).await?);
    // Pacing: one slot per interval, across callers; a held lane stays closed.
    assert_eq!(store.pace("lane-a", Duration::from_secs(60)).await?, None);
    let wait = store.pace("lane-a", Duration::from_secs(60)).await?.expect("closed");
    assert!(wait > Duration::from_secs(50) && wait <= Duration::from_secs(60), "{wait:?}");
    assert_eq!(store.pace("lane-b", Duration::ZERO).await?, None);
    store.hold_lane("lane-b", Duration::from_secs(30)).await?;
    let wait = store.pace("lane-b", Duration::ZERO).await?.expect("held");
    assert!(wait > Duration::from_secs(20), "{wait:?}");
    // Absurd delays (a provider's Retry-After) neither overflow nor open the lane.
    store.hold_lane("lane-c", Duration::MAX).await?;
    assert!(store
        .pace("lane-c", Duration::ZERO)
        .await?
        .is_some_and(|w| w > Duration::from_secs(3600)));
    Ok(())
}

async fn story(store: &Store, reopen: &str) -> TestResult {
    // Migrations re-run cleanly on an already migrated database.
    store.migrate().await?;
    Store::connect(reopen).await?;
    let _ = &store;
    assert!(store.ping().await);

    // Deliveries are deduplicated, and a delivery's job is stored with it.
    let delivery = Delivery {
        source: "github".into(),
        delivery_id: "d-1".into(),
        event: "push".into(),
        outcome: "queued".into(),
    };
    let job = NewJob::new("scan", r#"{"repo":"acme/app"}"#).key("github:d-1");
    let first = store.record_delivery(&delivery, Some(&job)).await?;
    assert!(matches!(first, Some(Some(_))));
    assert_eq!(store.record_delivery(&delivery, Some(&job)).await?, None, "redelivery is a no-op");

    // Idempotency keys: the same key twice is one job.
    let a = store.enqueue(&NewJob::new("revoke", "{}").key("revoke:fp1")).await?;
    let b = store.enqueue(&NewJob::new("revoke", "{}").key("revoke:fp1")).await?;
    assert_eq!(a, b);

    // Claim, heartbeat, complete; a finished job is not claimed again.
    let claimed = store.claim("w1", 10, Duration::from_secs(60)).await?;
    assert_eq!(claimed.len(), 2);
    assert!(claimed.iter().all(|j| j.attempts == 1 && j.state == JobState::Running));
    for j in &claimed {
        store.heartbeat(j.id, "w1", Duration::from_secs(60)).await?;
        assert!(matches!(store.complete(j.id, "w2").await, Err(Error::LeaseLost(_))));
        store.complete(j.id, "w1").await?;
    }
    assert!(store.claim("w1", 10, Duration::from_secs(60)).await?.is_empty());

    // A worker that dies loses its lease; another worker claims the job again.
    let id = store.enqueue(&NewJob::new("scan", "{}")).await?;
    let got = store.claim("dies", 1, Duration::from_millis(1)).await?;
    assert_eq!(got[0].id, id);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let again = store.claim("survivor", 1, Duration::from_secs(60)).await?;
    assert_eq!(again[0].id, id);
    assert_eq!(again[0].attempts, 2);
    assert!(matches!(
        store.heartbeat(id, "dies", Duration::from_secs(1)).await,
        Err(Error::LeaseLost(_))
    ));
    store.complete(id, "survivor").await?;

    // Failures retry after a backoff, then go to the dead letter.
    let mut job = NewJob::new("revoke", "{}");
    job.max_attempts = 2;
    let id = store.enqueue(&job).await?;
    let got = store.claim("w", 1, Duration::from_secs(60)).await?;
    assert_eq!(store.fail(got[0].id, "w", "HTTP 503").await?, JobState::Queued);
    assert!(store.claim("w", 1, Duration::from_secs(60)).await?.is_empty(), "backing off");
    sqlx_force_due(store, id).await?;
    let got = store.claim("w", 1, Duration::from_secs(60)).await?;
    assert_eq!(store.fail(got[0].id, "w", "HTTP 503 again").await?, JobState::Dead);
    let dead = store.dead_jobs(10).await?;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].last_error.as_deref(), Some("HTTP 503 again"));

    // Scans, findings, bypasses, revocation attempts, issues, audit.
    let scan = store
        .start_scan(&NewScan {
            repo: "acme/app".into(),
            refs: "refs/heads/main".into(),
            before: None,
            after: Some("abc".into()),
            pusher: Some("alice".into()),
            source: "hook".into(),
            job_key: None,
        })
        .await?;
    let finding = FindingRecord {
        rule_id: "github-pat-classic".into(),
        provider: "github".into(),
        severity: "critical".into(),
        path: "a.py".into(),
        line: 3,
        commit_id: Some("abc".into()),
        redacted: "ghp_…".into(),
        fingerprint: "f".repeat(64),
    };
    let finding_id = store.add_finding(scan, &finding).await?;
    assert_eq!(store.finding(finding_id).await?.map(|f| f.fingerprint), Some("f".repeat(64)));
    assert!(store.finding(finding_id + 1000).await?.is_none());
    store.finish_scan(scan, "blocked").await?;
    let stored = store.findings(scan).await?;
    assert_eq!(stored.len(), 1);

    // A job's every attempt records into one scan row and one set of findings.
    let job_scan = NewScan {
        repo: "acme/app".into(),
        refs: "refs/heads/main".into(),
        before: Some("a".into()),
        after: Some("b".into()),
        pusher: None,
        source: "webhook".into(),
        job_key: Some("job:7".into()),
    };
    let first = store.start_scan(&job_scan).await?;
    let first_finding = store.add_finding(first, &finding).await?;
    store.finish_scan_omitting(first, "incomplete", 3).await?;
    let again = store.start_scan(&job_scan).await?;
    assert_eq!(again, first, "a retry takes over its job's scan");
    assert_eq!(store.add_finding(again, &finding).await?, first_finding, "the same row");
    let other = FindingRecord { line: 4, ..finding.clone() };
    assert_ne!(store.add_finding(again, &other).await?, first_finding);
    store.finish_scan_omitting(again, "findings", 0).await?;
    assert_eq!(store.findings(again).await?.len(), 2);
    assert_eq!(store.scan_status(again).await?, Some(("findings".to_owned(), 0)));
    let unrelated = store.start_scan(&NewScan { job_key: None, ..job_scan.clone() }).await?;

    // Scanned tips, shared by replicas: one per ref, the latest wins.
    store.set_scanned_tip("github:acme/app", "refs/heads/main", "c1").await?;
    store.set_scanned_tip("github:acme/app", "refs/heads/main", "c2").await?;
    store.set_scanned_tip("github:acme/app", "refs/heads/dev", "c3").await?;
    store.set_scanned_tip("github:acme/other", "refs/heads/main", "c4").await?;
    let mut tips = store.scanned_tips("github:acme/app", None, "").await?;
    tips.sort();
    assert_eq!(tips, ["c2", "c3"]);
    // A new ref's push counts neither its own ref's tip nor tips recorded after it arrived.
    assert_eq!(store.scanned_tips("github:acme/app", None, "refs/heads/main").await?, ["c3"]);
    assert!(store.scanned_tips("github:acme/app", Some(0), "").await?.is_empty());
    assert_ne!(unrelated, first, "scans without a job key are rows of their own");
    assert_eq!(stored[0].redacted, "ghp_…");
    store
        .record_bypass(&Bypass {
            repo: "acme/app".into(),
            user: "alice".into(),
            reason: "used-in-tests".into(),
            comment: None,
            refs: "refs/heads/main".into(),
            commits: "abc".into(),
            fingerprints: "f".repeat(64),
        })
        .await?;
    // Issues: one claim opens it; a second worker is told to wait; once open, everyone
    // sees the issue; an expired claim is taken over with `retry` (look on the forge first).
    let fp = "f".repeat(64);
    let lease = Duration::from_secs(60);
    assert_eq!(
        store.claim_issue("github:acme/app", &fp, "w1", lease).await?,
        IssueClaim::Claimed { retry: false }
    );
    assert_eq!(store.claim_issue("github:acme/app", &fp, "w2", lease).await?, IssueClaim::Busy);
    assert_eq!(store.issue("github:acme/app", &fp).await?, None, "not open until recorded");
    let record = IssueRecord {
        number: 7,
        url: "https://forge/issues/7".into(),
        body_hash: Some("h1".into()),
        body: Some("| Revocation | queued |".into()),
        installation_id: Some(99),
    };
    store.issue_opened("github:acme/app", &fp, &record).await?;
    assert_eq!(
        store.claim_issue("github:acme/app", &fp, "w2", lease).await?,
        IssueClaim::Open(record.clone())
    );
    assert_eq!(store.issue("github:acme/app", &fp).await?, Some(record.clone()));
    // Edits take turns: one writer at a time, and a lock nobody ends expires.
    assert_eq!(
        store.lock_issue("github:acme/app", &fp, "w1", lease).await?,
        IssueLock::Locked(record.clone())
    );
    assert_eq!(store.lock_issue("github:acme/app", &fp, "w2", lease).await?, IssueLock::Busy);
    store.unlock_issue("github:acme/app", &fp, "w1").await?;
    assert_eq!(
        store.lock_issue("github:acme/app", &fp, "w2", Duration::ZERO).await?,
        IssueLock::Locked(record.clone())
    );
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert!(matches!(
        store.lock_issue("github:acme/app", &fp, "w3", lease).await?,
        IssueLock::Locked(_)
    ));
    store.issue_opened("github:acme/app", &fp, &record).await?;
    assert_eq!(
        store.lock_issue("github:acme/app", &"0".repeat(64), "w1", lease).await?,
        IssueLock::NotOpen
    );
    assert_eq!(store.issue_repos(&fp).await?, vec!["github:acme/app".to_owned()]);
    let other = "e".repeat(64);
    store.claim_issue("github:acme/app", &other, "w1", Duration::ZERO).await?;
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(
        store.claim_issue("github:acme/app", &other, "w2", lease).await?,
        IssueClaim::Claimed { retry: true },
        "an expired claim is taken over"
    );

    revocations(store).await?;
    exceptions(store).await?;
    validations(store).await?;

    // Group commit: a batch records each delivery once, duplicates inside it included.
    let batch: Vec<(Delivery, Option<NewJob>)> = (0..3)
        .map(|i| {
            let d = Delivery {
                source: "gitea".into(),
                delivery_id: format!("batch-{}", i.min(1)),
                event: "push".into(),
                outcome: "queued".into(),
            };
            (d, Some(NewJob::new("scan", "{}").key(&format!("batch-job-{i}"))))
        })
        .collect();
    let results = store.record_deliveries(&batch).await?;
    assert!(matches!(results[0], Some(Some(_))) && matches!(results[1], Some(Some(_))));
    assert_eq!(results[2], None, "the repeated delivery in the batch is a duplicate");
    // Two deliveries of one push (same job key) in a batch: both recorded, one job.
    let same_push: Vec<(Delivery, Option<NewJob>)> = (0..2)
        .map(|i| {
            let d = Delivery {
                source: "gitea".into(),
                delivery_id: format!("same-push-{i}"),
                event: "push".into(),
                outcome: "queued".into(),
            };
            (d, Some(NewJob::new("scan", "{}").key("batch-job-0")))
        })
        .collect();
    assert_eq!(
        store.record_deliveries(&same_push).await?,
        vec![Some(None), Some(None)],
        "the job existed already"
    );
    let batch_jobs = store.claim("batch-worker", 10, lease).await?;
    assert_eq!(batch_jobs.len(), 2, "one job per fresh delivery");
    store.complete(batch_jobs[1].id, "batch-worker").await?;
    // Released (shutdown) and postponed (rate limit) jobs keep their attempts.
    let first = batch_jobs[0].id;
    store.release(first, "batch-worker").await?;
    let again = store.claim("batch-worker", 1, lease).await?;
    assert_eq!((again[0].id, again[0].attempts), (first, 1), "release does not burn an attempt");
    store.postpone(first, "batch-worker", Duration::from_secs(3600), "rate limited").await?;
    assert!(store.claim("batch-worker", 1, lease).await?.is_empty(), "a postponed job waits");
    let postponed = store.job(first).await?;
    assert_eq!((postponed.attempts, postponed.state), (0, JobState::Queued));
    assert_eq!(postponed.last_error.as_deref(), Some("rate limited"));
    assert!(matches!(store.release(first, "batch-worker").await, Err(Error::LeaseLost(_))));
    store.requeue(first).await?;
    let last = store.claim("batch-worker", 10, lease).await?;
    assert_eq!(last.len(), 1);
    store.complete(last[0].id, "batch-worker").await?;
    store.audit("bypass", "alice", r#"{"repo":"acme/app"}"#).await?;
    assert_eq!(store.audit_events(5).await?[0].kind, "bypass");

    // Secret material: encrypted round trip, a wrong key is a clear error, wiped on demand.
    let key = SecretKey::new([7; 32]);
    let secret = b"ghp_example_material_for_revocation";
    store.put_secret(&key, "fp-secret", secret).await?;
    assert_eq!(&store.get_secret(&key, "fp-secret").await?[..], &secret[..]);
    let wrong = store.get_secret(&SecretKey::new([8; 32]), "fp-secret").await;
    assert!(matches!(wrong, Err(Error::Decrypt { .. })));
    assert!(wrong.expect_err("wrong key").to_string().contains("wrong encryption key"));
    assert!(store.wipe_secret("fp-secret").await?);
    assert!(matches!(store.get_secret(&key, "fp-secret").await, Err(Error::NotFound)));
    store.put_secret(&key, "fp-old", secret).await?;
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(store.expire_secrets(Duration::from_millis(1)).await?, 1);

    // Retention keeps deliveries for at least a week.
    assert_eq!(store.prune_deliveries(Duration::from_secs(1)).await?, 0);

    concurrent_claims(store).await
}

/// The dashboard's reads, on an empty database: secrets grouped by fingerprint with their
/// highest severity, repositories, validity and revocation; "open" leaves out revoked and
/// dead keys; filters, pages and totals (a page past the end too); sightings, attempts,
/// revocation times, bypasses and the overview's counts.
async fn dashboard(store: &Store) -> TestResult {
    use leakgate_store::SecretFilter;
    let finding = |fp: &str, rule: &str, severity: &str| FindingRecord {
        rule_id: rule.into(),
        provider: "github".into(),
        severity: severity.into(),
        path: "a.env".into(),
        line: 1,
        commit_id: None,
        redacted: "ghp_…".into(),
        fingerprint: fp.into(),
    };
    let scan = |repo: &str, source: &str| NewScan {
        repo: repo.into(),
        refs: "refs/heads/main".into(),
        before: None,
        after: None,
        pusher: Some("dev".into()),
        source: source.into(),
        job_key: None,
    };
    let one = store.start_scan(&scan("acme/one", "webhook")).await?;
    let two = store.start_scan(&scan("acme/two", "hook")).await?;
    let first = store.add_finding(one, &finding("fp-a", "github-pat", "medium")).await?;
    store.add_finding(two, &finding("fp-a", "github-pat", "critical")).await?;
    store.add_finding(one, &finding("fp-b", "npm-token", "high")).await?;
    store.add_finding(one, &finding("fp-c", "github-pat", "low")).await?;
    store.add_finding(two, &finding("fp-d", "github-pat", "low")).await?;
    store.finish_scan(two, "blocked").await?;
    let revocation = |fp: &str, state| NewRevocation {
        fingerprint: fp.into(),
        provider: "github".into(),
        lane: "github".into(),
        rule_id: "github-pat".into(),
        finding_id: Some(first),
        context: "{}".into(),
        state,
        summary: String::new(),
    };
    store.add_revocation(&revocation("fp-a", RevocationState::Queued)).await?;
    store.add_revocation(&revocation("fp-c", RevocationState::AwaitingApproval)).await?;
    let claimed =
        store.claim_revocations("github", "fp-a", 10, "w", Duration::from_secs(60)).await?;
    assert_eq!(fps_of(claimed), ["fp-a"]);
    let end = RevocationEnd {
        fingerprint: "fp-a".into(),
        outcome: "revoked".into(),
        state: RevocationState::Revoked,
        status: Some(200),
        summary: "done".into(),
        wipe: false,
    };
    store.end_revocations("w", "github", 1, &[end]).await?;
    let validation = NewValidation {
        fingerprint: "fp-d".into(),
        validator: "github".into(),
        rule_id: "github-pat".into(),
        finding_id: None,
        context: "{}".into(),
    };
    store.add_validation(&validation).await?;
    store.record_validation("fp-d", "invalid", Some(401), "bad credentials", None, "t").await?;
    let validation = NewValidation { fingerprint: "fp-c".into(), ..validation };
    store.add_validation(&validation).await?;
    store.record_validation("fp-c", "valid", Some(200), "live", None, "t").await?;

    let all = SecretFilter { limit: 10, ..SecretFilter::default() };
    let (rows, total) = store.secrets(&all).await?;
    assert_eq!(total, 4);
    let a = rows.iter().find(|r| r.fingerprint == "fp-a").ok_or("fp-a listed")?;
    assert_eq!((a.severity(), a.repos, a.occurrences), ("critical", 2, 2));
    assert_eq!(a.revocation.as_deref(), Some("revoked"));
    assert_eq!(rows[0].fingerprint, "fp-a", "most severe first");
    let open = SecretFilter { open_only: true, ..all.clone() };
    let (rows, total) = store.secrets(&open).await?;
    let mut open_fps: Vec<&str> = rows.iter().map(|r| r.fingerprint.as_str()).collect();
    open_fps.sort_unstable();
    assert_eq!((open_fps, total), (vec!["fp-b", "fp-c"], 2), "revoked and invalid keys are closed");
    let live = rows.iter().find(|r| r.fingerprint == "fp-c").ok_or("fp-c")?;
    assert_eq!(
        (live.validity.as_deref(), live.revocation.as_deref()),
        (Some("valid"), Some("awaiting_approval"))
    );
    let by_repo = SecretFilter { repo: Some("acme/two".into()), ..all.clone() };
    assert_eq!(store.secrets(&by_repo).await?.1, 2);
    let by_rule = SecretFilter { rule: Some("npm-token".into()), ..all.clone() };
    assert_eq!(store.secrets(&by_rule).await?.0[0].fingerprint, "fp-b");
    let paged = SecretFilter { limit: 1, offset: 1, ..all.clone() };
    assert_eq!(store.secrets(&paged).await?, (store.secrets(&all).await?.0[1..2].to_vec(), 4));
    let past = SecretFilter { limit: 5, offset: 50, ..all.clone() };
    assert_eq!(store.secrets(&past).await?, (Vec::new(), 4), "a page past the end still counts");

    let sightings = store.sightings("fp-a", 10).await?;
    assert_eq!(sightings.len(), 2);
    assert!(sightings.iter().any(|s| s.repo == "acme/two" && s.status == "blocked"));
    let attempts = store.revocation_attempts("fp-a").await?;
    assert_eq!((attempts.len(), attempts[0].outcome.as_str()), (1, "revoked"));
    let rows = store.revocation_rows(Some("revoked"), 10).await?;
    assert_eq!(rows.len(), 1);
    assert!(rows[0].first_seen.is_some() && rows[0].time_to_revoke().is_some());
    assert_eq!(store.revocation_rows(None, 10).await?.len(), 2);

    store
        .record_bypass(&Bypass {
            repo: "acme/one".into(),
            user: "dev".into(),
            reason: "false-positive".into(),
            comment: None,
            refs: "refs/heads/main".into(),
            commits: "c".into(),
            fingerprints: "fp-b".into(),
        })
        .await?;
    let detail = r#"{"findings":[{"rule_id":"npm-token"},{"rule_id":"npm-token"}]}"#;
    store.audit("hook_bypass", "dev", detail).await?;
    assert_eq!(store.bypasses(10).await?.len(), 1);
    let o = store.overview(0).await?;
    assert_eq!((o.open_secrets, o.live_secrets, o.awaiting_approval), (2, 1, 1));
    assert_eq!(o.findings_per_day.iter().map(|d| d.1).sum::<i64>(), 5);
    assert_eq!(o.revoke_times_ms.len(), 1);
    assert_eq!(o.blocked_by_repo, [("acme/two".to_owned(), 1)]);
    assert_eq!(o.blocked_by_rule, [("github-pat".to_owned(), 1)], "a push counts once per rule");
    assert_eq!(o.bypassed_by_repo, [("acme/one".to_owned(), 1)]);
    assert_eq!(o.bypassed_by_rule, [("npm-token".to_owned(), 1)]);
    Ok(())
}

/// Makes a backing-off job due now (tests do not wait out the backoff).
async fn sqlx_force_due(store: &Store, id: i64) -> TestResult {
    store.requeue(id).await?;
    Ok(())
}

/// 200 jobs, 8 concurrent workers: every job is done exactly once.
async fn concurrent_claims(store: &Store) -> TestResult {
    for i in 0..200 {
        store.enqueue(&NewJob::new("load", &format!("{{\"n\":{i}}}"))).await?;
    }
    let done = Arc::new(tokio::sync::Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for w in 0..8 {
        let store = store.clone();
        let done = done.clone();
        tasks.push(tokio::spawn(async move {
            let worker = format!("worker-{w}");
            loop {
                let jobs = store.claim(&worker, 5, Duration::from_secs(60)).await.expect("claim");
                if jobs.is_empty() {
                    break;
                }
                for job in jobs {
                    store.complete(job.id, &worker).await.expect("complete");
                    done.lock().await.push(job.id);
                }
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    let done = done.lock().await;
    let unique: HashSet<_> = done.iter().collect();
    assert_eq!(done.len(), 200, "every job claimed");
    assert_eq!(unique.len(), 200, "no job done twice");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_conformance() -> TestResult {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("leakgate.db").display());
    let store = Store::connect(&url).await?;
    story(&store, &url).await?;
    let url = format!("sqlite://{}", dir.path().join("dashboard.db").display());
    dashboard(&Store::connect(&url).await?).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_conformance() -> TestResult {
    let Some(pg) = pg::start_or_skip() else { return Ok(()) };
    let url = pg.database("conformance").await;
    let store = Store::connect(&url).await?;
    story(&store, &url).await?;
    dashboard(&Store::connect(&pg.database("dashboard").await).await?).await
}

#[tokio::test]
async fn bad_databases_give_clear_errors() -> TestResult {
    let dir = tempfile::tempdir()?;
    let not_sqlite = dir.path().join("notes.txt");
    std::fs::write(&not_sqlite, "this is not a database, just some text that is long enough")?;
    let err = Store::connect(&format!("sqlite://{}", not_sqlite.display()))
        .await
        .expect_err("not sqlite");
    assert!(err.to_string().contains("cannot open database"), "{err}");
    let err =
        Store::connect("postgres://leakgate:hunter2@127.0.0.1:1/none").await.expect_err("down");
    let text = err.to_string();
    assert!(text.contains("cannot open database") && !text.contains("hunter2"), "{text}");
    let err = Store::connect("mysql://x").await.expect_err("unsupported");
    assert!(err.to_string().contains("sqlite://"), "{err}");
    Ok(())
}

#[tokio::test]
async fn a_database_newer_than_the_binary_is_refused() -> TestResult {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("leakgate.db").display());
    Store::connect(&url).await?;
    // As if a newer leakgate had migrated this database.
    let raw = sqlx::SqlitePool::connect(&url).await?;
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (99990101000000, 'from the future', 1, x'00', 0)",
    )
    .execute(&raw)
    .await?;
    raw.close().await;
    let err = Store::connect(&url).await.expect_err("newer schema");
    assert!(matches!(err, Error::TooNew { .. }), "{err}");
    assert!(err.to_string().contains("upgrade leakgate"));
    Ok(())
}

/// Worker mode: when `LEAKGATE_TEST_WORKER_URL` is set, this test drains the queue as one of
/// several processes (spawned by `two_processes_share_the_queue`); otherwise it does nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_process() -> TestResult {
    let Ok(url) = std::env::var("LEAKGATE_TEST_WORKER_URL") else { return Ok(()) };
    let name = std::env::var("LEAKGATE_TEST_WORKER_NAME")?;
    let store = Store::connect(&url).await?;
    drain(&store, &name).await
}

/// Claims and completes until the queue is empty; each completion is recorded as an audit
/// event, so that a job done twice would show up twice.
async fn drain(store: &Store, worker: &str) -> TestResult {
    loop {
        let jobs = store.claim(worker, 4, Duration::from_secs(60)).await?;
        if jobs.is_empty() {
            return Ok(());
        }
        for job in jobs {
            store.complete(job.id, worker).await?;
            store.audit("job-done", worker, &job.id.to_string()).await?;
        }
    }
}

async fn processes_story(url: &str) -> TestResult {
    let store = Store::connect(url).await?;
    for i in 0..300 {
        store.enqueue(&NewJob::new("multi", &format!("{{\"n\":{i}}}"))).await?;
    }
    let exe = std::env::current_exe()?;
    let mut children = Vec::new();
    for p in 0..2 {
        children.push(
            std::process::Command::new(&exe)
                .args(["--exact", "worker_process", "--test-threads", "1"])
                .env("LEAKGATE_TEST_WORKER_URL", url)
                .env("LEAKGATE_TEST_WORKER_NAME", format!("process-{p}"))
                .stdout(std::process::Stdio::null())
                .spawn()?,
        );
    }
    drain(&store, "parent").await?;
    for mut child in children {
        assert!(child.wait()?.success(), "a worker process failed");
    }
    let events = store.audit_events(10_000).await?;
    let done: Vec<&str> =
        events.iter().filter(|e| e.kind == "job-done").map(|e| e.detail.as_str()).collect();
    let unique: HashSet<&str> = done.iter().copied().collect();
    assert_eq!(done.len(), 300, "every job done");
    assert_eq!(unique.len(), 300, "no job done twice");
    let workers: HashSet<&str> =
        events.iter().filter(|e| e.kind == "job-done").map(|e| e.actor.as_str()).collect();
    assert!(workers.len() >= 2, "several processes took part: {workers:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_share_the_queue_sqlite() -> TestResult {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("leakgate.db").display());
    processes_story(&url).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_share_the_queue_postgres() -> TestResult {
    let Some(pg) = pg::start_or_skip() else { return Ok(()) };
    let url = pg.database("processes").await;
    processes_story(&url).await
}
