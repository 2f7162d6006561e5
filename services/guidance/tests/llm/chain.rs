use crate::helpers::{collect, config, request, shared_model};
use futures_util::future::BoxFuture;
use futures_util::StreamExt;
use guidance::llm::chain::{BreakerConfig, BreakerState, LlmMetrics};
use guidance::llm::local::LocalProvider;
use guidance::llm::{Chain, ChatRequest, Chunk, ChunkStream, LlmError, Provider, Usage};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A provider that fails (before its first token, or after it) or answers "ok".
#[derive(Default)]
struct Fake {
    name: &'static str,
    calls: AtomicUsize,
    healthy: AtomicBool,
    fail_after_first_token: AtomicBool,
}

impl Provider for Fake {
    fn name(&self) -> &str {
        if self.name.is_empty() {
            "fake"
        } else {
            self.name
        }
    }
    fn generate(&self, _req: ChatRequest) -> BoxFuture<'_, Result<ChunkStream, LlmError>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let healthy = self.healthy.load(Ordering::SeqCst);
        let mid = self.fail_after_first_token.load(Ordering::SeqCst);
        Box::pin(async move {
            if mid {
                let items = vec![
                    Ok(Chunk::Delta("partial".into())),
                    Err(LlmError::Provider {
                        provider: "fake".into(),
                        message: "connection reset".into(),
                    }),
                ];
                return Ok(futures_util::stream::iter(items).boxed());
            }
            if !healthy {
                return Err(LlmError::Provider {
                    provider: "fake".into(),
                    message: "down".into(),
                });
            }
            let items = vec![
                Ok(Chunk::Delta("ok".into())),
                Ok(Chunk::Done(Usage {
                    prompt_tokens: 1,
                    completion_tokens: 1,
                })),
            ];
            Ok(futures_util::stream::iter(items).boxed())
        })
    }
}

fn local() -> Arc<dyn Provider> {
    Arc::new(LocalProvider::new(shared_model()))
}

#[tokio::test]
async fn falls_back_from_a_dead_openai_endpoint_to_local() {
    let dead = format!("http://127.0.0.1:{}/v1", testkit::free_port());
    let cfg = config(&[
        ("llm.providers", "openai,local"),
        ("llm.openai.base_url", &dead),
        ("llm.openai.max_retries", "1"),
        ("llm.openai.connect_timeout_ms", "300"),
        ("llm_api.enabled", "false"),
    ]);
    assert_eq!(cfg.llm.providers, vec!["openai", "local"]);
    let metrics = platform::metrics::Metrics::new("guidance");
    let chain = Chain::from_config(&cfg, &metrics).await.expect("chain");
    assert_eq!(chain.providers(), vec!["openai", "local"]);
    let (provider, stream) = chain
        .generate(request("Say namaste.", 8))
        .await
        .expect("answer");
    assert_eq!(provider, "local");
    let (deltas, usage) = collect(stream).await;
    assert!(!deltas.concat().is_empty());
    assert!(usage.completion_tokens >= 1);
    let text = metrics.encode();
    assert!(
        text.contains(
            r#"jyotiflow_llm_errors_total{service="guidance",provider="openai",kind="failed"} 1"#
        ),
        "{text}"
    );
    assert!(
        text.contains(r#"jyotiflow_llm_time_to_first_token_seconds_count{service="guidance",provider="local"} 1"#),
        "{text}"
    );
    assert!(text
        .contains(r#"jyotiflow_llm_generated_tokens_total{service="guidance",provider="local"}"#));
    assert!(text.contains("jyotiflow_llm_tokens_per_second"));
}

#[tokio::test]
async fn the_breaker_opens_after_n_failures_and_lets_a_probe_through_after_the_open_period() {
    let fake = Arc::new(Fake::default());
    // A healthy second provider that answers at once, so the timing is the
    // breaker's alone (falling back to the real model is tested above).
    let backup = Arc::new(Fake {
        name: "backup",
        healthy: AtomicBool::new(true),
        ..Fake::default()
    });
    let chain = Chain::with(
        vec![fake.clone(), backup],
        BreakerConfig {
            failures: 2,
            open_for: Duration::from_millis(400),
        },
        LlmMetrics::new(),
    );
    let ask = || async {
        let (p, s) = chain.generate(request("Hi", 2)).await.expect("answer");
        let _ = collect(s).await;
        p
    };
    // Two failures: each answered by local.
    assert_eq!(ask().await, "backup");
    assert_eq!(ask().await, "backup");
    assert_eq!(fake.calls.load(Ordering::SeqCst), 2);
    assert_eq!(chain.breaker_state("fake"), Some(BreakerState::Open));
    // Open: the fake is not asked.
    assert_eq!(ask().await, "backup");
    assert_eq!(fake.calls.load(Ordering::SeqCst), 2);
    // After the open period one probe goes through; it fails: open again.
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(ask().await, "backup");
    assert_eq!(fake.calls.load(Ordering::SeqCst), 3);
    assert_eq!(ask().await, "backup");
    assert_eq!(fake.calls.load(Ordering::SeqCst), 3);
    // The provider recovers: the next probe closes the circuit.
    fake.healthy.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(ask().await, "fake");
    assert_eq!(chain.breaker_state("fake"), Some(BreakerState::Closed));
    assert_eq!(ask().await, "fake");
    assert_eq!(fake.calls.load(Ordering::SeqCst), 5);
}

#[tokio::test]
async fn a_failure_after_the_first_token_ends_the_answer_without_fallback() {
    let fake = Arc::new(Fake::default());
    fake.fail_after_first_token.store(true, Ordering::SeqCst);
    let metrics = LlmMetrics::new();
    let registry = platform::metrics::Metrics::new("guidance");
    metrics.register(&registry);
    let chain = Chain::with(
        vec![fake.clone(), local()],
        BreakerConfig::default(),
        metrics,
    );
    let (p, mut s) = chain.generate(request("Hi", 2)).await.expect("answer");
    assert_eq!(p, "fake");
    assert_eq!(
        s.next().await.expect("item").expect("ok"),
        Chunk::Delta("partial".into())
    );
    assert!(s.next().await.expect("item").is_err());
    assert!(s.next().await.is_none());
    assert!(registry.encode().contains(
        r#"jyotiflow_llm_errors_total{service="guidance",provider="fake",kind="stream"} 1"#
    ));
}

#[tokio::test]
async fn when_every_provider_fails_the_chain_is_unavailable() {
    let a = Arc::new(Fake::default());
    let b = Arc::new(Fake::default());
    let chain = Chain::new(vec![a, b]);
    assert!(matches!(
        chain.generate(request("Hi", 2)).await,
        Err(LlmError::Unavailable)
    ));
    // One provider: its own error.
    let chain = Chain::new(vec![Arc::new(Fake::default())]);
    assert!(matches!(
        chain.generate(request("Hi", 2)).await,
        Err(LlmError::Provider { .. })
    ));
}
