//! leakgate's webhook service: GitHub App, GitLab and Gitea/Forgejo push events are
//! authenticated, stored with their job before they are acknowledged, and scanned by workers
//! that fetch the pushed commits into per-repository mirrors and scan them with the same walk
//! as the pre-receive hook; findings are reported as commit statuses and one issue per
//! leaked secret.
//!
//! Several replicas can share one PostgreSQL: jobs are claimed with leases, so each runs once
//! and a replica that dies mid-job loses its lease to another.
#![forbid(unsafe_code)]

pub mod config;
mod event;
mod exceptions_api;
mod forge;
pub mod hook;
mod http;
mod job;
mod metrics;
pub mod mirror;
pub mod notify;
pub mod partner;
mod report;
pub mod revoke;
pub mod signature;
pub mod slack;
mod spool;
pub mod token_revocation;
pub mod ui;
pub mod validate;
mod worker;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use actix_web::{web, App, HttpServer};
use leakgate_rules::{FingerprintKey, RuleSet};
use leakgate_store::{SecretKey, Store};
use tokio::sync::{watch, Notify};

pub use config::Config;
pub use event::Forge;

/// Told the bound addresses once the server listens.
pub type OnListen = Box<dyn FnOnce(&[SocketAddr]) + Send>;

/// What `serve` needs beyond the configuration.
pub struct Options {
    /// The configuration, secrets resolved.
    pub config: Config,
    /// The rules.
    pub rules: RuleSet,
    /// The fingerprint key (the same on every replica).
    pub key: FingerprintKey,
    /// The key that encrypts secret material pending revocation (the same on every replica).
    pub secret_key: SecretKey,
    /// The database URL.
    pub database_url: String,
    /// Where mirrors go.
    pub mirror_root: PathBuf,
    /// Where deliveries wait when the database cannot take them.
    pub spool_dir: PathBuf,
    /// Called once the server listens, with its addresses.
    pub on_listen: OnListen,
}

/// This process's name in job leases: host and process id.
fn replica_name() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "leakgate".into());
    format!("{host}:{}", std::process::id())
}

