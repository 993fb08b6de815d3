//! The service on the open internet: nothing in a payload decides where the service fetches
//! from or where its credentials go; a stuck remote cannot hold a worker; tokens are revoked
//! at the instance that issued them; public repositories get no public issue; retries and
//! huge pushes do not multiply rows; every way a forge delivers a push is accepted, and a
//! delivery is not lost while the database is down.

use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use serde_json::json;

use crate::{fake, git, github_token, Res, Service, TestResult, World};

/// A server that answers every request with 401 and a Basic challenge (so that a client
/// with credentials would send them), and remembers every request it saw.
struct Thief {
    base: String,
    seen: Arc<Mutex<Vec<String>>>,
    _server: crate::LocalServer,
}

fn thief() -> Thief {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let server = crate::LocalServer::start(1, move |cfg| {
        let sink = sink.clone();
        cfg.default_service(actix_web::web::to(move |req: actix_web::HttpRequest| {
            let sink = sink.clone();
            async move {
                let auth = req
                    .headers()
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_owned();
                sink.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(format!(
                    "{} {} authorization={auth:?}",
                    req.method(),
                    req.path()
                ));
                actix_web::HttpResponse::Unauthorized()
                    .insert_header(("WWW-Authenticate", "Basic realm=\"git\""))
                    .finish()
            }
        }));
    });
    Thief { base: server.base.clone(), seen, _server: server }
}

fn gitlab_event(path: &str, before: &str, after: &str, url: &str, level: Option<u8>) -> String {
    let mut project = json!({"path_with_namespace": path, "git_http_url": url});
    if let Some(level) = level {
        project["visibility_level"] = json!(level);
    }
    json!({
        "object_kind": "push", "ref": "refs/heads/main", "before": before, "after": after,
        "project_id": 77, "user_username": "dev", "project": project, "commits": [],
    })
    .to_string()
}

fn github_event(
    name: &str,
    git_ref: &str,
    before: &str,
    after: &str,
    private: Option<bool>,
) -> String {
    let mut repository = json!({"full_name": name, "clone_url": "file:///etc/passwd"});
    if let Some(private) = private {
        repository["private"] = json!(private);
    }
    json!({
        "ref": git_ref, "before": before, "after": after, "commits": [],
        "repository": repository, "pusher": {"name": "dev"}, "installation": {"id": 99},
    })
    .to_string()
}

/// A GitLab token of the legacy 20-character format, random enough to be a finding.
fn gitlab_token(seed: u64) -> String {
    format!("glpat-{}", &github_token(seed)[4..24])
}

fn sqlite(world: &World) -> Res<(tokio::runtime::Runtime, sqlx::SqlitePool)> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let pool = runtime.block_on(sqlx::SqlitePool::connect(&world.database_url()))?;
    Ok((runtime, pool))
}

/// The payload's clone URL (GitLab's `git_http_url`) points at another local server: it never
/// hears from the service, let alone gets the GitLab token; the push is fetched from the
/// configured instance (here derived from `api_url`, as no `clone_url` is set) and reported.
/// A repository path that would change the URL is refused at the door.
#[test]
fn a_payload_never_chooses_where_the_fetch_and_the_token_go() -> TestResult {
    let world = World::new()?;
    let thief = thief();
    let base = world.fake.base.clone();
    let config = world.config_edit("", &[(&format!("clone_url = \"{base}/git/gitlab\"\n"), "")])?;
    let service = Service::start(&world, &config)?;
    let repo = world.repo("gitlab", "grp/app")?;
    repo.commit("app.env", &format!("TOKEN={}\n", github_token(77)))?;
    let (before, after) = repo.push()?;
    let steal = format!("{}/steal/grp/app.git", thief.base);
    let body = gitlab_event("grp/app", &before, &after, &steal, Some(0));
    assert_eq!(service.deliver("gitlab", "Push Hook", "steal-1", &body)?.0, 202);
    service.wait("the push reported from the configured instance", || {
        world.fake.state().statuses.iter().any(|s| s.sha == after && s.state == "failed")
    })?;
    // A path that would move the host is not a repository path.
    let moved = gitlab_event(&format!("x@{}/grp", &thief.base[7..]), &before, &after, &steal, None);
    assert_eq!(service.deliver("gitlab", "Push Hook", "steal-2", &moved)?.0, 400);
    let seen = thief.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
    assert!(seen.is_empty(), "the payload's URL was contacted: {seen:?}");
    assert!(!service.log().contains(fake::GITLAB_TOKEN), "the token is in the log");
    Ok(())
}

