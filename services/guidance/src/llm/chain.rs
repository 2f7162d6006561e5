//! The provider chain: providers are tried in order; one that fails before
//! its first token (an error, or a stream that ends or fails first) is
//! skipped for the next. Each provider has a circuit breaker: after
//! `llm.breaker_failures` failures in a row it is not asked for
//! `llm.breaker_open_secs`, then one probe request is let through, whose
//! outcome closes or re-opens it. Per provider, Prometheus metrics record
//! time to first token, tokens per second, tokens, errors and the breaker.

use super::local::LocalProvider;
use super::openai::OpenAiProvider;
use super::{ChatRequest, Chunk, ChunkStream, LlmError, Provider};
use crate::config::GuidanceConfig;
use futures_util::{Stream, StreamExt};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProviderLabels {
    pub provider: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    pub provider: String,
    /// `failed` (before the first token), `stream` (after it),
    /// `not_configured`, `prompt_too_long`, `circuit_open`.
    pub kind: String,
}

fn ttft_histogram() -> Histogram {
    // 10 ms .. ~80 s
    Histogram::new(exponential_buckets(0.01, 2.0, 14))
}

fn rate_histogram() -> Histogram {
    // 1 .. ~2000 tokens/s
    Histogram::new(exponential_buckets(1.0, 2.0, 12))
}

/// The chain's Prometheus metrics (registered in the service's registry).
#[derive(Clone)]
pub struct LlmMetrics {
    pub time_to_first_token: Family<ProviderLabels, Histogram, fn() -> Histogram>,
    pub tokens_per_second: Family<ProviderLabels, Histogram, fn() -> Histogram>,
    pub generated_tokens: Family<ProviderLabels, Counter>,
    pub prompt_tokens: Family<ProviderLabels, Counter>,
    pub errors: Family<ErrorLabels, Counter>,
    pub breaker_open: Family<ProviderLabels, Gauge>,
}

impl LlmMetrics {
    pub fn new() -> LlmMetrics {
        LlmMetrics {
            time_to_first_token: Family::new_with_constructor(ttft_histogram),
            tokens_per_second: Family::new_with_constructor(rate_histogram),
            generated_tokens: Family::default(),
            prompt_tokens: Family::default(),
            errors: Family::default(),
            breaker_open: Family::default(),
        }
    }

    /// Registers every metric in `m`'s registry (`jyotiflow_llm_*`).
    pub fn register(&self, m: &platform::metrics::Metrics) {
        m.register(
            "llm_time_to_first_token_seconds",
            "time from request to the first generated text, per provider",
            self.time_to_first_token.clone(),
        );
        m.register(
            "llm_tokens_per_second",
            "generation speed of each answer after its first token, per provider",
            self.tokens_per_second.clone(),
        );
        m.register(
            "llm_generated_tokens",
            "tokens generated, per provider",
            self.generated_tokens.clone(),
        );
        m.register(
            "llm_prompt_tokens",
            "prompt tokens evaluated, per provider",
            self.prompt_tokens.clone(),
        );
        m.register(
            "llm_errors",
            "provider failures by kind (failed before the first token, stream, circuit_open, ...)",
            self.errors.clone(),
        );
        m.register(
            "llm_circuit_open",
            "1 while a provider's circuit breaker is open",
            self.breaker_open.clone(),
        );
    }

    fn error(&self, provider: &str, kind: &str) {
        self.errors
            .get_or_create(&ErrorLabels {
                provider: provider.to_owned(),
                kind: kind.to_owned(),
            })
            .inc();
    }
}

impl Default for LlmMetrics {
    fn default() -> Self {
        LlmMetrics::new()
    }
}

/// When a circuit opens and for how long.
#[derive(Clone, Copy, Debug)]
pub struct BreakerConfig {
    pub failures: u32,
    pub open_for: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            failures: 3,
            open_for: Duration::from_secs(30),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
    },
    /// One probe is in flight since `since`; if it never reports (its
    /// caller went away), another is allowed after the open period.
    HalfOpen {
        since: Instant,
    },
}

