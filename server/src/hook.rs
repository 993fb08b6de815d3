//! What the pre-receive hook leaves in the store: its audit records (bypasses and unscanned
//! pushes, an unscanned push with a `rescan` job for the service), the rejected pushes and
//! their findings and, with `[revoke] blocked_pushes`, those findings queued for revocation.
//!
//! The hook itself is synchronous and links no runtime of its own: each call here runs on a
//! current-thread runtime for its duration, and within a time the hook gives (its budget): a
//! database that accepts connections and then never answers, or a lock another writer
//! holds, must not hold a push (a rejected one included) for longer than that.

use leakgate_hooks::AuditRecord;
use leakgate_rules::Finding;
use leakgate_store::SecretKey;

use crate::job::Rescan;
use crate::revoke::run::{plan, Origin};
use crate::worker::finding_record;

/// Why the hook's record did not reach the store.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    /// No runtime to run the database calls on.
    #[error("starting a runtime for the database calls")]
    Runtime(#[source] std::io::Error),
    /// The database refused or could not be reached.
    #[error("recording in the database")]
    Store(#[from] leakgate_store::Error),
    /// The record does not serialise.
    #[error("serialising the audit record")]
    Serialise(#[from] serde_json::Error),
    /// The database did not answer in the time given.
    #[error("the database did not answer within {} ms", .0.as_millis())]
    TimedOut(std::time::Duration),
}

type Result<T> = std::result::Result<T, HookError>;

/// Runs `future` to its end, or for `within` at most (connecting included).
fn block_on<F: std::future::Future<Output = Result<()>>>(
    within: std::time::Duration,
    future: F,
) -> Result<()> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(HookError::Runtime)?
        .block_on(async {
            tokio::time::timeout(within, future).await.map_err(|_| HookError::TimedOut(within))?
        })
}

/// Records a bypass or an unscanned push in the database at `url`; an unscanned push also
/// leaves a `rescan` job that `leakgate serve` runs: it fetches the pushed commits from the
/// repository (`record.repo`, an absolute path) and scans them without a deadline.
///
/// # Errors
///
/// The database cannot be reached or written, or does not answer `within`.
pub fn record(
    url: &str,
    record: &AuditRecord,
    notify: bool,
    within: std::time::Duration,
) -> Result<()> {
    block_on(within, async {
        let store = leakgate_store::Store::connect(url).await?;
        let detail = serde_json::to_string(record)?;
        store.audit(&format!("hook_{}", record.event), &record.user, &detail).await?;
        match record.event {
            "bypass" => {
                if notify {
                    let event = crate::notify::Event::Bypass {
                        repo: record.repo.clone(),
                        user: record.user.clone(),
                        reason: record.reason.clone().unwrap_or_default(),
                        refs: record.refs.join(" "),
                        commits: record.commits.join(" "),
                        secrets: record.findings.len(),
                    };
                    store.enqueue(&crate::job::Work::Notify(event).job()).await?;
                }
                store
                    .record_bypass(&leakgate_store::Bypass {
                        repo: record.repo.clone(),
                        user: record.user.clone(),
                        reason: record.reason.clone().unwrap_or_default(),
                        comment: record.comment.clone(),
                        refs: record.refs.join(" "),
                        commits: record.commits.join(" "),
                        fingerprints: record
                            .findings
                            .iter()
                            .map(|f| f.fingerprint.clone())
                            .collect::<Vec<_>>()
                            .join(" "),
                    })
                    .await?;
            }
            "unscanned" => {
                let rescan = Rescan {
                    repo: record.repo.clone(),
                    url: record.repo.clone(),
                    updates: record
                        .updates
                        .iter()
                        .map(|u| (u.name.clone(), u.old.clone(), u.new.clone()))
                        .collect(),
                    pusher: record.user.clone(),
                    received_at: Some(leakgate_store::now_ms()),
                };
                store.enqueue(&crate::job::Work::Rescan(rescan).job()).await?;
            }
            _ => {}
        }
        Ok(())
    })
}

/// Records a push the hook rejected: a `hook` scan with status `blocked` and its findings
/// (redacted, fingerprinted), which the dashboard and `/metrics` count. With `revoke` (the
/// service's `[revoke]` with `blocked_pushes` set, and the encryption key) the keys are queued
/// for revocation too: they never reached the repository, but they left the developer's
/// machine; `leakgate serve` sends them, and a revocation waiting for approval is approved by
/// finding id.
///
/// # Errors
///
/// The database cannot be reached or written, or does not answer `within`.
pub fn record_blocked(
    url: &str,
    revoke: Option<(&crate::revoke::RevokeConfig, &SecretKey)>,
    repo: &str,
    pusher: &str,
    refs: &str,
    findings: &[Finding],
    within: std::time::Duration,
) -> Result<()> {
    let revoke = revoke
        .filter(|(config, _)| config.blocked_pushes && findings.iter().any(|f| f.revoke.is_some()));
    let origin =
        Origin { forge: None, repo: repo.to_owned(), installation_id: None, partner_type: None };
    block_on(within, async {
        let store = leakgate_store::Store::connect(url).await?;
        let scan = store
            .start_scan(&leakgate_store::NewScan {
                repo: origin.repo.clone(),
                refs: refs.to_owned(),
                before: None,
                after: None,
                pusher: Some(pusher.to_owned()),
                source: "hook".into(),
                job_key: None,
            })
            .await?;
        let mut with_ids = Vec::with_capacity(findings.len());
        for f in findings {
            with_ids.push((f, Some(store.add_finding(scan, &finding_record(f)).await?)));
        }
        store.finish_scan(scan, "blocked").await?;
        if let Some((config, key)) = revoke {
            let queued = plan(&store, key, config, &origin, &with_ids).await?;
            tracing::info!(queued, "revocations queued for a rejected push");
        }
        Ok(())
    })
}

/// The hook's waivers and bypass requests, in the database at `url`: connected on first use
/// (a push without blocking findings never connects), on a current-thread runtime. All calls
/// together, connecting included, end by a deadline (see [`HookExceptions::within`]): past it
/// a call fails, and the push is decided without the exception (what it would let through
/// blocks).
pub struct HookExceptions {
    url: String,
    connected: std::sync::OnceLock<
        std::result::Result<(tokio::runtime::Runtime, leakgate_store::Store), String>,
    >,
    notify: std::sync::Arc<NotifyFlag>,
    within: std::time::Duration,
    /// When the first call started; the deadline is `within` after it.
    first: std::sync::OnceLock<std::time::Instant>,
}

/// Whether the service configuration the hook shares names notification targets. Read on
/// first use only (a bypass recorded, a request opened), never on a push's common path.
#[derive(Debug, Default)]
pub struct NotifyFlag {
    config: Option<std::path::PathBuf>,
    known: std::sync::OnceLock<bool>,
}

impl NotifyFlag {
    /// The flag of the configuration file `config` (`None`: defaults and the environment).
    pub fn new(config: Option<std::path::PathBuf>) -> Self {
        NotifyFlag { config, known: std::sync::OnceLock::new() }
    }

    /// A flag known already.
    pub fn fixed(notify: bool) -> Self {
        NotifyFlag { config: None, known: std::sync::OnceLock::from(notify) }
    }

    /// Whether to queue notifications; a configuration that does not load says no.
    pub fn get(&self) -> bool {
        *self.known.get_or_init(|| {
            crate::Config::load(self.config.as_deref()).is_ok_and(|c| !c.notify.is_empty())
        })
    }
}

impl HookExceptions {
    /// Exceptions kept in the database at `url`.
    pub fn new(url: &str) -> Self {
        HookExceptions {
            url: url.to_owned(),
            connected: std::sync::OnceLock::new(),
            notify: std::sync::Arc::new(NotifyFlag::fixed(false)),
            within: std::time::Duration::from_secs(10),
            first: std::sync::OnceLock::new(),
        }
    }

    /// The time all calls may take together, from the first (10 s unless set).
    pub fn within(mut self, within: std::time::Duration) -> Self {
        self.within = within;
        self
    }

    /// Also queue a notification for each bypass request opened (the service's
    /// `[notify.<name>]` targets send it).
    pub fn notifying(mut self, notify: std::sync::Arc<NotifyFlag>) -> Self {
        self.notify = notify;
        self
    }

    fn run<T, F>(
        &self,
        call: impl FnOnce(leakgate_store::Store) -> F,
    ) -> std::result::Result<T, String>
    where
        F: std::future::Future<Output = std::result::Result<T, leakgate_store::Error>>,
    {
        let deadline = *self.first.get_or_init(std::time::Instant::now) + self.within;
        let late = || format!("the database did not answer within {} ms", self.within.as_millis());
        let connected = self.connected.get_or_init(|| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("starting a runtime: {e}"))?;
            let connect = leakgate_store::Store::connect(&self.url);
            // (The timer is made inside the runtime, which it needs.)
            let store = runtime
                .block_on(async { tokio::time::timeout_at(deadline.into(), connect).await })
                .map_err(|_| late())?
                .map_err(|e| crate::mirror::error_chain(&e))?;
            Ok((runtime, store))
        });
        let (runtime, store) = connected.as_ref().map_err(Clone::clone)?;
        let call = call(store.clone());
        runtime
            .block_on(async { tokio::time::timeout_at(deadline.into(), call).await })
            .map_err(|_| late())?
            .map_err(|e| crate::mirror::error_chain(&e))
    }
}

