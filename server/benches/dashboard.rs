//! The dashboard's pages over 10,000 findings (each its own secret: the open-secrets list is
//! as long as it gets), on SQLite and on a PostgreSQL started for the run: database queries
//! plus HTML, as each page is served. Prints the median and p95 of 25 renders per page and
//! the page's size.
//!
//! `cargo bench -p leakgate-server --bench dashboard`

use std::time::{Duration, Instant};

use leakgate_server::ui::pages::{SecretsQuery, Viewer};
use leakgate_server::ui::render;
use leakgate_store::{
    FindingRecord, NewRevocation, NewScan, NewValidation, RevocationState, Store,
};

#[path = "../../store/tests/conformance/pg.rs"]
mod pg;

const FINDINGS: usize = 10_000;
const RUNS: usize = 25;
const RULES: [(&str, &str, &str); 6] = [
    ("github-pat-classic", "github", "critical"),
    ("aws-access-key", "aws", "critical"),
    ("slack-bot-token", "slack", "high"),
    ("generic-password", "generic", "medium"),
    ("npm-access-token", "npm", "high"),
    ("sentry-dsn", "sentry", "low"),
];

fn fingerprint(i: usize) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(format!("bench secret {i}")))
}

/// 10,000 findings in 400 scans over 50 repositories and 30 days; a revocation for every
/// fifth secret (most revoked), a validation for every third, 300 pushes the hook blocked,
/// 200 bypasses.
async fn seed(store: &Store) -> (String, Duration) {
    let started = Instant::now();
    let mut scan = 0;
    for i in 0..FINDINGS {
        if i % 25 == 0 {
            let blocked = (i / 25) % 4 == 0;
            scan = store
                .start_scan(&NewScan {
                    repo: format!("acme/service-{:02}", (i / 25) % 50),
                    refs: "refs/heads/main".into(),
                    before: None,
                    after: Some(format!("{i:040x}")),
                    pusher: Some("dev@acme".into()),
                    source: if blocked { "hook" } else { "webhook" }.into(),
                    job_key: None,
                })
                .await
                .expect("scan");
            store
                .finish_scan(scan, if blocked { "blocked" } else { "done" })
                .await
                .expect("finish");
        }
        let (rule, provider, severity) = RULES[i % RULES.len()];
        let id = store
            .add_finding(
                scan,
                &FindingRecord {
                    rule_id: rule.into(),
                    provider: provider.into(),
                    severity: severity.into(),
                    path: format!("src/module_{}/config_{}.py", i % 97, i % 13),
                    line: i64::try_from(i % 500).unwrap_or(0) + 1,
                    commit_id: Some(format!("{:040x}", i * 7919)),
                    redacted: format!("{}…{:04}", &rule[..4], i % 10_000),
                    fingerprint: fingerprint(i),
                },
            )
            .await
            .expect("finding");
        if i % 5 == 0 {
            store
                .add_revocation(&NewRevocation {
                    fingerprint: fingerprint(i),
                    provider: provider.into(),
                    lane: provider.into(),
                    rule_id: rule.into(),
                    finding_id: Some(id),
                    context: "{}".into(),
                    state: if i % 20 == 0 {
                        RevocationState::AwaitingApproval
                    } else {
                        RevocationState::Queued
                    },
                    summary: "planned".into(),
                })
                .await
                .expect("revocation");
        }
        if i % 3 == 0 {
            store
                .add_validation(&NewValidation {
                    fingerprint: fingerprint(i),
                    validator: provider.into(),
                    rule_id: rule.into(),
                    finding_id: Some(id),
                    context: "{}".into(),
                })
                .await
                .expect("validation");
            let state = if i % 2 == 0 { "valid" } else { "invalid" };
            store
                .record_validation(&fingerprint(i), state, Some(200), "bench", None, "bench")
                .await
                .expect("validation result");
        }
    }
    for i in 0..200 {
        let detail = serde_json::json!({
            "event": "bypass", "repo": format!("acme/service-{:02}", i % 50),
            "findings": [{"rule_id": RULES[i % RULES.len()].0, "fingerprint": fingerprint(i)}],
        });
        store.audit("hook_bypass", "dev@acme", &detail.to_string()).await.expect("audit");
        store
            .record_bypass(&leakgate_store::Bypass {
                repo: format!("acme/service-{:02}", i % 50),
                user: "dev@acme".into(),
                reason: "false-positive".into(),
                comment: None,
                refs: "refs/heads/main".into(),
                commits: format!("{i:040x}"),
                fingerprints: fingerprint(i),
            })
            .await
            .expect("bypass");
    }
    (fingerprint(15), started.elapsed())
}

/// Spreads the findings over 30 days and ends most queued revocations as revoked, some
/// minutes after the push (what the store's API would take weeks to produce).
const SPREAD: [&str; 3] = [
    "UPDATE findings SET first_seen = first_seen - (id % 30) * 86400000",
    "UPDATE scans SET started_at = started_at - (id % 30) * 86400000",
    "UPDATE revocations SET state = 'revoked', updated_at = created_at + (LENGTH(fingerprint) * 1000) \
     WHERE state = 'queued'",
];

fn measure(name: &str, times: &mut [Duration], bytes: usize) {
    times.sort_unstable();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "  {name:<28} median {:>7.1} ms   p95 {:>7.1} ms   {:>8} bytes",
        ms(times[times.len() / 2]),
        ms(times[(times.len() * 95).div_ceil(100) - 1]),
        bytes
    );
}

async fn pages(store: &Store, one: &str) {
    let viewer = Viewer::default();
    let query = |limit| SecretsQuery { limit, ..SecretsQuery::default() };
    let all = SecretsQuery { all: true, limit: 10_000, ..SecretsQuery::default() };
    macro_rules! bench {
        ($name:expr, $render:expr) => {{
            let mut times = Vec::with_capacity(RUNS);
            let mut bytes = 0;
            for _ in 0..RUNS {
                let start = Instant::now();
                let page = $render.await.expect("render").into_string();
                times.push(start.elapsed());
                bytes = page.len();
            }
            measure($name, &mut times, bytes);
        }};
    }
    bench!("overview", render::overview(store, &viewer));
    bench!("open secrets (200 rows)", render::secrets(store, &viewer, &query(200)));
    bench!("all secrets (10,000 rows)", render::secrets(store, &viewer, &all));
    bench!("one secret", async {
        render::secret(store, &viewer, one, true).await.map(|page| page.expect("seeded"))
    });
    bench!("revocations (1,000 rows)", render::revocations(store, &viewer, ""));
    bench!("bypasses & waivers", render::exceptions(store, &viewer));
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("dashboard.db").display());
        let store = Store::connect(&url).await.expect("sqlite");
        let (one, took) = seed(&store).await;
        let pool = sqlx::SqlitePool::connect(&url).await.expect("sqlite pool");
        for q in SPREAD {
            sqlx::query(q).execute(&pool).await.expect("spread");
        }
        println!("sqlite: {FINDINGS} findings seeded in {:.1} s", took.as_secs_f64());
        pages(&store, &one).await;

        if let Some(cluster) = pg::start_or_skip() {
            let url = cluster.database("dashboard").await;
            let store = Store::connect(&url).await.expect("postgres");
            let (one, took) = seed(&store).await;
            let pool = sqlx::PgPool::connect(&url).await.expect("postgres pool");
            for q in SPREAD {
                sqlx::query(q).execute(&pool).await.expect("spread");
            }
            println!("postgres: {FINDINGS} findings seeded in {:.1} s", took.as_secs_f64());
            pages(&store, &one).await;
        }
    });
}
