//! Language models behind one interface: a provider turns chat messages
//! into a stream of text deltas followed by the token usage.
//!
//! * `local`: SmolLM2-135M-Instruct (GGUF, ChatML) in process with candle's
//!   quantized llama, on a bounded pool of blocking threads ([`local`]).
//! * `openai`: any OpenAI-compatible chat-completions API ([`openai`]).
//!
//! [`Chain`] tries the configured providers in order: a provider that fails
//! before its first token is skipped for the next one; each has a circuit
//! breaker and metrics (time to first token, tokens/s, errors). Once a token
//! has been sent, a failure ends the answer (the caller releases the hold).

pub mod chain;
pub mod chatml;
pub mod llama;
pub mod local;
pub mod openai;
pub mod sampler;
pub mod tokenizer;
pub mod wire;

pub use chain::Chain;

use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use serde::{Deserialize, Serialize};

/// A chat turn, as OpenAI and ChatML name the roles.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
}

/// What to generate.
#[derive(Clone, Debug)]
pub struct ChatRequest {
    pub messages: Vec<ChatMessage>,
    pub max_tokens: usize,
    /// `None`: the provider's configured default.
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
}

/// Tokens counted by the provider.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
}

/// One item of a generation: text as it is decoded (never splitting a UTF-8
/// character), then exactly one `Done`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Chunk {
    Delta(String),
    Done(Usage),
}

#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    /// The provider is not set up (no model file, no base URL).
    #[error("{0} is not configured")]
    NotConfigured(String),
    /// The provider could not be reached or answered with an error.
    #[error("{provider}: {message}")]
    Provider { provider: String, message: String },
    /// Every provider failed or has its circuit open.
    #[error("no language model is available")]
    Unavailable,
    /// The prompt does not fit the model's context.
    #[error("the prompt is too long for the model")]
    PromptTooLong,
}

pub type ChunkStream = BoxStream<'static, Result<Chunk, LlmError>>;

/// A language model.
pub trait Provider: Send + Sync {
    /// `local` or `openai` (metrics label, `done.provider`).
    fn name(&self) -> &str;
    /// Starts a generation. The future resolves once the provider has
    /// accepted the request (an error here, before any token, lets the chain
    /// try the next provider); the stream then yields deltas and one `Done`.
    /// Dropping the stream stops the generation.
    fn generate(&self, req: ChatRequest) -> BoxFuture<'_, Result<ChunkStream, LlmError>>;
}
