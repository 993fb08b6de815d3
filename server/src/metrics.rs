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

    /// The text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
