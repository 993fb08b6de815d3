//! The dashboard over real HTTP: who may see it, what a session may do, and that nothing a
//! pusher wrote is rendered as markup. The browser's view of the same pages is in
//! `browser.rs`; both use [`seed`].

use std::time::Duration;

use leakgate_store::{FindingRecord, NewRevocation, NewScan, RevocationState, Store};

use crate::{Res, Service, TestResult, World};

pub const ADMIN: &str = "operator-token-for-the-dashboard";
pub const DAY_MS: i64 = 86_400_000;

/// What [`seed`] put in the database.
pub struct Seeded {
    /// A secret awaiting approval (its material stored, so approving queues it).
    pub awaiting: String,
    /// A revoked secret.
    pub revoked: String,
    /// The secret found in the repository whose name is markup.
    pub hostile: String,
    /// An open bypass request.
    pub request: i64,
    /// Key material stored for the secret awaiting approval (must never be shown).
    pub material: String,
}

/// The fingerprint of seeded secret `n` (hex like a real keyed fingerprint).
pub fn fp(n: u32) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(format!("seeded secret {n}")))
}

/// A realistic month: secrets found in several repositories (one whose name, ref and path
/// are markup), revoked ones with their times, one awaiting approval, validations, pushes
/// the hook blocked, bypasses, bypass requests and a waiver.
pub fn seed(url: &str) -> Res<Seeded> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(seed_async(url))
}

/// (secret, rule, provider, severity, repository, ref, path, days ago, scan source, status)
type Planted<'a> =
    (u32, &'a str, &'a str, &'a str, &'a str, &'a str, &'a str, i64, &'a str, &'a str);