/// Why the service did not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The database cannot be opened or migrated.
    #[error("opening the database")]
    Database(#[source] leakgate_store::Error),
    /// A forge's client cannot be built (its App key, its API URL).
    #[error("configuring a forge")]
    Forge(#[source] forge::ForgeError),
    /// A directory the service keeps its state in cannot be created.
    #[error("creating {}", .path.display())]
    Directory {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The address cannot be bound.
    #[error("binding {address}")]
    Bind {
        /// `[server] bind`.
        address: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Runs the service until SIGTERM or SIGINT: stops accepting, lets running jobs finish within
/// the grace period, releases the rest.
///
/// # Errors
///
/// [`ServeError`]: the database cannot be opened, the address cannot be bound, a forge is
/// misconfigured, a state directory cannot be created.
pub async fn serve(options: Options) -> Result<(), ServeError> {
    // One TLS provider for octocrab (hyper-rustls) and reqwest (gix's HTTP and the REST
    // clients): ring, which needs no C toolchain. An error means one is installed already.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let Options { config, rules, key, secret_key, database_url, mirror_root, spool_dir, on_listen } =
        options;
    let config = Arc::new(config);
    let store = Store::connect(&database_url).await.map_err(ServeError::Database)?;
    let metrics = Arc::new(metrics::Metrics::new());
    let mut forges = HashMap::new();
    for forge in [Forge::Github, Forge::Gitlab, Forge::Gitea] {
        if let Some(client) = forge::client(forge, &config).map_err(ServeError::Forge)? {
            forges.insert(forge, client);
        }
    }
    std::fs::create_dir_all(&mirror_root)
        .map_err(|source| ServeError::Directory { path: mirror_root.clone(), source })?;
    let spool = Arc::new(
        spool::Spool::open(&spool_dir)
            .map_err(|source| ServeError::Directory { path: spool_dir.clone(), source })?,
    );
    let wake = Arc::new(Notify::new());
    let (rules, key, secret_key) = (Arc::new(rules), Arc::new(key), Arc::new(secret_key));
    let ctx = Arc::new(worker::Context {
        store: store.clone(),
        config: config.clone(),
        rules: rules.clone(),
        key: key.clone(),
        secret_key: secret_key.clone(),
        metrics: metrics.clone(),
        forges,
        mirror_root,
        repo_locks: Default::default(),
        wake: wake.clone(),
        replica: replica_name(),
    });
    let state = web::Data::new(http::AppState {
        store: store.clone(),
        config: config.clone(),
        metrics,
        recorder: http::Recorder::start(store.clone(), spool.clone()),
        wake,
        rules,
        key,
        secret_key,
        gitlab_revocation_limit: Default::default(),
        ui_logins: Default::default(),
        partner_keys: Default::default(),
    });
    let max_body = config.server.max_body_bytes;
    let threads = match config.server.http_threads {
        0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
        n => n,
    };
    let server = HttpServer::new(move || {
        App::new().app_data(state.clone()).configure(|c| http::routes(c, max_body))
    })
    .workers(threads)
    .backlog(4096)
    .disable_signals()
    .shutdown_timeout(10)
    .bind(&config.server.bind)
    .map_err(|source| ServeError::Bind { address: config.server.bind.clone(), source })?;
    on_listen(&server.addrs());
    let server = server.run();
    let handle = server.handle();
    let server_task = tokio::spawn(server);

    let grace = Duration::from_secs(config.server.shutdown_grace_seconds);
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut workers = Vec::new();
    for index in 0..config.server.workers {
        workers.push(tokio::spawn(worker::run(ctx.clone(), index, stop_rx.clone(), grace)));
    }
    let maintenance = tokio::spawn(maintain(
        store,
        spool,
        ctx.wake.clone(),
        config.server.delivery_retention_days,
        Duration::from_secs(config.keys.material_max_age_hours.clamp(1, 24 * 365 * 10) * 3600),
    ));

    wait_for_signal().await;
    tracing::info!(
        grace_s = grace.as_secs(),
        "stopping: no new deliveries, finishing running jobs"
    );
    let _ = stop_tx.send(true);
    handle.stop(true).await;
    for w in workers {
        let _ = w.await;
    }
    maintenance.abort();
    let _ = server_task.await;
    tracing::info!("stopped");
    Ok(())
}

/// Every second a passive WAL checkpoint (SQLite); every 2 seconds, spooled deliveries are
/// recorded if the database takes them again; every minute, revocations that stalled are
/// queued again; hourly, deliveries older than the retention period are pruned (at least 7
/// days) and secret material pending revocation longer than its maximum age is deleted.
async fn maintain(
    store: Store,
    spool: Arc<spool::Spool>,
    wake: Arc<Notify>,
    retention_days: u64,
    material_max_age: Duration,
) {
    let keep = Duration::from_secs(retention_days.clamp(7, 36_500) * 24 * 3600);
    let mut tick: u64 = 0;
    loop {
        if tick % 3600 == 0 {
            match store.prune_deliveries(keep).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(pruned = n, "old deliveries pruned"),
                Err(e) => tracing::warn!(error = %e, "pruning deliveries failed"),
            }
            match store.expire_secrets(material_max_age).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(deleted = n, "expired secret material deleted"),
                Err(e) => tracing::warn!(error = %e, "expiring secret material failed"),
            }
        }
        if tick % 2 == 0 && !spool.is_empty() {
            let replayed = spool.replay(&store).await;
            if replayed > 0 {
                tracing::info!(replayed, "spooled deliveries recorded");
                wake.notify_waiters();
            }
        }
        if tick % 60 == 30 {
            sweep_revocations(&store).await;
        }
        if let Err(e) = store.checkpoint().await {
            tracing::debug!(error = %e, "checkpoint failed");
        }
        tick += 1;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Revocations nobody is sending (their job died, or a replica stopped mid-call) get a
/// new job: one per revocation and last change, so replicas sweeping together add one.
async fn sweep_revocations(store: &Store) {
    let stale = match store.stale_revocations(Duration::from_secs(600), 500).await {
        Ok(stale) => stale,
        Err(e) => {
            tracing::warn!(error = %e, "looking for stalled revocations failed");
            return;
        }
    };
    for (fingerprint, updated_at) in stale {
        let work = job::Work::Revoke(job::Revoke {
            fingerprint: fingerprint.clone(),
            trigger: job::Trigger::Stalled(updated_at),
        });
        match store.enqueue(&work.job()).await {
            Ok(_) => tracing::info!(
                fingerprint = &fingerprint[..fingerprint.len().min(16)],
                "a stalled revocation was queued again"
            ),
            Err(e) => tracing::warn!(error = %e, "queueing a stalled revocation failed"),
        }
    }
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) =
        (signal(SignalKind::terminate()), signal(SignalKind::interrupt()))
    else {
        // Without signal handlers the process runs until killed.
        std::future::pending::<()>().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
