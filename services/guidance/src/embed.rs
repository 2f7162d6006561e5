//! Sentence embeddings in process: all-MiniLM-L6-v2 (candle BERT, mean
//! pooling over the attention mask, L2-normalised, 384 dimensions). (To be
//! completed.)

/// The embedding model's name, stored with every embedding.
pub const MODEL_ID: &str = "all-MiniLM-L6-v2";
/// Dimensions of an embedding.
pub const DIM: usize = 384;

/// The loaded model and tokenizer.
pub struct Embedder;

impl Embedder {
    /// Loads `config.json`, `model.safetensors` and `tokenizer.json` from `dir`.
    pub fn load(dir: &str, max_tokens: usize) -> anyhow::Result<Embedder> {
        let _ = (dir, max_tokens);
        anyhow::bail!("not built yet")
    }

    /// Embeds a batch (padded to its longest text). Blocking: call it on a
    /// blocking thread.
    pub fn embed(&self, texts: &[&str]) -> anyhow::Result<Vec<Vec<f32>>> {
        let _ = texts;
        anyhow::bail!("not built yet")
    }
}