/// A pushed annotated tag names a tag object: it is scanned (peeled to its commit) and the
/// status goes on the commit.
#[test]
fn an_annotated_tag_push_is_scanned_and_its_commit_gets_the_status() -> TestResult {
    let world = World::new()?;
    let service = Service::start(&world, &world.config("")?)?;
    let repo = world.repo("github", "acme/tags")?;
    let commit = repo.commit("release.env", &format!("TOKEN={}\n", github_token(78)))?;
    git(&repo.work, &["tag", "-a", "v1", "-m", "release 1"])?;
    git(&repo.work, &["push", "-q", "origin", "v1"])?;
    let tag = git(&repo.work, &["rev-parse", "v1"])?;
    assert_ne!(tag, commit, "an annotated tag is an object of its own");
    let zeros = "0".repeat(40);
    let body = github_event("acme/tags", "refs/tags/v1", &zeros, &tag, Some(true));
    assert_eq!(service.deliver("github", "push", "tag-1", &body)?.0, 202);
    service.wait("a failure status on the tagged commit and an issue", || {
        let state = world.fake.state();
        state.statuses.iter().any(|s| s.sha == commit && s.state == "failure")
            && state.issues.iter().any(|i| i.repo == "acme/tags")
    })?;
    Ok(())
}

/// GitHub and GitLab tokens are revoked at the instance the push came from (the configured
/// `[github]` / `[gitlab]` API, not the public default), the GitLab admin token only there;
/// a GitLab token pushed to Gitea has no known issuer and is marked `unsupported` with where
/// to revoke it by hand, sending nothing.
#[test]
fn revocations_go_to_the_instance_that_issued_the_token() -> TestResult {
    let world = World::new()?;
    let extra = format!(
        "[revoke.github]\npolicy = \"auto\"\nallow_internal = true\nallow_http = true\n\
         requests_per_hour = 360000\n\
         [revoke.gitlab]\npolicy = \"auto\"\nallow_internal = true\nallow_http = true\n\
         token = \"{}\"\n",
        fake::GITLAB_ADMIN_TOKEN
    );
    let service = Service::start(&world, &world.config(&extra)?)?;
    let github = world.repo("github", "acme/ghes")?;
    let gh_token = github_token(79);
    github.commit("a.env", &format!("TOKEN={gh_token}\n"))?;
    let (before, after) = github.push()?;
    assert_eq!(service.deliver("github", "push", "iss-1", &github.event(&before, &after))?.0, 202);
    let gitlab = world.repo("gitlab", "grp/self-managed")?;
    let gl_token = gitlab_token(80);
    gitlab.commit("b.env", &format!("GITLAB_TOKEN={gl_token}\n"))?;
    let (before, after) = gitlab.push()?;
    let body = gitlab_event("grp/self-managed", &before, &after, "https://x.invalid", Some(0));
    assert_eq!(service.deliver("gitlab", "Push Hook", "iss-2", &body)?.0, 202);
    let gitea = world.repo("gitea", "org/elsewhere")?;
    let stray = gitlab_token(81);
    gitea.commit("c.env", &format!("GITLAB_TOKEN={stray}\n"))?;
    let (before, after) = gitea.push()?;
    assert_eq!(service.deliver("gitea", "push", "iss-3", &gitea.event(&before, &after))?.0, 202);

    service.wait("the GitHub token revoked at the push's GitHub", || {
        world.fake.state().revoked.iter().any(|(t, _)| *t == gh_token)
    })?;
    service.wait("the GitLab token revoked at the push's GitLab, with the admin token", || {
        world.fake.state().gitlab_revoked.iter().any(|(how, t)| how == "admin" && *t == gl_token)
    })?;
    let (rt, pool) = sqlite(&world)?;
    service.wait("the stray GitLab token marked unsupported", || {
        rt.block_on(
            sqlx::query_as::<_, (String, String)>(
                "SELECT state, summary FROM revocations WHERE provider = 'gitlab' AND state = 'unsupported'",
            )
            .fetch_all(&pool),
        )
        .is_ok_and(|rows| rows.iter().any(|(_, s)| s.contains("issuing GitLab instance is unknown")))
    })?;
    service.wait("the stray push reported", || {
        world.fake.state().statuses.iter().any(|s| s.sha == after)
    })?;
    assert!(
        !world.fake.state().gitlab_revoked.iter().any(|(_, t)| *t == stray),
        "a token of unknown origin was sent somewhere"
    );
    Ok(())
}

