//! The `openai` provider: any OpenAI-compatible chat-completions API
//! (`{base_url}/chat/completions`, streamed as Server-Sent Events).
//!
//! * Timeouts: `connect_timeout_ms` to connect, `read_timeout_ms` for the
//!   answer to start and between two events.
//! * Retries: on 429 and 5xx answers, connection failures and timeouts,
//!   with exponential backoff and jitter, at most `max_retries` times, and
//!   only before the stream has begun (a streamed answer is never repeated).
//!
//! Built on reqwest (through `platform::http_client`), `eventsource-stream`
//! for the SSE framing and `backon` for the retry policy.

use super::wire::{ChatCompletionChunk, ChatCompletionRequest, StreamOptions, WireMessage};
use super::{ChatRequest, Chunk, ChunkStream, LlmError, Provider, Usage};
use crate::config::OpenAiConfig;
use backon::{ExponentialBuilder, Retryable};
use eventsource_stream::Eventsource;
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use secrecy::{ExposeSecret, SecretString};
use std::time::Duration;

pub const NAME: &str = "openai";

pub struct OpenAiProvider {
    client: reqwest::Client,
    url: String,
    api_key: SecretString,
    model: String,
    read_timeout: Duration,
    max_retries: u32,
    min_backoff: Duration,
}

/// One failed attempt: whether another may follow.
struct Attempt {
    retryable: bool,
    error: LlmError,
}

fn err(message: impl Into<String>) -> LlmError {
    LlmError::Provider {
        provider: NAME.into(),
        message: message.into(),
    }
}

impl OpenAiProvider {
    pub fn new(cfg: &OpenAiConfig) -> anyhow::Result<OpenAiProvider> {
        let client = platform::http_client::builder()
            .connect_timeout(Duration::from_millis(cfg.connect_timeout_ms))
            .read_timeout(Duration::from_millis(cfg.read_timeout_ms))
            .build()?;
        Ok(OpenAiProvider {
            client,
            url: format!("{}/chat/completions", cfg.base_url.trim_end_matches('/')),
            api_key: cfg.api_key.clone(),
            model: cfg.model.clone(),
            read_timeout: Duration::from_millis(cfg.read_timeout_ms),
            max_retries: cfg.max_retries,
            min_backoff: Duration::from_millis(200),
        })
    }

    /// The shortest wait between retries (tests shorten it).
    pub fn with_min_backoff(mut self, d: Duration) -> OpenAiProvider {
        self.min_backoff = d;
        self
    }

    fn configured(&self) -> bool {
        self.url.starts_with("http://") || self.url.starts_with("https://")
    }

    async fn attempt(&self, body: &ChatCompletionRequest) -> Result<reqwest::Response, Attempt> {
        let send = self
            .client
            .post(&self.url)
            .bearer_auth(self.api_key.expose_secret())
            .header(reqwest::header::ACCEPT, "text/event-stream")
            .json(body)
            .send();
        let resp = match tokio::time::timeout(self.read_timeout, send).await {
            Err(_) => {
                return Err(Attempt {
                    retryable: true,
                    error: err("no answer before the read timeout"),
                })
            }
            Ok(Err(e)) => {
                return Err(Attempt {
                    retryable: e.is_connect() || e.is_timeout() || e.is_request(),
                    error: err(format!("request failed: {e}")),
                })
            }
            Ok(Ok(r)) => r,
        };
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let retryable = status.as_u16() == 429 || status.is_server_error();
        let text = resp.text().await.unwrap_or_default();
        let detail: String = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
            .unwrap_or(text)
            .chars()
            .take(300)
            .collect();
        Err(Attempt {
            retryable,
            error: err(format!("HTTP {status}: {detail}")),
        })
    }
}

impl Provider for OpenAiProvider {
    fn name(&self) -> &str {
        NAME
    }

