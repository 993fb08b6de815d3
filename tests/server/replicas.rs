//! Several `leakgate serve` replicas on one PostgreSQL (started by the harness): deliveries
//! spread across them, some sent twice to different replicas, one replica killed with
//! SIGKILL and another stopped with SIGTERM midway; every job still runs to completion once,
//! every issue exists once, every leaked key is revoked (at least once, at most twice: a
//! replica killed between sending and recording), nothing is stuck.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::{git, github_token, Res, Service, TestResult, World};

/// `count` commits on `main` of a Gitea repository, every `secret_every`-th adding a distinct
/// key; returns the commit ids, oldest first (the initial commit included).
fn history(
    world: &World,
    name: &str,
    count: usize,
    secret_every: usize,
) -> Res<(crate::Repo, Vec<String>)> {
    let repo = world.repo("gitea", name)?;
    let root = git(&repo.work, &["rev-parse", "HEAD"])?;
    // One fast-import stream instead of `count` git processes.
    let mut stream = String::new();
    for i in 1..=count {
        let content = if i % secret_every == 0 {
            format!("deploy_token = \"{}\"\n", github_token(1000 + i as u64))
        } else {
            format!("build {i}\n")
        };
        let parent = if i == 1 { root.clone() } else { format!(":{}", i - 1) };
        stream.push_str(&format!(
            "commit refs/heads/main\nmark :{i}\ncommitter Dev <dev@example.invalid> {} +0000\ndata 8\ncommit {}\nfrom {parent}\nM 100644 inline file{}.txt\ndata {}\n{content}\n",
            1_700_000_000 + i,
            i % 10,
            i % 50,
            content.len()
        ));
    }
    let mut child = std::process::Command::new("git")
        .args(["fast-import", "--quiet"])
        .current_dir(&repo.work)
        .stdin(std::process::Stdio::piped())
        .spawn()?;
    std::io::Write::write_all(child.stdin.as_mut().ok_or("stdin")?, stream.as_bytes())?;
    drop(child.stdin.take());
    assert!(child.wait()?.success(), "fast-import");
    git(&repo.work, &["reset", "-q", "--hard", "main"])?;
    git(&repo.work, &["push", "-q", "origin", "main"])?;
    let ids = git(&repo.work, &["rev-list", "--reverse", "main"])?;
    Ok((repo, ids.lines().map(str::to_owned).collect()))
}

fn start_replicas(world: &World, url: &str, n: usize) -> Res<Vec<Service>> {
    // Keys are revoked as they are found (the fake forge is GitHub's revocation API too).
    let config = world.config(&format!(
        "[revoke.github]\npolicy = \"auto\"\napi_url = \"{}/github-api\"\n\
         allow_internal = true\nallow_http = true\nrequests_per_hour = 3600000\n",
        world.fake.base
    ))?;
    (0..n)
        .map(|i| {
            let mirrors = world.dir.path().join(format!("mirrors-{i}"));
            Service::start_with_env(
                world,
                &config,
                &[
                    ("LEAKGATE_DATABASE__URL", url),
                    ("LEAKGATE_SERVER__MIRROR_DIR", mirrors.to_str().unwrap_or("")),
                ],
            )
        })
        .collect()
}

fn counts(url: &str) -> Res<(i64, i64, i64, i64)> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    Ok(runtime.block_on(async {
        let store = leakgate_store::Store::connect_without_migrating(url).await?;
        store.job_counts().await
    })?)
}