/// An issue names the file and commit of a live key: a public repository gets none (the
/// commit status reports the push, the log says why), a public GitLab project gets a
/// confidential one, and a payload that does not say counts as public.
#[test]
fn public_repositories_get_no_public_issue() -> TestResult {
    let world = World::new()?;
    let service = Service::start(&world, &world.config("")?)?;
    let public = world.repo("github", "acme/public")?;
    public.commit("a.env", &format!("TOKEN={}\n", github_token(82)))?;
    let (before, after_public) = public.push()?;
    let body = github_event("acme/public", "refs/heads/main", &before, &after_public, Some(false));
    assert_eq!(service.deliver("github", "push", "pub-1", &body)?.0, 202);
    let unknown = world.repo("github", "acme/unknown")?;
    unknown.commit("a.env", &format!("TOKEN={}\n", github_token(83)))?;
    let (before, after_unknown) = unknown.push()?;
    let body = github_event("acme/unknown", "refs/heads/main", &before, &after_unknown, None);
    assert_eq!(service.deliver("github", "push", "pub-2", &body)?.0, 202);
    let project = world.repo("gitlab", "grp/open")?;
    project.commit("a.env", &format!("TOKEN={}\n", github_token(84)))?;
    let (before, after) = project.push()?;
    let body = gitlab_event("grp/open", &before, &after, "https://x.invalid", Some(20));
    assert_eq!(service.deliver("gitlab", "Push Hook", "pub-3", &body)?.0, 202);
    service.wait("three failure statuses and GitLab's issue", || {
        let state = world.fake.state();
        [&after_public, &after_unknown, &after]
            .iter()
            .all(|sha| state.statuses.iter().any(|s| &&s.sha == sha && s.state != "success"))
            && state.issues.iter().any(|i| i.repo == "grp/open")
    })?;
    let state = world.fake.state();
    assert!(
        !state.issues.iter().any(|i| i.repo == "acme/public" || i.repo == "acme/unknown"),
        "a public issue points at the key"
    );
    let gitlab_issue = state.issues.iter().find(|i| i.repo == "grp/open").ok_or("issue")?;
    assert!(gitlab_issue.confidential, "GitLab's issue is confidential");
    assert!(service.log().contains("no issue opened"), "the log says why");
    Ok(())
}

/// A job that fails after recording (its status call refused once) runs again and leaves
/// one scan and one set of findings; a push with more keys than the caps records the most
/// severe up to `[scan] max_findings_per_push`, opens `[issues] max_per_push` issues, and
/// the status says how many more there were.
#[test]
fn a_retried_job_leaves_one_set_of_rows_and_big_pushes_are_capped() -> TestResult {
    let world = World::new()?;
    let extra = "[scan]\nmax_findings_per_push = 5\n[issues]\nmax_per_push = 2\n";
    let service = Service::start(&world, &world.config(extra)?)?;
    let repo = world.repo("github", "acme/many")?;
    let keys: String = (0..12).map(|i| format!("TOKEN_{i}={}\n", github_token(100 + i))).collect();
    repo.commit("keys.env", &keys)?;
    let (before, after) = repo.push()?;
    world.fake.state().status_failures = 1;
    assert_eq!(service.deliver("github", "push", "many-1", &repo.event(&before, &after))?.0, 202);
    service.wait("the status after one refusal", || {
        world.fake.state().statuses.iter().any(|s| s.sha == after)
    })?;
    assert_eq!(world.fake.state().status_failures, 0, "the first attempt was refused");
    let (rt, pool) = sqlite(&world)?;
    let scans: Vec<(i64, i64, String)> = rt.block_on(
        sqlx::query_as("SELECT id, omitted, status FROM scans WHERE repo = 'github:acme/many'")
            .fetch_all(&pool),
    )?;
    assert_eq!(scans.len(), 1, "one scan for the job's two attempts: {scans:?}");
    let (scan, omitted, status) = scans[0].clone();
    assert_eq!(status, "findings");
    assert!(omitted >= 7, "12 keys, 5 kept: {omitted} omitted");
    let findings: i64 = rt.block_on(
        sqlx::query_scalar("SELECT COUNT(*) FROM findings WHERE scan_id = $1")
            .bind(scan)
            .fetch_one(&pool),
    )?;
    assert_eq!(findings, 5, "the cap");
    let state = world.fake.state();
    assert_eq!(state.issues.iter().filter(|i| i.repo == "acme/many").count(), 2);
    let status = state.statuses.iter().find(|s| s.sha == after).ok_or("status")?;
    assert!(
        status.description.contains("not recorded")
            && status.description.contains("without an issue"),
        "{}",
        status.description
    );
    Ok(())
}

