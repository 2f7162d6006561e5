//! The language-model side of guidance: the tokenizer against llama.cpp's
//! ids, ChatML, the local model (streaming, UTF-8, the bounded pool,
//! cancellation, context limits), the openai provider (retries, timeouts),
//! the provider chain (fallback, breaker, metrics) and the
//! OpenAI-compatible API the service serves.
//!
//! The model tests need SmolLM2's Q8_0 GGUF (see `helpers::model_path`):
//! they fail, saying how to install it, when it is missing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api;
mod chain;
mod helpers;
mod local;
mod openai;
mod tokenizer;
