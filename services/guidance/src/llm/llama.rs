//! A lean llama forward pass over a GGUF file, for SmolLM2 on the CPU.
//!
//! It computes exactly what candle-transformers' `quantized_llama` does,
//! with the same candle kernels (quantized matmuls, RMS norm, rotary
//! embeddings, softmax), but decodes with less copying:
//!
//! * the KV cache grows in place (capacity doubling, `slice_set`) instead
//!   of being concatenated into a new tensor at every token;
//! * when decoding, grouped-query attention puts the `n_rep` query heads
//!   of a KV head in one matmul against that head's keys
//!   (`n_kv × n_rep × d`), instead of copying every K and V `n_rep` times
//!   at every token (`repeat_kv`); a prompt repeats them once;
//! * Q, K and V are one matmul, and so are gate and up (rows concatenated
//!   at load: one quantization of the input and one parallel region);
//! * a prompt of 32 tokens or more multiplies by dequantized weights with
//!   an f32 GEMM where candle has no tiled Q8_0 kernel (see [`Linear`]).
//!
//! `examples/guidance_llm_bench.rs` measures it against llama.cpp; the test
//! `the_lean_forward_pass_equals_quantized_llama` (tests/llm/local.rs)
//! checks that its logits equal `quantized_llama`'s, prompt and steps.

use candle_core::quantized::{gguf_file, QMatMul, QStorage, QTensor};
use candle_core::{DType, Device, Module, Result, Tensor};
use candle_nn::Embedding;

/// Prompts at least this long multiply by dequantized weights (see [`Linear`]).
const PROMPT_GEMM_MIN_ROWS: usize = 32;

/// A quantized weight. One row (decoding) goes through candle's quantized
/// matmul; many rows (a prompt) through the weight dequantized to f32 for
/// the call and an f32 GEMM, which reuses each weight across rows where
/// candle's Q8_0 path is one dot product per row and column (4-6x faster
/// at 512 rows). Weights whose width is a multiple of 256 keep the
/// quantized path: candle repacks those into tiles that are already fast.
struct Linear {
    q: QMatMul,
    t: std::sync::Arc<QTensor>,
    gemm_for_prompts: bool,
}