/// A remote that accepts the connection and never answers holds the fetch only until the
/// scan's time limit: the job fails (and is retried later) and the only worker goes on to
/// the next push.
#[test]
fn a_stuck_remote_releases_its_worker() -> TestResult {
    let world = World::new()?;
    let tarpit = TcpListener::bind("127.0.0.1:0")?;
    let port = tarpit.local_addr()?.port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in tarpit.incoming().flatten() {
            held.push(stream);
        }
    });
    let base = world.fake.base.clone();
    let config = world.config_edit(
        "[scan]\ntimeout_seconds = 2\n",
        &[
            ("\nworkers = 2\n", "\nworkers = 1\n"),
            (
                &format!("clone_url = \"{base}/git/gitea\""),
                &format!("clone_url = \"http://127.0.0.1:{port}/git/gitea\""),
            ),
        ],
    )?;
    let service = Service::start(&world, &config)?;
    let stuck = world.repo("gitea", "org/tarpit")?;
    stuck.commit("a.txt", "hello\n")?;
    let (before, after) = stuck.push()?;
    assert_eq!(service.deliver("gitea", "push", "tar-1", &stuck.event(&before, &after))?.0, 202);
    let next = world.repo("github", "acme/next")?;
    next.commit("a.env", &format!("TOKEN={}\n", github_token(85)))?;
    let (before, after) = next.push()?;
    assert_eq!(service.deliver("github", "push", "tar-2", &next.event(&before, &after))?.0, 202);
    // The limit is 2 s; 20 s is a bound on liveness, far above it and far below a stuck
    // transport's own timeouts (reqwest's 30 s default, twice: the fetch is tried twice).
    reported_within_20s(&world, &service, &after, "the stuck remote");
    let log = service.log();
    assert!(log.contains(&format!("127.0.0.1:{port}")), "the stuck fetch failed:\n{log}");
    Ok(())
}

