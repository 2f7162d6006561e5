//! Prometheus metrics shared by every service: HTTP, NATS, pool and outbox.
//! Services register their own metrics into the same registry.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Metric, Registry};
use std::sync::{Arc, Mutex};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub method: String,
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NatsLabels {
    pub subject: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ConsumerLabels {
    pub consumer: String,
}

fn latency_histogram() -> Histogram {
    // 0.5 ms .. ~16 s
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Mutex<Registry>>,
    pub http_requests: Family<HttpLabels, Counter>,
    pub http_duration: Family<HttpLabels, Histogram, fn() -> Histogram>,
    pub nats_handled: Family<NatsLabels, Counter>,
    pub nats_duration: Family<NatsLabels, Histogram, fn() -> Histogram>,
    pub pool_max: Gauge,
    pub pool_size: Gauge,
    pub pool_available: Gauge,
    pub pool_in_use: Gauge,
    pub pool_waiting: Gauge,
    pub outbox_pending: Gauge,
    pub outbox_oldest_age_seconds: Gauge,
    pub outbox_published: Counter,
    pub outbox_publish_failures: Counter,
    pub consumer_handled: Family<ConsumerLabels, Counter>,
    pub consumer_failures: Family<ConsumerLabels, Counter>,
    pub consumer_dead_letters: Family<ConsumerLabels, Counter>,
    pub ready: Gauge,
}

impl Metrics {
    pub fn new(service: &str) -> Self {
        let mut registry = Registry::with_prefix_and_labels(
            "jyotiflow",
            [(
                std::borrow::Cow::Borrowed("service"),
                std::borrow::Cow::Owned(service.to_owned()),
            )]
            .into_iter(),
        );
        let m = Metrics {
            registry: Arc::new(Mutex::new(Registry::default())),
            http_requests: Family::default(),
            http_duration: Family::new_with_constructor(latency_histogram),
            nats_handled: Family::default(),
            nats_duration: Family::new_with_constructor(latency_histogram),
            pool_max: Gauge::default(),
            pool_size: Gauge::default(),
            pool_available: Gauge::default(),
            pool_in_use: Gauge::default(),
            pool_waiting: Gauge::default(),
            outbox_pending: Gauge::default(),
            outbox_oldest_age_seconds: Gauge::default(),
            outbox_published: Counter::default(),
            outbox_publish_failures: Counter::default(),
            consumer_handled: Family::default(),
            consumer_failures: Family::default(),
            consumer_dead_letters: Family::default(),
            ready: Gauge::default(),
        };
        registry.register(
            "http_requests",
            "HTTP requests handled",
            m.http_requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency",
            m.http_duration.clone(),
        );
        registry.register(
            "nats_requests",
            "NATS requests handled",
            m.nats_handled.clone(),
        );
        registry.register(
            "nats_request_duration_seconds",
            "NATS request latency",
            m.nats_duration.clone(),
        );
        registry.register(
            "db_pool_max_connections",
            "pool max_size",
            m.pool_max.clone(),
        );
        registry.register(
            "db_pool_connections",
            "connections the pool holds",
            m.pool_size.clone(),
        );
        registry.register(
            "db_pool_available",
            "idle connections in the pool",
            m.pool_available.clone(),
        );
        registry.register(
            "db_pool_in_use",
            "connections checked out",
            m.pool_in_use.clone(),
        );
        registry.register(
            "db_pool_waiting",
            "tasks waiting for a connection",
            m.pool_waiting.clone(),
        );
        registry.register(
            "outbox_pending",
            "events not yet relayed to JetStream",
            m.outbox_pending.clone(),
        );
        registry.register(
            "outbox_oldest_age_seconds",
            "age of the oldest unrelayed event (outbox lag)",
            m.outbox_oldest_age_seconds.clone(),
        );
        registry.register(
            "outbox_published",
            "events relayed to JetStream",
            m.outbox_published.clone(),
        );
        registry.register(
            "outbox_publish_failures",
            "relay attempts that failed",
            m.outbox_publish_failures.clone(),
        );
        registry.register(
            "consumer_events",
            "events a durable consumer applied",
            m.consumer_handled.clone(),
        );
        registry.register(
            "consumer_failures",
            "event deliveries whose handling failed (redelivered later)",
            m.consumer_failures.clone(),
        );
        registry.register(
            "consumer_dead_letters",
            "events moved to the dead-letter stream after their last delivery",
            m.consumer_dead_letters.clone(),
        );
        registry.register("ready", "1 while the service is ready", m.ready.clone());
        Metrics {
            registry: Arc::new(Mutex::new(registry)),
            ..m
        }
    }

    /// Registers a service-specific metric.
    pub fn register(&self, name: &str, help: &str, metric: impl Metric) {
        if let Ok(mut r) = self.registry.lock() {
            r.register(name, help, metric);
        }
    }

    /// Records pool gauges from the pool's status.
    pub fn observe_pool(&self, pool: &deadpool_postgres::Pool) {
        let s = pool.status();
        let to_i = |v: usize| i64::try_from(v).unwrap_or(i64::MAX);
        self.pool_max.set(to_i(s.max_size));
        self.pool_size.set(to_i(s.size));
        self.pool_available.set(to_i(s.available));
        self.pool_in_use
            .set(to_i(s.size.saturating_sub(s.available)));
        self.pool_waiting.set(to_i(s.waiting));
    }

    /// The Prometheus text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if let Ok(r) = self.registry.lock() {
            if prometheus_client::encoding::text::encode(&mut out, &r).is_err() {
                out.clear();
            }
        }
        out
    }
}
