//! Prometheus metrics (`GET /metrics`): deliveries by source and outcome, jobs by state,
//! scan durations, findings, reports and revocations.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// Labels `source`, `outcome`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SourceOutcome {
    /// `github`, `gitlab`, `gitea`.
    pub source: String,
    /// What happened.
    pub outcome: String,
}

/// Label `state`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct State {
    /// Job state.
    pub state: String,
}

/// Label `severity`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Severity {
    /// Finding severity.
    pub severity: String,
}

/// Label `kind`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Kind {
    /// Job kind, or the hook's record kind.
    pub kind: String,
}

/// Labels `kind`, `outcome`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindOutcome {
    /// What was done (`status`, `issue`, job kind, provider).
    pub kind: String,
    /// How it ended.
    pub outcome: String,
}

/// Every metric the service keeps.
pub struct Metrics {
    registry: Registry,
    /// Webhook deliveries.
    pub deliveries: Family<SourceOutcome, Counter>,
    /// Jobs by state, refreshed on scrape.
    pub jobs: Family<State, Gauge>,
    /// Job runs by kind and outcome.
    pub job_runs: Family<KindOutcome, Counter>,
    /// Fetch + scan duration of push jobs, seconds.
    pub scan_seconds: Histogram,
    /// Findings reported.
    pub findings: Family<Severity, Counter>,
    /// Statuses and issues written to forges.
    pub reports: Family<KindOutcome, Counter>,
    /// Revocation attempts by provider and outcome.
    pub revocations: Family<KindOutcome, Counter>,
    /// Live validations by provider and validity.
    pub validations: Family<KindOutcome, Counter>,
    /// From detection (the revocation planned) to the provider confirming it, seconds.
    pub time_to_revoke: Histogram,
    /// Queued jobs per kind, refreshed on scrape.
    pub queue_depth: Family<Kind, Gauge>,
    /// Age of the oldest queued job per kind, seconds, refreshed on scrape.
    pub queue_age: Family<Kind, Gauge>,
    /// Secrets whose last validation said live, refreshed on scrape.
    pub live_secrets: Gauge,
    /// The hook's records (bypass, waived, exempt, unscanned) in the database.
    pub hook_events: Family<Kind, Gauge>,
    /// Pushes the hook rejected and recorded.
    pub blocked_pushes: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("leakgate");
        let deliveries = Family::<SourceOutcome, Counter>::default();
        registry.register(
            "webhook_deliveries",
            "Webhook deliveries by source and outcome",
            deliveries.clone(),
        );
        let jobs = Family::<State, Gauge>::default();
        registry.register("jobs", "Jobs in the queue by state", jobs.clone());
        let job_runs = Family::<KindOutcome, Counter>::default();
        registry.register("job_runs", "Job attempts by kind and outcome", job_runs.clone());
        let scan_seconds = Histogram::new(exponential_buckets(0.005, 2.0, 16));
        registry.register(
            "scan_duration_seconds",
            "Fetch and scan time of a push",
            scan_seconds.clone(),
        );
        let findings = Family::<Severity, Counter>::default();
        registry.register("findings", "Leaked secrets found in pushes", findings.clone());
        let reports = Family::<KindOutcome, Counter>::default();
        registry.register("reports", "Commit statuses and issues written", reports.clone());
        let revocations = Family::<KindOutcome, Counter>::default();
        registry.register(
            "revocations",
            "Revocation attempts by provider and outcome",
            revocations.clone(),
        );
        let validations = Family::<KindOutcome, Counter>::default();
        registry.register(
            "validations",
            "Live validations by provider and validity",
            validations.clone(),
        );
        let time_to_revoke = Histogram::new(exponential_buckets(0.05, 2.0, 18));
        registry.register(
            "time_to_revoke_seconds",
            "From a revocation planned to the provider confirming it",
            time_to_revoke.clone(),
        );
        let queue_depth = Family::<Kind, Gauge>::default();
        registry.register("queue_depth", "Queued jobs per kind", queue_depth.clone());
        let queue_age = Family::<Kind, Gauge>::default();
        registry.register(
            "queue_oldest_age_seconds",
            "Age of the oldest queued job per kind",
            queue_age.clone(),
        );
        let live_secrets = Gauge::default();
        registry.register(
            "live_secrets",
            "Secrets whose last validation said they work",
            live_secrets.clone(),
        );
        let hook_events = Family::<Kind, Gauge>::default();
        registry.register(
            "hook_records",
            "The pre-receive hook's records in the database by kind (bypass, waived, exempt, unscanned)",
            hook_events.clone(),
        );
        let blocked_pushes = Gauge::default();
        registry.register(
            "blocked_pushes",
            "Pushes the hook rejected (recorded when the hook has a database)",
            blocked_pushes.clone(),
        );
        Metrics {
            registry,
            deliveries,
            jobs,
            job_runs,
            scan_seconds,
            findings,
            reports,
            revocations,
            validations,
            time_to_revoke,
            queue_depth,
            queue_age,
            live_secrets,
            hook_events,
            blocked_pushes,
        }
    }

    /// Counts a delivery.
    pub fn delivery(&self, source: &str, outcome: &str) {
        self.deliveries
            .get_or_create(&SourceOutcome {
                source: source.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    /// Counts something under `kind`/`outcome` labels.
    pub fn count(family: &Family<KindOutcome, Counter>, kind: &str, outcome: &str) {
        family
            .get_or_create(&KindOutcome { kind: kind.to_owned(), outcome: outcome.to_owned() })
            .inc();
    }

    /// Sets the job gauges.
    pub fn set_jobs(&self, queued: i64, running: i64, done: i64, dead: i64) {
        for (state, n) in [("queued", queued), ("running", running), ("done", done), ("dead", dead)]
        {
            self.jobs.get_or_create(&State { state: state.to_owned() }).set(n);
        }
    }

    /// Sets the gauges read from the database.
    pub fn set_gauges(&self, g: &leakgate_store::Gauges, now_ms: i64) {
        // A kind whose queue emptied reads 0, not its last value.
        self.queue_depth.clear();
        self.queue_age.clear();
        for (kind, depth, oldest) in &g.queue {
            let label = Kind { kind: kind.clone() };
            self.queue_depth.get_or_create(&label).set(*depth);
            self.queue_age.get_or_create(&label).set((now_ms - oldest).max(0) / 1000);
        }
        self.live_secrets.set(g.live_secrets);
        for (kind, n) in &g.hook_events {
            let kind = kind.strip_prefix("hook_").unwrap_or(kind).to_owned();
            self.hook_events.get_or_create(&Kind { kind }).set(*n);
        }
        self.blocked_pushes.set(g.blocked_pushes);
    }

    /// The text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