/// Waits (20 s at most: a bound on liveness, not a speed) for a status on `sha`; failing, the
/// only worker is still held by `held_by`.
fn reported_within_20s(world: &World, service: &Service, sha: &str, held_by: &str) {
    let bound = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !world.fake.state().statuses.iter().any(|s| s.sha == sha) {
        assert!(
            std::time::Instant::now() < bound,
            "the one worker is still held by {held_by}:\n{}",
            service.log()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// A remote that keeps sending, one byte every 100 ms, never stalls long enough for a read
/// timeout: the deadline still ends the fetch (gix sees the interrupt between reads), and the
/// only worker goes on to the next push.
#[test]
fn a_slow_remote_is_cut_off_at_the_deadline() -> TestResult {
    let world = World::new()?;
    let config = world
        .config_edit("[scan]\ntimeout_seconds = 3\n", &[("\nworkers = 2\n", "\nworkers = 1\n")])?;
    let service = Service::start(&world, &config)?;
    let slow = world.repo("gitea", "org/slow")?;
    let blob: String = (0..2_000).map(|i| format!("line {i} {}\n", i * 7919)).collect();
    slow.commit("big.txt", &blob)?;
    let (before, after) = slow.push()?;
    world.fake.state().trickle_packs = Some("org/slow".into());
    assert_eq!(service.deliver("gitea", "push", "slow-1", &slow.event(&before, &after))?.0, 202);
    // The one worker takes the slow push first.
    std::thread::sleep(std::time::Duration::from_millis(500));
    let next = world.repo("github", "acme/after-slow")?;
    next.commit("a.env", &format!("TOKEN={}\n", github_token(90)))?;
    let (before, after) = next.push()?;
    assert_eq!(service.deliver("github", "push", "slow-2", &next.event(&before, &after))?.0, 202);
    // The pack alone takes minutes at this rate; the limit is 3 s.
    reported_within_20s(&world, &service, &after, "the slow remote");
    service.wait("the slow fetch interrupted", || service.log().contains("interrupted"))?;
    Ok(())
}

fn form_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                (b as char).to_string()
            }
            b' ' => "+".to_owned(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// GitLab's system hook (one hook for the whole instance) and GitHub's form-encoded
/// deliveries are pushes too; a form without its `payload` field is refused.
#[test]
fn system_hooks_and_form_encoded_deliveries_are_pushes() -> TestResult {
    let world = World::new()?;
    let service = Service::start(&world, &world.config("")?)?;
    let project = world.repo("gitlab", "grp/system")?;
    project.commit("a.env", &format!("TOKEN={}\n", github_token(86)))?;
    let (before, after_gitlab) = project.push()?;
    let mut body: serde_json::Value = serde_json::from_str(&gitlab_event(
        "grp/system",
        &before,
        &after_gitlab,
        "https://x.invalid",
        Some(0),
    ))?;
    body["event_name"] = json!("push");
    let (code, reply) = service.deliver("gitlab", "System Hook", "sys-1", &body.to_string())?;
    assert_eq!(code, 202, "{reply}");
    assert!(reply.contains("queued"), "{reply}");
    let repo = world.repo("github", "acme/form")?;
    repo.commit("a.env", &format!("TOKEN={}\n", github_token(87)))?;
    let (before, after_github) = repo.push()?;
    let form = format!("payload={}", form_encode(&repo.event(&before, &after_github)));
    let form_type = "application/x-www-form-urlencoded";
    let (code, reply) = service.deliver_as("github", "push", "form-1", &form, form_type)?;
    assert_eq!(code, 202, "{reply}");
    let (code, _) = service.deliver_as("github", "push", "form-2", "other=1", form_type)?;
    assert_eq!(code, 400, "a form without a payload");
    service.wait("both pushes reported", || {
        let state = world.fake.state();
        state.statuses.iter().any(|s| s.sha == after_gitlab)
            && state.statuses.iter().any(|s| s.sha == after_github)
    })?;
    Ok(())
}

/// With the database down, a delivery is spooled to disk and acknowledged (GitHub would
/// never redeliver a 503); once the database is back it is recorded and scanned.
#[test]
fn a_delivery_is_not_lost_while_the_database_is_down() -> TestResult {
    let Some(cluster) = crate::pg::start_or_skip() else { return Ok(()) };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let url = runtime.block_on(cluster.database("outage"));
    let world = World::new()?;
    let sqlite_line = format!("url = \"{}\"", world.database_url());
    let config = world.config_edit("", &[(&sqlite_line, &format!("url = \"{url}\""))])?;
    let service = Service::start(&world, &config)?;
    let repo = world.repo("github", "acme/outage")?;
    repo.commit("a.env", &format!("TOKEN={}\n", github_token(88)))?;
    let (before, after) = repo.push()?;
    cluster.pause()?;
    let (code, reply) =
        service.deliver("github", "push", "outage-1", &repo.event(&before, &after))?;
    assert_eq!(code, 202, "{reply}");
    assert!(reply.contains("spooled"), "{reply}");
    cluster.resume()?;
    service.wait("the spooled push recorded and reported", || {
        world.fake.state().statuses.iter().any(|s| s.sha == after && s.state == "failure")
    })?;
    assert!(service.log().contains("spooled deliveries recorded"), "{}", service.log());
    Ok(())
}

/// A forge (or something in front of it) that redirects: neither the REST clients nor the
/// fetch follow, so the GitLab token never reaches the redirect's target.
#[test]
fn no_credential_follows_a_redirect() -> TestResult {
    let world = World::new()?;
    let thief = thief();
    let target = thief.base.clone();
    let redirector = crate::LocalServer::start(1, move |cfg| {
        let target = target.clone();
        cfg.default_service(actix_web::web::to(move |req: actix_web::HttpRequest| {
            let location = format!("{target}{}", req.uri());
            async move {
                actix_web::HttpResponse::TemporaryRedirect()
                    .insert_header(("Location", location))
                    .finish()
            }
        }));
    });
    let base = world.fake.base.clone();
    let config = world.config_edit(
        "",
        &[
            (
                &format!("api_url = \"{base}/gitlab/api/v4\""),
                &format!("api_url = \"{}/gitlab/api/v4\"", redirector.base),
            ),
            (
                &format!("clone_url = \"{base}/git/gitlab\""),
                &format!("clone_url = \"{}/git/gitlab\"", redirector.base),
            ),
        ],
    )?;
    let service = Service::start(&world, &config)?;
    let repo = world.repo("gitlab", "grp/moved")?;
    repo.commit("a.env", &format!("TOKEN={}\n", github_token(89)))?;
    let (before, after) = repo.push()?;
    let body = gitlab_event("grp/moved", &before, &after, "https://x.invalid", Some(0));
    assert_eq!(service.deliver("gitlab", "Push Hook", "moved-1", &body)?.0, 202);
    service.wait("the fetch refused the redirect", || {
        service.log().contains("grp/moved") && service.log().contains("job failed")
    })?;
    std::thread::sleep(std::time::Duration::from_millis(500));
    let seen = thief.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
    assert!(
        seen.iter().all(|line| !line.contains(fake::GITLAB_TOKEN) && line.ends_with("\"\"")),
        "credentials followed a redirect: {seen:?}"
    );
    assert!(seen.is_empty(), "a redirect was followed: {seen:?}");
    Ok(())
}