/// A circuit breaker (consecutive failures → open → one probe).
pub struct Breaker {
    cfg: BreakerConfig,
    state: Mutex<State>,
}

/// The state as metrics and tests see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

impl Breaker {
    pub fn new(cfg: BreakerConfig) -> Breaker {
        Breaker {
            cfg,
            state: Mutex::new(State::Closed { failures: 0 }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether a request may go to the provider now.
    pub fn admit(&self) -> bool {
        let mut s = self.lock();
        let now = Instant::now();
        match *s {
            State::Closed { .. } => true,
            State::Open { until } if now < until => false,
            State::HalfOpen { since } if now < since + self.cfg.open_for => false,
            State::Open { .. } | State::HalfOpen { .. } => {
                *s = State::HalfOpen { since: now };
                true
            }
        }
    }

    pub fn success(&self) {
        *self.lock() = State::Closed { failures: 0 };
    }

    /// Records a failure; returns true when this opened the circuit.
    pub fn failure(&self) -> bool {
        let mut s = self.lock();
        let open = State::Open {
            until: Instant::now() + self.cfg.open_for,
        };
        match *s {
            State::Closed { failures } if failures + 1 < self.cfg.failures.max(1) => {
                *s = State::Closed {
                    failures: failures + 1,
                };
                false
            }
            State::Open { .. } => false,
            _ => {
                *s = open;
                true
            }
        }
    }

    /// A request that said nothing about the provider's health (it was not
    /// configured, the prompt was too long): a probe slot is given back.
    pub fn neutral(&self) {
        let mut s = self.lock();
        if let State::HalfOpen { .. } = *s {
            *s = State::Open {
                until: Instant::now(),
            };
        }
    }

    pub fn state(&self) -> BreakerState {
        match *self.lock() {
            State::Closed { .. } => BreakerState::Closed,
            State::Open { until } if Instant::now() >= until => BreakerState::HalfOpen,
            State::Open { .. } => BreakerState::Open,
            State::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }
}

struct Member {
    provider: Arc<dyn Provider>,
    breaker: Breaker,
}

impl Member {
    fn name(&self) -> &str {
        self.provider.name()
    }
}

pub struct Chain {
    members: Vec<Arc<Member>>,
    metrics: LlmMetrics,
    local: Option<Arc<LocalProvider>>,
}

impl Chain {
    /// A chain with the default breaker and unregistered metrics.
    pub fn new(providers: Vec<Arc<dyn Provider>>) -> Chain {
        Chain::with(providers, BreakerConfig::default(), LlmMetrics::new())
    }

    pub fn with(
        providers: Vec<Arc<dyn Provider>>,
        breaker: BreakerConfig,
        metrics: LlmMetrics,
    ) -> Chain {
        Chain {
            members: providers
                .into_iter()
                .map(|provider| {
                    Arc::new(Member {
                        provider,
                        breaker: Breaker::new(breaker),
                    })
                })
                .collect(),
            metrics,
            local: None,
        }
    }

    /// The chain `llm.providers` names, its metrics registered in
    /// `metrics`. The local model is loaded (on a blocking thread) when it
    /// is a provider or the OpenAI-compatible API serves it.
    pub async fn from_config(
        cfg: &GuidanceConfig,
        metrics: &platform::metrics::Metrics,
    ) -> anyhow::Result<Chain> {
        let wants_local =
            cfg.llm.providers.iter().any(|p| p == super::local::NAME) || cfg.llm_api.enabled;
        let local = if wants_local {
            let lc = cfg.llm.local.clone();
            Some(Arc::new(
                tokio::task::spawn_blocking(move || LocalProvider::load(&lc)).await?,
            ))
        } else {
            None
        };
        let mut providers: Vec<Arc<dyn Provider>> = Vec::new();
        for name in &cfg.llm.providers {
            match name.as_str() {
                super::local::NAME => {
                    if let Some(l) = &local {
                        providers.push(l.clone());
                    }
                }
                super::openai::NAME => {
                    providers.push(Arc::new(OpenAiProvider::new(&cfg.llm.openai)?));
                }
                other => anyhow::bail!("unknown language model provider {other:?}"),
            }
        }
        let m = LlmMetrics::new();
        m.register(metrics);
        if let Some(model) = local.as_ref().and_then(|l| l.model()) {
            model.stats().register(metrics);
        }
        let mut chain = Chain::with(
            providers,
            BreakerConfig {
                failures: cfg.llm.breaker_failures,
                open_for: Duration::from_secs(cfg.llm.breaker_open_secs),
            },
            m,
        );
        chain.local = local;
        Ok(chain)
    }

    /// The local model's provider, when it was loaded (the OpenAI-compatible
    /// API serves it).
    pub fn local(&self) -> Option<Arc<LocalProvider>> {
        self.local.clone()
    }

    pub fn metrics(&self) -> &LlmMetrics {
        &self.metrics
    }

    /// The names of the providers, in order.
    pub fn providers(&self) -> Vec<String> {
        self.members.iter().map(|m| m.name().to_owned()).collect()
    }

    /// A provider's breaker state.
    pub fn breaker_state(&self, provider: &str) -> Option<BreakerState> {
        self.members
            .iter()
            .find(|m| m.name() == provider)
            .map(|m| m.breaker.state())
    }

    fn set_open_gauge(&self, m: &Member, open: bool) {
        self.metrics
            .breaker_open
            .get_or_create(&ProviderLabels {
                provider: m.name().to_owned(),
            })
            .set(i64::from(open));
    }

    fn failed(&self, m: &Member, kind: &str, e: &LlmError) {
        tracing::warn!(provider = m.name(), error = %e, kind, "language model provider failed");
        self.metrics.error(m.name(), kind);
        if m.breaker.failure() {
            tracing::warn!(provider = m.name(), "circuit opened");
            self.set_open_gauge(m, true);
        }
    }

    /// Generates with the first provider that starts; returns its name too.
    pub async fn generate(&self, req: ChatRequest) -> Result<(String, ChunkStream), LlmError> {
        let mut errors: Vec<LlmError> = Vec::new();
        for m in &self.members {
            if !m.breaker.admit() {
                self.metrics.error(m.name(), "circuit_open");
                errors.push(LlmError::Unavailable);
                continue;
            }
            let started = Instant::now();
            let mut stream = match m.provider.generate(req.clone()).await {
                Ok(s) => s,
                Err(e) => {
                    match &e {
                        LlmError::NotConfigured(_) => {
                            self.metrics.error(m.name(), "not_configured");
                            m.breaker.neutral();
                        }
                        LlmError::PromptTooLong => {
                            self.metrics.error(m.name(), "prompt_too_long");
                            m.breaker.neutral();
                        }
                        _ => self.failed(m, "failed", &e),
                    }
                    errors.push(e);
                    continue;
                }
            };
            let first = match stream.next().await {
                Some(Ok(c)) => c,
                Some(Err(e)) => {
                    if matches!(e, LlmError::PromptTooLong) {
                        self.metrics.error(m.name(), "prompt_too_long");
                        m.breaker.neutral();
                    } else {
                        self.failed(m, "failed", &e);
                    }
                    errors.push(e);
                    continue;
                }
                None => {
                    let e = LlmError::Provider {
                        provider: m.name().to_owned(),
                        message: "the answer ended before it began".into(),
                    };
                    self.failed(m, "failed", &e);
                    errors.push(e);
                    continue;
                }
            };
            m.breaker.success();
            self.set_open_gauge(m, false);
            let labels = ProviderLabels {
                provider: m.name().to_owned(),
            };
            self.metrics
                .time_to_first_token
                .get_or_create(&labels)
                .observe(started.elapsed().as_secs_f64());
            let metered = Metered {
                first: Some(first),
                inner: stream,
                member: m.clone(),
                metrics: self.metrics.clone(),
                labels,
                first_at: Instant::now(),
                finished: false,
            };
            return Ok((m.name().to_owned(), Box::pin(metered)));
        }
        Err(pick_error(errors))
    }
}

/// The error the caller sees when no provider started: the only one's own
/// error, "prompt too long" when every provider said so, else unavailable.
fn pick_error(mut errors: Vec<LlmError>) -> LlmError {
    if errors.len() == 1 {
        return errors.pop().unwrap_or(LlmError::Unavailable);
    }
    if !errors.is_empty()
        && errors
            .iter()
            .all(|e| matches!(e, LlmError::PromptTooLong | LlmError::NotConfigured(_)))
        && errors.iter().any(|e| matches!(e, LlmError::PromptTooLong))
    {
        return LlmError::PromptTooLong;
    }
    LlmError::Unavailable
}

/// Passes a provider's stream on, recording speed and failures.
struct Metered {
    first: Option<Chunk>,
    inner: ChunkStream,
    member: Arc<Member>,
    metrics: LlmMetrics,
    labels: ProviderLabels,
    first_at: Instant,
    finished: bool,
}

impl Metered {
    fn observe(&mut self, item: &Result<Chunk, LlmError>) {
        match item {
            Ok(Chunk::Done(usage)) => {
                self.finished = true;
                let secs = self.first_at.elapsed().as_secs_f64();
                let n = u64::from(usage.completion_tokens);
                self.metrics
                    .generated_tokens
                    .get_or_create(&self.labels)
                    .inc_by(n);
                self.metrics
                    .prompt_tokens
                    .get_or_create(&self.labels)
                    .inc_by(u64::from(usage.prompt_tokens));
                // The first token arrived at `first_at`: the rest came since.
                if n > 1 && secs > 0.0 {
                    self.metrics
                        .tokens_per_second
                        .get_or_create(&self.labels)
                        .observe((n - 1) as f64 / secs);
                }
            }
            Ok(Chunk::Delta(_)) => {}
            Err(e) => {
                self.finished = true;
                tracing::warn!(provider = %self.labels.provider, error = %e, "answer failed after its first token");
                self.metrics.error(&self.labels.provider, "stream");
                if self.member.breaker.failure() {
                    self.metrics.breaker_open.get_or_create(&self.labels).set(1);
                }
            }
        }
    }
}

impl Stream for Metered {
    type Item = Result<Chunk, LlmError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Some(first) = self.first.take() {
            let item = Ok(first);
            self.observe(&item);
            return Poll::Ready(Some(item));
        }
        if self.finished {
            return Poll::Ready(None);
        }
        match self.inner.as_mut().poll_next(cx) {
            Poll::Ready(Some(item)) => {
                self.observe(&item);
                Poll::Ready(Some(item))
            }
            Poll::Ready(None) => {
                self.finished = true;
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn breaker_opens_after_n_failures_and_probes_after_the_open_period() {
        let b = Breaker::new(BreakerConfig {
            failures: 2,
            open_for: Duration::from_millis(50),
        });
        assert!(b.admit());
        assert!(!b.failure());
        assert!(b.admit());
        assert!(b.failure());
        assert_eq!(b.state(), BreakerState::Open);
        assert!(!b.admit());
        std::thread::sleep(Duration::from_millis(60));
        // One probe, not two.
        assert!(b.admit());
        assert!(!b.admit());
        // The probe fails: open again.
        assert!(b.failure());
        assert!(!b.admit());
        std::thread::sleep(Duration::from_millis(60));
        assert!(b.admit());
        b.success();
        assert_eq!(b.state(), BreakerState::Closed);
        assert!(b.admit());
    }

    #[test]
    fn a_neutral_probe_gives_its_slot_back() {
        let b = Breaker::new(BreakerConfig {
            failures: 1,
            open_for: Duration::from_millis(20),
        });
        assert!(b.failure());
        std::thread::sleep(Duration::from_millis(25));
        assert!(b.admit());
        assert!(!b.admit());
        b.neutral();
        assert!(b.admit());
    }
}