async fn seed_async(url: &str) -> Res<Seeded> {
    let store = Store::connect(url).await?;
    let pool = sqlx::SqlitePool::connect(url).await?;
    let now = leakgate_store::now_ms();
    let hostile_repo = "acme/<script>alert('repo')</script>";
    let hostile_ref = "refs/heads/\"><img src=x onerror=alert('ref')>";
    let hostile_path = "config/<b onmouseover=alert('path')>x</b>.env";
    let secrets: Vec<Planted> = vec![
        (
            1,
            "github-pat-classic",
            "github",
            "critical",
            "acme/payments",
            "refs/heads/main",
            "deploy/ci.env",
            21,
            "webhook",
            "done",
        ),
        (
            1,
            "github-pat-classic",
            "github",
            "critical",
            "acme/web",
            "refs/heads/release",
            "scripts/push.sh",
            20,
            "webhook",
            "done",
        ),
        (
            2,
            "aws-access-key",
            "aws",
            "critical",
            "acme/payments",
            "refs/heads/feature/s3",
            "infra/main.tf",
            14,
            "webhook",
            "done",
        ),
        (
            3,
            "slack-bot-token",
            "slack",
            "high",
            "acme/chatops",
            "refs/heads/main",
            "bot/settings.py",
            9,
            "webhook",
            "done",
        ),
        (
            4,
            "generic-password",
            "generic",
            "medium",
            "acme/web",
            "refs/heads/main",
            "app/appsettings.json",
            6,
            "webhook",
            "done",
        ),
        (
            5,
            "github-pat-fine-grained",
            "github",
            "critical",
            "acme/payments",
            "refs/heads/main",
            "tools/release.yml",
            3,
            "hook",
            "blocked",
        ),
        (
            6,
            "stripe-secret-key",
            "stripe",
            "critical",
            hostile_repo,
            hostile_ref,
            hostile_path,
            2,
            "webhook",
            "done",
        ),
        (
            7,
            "npm-access-token",
            "npm",
            "high",
            "acme/web",
            "refs/heads/main",
            ".npmrc",
            1,
            "hook",
            "blocked",
        ),
        (
            8,
            "gitlab-pat",
            "gitlab",
            "critical",
            "acme/chatops",
            "refs/heads/ops",
            "ops/.gitlab-ci.yml",
            0,
            "webhook",
            "done",
        ),
    ];
    for (n, rule, provider, severity, repo, git_ref, path, days, source, status) in &secrets {
        let scan = store
            .start_scan(&NewScan {
                repo: (*repo).into(),
                refs: (*git_ref).into(),
                before: None,
                after: Some("c0ffee".repeat(6) + "c0ff"),
                pusher: Some("dev@acme".into()),
                source: (*source).into(),
                job_key: None,
            })
            .await?;
        let id = store
            .add_finding(
                scan,
                &FindingRecord {
                    rule_id: (*rule).into(),
                    provider: (*provider).into(),
                    severity: (*severity).into(),
                    path: (*path).into(),
                    line: 3,
                    commit_id: Some("c0ffee".repeat(6) + "c0ff"),
                    redacted: format!("{}…{:02}", &rule[..3], n),
                    fingerprint: fp(*n),
                },
            )
            .await?;
        store.finish_scan(scan, status).await?;
        let at = now - days * DAY_MS - 3_600_000;
        sqlx::query("UPDATE findings SET first_seen = ?1 WHERE id = ?2")
            .bind(at)
            .bind(id)
            .execute(&pool)
            .await?;
        sqlx::query("UPDATE scans SET started_at = ?1 WHERE id = ?2")
            .bind(at)
            .bind(scan)
            .execute(&pool)
            .await?;
    }
    // Revocations: two revoked (90 s and 40 min after the push), one awaiting approval, one
    // that failed.
    let revocation = |n: u32, provider: &str, rule: &str, state: RevocationState| NewRevocation {
        fingerprint: fp(n),
        provider: provider.into(),
        lane: provider.into(),
        rule_id: rule.into(),
        finding_id: None,
        context: "{}".into(),
        state,
        summary: "planned".into(),
    };
    let first_finding = |n: u32| {
        let pool = pool.clone();
        async move {
            let (id,): (i64,) =
                sqlx::query_as("SELECT MIN(id) FROM findings WHERE fingerprint = ?1")
                    .bind(fp(n))
                    .fetch_one(&pool)
                    .await?;
            Ok::<i64, sqlx::Error>(id)
        }
    };
    for (n, provider, rule, state) in [
        (1, "github", "github-pat-classic", RevocationState::Queued),
        (3, "slack", "slack-bot-token", RevocationState::Queued),
        (8, "gitlab", "gitlab-pat", RevocationState::AwaitingApproval),
        (2, "aws", "aws-access-key", RevocationState::Queued),
    ] {
        let mut r = revocation(n, provider, rule, state);
        r.finding_id = Some(first_finding(n).await?);
        store.add_revocation(&r).await?;
    }
    let first_seen = |days: i64| now - days * DAY_MS - 3_600_000;
    for (n, state, summary, after_ms) in [
        (1, "revoked", "GitHub accepted the revocation", 90_000),
        (3, "revoked", "auth.revoke: ok", 40 * 60_000),
        (2, "failed_permanent", "AccessDenied: iam:DeleteAccessKey", 5 * 60_000),
    ] {
        let days = secrets.iter().find(|s| s.0 == n).map_or(0, |s| s.7);
        sqlx::query(
            "UPDATE revocations SET state = ?1, summary = ?2, attempts = 1, updated_at = ?3, \
             created_at = ?4 WHERE fingerprint = ?5",
        )
        .bind(state)
        .bind(summary)
        .bind(first_seen(days) + after_ms)
        .bind(first_seen(days) + 2_000)
        .bind(fp(n))
        .execute(&pool)
        .await?;
        sqlx::query(
            "INSERT INTO revocation_attempts (fingerprint, provider, outcome, status_code, summary, at) \
             VALUES (?1, (SELECT provider FROM revocations WHERE fingerprint = ?1), ?2, ?3, ?4, ?5)",
        )
        .bind(fp(n))
        .bind(state)
        .bind(if state == "revoked" { 200 } else { 403 })
        .bind(summary)
        .bind(first_seen(days) + after_ms)
        .execute(&pool)
        .await?;
    }
    let material = format!("glpat-{}", "Zq3uK8vN2mX7pR4tW9yB");
    store.put_secret(&secret_key(), &fp(8), material.as_bytes()).await?;
    // Validations: the one awaiting approval is live; the revoked one is dead.
    for (n, state) in [(8, "valid"), (1, "revoked"), (4, "not_checkable")] {
        store
            .add_validation(&leakgate_store::NewValidation {
                fingerprint: fp(n),
                validator: "seed".into(),
                rule_id: "seed".into(),
                finding_id: None,
                context: "{}".into(),
            })
            .await?;
        store
            .record_validation(&fp(n), state, Some(200), &format!("seeded: {state}"), None, "seed")
            .await?;
    }
    // Bypasses (as the hook records them) and bypass requests.
    for (repo, rule, n) in [
        ("acme/web", "generic-password", 4),
        ("acme/payments", "aws-access-key", 2),
        ("acme/web", "npm-access-token", 7),
    ] {
        let detail = serde_json::json!({
            "event": "bypass", "user": "dev@acme", "repo": repo, "reason": "false-positive",
            "findings": [{"rule_id": rule, "fingerprint": fp(n), "commit": "c0ffee", "path": "x", "line": 1}],
        });
        store.audit("hook_bypass", "dev@acme", &detail.to_string()).await?;
        store
            .record_bypass(&leakgate_store::Bypass {
                repo: repo.into(),
                user: "dev@acme".into(),
                reason: "false-positive".into(),
                comment: Some("test fixture".into()),
                refs: "refs/heads/main".into(),
                commits: "c0ffee".into(),
                fingerprints: fp(n),
            })
            .await?;
    }
    let (request, _) = store
        .open_bypass_request(&leakgate_store::NewBypassRequest {
            repo: hostile_repo.into(),
            pusher: "alice".into(),
            fingerprints: vec![fp(6)],
            summary: "[]".into(),
            refs: hostile_ref.into(),
            lasts: Duration::from_secs(3600),
        })
        .await?;
    store
        .add_waiver(&leakgate_store::NewWaiver {
            fingerprint: fp(4),
            repo: Some("acme/web".into()),
            path_glob: Some("app/**".into()),
            reason: "documentation example".into(),
            approved_by: "sec-lead".into(),
            lasts: Duration::from_secs(30 * 86_400),
        })
        .await?;
    Ok(Seeded { awaiting: fp(8), revoked: fp(1), hostile: fp(6), request, material })
}

