//! The service's flows: reporting on the three forges, redelivery, bad deliveries, a crash
//! mid-job, rate limits, and no plaintext secret anywhere.

use std::time::Duration;

use crate::{assert_no_plaintext, github_token, job_counts, Service, TestResult, World};

fn issue_count(world: &World, forge: &str) -> usize {
    world.fake.state().issues.iter().filter(|i| i.forge == forge).count()
}

fn statuses(world: &World, forge: &str, sha: &str) -> Vec<String> {
    world
        .fake
        .state()
        .statuses
        .iter()
        .filter(|s| s.forge == forge && s.sha == sha)
        .map(|s| s.state.clone())
        .collect()
}

#[test]
fn a_github_push_with_a_key_fails_its_status_and_opens_one_issue() -> TestResult {
    let world = World::new()?;
    let service = Service::start(&world, &world.config("")?)?;
    let repo = world.repo("github", "acme/app")?;
    let token = github_token(11);
    repo.commit("config/deploy.yml", &format!("deploy:\n  token: {token}\n"))?;
    let (before, after) = repo.push()?;
    let body = repo.event(&before, &after);
    let (status, reply) = service.deliver("github", "push", "d-1", &body)?;
    assert_eq!(status, 202, "{reply}");
    service.wait("a failure status", || statuses(&world, "github", &after) == ["failure"])?;
    assert_eq!(issue_count(&world, "github"), 1, "exactly one issue");
    {
        let state = world.fake.state();
        let issue = &state.issues[0];
        assert_eq!(issue.repo, "acme/app");
        assert!(
            issue.title.contains("github-pat") || issue.title.contains("GitHub"),
            "{}",
            issue.title
        );
        assert!(issue.body.contains("config/deploy.yml:2"), "{}", issue.body);
        assert!(issue.body.contains(&after), "the issue names the commit");
        assert!(issue.body.contains("ghp_"), "the redacted form stays recognisable");
        assert!(state.tokens_minted >= 1, "an installation token was minted through the App JWT");
    }

    // The same delivery again, then the same push under a new delivery id: nothing changes.
    assert_eq!(service.deliver("github", "push", "d-1", &body)?.0, 202);
    assert_eq!(service.deliver("github", "push", "d-1-bis", &body)?.0, 202);
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(issue_count(&world, "github"), 1);
    assert_eq!(statuses(&world, "github", &after).len(), 1, "no second status");

    // A clean push on top: success, no new issue.
    repo.commit("src/main.rs", "fn main() {}\n")?;
    let (before, clean) = repo.push()?;
    assert_eq!(service.deliver("github", "push", "d-2", &repo.event(&before, &clean))?.0, 202);
    service.wait("a success status", || statuses(&world, "github", &clean) == ["success"])?;
    assert_eq!(issue_count(&world, "github"), 1);
    service.wait("jobs done", || job_counts(&world).is_ok_and(|c| c == (0, 0, 2, 0)))?;
    assert_no_plaintext(&world, &[service.log()], &token)?;

    let (code, metrics) = service.get("/metrics")?;
    assert_eq!(code, 200);
    assert!(
        metrics
            .contains("leakgate_webhook_deliveries_total{source=\"github\",outcome=\"queued\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "leakgate_webhook_deliveries_total{source=\"github\",outcome=\"duplicate\"} 2"
        ),
        "{metrics}"
    );
    assert!(metrics.contains("leakgate_jobs{state=\"done\"} 2"), "{metrics}");
    assert!(metrics.contains("leakgate_findings_total"), "{metrics}");
    assert_eq!(service.get("/healthz")?.0, 200);
    assert_eq!(service.get("/readyz")?.0, 200);
    Ok(())
}

/// A waiver added from a recorded finding (`leakgate waive add --finding`): the same secret
/// pushed again is recorded, neither reported nor failing the status, and the use is audited.
#[test]
fn a_waived_secret_is_recorded_but_not_reported_again() -> TestResult {
    let world = World::new()?;
    let service = Service::start(&world, &world.config("")?)?;
    let repo = world.repo("github", "acme/app")?;
    let token = github_token(12);
    repo.commit("tests/fixture.yml", &format!("token: {token}\n"))?;
    let (before, after) = repo.push()?;
    assert_eq!(service.deliver("github", "push", "w-1", &repo.event(&before, &after))?.0, 202);
    service.wait("a failure status", || statuses(&world, "github", &after) == ["failure"])?;
    assert_eq!(issue_count(&world, "github"), 1);
    let waive = std::process::Command::new(env!("CARGO_BIN_EXE_leakgate"))
        .args(["waive", "add", "--finding", "1", "--repo", "github:acme/app"])
        .args(["--path", "tests/**", "--reason", "fixture", "--expires", "7d", "--as", "sec-lead"])
        .args(["--database", &world.database_url()])
        .env("LEAKGATE_DATA_DIR", world.dir.path().join("cli-data"))
        .output()?;
    assert!(waive.status.success(), "{}", String::from_utf8_lossy(&waive.stderr));
    repo.commit("tests/copy.yml", &format!("copy: {token}\n"))?;
    let (before, again) = repo.push()?;
    assert_eq!(service.deliver("github", "push", "w-2", &repo.event(&before, &again))?.0, 202);
    service.wait("a success status", || statuses(&world, "github", &again) == ["success"])?;
    assert_eq!(issue_count(&world, "github"), 1, "no issue for a waived secret");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let (waivers, events) = runtime.block_on(async {
        let store = leakgate_store::Store::connect(&world.database_url()).await?;
        Ok::<_, leakgate_store::Error>((store.waivers().await?, store.audit_events(100).await?))
    })?;
    assert_eq!(waivers[0].uses, 1);
    assert!(events.iter().any(|e| e.kind == "waived" && e.detail.contains("tests/copy.yml")));

    // The same blob out of the waiver's paths is a finding there: the walk took it as seen
    // (a scanned tip reaches it under tests/) until session 25.
    repo.commit("app/copy.yml", &format!("copy: {token}\n"))?;
    let (before, out) = repo.push()?;
    assert_eq!(service.deliver("github", "push", "w-3", &repo.event(&before, &out))?.0, 202);
    service.wait("a failure status", || statuses(&world, "github", &out) == ["failure"])?;
    assert_no_plaintext(&world, &[service.log()], &token)?;
    Ok(())
}

/// With `[scan] project_config`, the default branch's `.leakgate.toml` as it was before the
/// push decides; the pushed commits' own file never does, on the default branch or another.
#[test]
fn the_default_branchs_project_config_applies_and_the_pushed_one_does_not() -> TestResult {
    let world = World::new()?;
    let service = Service::start(&world, &world.config("[scan]\nproject_config = true\n")?)?;
    let repo = world.repo("github", "acme/app")?;
    let mut delivery = 0;
    let mut deliver = |body: String| -> Result<(), Box<dyn std::error::Error>> {
        delivery += 1;
        let (code, reply) = service.deliver("github", "push", &format!("p-{delivery}"), &body)?;
        assert_eq!(code, 202, "{reply}");
        Ok(())
    };
    repo.commit(".leakgate.toml", "[paths]\nskip = [\"fixtures/**\"]\n")?;
    let (before, after) = repo.push()?;
    deliver(repo.event(&before, &after))?;
    service.wait("config pushed", || statuses(&world, "github", &after) == ["success"])?;
    repo.commit("fixtures/token.txt", &format!("{}\n", github_token(13)))?;
    let (before, skipped) = repo.push()?;
    deliver(repo.event(&before, &skipped))?;
    service.wait("a skipped path", || statuses(&world, "github", &skipped) == ["success"])?;

    // Another branch that widens the file and adds a key: main's file applies.
    crate::git(&repo.work, &["checkout", "-q", "-b", "topic"])?;
    repo.commit(".leakgate.toml", "[paths]\nskip = [\"**\"]\n")?;
    repo.commit("src/topic.rs", &format!("const T: &str = \"{}\";\n", github_token(14)))?;
    crate::git(&repo.work, &["push", "-q", "origin", "topic"])?;
    let topic = crate::git(&repo.work, &["rev-parse", "HEAD"])?;
    let zeros = "0".repeat(40);
    deliver(repo.event(&zeros, &topic).replace("refs/heads/main", "refs/heads/topic"))?;
    service.wait("topic fails", || statuses(&world, "github", &topic) == ["failure"])?;
    crate::git(&repo.work, &["checkout", "-q", "main"])?;

    // The default branch itself: its file before the push applies, not the pushed one.
    repo.commit(".leakgate.toml", "[paths]\nskip = [\"**\"]\n")?;
    repo.commit("src/main.rs", &format!("const T: &str = \"{}\";\n", github_token(15)))?;
    let (before, widened) = repo.push()?;
    deliver(repo.event(&before, &widened))?;
    service.wait("main fails", || statuses(&world, "github", &widened) == ["failure"])?;
    let state = world.fake.state();
    assert!(state.issues.iter().any(|i| i.body.contains("src/main.rs")));
    assert!(state.issues.iter().any(|i| i.body.contains("src/topic.rs")));
    assert!(!state.issues.iter().any(|i| i.body.contains("fixtures/token.txt")));
    Ok(())
}

/// One push that moves the default branch to a permissive `.leakgate.toml` and a topic
/// branch with a key: the topic's job does not read the file the same push brought.
#[test]
fn a_push_cannot_bring_the_default_branchs_config_for_its_other_refs() -> TestResult {
    let world = World::new()?;
    let service = Service::start(&world, &world.config("[scan]\nproject_config = true\n")?)?;
    let repo = world.repo("github", "acme/app")?;
    repo.commit(".leakgate.toml", "[paths]\nskip = [\"fixtures/**\"]\n")?;
    let (before, first) = repo.push()?;
    assert_eq!(service.deliver("github", "push", "m-1", &repo.event(&before, &first))?.0, 202);
    service.wait("config pushed", || statuses(&world, "github", &first) == ["success"])?;
    repo.commit(".leakgate.toml", "[paths]\nskip = [\"**\"]\n")?;
    let widened = crate::git(&repo.work, &["rev-parse", "HEAD"])?;
    crate::git(&repo.work, &["checkout", "-q", "-b", "topic"])?;
    repo.commit("src/key.rs", &format!("const T: &str = \"{}\";\n", github_token(16)))?;
    let topic = crate::git(&repo.work, &["rev-parse", "HEAD"])?;
    crate::git(&repo.work, &["push", "-q", "origin", "main", "topic"])?;
    let main_event = repo.event(&first, &widened);
    let topic_event =
        repo.event(&"0".repeat(40), &topic).replace("refs/heads/main", "refs/heads/topic");
    assert_eq!(service.deliver("github", "push", "m-2", &main_event)?.0, 202);
    assert_eq!(service.deliver("github", "push", "m-3", &topic_event)?.0, 202);
    service.wait("the topic's key found", || statuses(&world, "github", &topic) == ["failure"])?;
    Ok(())
}

#[test]
fn gitlab_and_gitea_pushes_are_reported_on_their_forges() -> TestResult {
    let world = World::new()?;
    let service = Service::start(&world, &world.config("")?)?;
    let token = github_token(21);
    for (forge, name) in [("gitlab", "group/sub/app"), ("gitea", "team/app")] {
        let repo = world.repo(forge, name)?;
        repo.commit(".env", &format!("GITHUB_TOKEN={token}\n"))?;
        let (before, after) = repo.push()?;
        let (status, reply) = service.deliver(
            forge,
            if forge == "gitlab" { "Push Hook" } else { "push" },
            &format!("{forge}-1"),
            &repo.event(&before, &after),
        )?;
        assert_eq!(status, 202, "{forge}: {reply}");
        let failed = if forge == "gitlab" { "failed" } else { "failure" };
        service.wait(&format!("{forge} status"), || statuses(&world, forge, &after) == [failed])?;
        assert_eq!(issue_count(&world, forge), 1, "{forge}: one issue");
        let state = world.fake.state();
        let issue = state.issues.iter().find(|i| i.forge == forge).ok_or("issue")?;
        assert_eq!(issue.repo, name, "{forge}: the issue is in the pushed repository");
        assert!(issue.body.contains(".env:1"), "{}", issue.body);
    }
    assert_no_plaintext(&world, &[service.log()], &token)?;
    Ok(())
}

#[test]
fn bad_deliveries_are_refused_and_nothing_is_stored() -> TestResult {
    let world = World::new()?;
    let service = Service::start(&world, &world.config("")?)?;
    let body = r#"{"ref":"refs/heads/main"}"#;
    let addr = service.addr.clone();
    let post = |path: &str, headers: &[(&str, &str)], body: &[u8]| {
        crate::http::request(&addr, "POST", path, headers, body)
    };
    let good =
        leakgate_server::signature::sign_github(crate::GITHUB_SECRET.as_bytes(), body.as_bytes());
    let wrong = leakgate_server::signature::sign_github(b"not the secret", body.as_bytes());
    let truncated = &good[..good.len() - 1];
    for signature in [
        None,
        Some(wrong.as_str()),
        Some(truncated),
        Some("sha1=abc"),
        Some(good.trim_start_matches("sha256=")),
    ] {
        let mut headers = vec![("X-GitHub-Event", "push"), ("X-GitHub-Delivery", "bad-1")];
        if let Some(s) = signature {
            headers.push(("X-Hub-Signature-256", s));
        }
        assert_eq!(
            post("/webhooks/github", &headers, body.as_bytes())?.0,
            401,
            "signature {signature:?}"
        );
    }
    assert_eq!(
        post(
            "/webhooks/gitlab",
            &[("X-Gitlab-Token", "nope"), ("X-Gitlab-Event", "Push Hook")],
            b"{}"
        )?
        .0,
        401
    );
    assert_eq!(post("/webhooks/gitea", &[("X-Gitea-Event", "push")], b"{}")?.0, 401);

    // Signed but malformed JSON: 400, and recorded as malformed.
    let (code, _) = service.deliver("github", "push", "bad-json", "{\"ref\": ")?;
    assert_eq!(code, 400);
    // Ping and unknown events.
    assert_eq!(
        service.deliver("github", "ping", "p-1", r#"{"zen":"Keep it logically awesome."}"#)?.0,
        200
    );
    assert_eq!(service.deliver("github", "issues", "i-1", r#"{"action":"opened"}"#)?.0, 202);
    // Over 25 MiB: 413.
    let huge = vec![b'a'; 26 * 1024 * 1024];
    let sig = leakgate_server::signature::sign_github(crate::GITHUB_SECRET.as_bytes(), &huge);
    let (code, _) = post(
        "/webhooks/github",
        &[("X-Hub-Signature-256", &sig), ("X-GitHub-Event", "push")],
        &huge,
    )?;
    assert_eq!(code, 413);
    // A 20 MiB push body is accepted (GitHub's payloads reach 25 MiB).
    let repo = world.repo("github", "acme/big")?;
    let head = crate::git(&repo.work, &["rev-parse", "HEAD"])?;
    let mut event: serde_json::Value = serde_json::from_str(&repo.event(&"0".repeat(40), &head))?;
    event["padding"] = serde_json::Value::String("x".repeat(20 << 20));
    assert_eq!(service.deliver("github", "push", "big-1", &event.to_string())?.0, 202);

    let (code, metrics) = service.get("/metrics")?;
    assert_eq!(code, 200);
    for (source, n) in [("github", 5), ("gitlab", 1), ("gitea", 1)] {
        let line = format!(
            "leakgate_webhook_deliveries_total{{source=\"{source}\",outcome=\"unauthorized\"}} {n}"
        );
        assert!(metrics.contains(&line), "{line} in {metrics}");
    }
    assert!(metrics.contains("outcome=\"malformed\"} 1"), "{metrics}");
    // Nothing unauthenticated reached the database: only the malformed and the big push.
    let (queued, running, done, dead) = job_counts(&world)?;
    assert_eq!(queued + running + done + dead, 1, "one job: the big push");
    Ok(())
}

#[test]
fn a_crash_mid_job_is_finished_exactly_once_after_restart() -> TestResult {
    let world = World::new()?;
    let config = world.config("")?;
    let mut service = Service::start(&world, &config)?;
    let repo = world.repo("github", "acme/crash")?;
    let token = github_token(31);
    repo.commit("app.py", &format!("TOKEN = \"{token}\"\n"))?;
    let (before, after) = repo.push()?;
    // The forge answers statuses slowly: the worker is mid-job when the process dies.
    world.fake.state().status_delay = Duration::from_secs(3);
    assert_eq!(service.deliver("github", "push", "c-1", &repo.event(&before, &after))?.0, 202);
    service.wait("the issue to be opened", || issue_count(&world, "github") == 1)?;
    std::thread::sleep(Duration::from_millis(300));
    service.kill9();
    assert_eq!(job_counts(&world)?.2, 0, "the job did not finish before the kill");
    world.fake.state().status_delay = Duration::ZERO;
    let service = Service::start(&world, &config)?;
    service.wait("the job to finish after the lease expired", || {
        job_counts(&world).is_ok_and(|c| c.2 == 1)
    })?;
    assert_eq!(job_counts(&world)?, (0, 0, 1, 0));
    assert_eq!(issue_count(&world, "github"), 1, "the re-run did not open a second issue");
    assert!(statuses(&world, "github", &after).iter().all(|s| s == "failure"));
    assert!(!statuses(&world, "github", &after).is_empty());
    assert_no_plaintext(&world, &[service.log()], &token)?;
    Ok(())
}

#[test]
fn a_rate_limited_issue_is_postponed_not_lost_and_sigterm_stops_cleanly() -> TestResult {
    let world = World::new()?;
    let mut service = Service::start(&world, &world.config("")?)?;
    world.fake.state().rate_limit_issue_creates = 2;
    let repo = world.repo("gitea", "team/limited")?;
    let token = github_token(41);
    repo.commit("ci.yml", &format!("token: {token}\n"))?;
    let (before, after) = repo.push()?;
    assert_eq!(service.deliver("gitea", "push", "r-1", &repo.event(&before, &after))?.0, 202);
    service.wait("the status after the rate limit passed", || {
        statuses(&world, "gitea", &after) == ["failure"]
    })?;
    assert_eq!(issue_count(&world, "gitea"), 1);
    assert_eq!(world.fake.state().rate_limit_issue_creates, 0, "both 429s were met");
    service.wait("the job done", || job_counts(&world).is_ok_and(|c| c == (0, 0, 1, 0)))?;
    let status = service.terminate()?;
    assert!(status.success(), "SIGTERM ends the service cleanly: {status:?}");
    assert!(service.log().contains("stopped"), "{}", service.log());
    Ok(())
}

#[test]
fn bad_configuration_stops_the_start_with_the_key_named() -> TestResult {
    let world = World::new()?;
    let config = world.config("[issues]\nenabeld = true\n")?;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_leakgate"))
        .args(["serve", "--config"])
        .arg(&config)
        .env("LEAKGATE_DATA_DIR", world.dir.path().join("data"))
        .output()?;
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("enabeld"), "{stderr}");
    Ok(())
}

#[test]
fn a_push_the_hook_could_not_scan_in_time_is_rescanned_by_the_service() -> TestResult {
    let world = World::new()?;
    let service = Service::start(&world, &world.config("")?)?;
    // A git server running the hook with no time budget (fail-open) and the service's database.
    let bare = world.dir.path().join("hooked.git");
    crate::git(
        world.dir.path(),
        &["init", "-q", "--bare", "-b", "main", bare.to_str().ok_or("path")?],
    )?;
    let install = std::process::Command::new(env!("CARGO_BIN_EXE_leakgate"))
        .args(["hook", "install", "--repo"])
        .arg(&bare)
        .output()?;
    assert!(install.status.success(), "{}", String::from_utf8_lossy(&install.stderr));
    crate::git(&bare, &["config", "leakgate.timeoutMs", "0"])?;
    crate::git(&bare, &["config", "leakgate.acceptIncomplete", "true"])?;
    crate::git(&bare, &["config", "leakgate.database", &world.database_url()])?;
    let work = world.dir.path().join("hooked-work");
    crate::git(
        world.dir.path(),
        &["clone", "-q", bare.to_str().ok_or("path")?, work.to_str().ok_or("path")?],
    )?;
    let token = github_token(51);
    std::fs::write(work.join("secrets.txt"), format!("token={token}\n"))?;
    crate::git(&work, &["add", "-A"])?;
    crate::git(&work, &["commit", "-q", "-m", "add"])?;
    let out = std::process::Command::new("git")
        .args(["push", "-q", "origin", "HEAD:main"])
        .current_dir(&work)
        .env("LEAKGATE_FINGERPRINT_KEY", crate::FINGERPRINT_KEY)
        .env("LEAKGATE_DATA_DIR", world.dir.path().join("hook-data"))
        .output()?;
    let hook_said = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "acceptIncomplete accepts the push: {hook_said}");
    assert!(hook_said.contains("not fully scanned"), "{hook_said}");

    // The service picks up the rescan job, fetches from the repository and finds the key.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let store = runtime
        .block_on(leakgate_store::Store::connect_without_migrating(&world.database_url()))?;
    service.wait("the rescan's findings", || {
        runtime
            .block_on(store.audit_events(20))
            .is_ok_and(|events| events.iter().any(|e| e.kind == "rescan_findings"))
    })?;
    let events = runtime.block_on(store.audit_events(20))?;
    assert!(
        events.iter().any(|e| e.kind == "hook_unscanned"),
        "the hook recorded the unscanned push"
    );
    let found = events.iter().find(|e| e.kind == "rescan_findings").ok_or("event")?;
    assert!(found.detail.contains("\"findings\":1"), "{}", found.detail);
    service.wait("the rescan job done", || job_counts(&world).is_ok_and(|c| c == (0, 0, 1, 0)))?;
    assert_no_plaintext(&world, &[service.log()], &token)?;
    Ok(())
}

#[test]
fn issues_go_to_the_tracking_repository_when_one_is_configured() -> TestResult {
    let world = World::new()?;
    let service =
        Service::start(&world, &world.config("[issues]\nrepository = \"security/leaks\"\n")?)?;
    let repo = world.repo("gitea", "team/public-app")?;
    let token = github_token(61);
    repo.commit("deploy.sh", &format!("export GH_TOKEN={token}\n"))?;
    let (before, after) = repo.push()?;
    assert_eq!(service.deliver("gitea", "push", "t-1", &repo.event(&before, &after))?.0, 202);
    service.wait("the failure status", || statuses(&world, "gitea", &after) == ["failure"])?;
    let state = world.fake.state();
    let repos: Vec<&str> = state.issues.iter().map(|i| i.repo.as_str()).collect();
    assert_eq!(
        repos,
        ["security/leaks"],
        "the issue is in the tracking repository, not the public one"
    );
    assert!(
        state.issues[0].body.contains("team/public-app"),
        "the issue names the leaking repository"
    );
    drop(state);
    assert_no_plaintext(&world, &[service.log()], &token)?;
    Ok(())
}

/// Keys in names, as the hook finds them: a branch and a directory named after keys are
/// findings (`(ref names)`, `(file and directory names)`), and no record, issue, request to
/// the forge or log line shows the keys. Until session 27 the service scanned neither name,
/// and showed and stored both as they were (the issue named the branch, the finding's path
/// the directory).
#[test]
fn keys_in_ref_and_file_names_are_found_and_never_shown() -> TestResult {
    let world = World::new()?;
    let service = Service::start(&world, &world.config("")?)?;
    let repo = world.repo("github", "acme/names")?;
    let (branch_key, dir_key, content_key) = (github_token(91), github_token(92), github_token(93));
    // Committed by hand: `Repo::commit`'s message names the file.
    let dir = repo.work.join(&dir_key);
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("deploy.sh"), format!("export GH_TOKEN={content_key}\n"))?;
    crate::git(&repo.work, &["add", "-A"])?;
    crate::git(&repo.work, &["commit", "-q", "-m", "deploy script"])?;
    let refname = format!("refs/heads/{branch_key}");
    crate::git(&repo.work, &["push", "-q", "origin", &format!("HEAD:{refname}")])?;
    let after = crate::git(&repo.work, &["rev-parse", "HEAD"])?;
    let body = repo.event(&"0".repeat(40), &after).replace("refs/heads/main", &refname);
    assert_eq!(service.deliver("github", "push", "n-1", &body)?.0, 202);
    service.wait("the failure status", || statuses(&world, "github", &after) == ["failure"])?;
    service.wait("jobs done", || job_counts(&world).is_ok_and(|c| c.0 == 0 && c.1 == 0))?;
    {
        let state = world.fake.state();
        let titles: Vec<&str> = state.issues.iter().map(|i| i.title.as_str()).collect();
        for place in ["(ref names)", "(file and directory names)", "ghp_…/deploy.sh"] {
            assert!(titles.iter().any(|t| t.contains(place)), "{place}: {titles:?}");
        }
        assert!(
            state.issues.iter().all(|i| i.body.contains("`refs/heads/ghp_…`")),
            "{:?}",
            state.issues.iter().map(|i| &i.body).collect::<Vec<_>>()
        );
    }
    for key in [&dir_key, &content_key] {
        assert_no_plaintext(&world, &[service.log()], key)?;
    }
    // The branch's name is nowhere either: the job that fetched it kept it sealed (payload
    // and idempotency key), the mirror under a number, and the records withheld it.
    assert_no_plaintext(&world, &[service.log()], &branch_key)?;
    let mut mirrored = vec![world.dir.path().join("mirrors")];
    while let Some(path) = mirrored.pop() {
        assert!(!path.to_string_lossy().contains(&branch_key), "{}", path.display());
        if path.is_dir() {
            for entry in std::fs::read_dir(&path)? {
                mirrored.push(entry?.path());
            }
        } else {
            let bytes = std::fs::read(&path)?;
            let held = bytes.windows(branch_key.len()).any(|w| w == branch_key.as_bytes());
            assert!(!held, "{} holds the branch's key", path.display());
        }
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let url = world.database_url();
    let (refs, paths): (Vec<String>, Vec<String>) = runtime.block_on(async move {
        let pool = sqlx::SqlitePool::connect(&url).await?;
        let refs = sqlx::query_scalar("SELECT refs FROM scans").fetch_all(&pool).await?;
        let paths = sqlx::query_scalar("SELECT path FROM findings").fetch_all(&pool).await?;
        pool.close().await;
        Ok::<_, sqlx::Error>((refs, paths))
    })?;
    assert!(refs.contains(&"refs/heads/ghp_…".to_owned()), "{refs:?}");
    assert_eq!(paths.len(), 3, "{paths:?}");
    for text in refs.iter().chain(&paths) {
        assert!(!text.contains(&branch_key) && !text.contains(&dir_key), "{text}");
    }
    Ok(())
}

/// A push to the default branch that brings a `.leakgate.toml` the service cannot apply fails
/// its commit status and says why: later pushes would run without the rules it adds (the
/// hook rejects such a push; the service, after the fact, reports it). Another branch's file,
/// and later pushes that leave the file as it is, are not reported again.
#[test]
fn a_default_branch_push_that_breaks_the_project_config_fails_its_status() -> TestResult {
    let world = World::new()?;
    let service = Service::start(&world, &world.config("[scan]\nproject_config = true\n")?)?;
    let repo = world.repo("github", "acme/app")?;
    repo.commit(".leakgate.toml", "[rules]\ndisable = [\"no-such-rule\"]\n")?;
    let (before, broken) = repo.push()?;
    assert_eq!(service.deliver("github", "push", "c-1", &repo.event(&before, &broken))?.0, 202);
    service.wait("a failure", || statuses(&world, "github", &broken) == ["failure"])?;
    let description = |sha: &str| -> String {
        let state = world.fake.state();
        let found = state.statuses.iter().find(|s| s.sha == sha);
        found.map(|s| s.description.clone()).unwrap_or_default()
    };
    let text = description(&broken);
    assert!(text.starts_with(".leakgate.toml cannot be applied"), "{text}");
    assert!(text.contains("no-such-rule"), "{text}");
    assert!(service.log().contains("cannot be applied"), "{}", service.log());

    // The same file on another branch is not the default branch's.
    crate::git(&repo.work, &["push", "-q", "origin", "HEAD:refs/heads/topic"])?;
    let topic = repo.event(&"0".repeat(40), &broken).replace("refs/heads/main", "refs/heads/topic");
    assert_eq!(service.deliver("github", "push", "c-2", &topic)?.0, 202);
    // A later push to main that leaves the file as it is.
    repo.commit("src/main.rs", "fn main() {}\n")?;
    let (before, clean) = repo.push()?;
    assert_eq!(service.deliver("github", "push", "c-3", &repo.event(&before, &clean))?.0, 202);
    service.wait("a success", || statuses(&world, "github", &clean) == ["success"])?;
    service.wait("jobs done", || job_counts(&world).is_ok_and(|c| c.0 == 0 && c.1 == 0))?;
    let state = world.fake.state();
    let failures = state.statuses.iter().filter(|s| s.state == "failure").count();
    assert_eq!(failures, 1, "{:?}", state.statuses);
    Ok(())
}

/// A new branch's push whose job runs after a later push to the same branch (forges do not
/// keep webhooks in order; a job is retried): the later push scanned only its own range, and
/// its scanned tip must not hide the new branch's commits. They were never scanned, and got
/// a success status (review of session 28).
#[test]
fn a_new_branch_scanned_after_a_later_push_to_it_is_scanned_whole() -> TestResult {
    let world = World::new()?;
    let service = Service::start(&world, &world.config("")?)?;
    let repo = world.repo("github", "acme/order")?;
    let token = github_token(95);
    crate::git(&repo.work, &["checkout", "-q", "-b", "feature"])?;
    let leaked = repo.commit("config.env", &format!("GH_TOKEN={token}\n"))?;
    crate::git(&repo.work, &["push", "-q", "origin", "HEAD:refs/heads/feature"])?;
    let later = repo.commit("README.md", "notes\n")?;
    crate::git(&repo.work, &["push", "-q", "origin", "HEAD:refs/heads/feature"])?;
    let event = |before: &str, after: &str| {
        repo.event(before, after).replace("refs/heads/main", "refs/heads/feature")
    };
    // The later push first: its range holds no key.
    assert_eq!(service.deliver("github", "push", "o-2", &event(&leaked, &later))?.0, 202);
    service
        .wait("the later push's success", || statuses(&world, "github", &later) == ["success"])?;
    service.wait("jobs done", || job_counts(&world).is_ok_and(|c| c.0 == 0 && c.1 == 0))?;
    // Then the branch's creation, whose commit holds the key.
    assert_eq!(service.deliver("github", "push", "o-1", &event(&"0".repeat(40), &leaked))?.0, 202);
    service.wait("the key's failure", || statuses(&world, "github", &leaked) == ["failure"])?;
    assert_no_plaintext(&world, &[service.log()], &token)?;
    Ok(())
}

/// A push whose webhook never arrived (lost, or the service down past the forge's retries)
/// moved the branch without a scan: the next push's `before` is that push's commit, and its
/// range alone left the key the lost push brought unscanned, under a success status. A branch
/// the service scanned before is scanned from what was scanned.
#[test]
fn a_push_after_a_lost_webhook_is_scanned_from_what_was_scanned() -> TestResult {
    let world = World::new()?;
    let service = Service::start(&world, &world.config("")?)?;
    let repo = world.repo("github", "acme/lost")?;
    let token = github_token(97);
    repo.commit("src/lib.rs", "pub fn f() {}\n")?;
    let (before, first) = repo.push()?;
    assert_eq!(service.deliver("github", "push", "l-1", &repo.event(&before, &first))?.0, 202);
    service
        .wait("the first push's success", || statuses(&world, "github", &first) == ["success"])?;
    service.wait("jobs done", || job_counts(&world).is_ok_and(|c| c.0 == 0 && c.1 == 0))?;
    // The key's push: its webhook is lost.
    repo.commit("config.env", &format!("GH_TOKEN={token}\n"))?;
    let (_, lost) = repo.push()?;
    // The next push leaves the file as it is.
    repo.commit("README.md", "notes\n")?;
    let (before, next) = repo.push()?;
    assert_eq!(before, lost);
    assert_eq!(service.deliver("github", "push", "l-3", &repo.event(&lost, &next))?.0, 202);
    service.wait("the key's failure", || statuses(&world, "github", &next) == ["failure"])?;
    // A push after that one is scanned from its `before` again (the same range).
    repo.commit("README.md", "more notes\n")?;
    let (before, last) = repo.push()?;
    assert_eq!(service.deliver("github", "push", "l-4", &repo.event(&before, &last))?.0, 202);
    service.wait("the last push's success", || statuses(&world, "github", &last) == ["success"])?;
    assert_no_plaintext(&world, &[service.log()], &token)?;
    // A branch created by a push whose webhook is lost, its key in the creation's commit:
    // the branch's next push is its first scan, and its `before` is not trusted (the
    // repository was scanned before), so the key is found.
    let token = github_token(98);
    crate::git(&repo.work, &["checkout", "-q", "-b", "topic"])?;
    let leaked = repo.commit("topic.env", &format!("GH_TOKEN={token}\n"))?;
    crate::git(&repo.work, &["push", "-q", "origin", "HEAD:refs/heads/topic"])?;
    let next = repo.commit("README.md", "topic notes\n")?;
    crate::git(&repo.work, &["push", "-q", "origin", "HEAD:refs/heads/topic"])?;
    let topic = repo.event(&leaked, &next).replace("refs/heads/main", "refs/heads/topic");
    assert_eq!(service.deliver("github", "push", "l-5", &topic)?.0, 202);
    service.wait("the topic key's failure", || statuses(&world, "github", &next) == ["failure"])?;
    assert_no_plaintext(&world, &[service.log()], &token)?;
    Ok(())
}
