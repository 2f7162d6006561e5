//! Prometheus metrics of avatar jobs, registered in the service's registry
//! (`/metrics`, prefixed `jyotiflow_`).

use platform::metrics::Metrics;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub kind: String,
    /// `succeeded`, `failed` or `cancelled`.
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProviderLabels {
    pub provider: String,
}

fn job_histogram() -> Histogram {
    // 50 ms .. ~27 min
    Histogram::new(exponential_buckets(0.05, 2.0, 16))
}

#[derive(Clone)]
pub struct JobMetrics {
    pub submitted: Family<KindLabels, Counter>,
    pub finished: Family<OutcomeLabels, Counter>,
    /// Submit to the end, by kind and outcome.
    pub duration: Family<OutcomeLabels, Histogram, fn() -> Histogram>,
    /// Deliveries that started work (a retry after a lost worker counts again).
    pub attempts: Family<KindLabels, Counter>,
    pub provider_retries: Family<ProviderLabels, Counter>,
    pub running: Gauge,
}

impl JobMetrics {
    pub fn register(m: &Metrics) -> JobMetrics {
        let j = JobMetrics {
            submitted: Family::default(),
            finished: Family::default(),
            duration: Family::new_with_constructor(job_histogram),
            attempts: Family::default(),
            provider_retries: Family::default(),
            running: Gauge::default(),
        };
        m.register(
            "avatar_jobs_submitted",
            "avatar jobs accepted (credits held and queued)",
            j.submitted.clone(),
        );
        m.register(
            "avatar_jobs_finished",
            "avatar jobs that ended, by kind and outcome",
            j.finished.clone(),
        );
        m.register(
            "avatar_job_duration_seconds",
            "time from submit to the end of an avatar job",
            j.duration.clone(),
        );
        m.register(
            "avatar_job_attempts",
            "deliveries of avatar jobs that started work",
            j.attempts.clone(),
        );
        m.register(
            "avatar_provider_retries",
            "retries of a provider's transient errors",
            j.provider_retries.clone(),
        );
        m.register(
            "avatar_jobs_running",
            "avatar jobs this instance is working on",
            j.running.clone(),
        );
        j
    }

    pub fn finished(&self, kind: &str, outcome: &str, seconds: f64) {
        let l = OutcomeLabels {
            kind: kind.to_owned(),
            outcome: outcome.to_owned(),
        };
        self.finished.get_or_create(&l).inc();
        self.duration.get_or_create(&l).observe(seconds.max(0.0));
    }
}