/// The service's encryption key in these tests (the seed stores material under it).
pub const ENCRYPTION_KEY: &str = "5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed";

fn secret_key() -> leakgate_store::SecretKey {
    leakgate_store::SecretKey::from_hex(ENCRYPTION_KEY).expect("64 hex digits")
}

/// Starts the service with an admin token and a known encryption key, and seeds its database.
pub fn with_service(world: &World) -> Res<(Service, Seeded)> {
    let service = Service::start_with_env(
        world,
        &world.config("[revoke.gitlab]\npolicy = \"manual\"\n[validate]\nenabled = true\n")?,
        &[("LEAKGATE_SERVER__ADMIN_TOKEN", ADMIN), ("LEAKGATE_ENCRYPTION_KEY", ENCRYPTION_KEY)],
    )?;
    let seeded = seed(&world.database_url())?;
    Ok((service, seeded))
}

fn get(service: &Service, path: &str, headers: &[(&str, &str)]) -> Res<(u16, String, String)> {
    Ok(crate::http::request_with_head(&service.addr, "GET", path, headers, b"")?)
}

fn post(
    service: &Service,
    path: &str,
    headers: &[(&str, &str)],
    form: &[(&str, &str)],
) -> Res<(u16, String, String)> {
    let body = serde_urlencoded_form(form);
    let mut all = vec![("Content-Type", "application/x-www-form-urlencoded")];
    all.extend_from_slice(headers);
    Ok(crate::http::request_with_head(&service.addr, "POST", path, &all, body.as_bytes())?)
}