fn wait_done(services: &[&Service], url: &str, expected: i64) -> Res<Duration> {
    let started = Instant::now();
    let deadline = started + Duration::from_secs(300);
    loop {
        let c = counts(url)?;
        if c == (0, 0, expected, 0) {
            return Ok(started.elapsed());
        }
        if Instant::now() > deadline || c.3 > 0 {
            let logs: Vec<String> = services.iter().map(|s| s.log()).collect();
            return Err(
                format!("jobs {c:?}, expected {expected} done\n{}", logs.join("\n----\n")).into()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn replicas_share_the_queue_through_crashes_and_shutdowns() -> TestResult {
    let Some(cluster) = crate::pg::start_or_skip() else { return Ok(()) };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let world = World::new()?;

    // One replica: throughput baseline.
    let single_url = runtime.block_on(cluster.database("single"));
    let (repo, ids) = history(&world, "team/single", 200, 1000)?;
    let single = start_replicas(&world, &single_url, 1)?;
    let started = Instant::now();
    for i in 1..ids.len() {
        let (code, reply) = single[0].deliver(
            "gitea",
            "push",
            &format!("s-{i}"),
            &repo.event(&ids[i - 1], &ids[i]),
        )?;
        assert_eq!(code, 202, "{reply}");
    }
    wait_done(&[&single[0]], &single_url, 200)?;
    let one = 200.0 / started.elapsed().as_secs_f64();
    drop(single);

    // Three replicas, 2,000 pushes, 10% delivered twice to two replicas, one SIGKILL, one SIGTERM.
    let url = runtime.block_on(cluster.database("replicas"));
    let (repo, ids) = history(&world, "team/multi", 2000, 100)?;
    let mut replicas = start_replicas(&world, &url, 3)?;
    let addrs: Vec<String> = replicas.iter().map(|r| r.addr.clone()).collect();
    let alive = Arc::new([true, true, true].map(std::sync::atomic::AtomicBool::new));
    let next = Arc::new(AtomicUsize::new(1));
    let sent = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let senders: Vec<_> = (0..6)
        .map(|_| {
            let (addrs, alive, next, sent, ids) =
                (addrs.clone(), alive.clone(), next.clone(), sent.clone(), ids.clone());
            let event = |i: usize| repo.event(&ids[i - 1], &ids[i]);
            let events: Vec<String> = (1..ids.len()).map(event).collect();
            std::thread::spawn(move || -> Result<usize, String> {
                let mut twice = 0;
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= ids.len() {
                        return Ok(twice);
                    }
                    let body = &events[i - 1];
                    let targets: Vec<usize> =
                        if i % 10 == 0 { vec![i % 3, (i + 1) % 3] } else { vec![i % 3] };
                    for target in targets {
                        // A load balancer sends to a live replica; a delivery that hits a dying
                        // one is retried on the next, as forges redeliver.
                        let mut delivered = false;
                        for shift in 0..3 {
                            let r = (target + shift) % 3;
                            if !alive[r].load(Ordering::SeqCst) {
                                continue;
                            }
                            let signature = leakgate_server::signature::sign_hex(
                                crate::GITEA_SECRET.as_bytes(),
                                body.as_bytes(),
                            );
                            let id = format!("m-{i}");
                            let headers = [
                                ("X-Gitea-Signature", signature.as_str()),
                                ("X-Gitea-Event", "push"),
                                ("X-Gitea-Delivery", id.as_str()),
                            ];
                            if let Ok((202, _)) = crate::http::request(
                                &addrs[r],
                                "POST",
                                "/webhooks/gitea",
                                &headers,
                                body.as_bytes(),
                            ) {
                                delivered = true;
                                break;
                            }
                        }
                        if !delivered {
                            return Err(format!("delivery {i} found no live replica"));
                        }
                    }
                    if i % 10 == 0 {
                        twice += 1;
                    }
                    sent.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect();
    // Midway, replica 0 dies without warning; later replica 1 is stopped gracefully.
    while sent.load(Ordering::SeqCst) < 700 {
        std::thread::sleep(Duration::from_millis(20));
    }
    alive[0].store(false, Ordering::SeqCst);
    replicas[0].kill9();
    while sent.load(Ordering::SeqCst) < 1400 {
        std::thread::sleep(Duration::from_millis(20));
    }
    alive[1].store(false, Ordering::SeqCst);
    let status = replicas[1].terminate()?;
    assert!(status.success(), "SIGTERM ends replica 1 cleanly: {status:?}");
    let mut twice = 0;
    for s in senders {
        twice += s.join().map_err(|_| "sender panicked")??;
    }
    assert_eq!(twice, 200, "10% of the deliveries went to two replicas");
    // 2,000 push jobs and a revocation job per key.
    wait_done(&[&replicas[2]], &url, 2020)?;
    let total = started.elapsed();
    let three = 2000.0 / total.as_secs_f64();

    // Every push is one job, done; every secret has exactly one issue; every commit a status.
    assert_eq!(counts(&url)?, (0, 0, 2020, 0), "no job stuck, none dead, none duplicated");
    let state = world.fake.state();
    let issues: Vec<_> = state.issues.iter().filter(|i| i.repo == "team/multi").collect();
    assert_eq!(issues.len(), 20, "one issue per leaked secret");
    let mut titles: Vec<&str> = issues.iter().map(|i| i.title.as_str()).collect();
    titles.sort_unstable();
    titles.dedup();
    assert_eq!(titles.len(), 20, "no secret has two issues");
    let failed: std::collections::HashSet<&str> = state
        .statuses
        .iter()
        .filter(|s| s.repo == "team/multi" && s.state == "failure")
        .map(|s| s.sha.as_str())
        .collect();
    assert_eq!(failed.len(), 20, "a failure status on each commit that added a key");
    let with_status: std::collections::HashSet<&str> =
        state.statuses.iter().filter(|s| s.repo == "team/multi").map(|s| s.sha.as_str()).collect();
    assert_eq!(with_status.len(), 2000, "every pushed commit got a status");
    // Every key revoked, whichever replica found it; a replica killed between sending and
    // recording may have it sent again (at least once, never lost), but not more.
    for i in (100..=2000).step_by(100) {
        let token = github_token(1000 + i);
        let sends = state.revoked.iter().filter(|(t, _)| *t == token).count();
        assert!((1..=2).contains(&sends), "key {i} sent {sends} times");
    }
    let sends = state.revoked.len();
    assert!(sends <= 22, "{sends} sends for 20 keys");
    for issue in &issues {
        assert!(issue.body.contains("**revoked** via github"), "{}", issue.body);
    }
    drop(state);
    let rows = runtime.block_on(async {
        let store = leakgate_store::Store::connect_without_migrating(&url).await?;
        store.revocations(None, 100).await
    })?;
    assert_eq!(rows.len(), 20);
    assert!(rows.iter().all(|r| r.state.as_str() == "revoked"), "{rows:?}");
    eprintln!(
        "throughput: 1 replica {one:.1} pushes/s (200 pushes); 3 replicas with a SIGKILL and a SIGTERM {three:.1} pushes/s (2,000 pushes, {twice} delivered twice) in {:.1} s; {sends} revocation sends for 20 keys",
        total.as_secs_f64()
    );
    replicas.clear();
    Ok(())
}

/// What one replica scanned, every replica knows: a replica with a mirror of its own (after
/// a failover) scans only the commits a new branch adds over what was scanned before, not
/// the branch's whole history.
#[test]
fn a_replica_after_failover_knows_what_was_scanned() -> TestResult {
    let world = World::new()?;
    let repo = world.repo("github", "acme/failover")?;
    let event = |git_ref: &str, after: &str| {
        serde_json::json!({
            "ref": git_ref, "before": "0".repeat(40), "after": after, "commits": [],
            "repository": {"full_name": "acme/failover", "private": true},
            "pusher": {"name": "dev"}, "installation": {"id": 99},
        })
        .to_string()
    };
    git(&repo.work, &["checkout", "-q", "-b", "feature"])?;
    for i in 0..3 {
        repo.commit(&format!("f{i}.txt"), &format!("{i}\n"))?;
    }
    git(&repo.work, &["push", "-q", "origin", "feature"])?;
    let first = git(&repo.work, &["rev-parse", "HEAD"])?;
    let mut a = Service::start(&world, &world.config("")?)?;
    let (code, _) = a.deliver("github", "push", "fo-1", &event("refs/heads/feature", &first))?;
    assert_eq!(code, 202);
    a.wait("the first replica's status", || {
        world.fake.state().statuses.iter().any(|s| s.sha == first)
    })?;
    a.terminate()?;
    // The second replica: the same database, a mirror of its own.
    let mirrors = world.dir.path().join("mirrors").display().to_string();
    let config = world.config_edit(
        "",
        &[(&format!("mirror_dir = \"{mirrors}\""), &format!("mirror_dir = \"{mirrors}-b\""))],
    )?;
    let b = Service::start(&world, &config)?;
    git(&repo.work, &["checkout", "-q", "-b", "feature2"])?;
    repo.commit("g.txt", "g\n")?;
    git(&repo.work, &["push", "-q", "origin", "feature2"])?;
    let second = git(&repo.work, &["rev-parse", "HEAD"])?;
    let (code, _) = b.deliver("github", "push", "fo-2", &event("refs/heads/feature2", &second))?;
    assert_eq!(code, 202);
    b.wait("the second replica's status", || {
        world.fake.state().statuses.iter().any(|s| s.sha == second)
    })?;
    let state = world.fake.state();
    let status = state.statuses.iter().find(|s| s.sha == second).ok_or("status")?;
    assert!(status.description.contains("in 1 new commit"), "{}", status.description);
    Ok(())
}