impl Linear {
    fn new(t: QTensor) -> Result<Linear> {
        let t = std::sync::Arc::new(t);
        let k = t.shape().dims().last().copied().unwrap_or(0);
        Ok(Linear {
            q: QMatMul::from_arc(t.clone())?,
            t,
            gemm_for_prompts: k % 256 != 0,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let rows = x.elem_count() / x.dims().last().copied().unwrap_or(1).max(1);
        if self.gemm_for_prompts && rows >= PROMPT_GEMM_MIN_ROWS {
            let w = self.t.dequantize(&Device::Cpu)?;
            x.matmul(&w.t()?)
        } else {
            self.q.forward(x)
        }
    }
}

/// The rows of several weights of the same width and type, as one weight
/// (Q8_0 and the other block formats quantize each row on its own, so the
/// rows' bytes concatenate): Q, K and V, and gate and up, each become one
/// matmul — one quantization of the input and one parallel region, not
/// three or two.
fn fuse(parts: &[QTensor]) -> Result<QTensor> {
    let Some(first) = parts.first() else {
        candle_core::bail!("nothing to fuse");
    };
    let (dtype, (_, k)) = (first.dtype(), first.shape().dims2()?);
    let mut rows = 0;
    let mut data = Vec::new();
    for t in parts {
        let (n, tk) = t.shape().dims2()?;
        if tk != k || t.dtype() != dtype {
            candle_core::bail!("cannot fuse {:?} with {:?}", t.shape(), first.shape());
        }
        rows += n;
        data.extend_from_slice(&t.data()?);
    }
    let storage = QStorage::from_data(std::borrow::Cow::Owned(data), &Device::Cpu, dtype)?;
    QTensor::new(storage, (rows, k))
}

struct Layer {
    /// Q, K and V rows: `n_head·d + 2·n_kv·d` outputs.
    qkv: Linear,
    wo: Linear,
    /// Gate and up rows: `2·ffn` outputs.
    gate_up: Linear,
    ffn: usize,
    down: Linear,
    attn_norm: Tensor,
    ffn_norm: Tensor,
}

/// The weights, shared by every sequence (cheap to clone: tensors are
/// reference-counted).
#[derive(Clone)]
pub struct Llama {
    inner: std::sync::Arc<Weights>,
}

struct Weights {
    embed: Embedding,
    layers: Vec<Layer>,
    norm: Tensor,
    output: Linear,
    cos: Tensor,
    sin: Tensor,
    n_head: usize,
    n_kv_head: usize,
    head_dim: usize,
    eps: f32,
    max_positions: usize,
}

/// One sequence's keys and values, per layer: `(n_kv, capacity, head_dim)`.
pub struct Cache {
    k: Vec<Tensor>,
    v: Vec<Tensor>,
    len: usize,
    capacity: usize,
}

impl Llama {
    /// Loads a llama-architecture GGUF (`general.architecture = llama`).
    pub fn from_gguf<R: std::io::Read + std::io::Seek>(
        ct: &gguf_file::Content,
        r: &mut R,
        max_positions: usize,
    ) -> Result<Llama> {
        let dev = Device::Cpu;
        let md = |k: &str| {
            ct.metadata
                .get(k)
                .ok_or_else(|| candle_core::Error::Msg(format!("missing GGUF metadata {k}")))
        };
        let arch = md("general.architecture")?.to_string()?.clone();
        if arch != "llama" {
            candle_core::bail!("architecture {arch:?} is not llama");
        }
        let n_head = md("llama.attention.head_count")?.to_u32()? as usize;
        let n_kv_head = md("llama.attention.head_count_kv")?.to_u32()? as usize;
        let n_layer = md("llama.block_count")?.to_u32()? as usize;
        let dim = md("llama.embedding_length")?.to_u32()? as usize;
        let rope_dim = md("llama.rope.dimension_count")?.to_u32()? as usize;
        let eps = md("llama.attention.layer_norm_rms_epsilon")?.to_f32()?;
        let base = md("llama.rope.freq_base")
            .and_then(|v| v.to_f32())
            .unwrap_or(10_000.0);
        let head_dim = dim / n_head.max(1);
        if rope_dim != head_dim || n_kv_head == 0 || !n_head.is_multiple_of(n_kv_head) {
            candle_core::bail!("unsupported head layout {n_head}/{n_kv_head}/{rope_dim}");
        }
        let t = |r: &mut R, name: &str| ct.tensor(r, name, &dev);
        let mm = Linear::new;
        let embed_q = t(r, "token_embd.weight")?;
        let embed = Embedding::new(embed_q.dequantize(&dev)?, dim);
        let norm = t(r, "output_norm.weight")?.dequantize(&dev)?;
        let output = match t(r, "output.weight") {
            Ok(o) => mm(o)?,
            Err(_) => mm(embed_q)?,
        };
        let mut layers = Vec::with_capacity(n_layer);
        for i in 0..n_layer {
            let p = format!("blk.{i}");
            let gate = t(r, &format!("{p}.ffn_gate.weight"))?;
            let ffn = gate.shape().dims2()?.0;
            layers.push(Layer {
                qkv: mm(fuse(&[
                    t(r, &format!("{p}.attn_q.weight"))?,
                    t(r, &format!("{p}.attn_k.weight"))?,
                    t(r, &format!("{p}.attn_v.weight"))?,
                ])?)?,
                wo: mm(t(r, &format!("{p}.attn_output.weight"))?)?,
                gate_up: mm(fuse(&[gate, t(r, &format!("{p}.ffn_up.weight"))?])?)?,
                ffn,
                down: mm(t(r, &format!("{p}.ffn_down.weight"))?)?,
                attn_norm: t(r, &format!("{p}.attn_norm.weight"))?.dequantize(&dev)?,
                ffn_norm: t(r, &format!("{p}.ffn_norm.weight"))?.dequantize(&dev)?,
            });
        }
        // Rotary tables exactly as quantized_llama computes them.
        let theta: Vec<f32> = (0..head_dim)
            .step_by(2)
            .map(|i| 1f32 / base.powf(i as f32 / head_dim as f32))
            .collect();
        let theta = Tensor::new(theta.as_slice(), &dev)?;
        let idx = Tensor::arange(0, max_positions as u32, &dev)?
            .to_dtype(DType::F32)?
            .reshape((max_positions, 1))?
            .matmul(&theta.reshape((1, head_dim / 2))?)?;
        Ok(Llama {
            inner: std::sync::Arc::new(Weights {
                embed,
                layers,
                norm,
                output,
                cos: idx.cos()?,
                sin: idx.sin()?,
                n_head,
                n_kv_head,
                head_dim,
                eps,
                max_positions,
            }),
        })
    }

    pub fn max_positions(&self) -> usize {
        self.inner.max_positions
    }

    /// An empty cache for one sequence.
    pub fn cache(&self) -> Cache {
        Cache {
            k: Vec::new(),
            v: Vec::new(),
            len: 0,
            capacity: 0,
        }
    }

    /// Runs `ids` (after the `cache.len` positions already seen) and
    /// returns the logits of the last one.
    pub fn forward(&self, ids: &[u32], cache: &mut Cache) -> Result<Tensor> {
        let w = &*self.inner;
        let seq = ids.len();
        let pos = cache.len;
        if seq == 0 || pos + seq > w.max_positions {
            candle_core::bail!("{} positions do not fit {}", pos + seq, w.max_positions);
        }
        cache.reserve(w, pos + seq)?;
        let dev = Device::Cpu;
        let (nh, nkv, hd) = (w.n_head, w.n_kv_head, w.head_dim);
        let rep = nh / nkv;
        let cos = w.cos.narrow(0, pos, seq)?;
        let sin = w.sin.narrow(0, pos, seq)?;
        let total = pos + seq;
        // Additive causal mask for a prompt (rows: its positions).
        let mask = if seq > 1 {
            let mut m = vec![0f32; seq * total];
            for (s, row) in m.chunks_mut(total).enumerate() {
                for cell in row.iter_mut().skip(pos + s + 1) {
                    *cell = f32::NEG_INFINITY;
                }
            }
            Some(Tensor::from_vec(m, (1, seq, total), &dev)?)
        } else {
            None
        };
        let scale = 1.0 / (hd as f64).sqrt();
        let mut x = w.embed.forward(&Tensor::new(ids, &dev)?)?; // (seq, dim)
        for (l, layer) in w.layers.iter().enumerate() {
            let h = candle_nn::ops::rms_norm(&x, &layer.attn_norm, w.eps)?;
            let qkv = layer.qkv.forward(&h)?; // (seq, nh·hd + 2·nkv·hd)
            let q = qkv.narrow(1, 0, nh * hd)?;
            let k = qkv.narrow(1, nh * hd, nkv * hd)?;
            let v = qkv.narrow(1, (nh + nkv) * hd, nkv * hd)?;
            let q = q.reshape((1, seq, nh, hd))?.transpose(1, 2)?.contiguous()?;
            let k = k
                .reshape((1, seq, nkv, hd))?
                .transpose(1, 2)?
                .contiguous()?;
            let v = v
                .reshape((1, seq, nkv, hd))?
                .transpose(1, 2)?
                .contiguous()?;
            let q = candle_nn::rotary_emb::rope_i(&q, &cos, &sin)?;
            let k = candle_nn::rotary_emb::rope_i(&k, &cos, &sin)?;
            cache.k[l].slice_set(&k.squeeze(0)?, 1, pos)?;
            cache.v[l].slice_set(&v.squeeze(0)?, 1, pos)?;
            let keys = cache.k[l].narrow(1, 0, total)?; // (nkv, total, hd)
            let values = cache.v[l].narrow(1, 0, total)?;
            let y = if seq == 1 {
                // Decoding: the n_rep query heads of a KV head are the rows
                // of one matmul against that head's keys (no copies).
                let q = q.reshape((nkv, rep, hd))?;
                let att = (q.matmul(&keys.t()?)? * scale)?;
                let att = candle_nn::ops::softmax_last_dim(&att)?;
                att.matmul(&values)?.reshape((1, nh * hd))?
            } else {
                // A prompt: keys and values repeated per query head once.
                let expand = |t: &Tensor| -> Result<Tensor> {
                    t.unsqueeze(1)?
                        .broadcast_as((nkv, rep, total, hd))?
                        .contiguous()?
                        .reshape((nh, total, hd))
                };
                let q = q.reshape((nh, seq, hd))?;
                let att = (q.matmul(&expand(&keys)?.t()?)? * scale)?;
                let att = match &mask {
                    Some(m) => att.broadcast_add(m)?,
                    None => att,
                };
                let att = candle_nn::ops::softmax_last_dim(&att)?;
                att.matmul(&expand(&values)?)? // (nh, seq, hd)
                    .transpose(0, 1)?
                    .reshape((seq, nh * hd))?
            };
            let x1 = (layer.wo.forward(&y)? + &x)?;
            let h = candle_nn::ops::rms_norm(&x1, &layer.ffn_norm, w.eps)?;
            let gu = layer.gate_up.forward(&h)?; // (seq, 2·ffn)
            let g = candle_nn::ops::silu(&gu.narrow(1, 0, layer.ffn)?)?;
            let u = gu.narrow(1, layer.ffn, layer.ffn)?;
            x = (layer.down.forward(&(g * u)?)? + x1)?;
        }
        cache.len = total;
        let last = x.narrow(0, seq - 1, 1)?;
        let last = candle_nn::ops::rms_norm(&last, &w.norm, w.eps)?;
        w.output
            .forward(&last)?
            .squeeze(0)?
            .to_dtype(DType::F32)?
            .contiguous()
    }
}

impl Cache {
    /// Positions held.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// A copy of the first `len` positions (at most [`Cache::len`]): the
    /// keys and values of a position depend only on the tokens up to it, so
    /// a prompt that starts with the same tokens can go on from here.
    pub fn fork(&self, len: usize) -> Result<Cache> {
        let len = len.min(self.len);
        if len == 0 {
            return Ok(Cache {
                k: Vec::new(),
                v: Vec::new(),
                len: 0,
                capacity: 0,
            });
        }
        // Always a new buffer: `contiguous` of a whole tensor would share
        // its storage, which `slice_set` writes in place.
        let copy = |ts: &[Tensor]| -> Result<Vec<Tensor>> {
            ts.iter()
                .map(|t| {
                    let (nkv, _, hd) = t.dims3()?;
                    let out = Tensor::zeros((nkv, len, hd), DType::F32, &Device::Cpu)?;
                    out.slice_set(&t.narrow(1, 0, len)?.contiguous()?, 1, 0)?;
                    Ok(out)
                })
                .collect()
        };
        Ok(Cache {
            k: copy(&self.k)?,
            v: copy(&self.v)?,
            len,
            capacity: len,
        })
    }

    /// Bytes its keys and values take.
    pub fn bytes(&self) -> usize {
        self.k
            .iter()
            .chain(self.v.iter())
            .map(|t| t.elem_count() * 4)
            .sum()
    }

    /// Makes room for `needed` positions (doubling, so growth is amortised).
    fn reserve(&mut self, w: &Weights, needed: usize) -> Result<()> {
        if needed <= self.capacity {
            return Ok(());
        }
        let cap = needed
            .max(self.capacity * 2)
            .max(256)
            .min(w.max_positions.max(needed));
        let grow = |old: Option<&Tensor>| -> Result<Tensor> {
            let t = Tensor::zeros((w.n_kv_head, cap, w.head_dim), DType::F32, &Device::Cpu)?;
            if let Some(old) = old {
                if self.len > 0 {
                    t.slice_set(&old.narrow(1, 0, self.len)?.contiguous()?, 1, 0)?;
                }
            }
            Ok(t)
        };
        let mut k = Vec::with_capacity(w.layers.len());
        let mut v = Vec::with_capacity(w.layers.len());
        for l in 0..w.layers.len() {
            k.push(grow(self.k.get(l))?);
            v.push(grow(self.v.get(l))?);
        }
        self.k = k;
        self.v = v;
        self.capacity = cap;
        Ok(())
    }
}