fn serde_urlencoded_form(form: &[(&str, &str)]) -> String {
    form.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&")
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn header<'h>(head: &'h str, name: &str) -> Option<&'h str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[test]
fn the_dashboard_needs_the_operator_token_and_escapes_what_pushers_wrote() -> TestResult {
    let world = World::new()?;
    let (service, seeded) = with_service(&world)?;
    let bearer = format!("Bearer {ADMIN}");
    let pages = [
        "/ui/".to_owned(),
        "/ui/secrets".to_owned(),
        "/ui/secrets?state=all".to_owned(),
        format!("/ui/secrets/{}", seeded.hostile),
        format!("/ui/secrets/{}", seeded.awaiting),
        "/ui/revocations".to_owned(),
        "/ui/exceptions".to_owned(),
    ];
    for page in &pages {
        // No credentials: a page sends the browser to the login form, and nothing else.
        let (code, head, body) = get(&service, page, &[])?;
        assert_eq!(code, 303, "{page}: {head}");
        assert!(header(&head, "location").is_some_and(|l| l.starts_with("/ui/login?next=")));
        assert!(!body.contains("acme/"), "{page} leaks content to a stranger");
        // A wrong token in the header is refused outright.
        let (code, _, body) = get(&service, page, &[("Authorization", "Bearer wrong")])?;
        assert_eq!(code, 401, "{page}");
        assert!(!body.contains("acme/"));
        // A forged session cookie is not a session.
        let forged =
            format!("leakgate_session=v1.99999999999.{}.{}", "c2VjLWxlYWQ", "00".repeat(32));
        assert_eq!(get(&service, page, &[("Cookie", &forged)])?.0, 303, "{page}");
        // The token: the page, with a policy that runs no script.
        let (code, head, body) = get(&service, page, &[("Authorization", &bearer)])?;
        assert_eq!(code, 200, "{page}: {body}");
        let csp = header(&head, "content-security-policy").unwrap_or("");
        assert!(csp.contains("default-src 'none'") && !csp.contains("script-src"), "{csp}");
        assert_eq!(header(&head, "x-frame-options"), Some("DENY"));
        // Nothing a pusher wrote is markup; no key material is ever shown.
        for raw in ["<script>", "<img src=x", "<b onmouseover"] {
            assert!(!body.contains(raw), "{page} renders {raw:?} as markup");
        }
        assert!(!body.contains(&seeded.material), "{page} shows key material");
    }
    let (_, _, hostile) =
        get(&service, &format!("/ui/secrets/{}", seeded.hostile), &[("Authorization", &bearer)])?;
    assert!(hostile.contains("acme/&lt;script&gt;alert('repo')&lt;/script&gt;"), "{hostile}");
    assert!(hostile.contains("&lt;b onmouseover=alert('path')&gt;"), "{hostile}");
    assert!(hostile.contains("&quot;&gt;&lt;img src=x onerror=alert('ref')&gt;"), "{hostile}");

    // Open secrets: the revoked key is not one; the one awaiting approval is, live.
    let (_, _, open) = get(&service, "/ui/secrets", &[("Authorization", &bearer)])?;
    assert!(open.contains(&format!("/ui/secrets/{}", seeded.awaiting)));
    assert!(!open.contains(&format!("/ui/secrets/{}", seeded.revoked)), "revoked is not open");
    assert!(open.contains("6 secrets"), "8 seeded, two revoked: {open}");
    let (_, _, all) = get(&service, "/ui/secrets?state=all", &[("Authorization", &bearer)])?;
    assert!(all.contains(&format!("/ui/secrets/{}", seeded.revoked)));
    // Revocations: push-to-revoked times of the two revoked keys (90 s and 40 min).
    let (_, _, revocations) = get(&service, "/ui/revocations", &[("Authorization", &bearer)])?;
    assert!(revocations.contains("1m 30s") && revocations.contains("40m 0s"), "{revocations}");
    // Unknown secrets and bad parameters.
    assert_eq!(
        get(&service, &format!("/ui/secrets/{}", fp(99)), &[("Authorization", &bearer)])?.0,
        404
    );
    assert_eq!(get(&service, "/ui/secrets/not-hex", &[("Authorization", &bearer)])?.0, 404);
    assert_eq!(get(&service, "/ui/revocations?state=bogus", &[("Authorization", &bearer)])?.0, 400);
    assert_eq!(get(&service, "/ui/secrets?limit=many", &[("Authorization", &bearer)])?.0, 400);

    // Signing in: a wrong token is refused; the right one sets an HttpOnly, SameSite cookie
    // and returns to the page asked for, never to another site.
    let login = |token: &str, next: &str| {
        post(&service, "/ui/login", &[], &[("name", "sec-lead"), ("token", token), ("next", next)])
    };
    let (code, head, _) = login("wrong", "/ui/exceptions")?;
    assert_eq!(code, 401);
    assert!(header(&head, "set-cookie").is_none());
    let (code, head, _) = login(ADMIN, "https://evil.example/")?;
    assert_eq!((code, header(&head, "location")), (303, Some("/ui/")));
    let (_, head, _) = login(ADMIN, "//evil.example/ui/")?;
    assert_eq!(header(&head, "location"), Some("/ui/"));
    let (code, head, _) = login(ADMIN, "/ui/exceptions")?;
    assert_eq!((code, header(&head, "location")), (303, Some("/ui/exceptions")));
    let set = header(&head, "set-cookie").ok_or("no cookie")?.to_owned();
    for attribute in ["__Host-", "Secure", "HttpOnly", "SameSite=Strict", "Path=/;"] {
        assert!(set.contains(attribute), "{set}");
    }
    assert!(!set.contains(ADMIN), "the cookie is not the token");
    let cookie = set.split(';').next().unwrap_or_default().to_owned();
    let (code, _, page) = get(&service, "/ui/exceptions", &[("Cookie", &cookie)])?;
    assert_eq!(code, 200);
    assert!(page.contains("signed in as <strong>sec-lead</strong>"));
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .ok_or("no form token")?
        .to_owned();

    // Actions with a session need its form token.
    let approve = format!("/ui/bypass-requests/{}/approve", seeded.request);
    let (code, _, _) = post(&service, &approve, &[("Cookie", &cookie)], &[("csrf", "0000")])?;
    assert_eq!(code, 403, "a forged form is refused");
    let (code, _, _) = post(&service, &approve, &[], &[("csrf", &csrf)])?;
    assert_eq!(code, 401, "a form without a session is refused");
    let (code, head, _) = post(&service, &approve, &[("Cookie", &cookie)], &[("csrf", &csrf)])?;
    assert_eq!((code, header(&head, "location")), (303, Some("/ui/exceptions?done=approved")));
    // Decided once: a second decision is a conflict.
    let reject = format!("/ui/bypass-requests/{}/reject", seeded.request);
    let (code, _, _) =
        post(&service, &reject, &[("Cookie", &cookie)], &[("csrf", &csrf), ("message", "no")])?;
    assert_eq!(code, 409);
    // A waiver through the form, recorded under the session's name.
    let (code, _, body) = post(
        &service,
        "/ui/waivers",
        &[("Cookie", &cookie)],
        &[("csrf", &csrf), ("fingerprint", &fp(3)), ("reason", "rotated"), ("expires_in", "soon")],
    )?;
    assert_eq!(code, 400, "{body}");
    let (code, _, _) = post(
        &service,
        "/ui/waivers",
        &[("Cookie", &cookie)],
        &[("csrf", &csrf), ("fingerprint", &fp(3)), ("reason", "rotated"), ("expires_in", "7d")],
    )?;
    assert_eq!(code, 303);
    // "Check validity now" queues a check of a kept validation; without one there is none.
    let (_, _, page) =
        get(&service, &format!("/ui/secrets/{}", seeded.awaiting), &[("Cookie", &cookie)])?;
    assert!(page.contains("Check validity now"), "{page}");
    let check = format!("/ui/secrets/{}/validate", seeded.awaiting);
    assert_eq!(post(&service, &check, &[("Cookie", &cookie)], &[("csrf", "x")])?.0, 403);
    let (code, head, _) = post(&service, &check, &[("Cookie", &cookie)], &[("csrf", &csrf)])?;
    assert_eq!(
        (code, header(&head, "location").unwrap_or_default()),
        (303, &*format!("/ui/secrets/{}?done=check-queued", seeded.awaiting))
    );
    let unkept = format!("/ui/secrets/{}/validate", fp(2));
    assert_eq!(post(&service, &unkept, &[("Cookie", &cookie)], &[("csrf", &csrf)])?.0, 422);
    // A bearer caller names themselves.
    let (code, _, _) = post(
        &service,
        &format!("/ui/secrets/{}/revoke", seeded.awaiting),
        &[("Authorization", &bearer)],
        &[("finding_id", "1")],
    )?;
    assert_eq!(code, 400, "no reviewer named");

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let store = runtime.block_on(Store::connect(&world.database_url()))?;
    let events: Vec<String> = runtime
        .block_on(store.audit_events(200))?
        .into_iter()
        .map(|e| format!("{}:{}", e.kind, e.actor))
        .collect();
    for expected in
        ["ui_login:sec-lead", "bypass_request_approved:sec-lead", "waiver_added:sec-lead"]
    {
        assert!(events.iter().any(|e| e == expected), "{expected} in {events:?}");
    }
    // Signing out ends the cookie.
    let (code, head, _) = post(&service, "/ui/logout", &[("Cookie", &cookie)], &[("csrf", &csrf)])?;
    assert_eq!(code, 303);
    assert!(header(&head, "set-cookie").is_some_and(|c| c.contains("Max-Age=0")));
    // Guessing the token online meets a limit (30 attempts a minute per replica).
    let mut limited = None;
    for attempt in 0..40 {
        let (code, head, _) = login("guess", "/ui/")?;
        if code == 429 {
            limited = Some((attempt, header(&head, "retry-after").map(str::to_owned)));
            break;
        }
        assert_eq!(code, 401);
    }
    let (attempt, retry_after) = limited.ok_or("no limit on sign-in attempts")?;
    assert!(attempt <= 30, "limited after {attempt} more attempts");
    assert!(retry_after.is_some_and(|s| s.parse::<u64>().is_ok_and(|s| (1..=60).contains(&s))));
    assert_eq!(login(ADMIN, "/ui/")?.0, 429, "the right token waits too");
    Ok(())
}