    fn generate(&self, req: ChatRequest) -> BoxFuture<'_, Result<ChunkStream, LlmError>> {
        Box::pin(async move {
            if !self.configured() {
                return Err(LlmError::NotConfigured(
                    "the openai provider (llm.openai.base_url)".into(),
                ));
            }
            let body = ChatCompletionRequest {
                model: self.model.clone(),
                messages: req.messages.iter().map(WireMessage::from).collect(),
                stream: true,
                max_tokens: Some(u32::try_from(req.max_tokens).unwrap_or(u32::MAX)),
                max_completion_tokens: None,
                temperature: req.temperature,
                top_p: req.top_p,
                stream_options: Some(StreamOptions {
                    include_usage: true,
                }),
            };
            let policy = ExponentialBuilder::default()
                .with_min_delay(self.min_backoff)
                .with_max_delay(Duration::from_secs(5))
                .with_max_times(self.max_retries as usize)
                .with_jitter();
            let resp = (|| self.attempt(&body))
                .retry(policy)
                .when(|a: &Attempt| a.retryable)
                .notify(|a: &Attempt, after: Duration| {
                    tracing::info!(error = %a.error, ?after, "retrying the openai provider");
                })
                .await
                .map_err(|a| a.error)?;
            let events = resp.bytes_stream().eventsource().boxed();
            let state = SseState {
                events,
                read_timeout: self.read_timeout,
                usage: None,
                deltas: 0,
                finished: false,
                done: false,
            };
            let stream = futures_util::stream::unfold(state, |mut s| async move {
                s.next_item().await.map(|item| (item, s))
            });
            Ok(Box::pin(stream) as ChunkStream)
        })
    }
}

type Events = BoxStream<
    'static,
    Result<eventsource_stream::Event, eventsource_stream::EventStreamError<reqwest::Error>>,
>;

/// Reading a streamed answer: deltas as they come, then one `Done`.
struct SseState {
    events: Events,
    read_timeout: Duration,
    usage: Option<Usage>,
    deltas: u32,
    /// A choice said why it finished.
    finished: bool,
    /// `Done` (or an error) was sent: the stream is over.
    done: bool,
}

impl SseState {
    fn done_chunk(&mut self) -> Result<Chunk, LlmError> {
        self.done = true;
        Ok(Chunk::Done(self.usage.unwrap_or(Usage {
            prompt_tokens: 0,
            completion_tokens: self.deltas,
        })))
    }

    async fn next_item(&mut self) -> Option<Result<Chunk, LlmError>> {
        if self.done {
            return None;
        }
        loop {
            let event = match tokio::time::timeout(self.read_timeout, self.events.next()).await {
                Err(_) => {
                    self.done = true;
                    return Some(Err(err("the stream stalled past the read timeout")));
                }
                Ok(None) if self.finished => return Some(self.done_chunk()),
                Ok(None) => {
                    self.done = true;
                    return Some(Err(err("the stream ended before the answer did")));
                }
                Ok(Some(Err(e))) => {
                    self.done = true;
                    let stalled = matches!(&e, eventsource_stream::EventStreamError::Transport(t) if t.is_timeout());
                    return Some(Err(err(if stalled {
                        "the stream stalled past the read timeout".to_owned()
                    } else {
                        format!("reading the stream: {e}")
                    })));
                }
                Ok(Some(Ok(ev))) => ev,
            };
            let data = event.data.trim();
            if data.is_empty() {
                continue;
            }
            if data == "[DONE]" {
                return Some(self.done_chunk());
            }
            let chunk: ChatCompletionChunk = match serde_json::from_str(data) {
                Ok(c) => c,
                Err(_) => {
                    // An error event: {"error": {"message": ...}}.
                    let msg = serde_json::from_str::<serde_json::Value>(data)
                        .ok()
                        .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
                        .unwrap_or_else(|| format!("unreadable event {data:.200}"));
                    self.done = true;
                    return Some(Err(err(msg)));
                }
            };
            if let Some(u) = chunk.usage {
                self.usage = Some(u.into());
            }
            let mut text = String::new();
            for c in &chunk.choices {
                if let Some(t) = &c.delta.content {
                    text.push_str(t);
                }
                if c.finish_reason.is_some() {
                    self.finished = true;
                }
            }
            if !text.is_empty() {
                self.deltas += 1;
                return Some(Ok(Chunk::Delta(text)));
            }
        }
    }
}