/// The store's waivers as the hook and the worker apply them, expiry decided now.
pub fn waiver_views(waivers: Vec<leakgate_store::Waiver>) -> Vec<leakgate_hooks::WaiverView> {
    let now = leakgate_store::now_ms();
    waivers
        .into_iter()
        .map(|w| leakgate_hooks::WaiverView {
            id: w.id,
            expired: w.expired(now),
            fingerprint: w.fingerprint,
            path_glob: w.path_glob,
        })
        .collect()
}

impl leakgate_hooks::Exceptions for HookExceptions {
    fn waivers(&self, repo: &str) -> std::result::Result<Vec<leakgate_hooks::WaiverView>, String> {
        let waivers = self.run(|store| async move { store.waivers_for(repo).await })?;
        Ok(waiver_views(waivers))
    }

    fn waivers_used(&self, ids: &[i64]) -> std::result::Result<(), String> {
        self.run(|store| async move { store.waivers_used(ids).await })
    }

    fn open_request(
        &self,
        r: &leakgate_hooks::RequestToOpen,
    ) -> std::result::Result<(i64, bool), String> {
        let request = leakgate_store::NewBypassRequest {
            repo: r.repo.clone(),
            pusher: r.pusher.clone(),
            fingerprints: r.fingerprints.clone(),
            summary: r.summary.clone(),
            refs: r.refs.clone(),
            lasts: r.lasts,
        };
        let notify = self.notify.clone();
        let (repo, pusher, secrets) = (r.repo.clone(), r.pusher.clone(), r.fingerprints.len());
        self.run(|store| async move {
            let (id, new) = store.open_bypass_request(&request).await?;
            if new && notify.get() {
                let event = crate::notify::Event::BypassRequest { id, repo, pusher, secrets };
                store.enqueue(&crate::job::Work::Notify(event).job()).await?;
            }
            Ok((id, new))
        })
    }

    fn request(&self, id: i64) -> std::result::Result<Option<leakgate_hooks::RequestView>, String> {
        let found = self.run(|store| async move { store.bypass_request(id).await })?;
        let now = leakgate_store::now_ms();
        Ok(found.map(|r| leakgate_hooks::RequestView {
            state: r.state_at(now).to_owned(),
            fingerprints: r.fingerprint_list().into_iter().map(str::to_owned).collect(),
            repo: r.repo,
            pusher: r.pusher,
            reviewer: r.reviewer,
            message: r.message,
        }))
    }

    fn request_used(&self, id: i64) -> std::result::Result<(), String> {
        self.run(|store| async move { store.bypass_request_used(id).await })
    }
}