#[test]
fn without_an_admin_token_there_is_no_dashboard() -> TestResult {
    let world = World::new()?;
    let service = Service::start(&world, &world.config("")?)?;
    for path in ["/ui/", "/ui/secrets", "/ui/login"] {
        assert_eq!(get(&service, path, &[])?.0, 404, "{path}");
    }
    let (code, _, _) =
        post(&service, "/ui/login", &[], &[("name", "x"), ("token", ""), ("next", "/ui/")])?;
    assert_eq!(code, 404);
    Ok(())
}

/// Every page served over HTTP with 10,000 findings in the database (each its own secret),
/// for the README: `cargo test --release --test server dashboard_latency -- --ignored
/// --nocapture`. The rendering alone, on SQLite and PostgreSQL, is
/// `cargo bench -p leakgate-server --bench dashboard`.
#[test]
#[ignore = "a measurement, not a check: run it by hand"]
fn dashboard_latency() -> TestResult {
    let world = World::new()?;
    let (service, _) = with_service(&world)?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let store = Store::connect(&world.database_url()).await?;
        let mut scan = 0;
        for i in 0..10_000u32 {
            if i % 25 == 0 {
                scan = store
                    .start_scan(&NewScan {
                        repo: format!("acme/service-{:02}", (i / 25) % 50),
                        refs: "refs/heads/main".into(),
                        before: None,
                        after: None,
                        pusher: Some("dev@acme".into()),
                        source: "webhook".into(),
                        job_key: None,
                    })
                    .await?;
            }
            store
                .add_finding(
                    scan,
                    &FindingRecord {
                        rule_id: ["github-pat-classic", "aws-access-key", "generic-password"]
                            [i as usize % 3]
                            .into(),
                        provider: "github".into(),
                        severity: ["critical", "high", "medium"][i as usize % 3].into(),
                        path: format!("src/module_{}/config.py", i % 97),
                        line: i64::from(i % 500) + 1,
                        commit_id: None,
                        redacted: format!("ghp_…{i:04}"),
                        fingerprint: fp(1000 + i),
                    },
                )
                .await?;
        }
        Ok::<_, leakgate_store::Error>(())
    })?;
    let bearer = format!("Bearer {ADMIN}");
    for page in [
        "/ui/",
        "/ui/secrets",
        "/ui/secrets?state=all&limit=10000",
        "/ui/revocations",
        "/ui/exceptions",
    ] {
        let mut samples = Vec::new();
        let mut size = 0;
        for _ in 0..15 {
            let sent = std::time::Instant::now();
            let (code, _, body) = get(&service, page, &[("Authorization", &bearer)])?;
            samples.push(sent.elapsed());
            assert_eq!(code, 200);
            size = body.len();
        }
        samples.sort();
        println!(
            "GET {page:<36} median {:>6.1} ms  max {:>6.1} ms  {size:>8} bytes",
            samples[samples.len() / 2].as_secs_f64() * 1e3,
            samples[samples.len() - 1].as_secs_f64() * 1e3,
        );
    }
    Ok(())
}
