//! SmolLM2's tokenizer, built from the GGUF metadata.
//!
//! candle's `TokenizerFromGguf` does not know the `smollm` pre-tokenizer,
//! so it is assembled here the way llama.cpp (`LLAMA_VOCAB_PRE_TYPE_SMOLLM`)
//! and the model's own `tokenizer.json` define it: byte-level BPE over
//! `tokenizer.ggml.tokens` and `tokenizer.ggml.merges`; every digit split on
//! its own, then the GPT-2 byte-level split without a prefix space. Control
//! tokens (`<|im_start|>`, `<|im_end|>`, `<|endoftext|>`, …) are never read
//! from text: [`SmolTokenizer::encode`] treats them as plain characters, and
//! the ChatML template inserts their ids itself (see [`super::chatml`]).
//!
//! Decoding is byte-level and incremental ([`StreamDecoder`]): a token's
//! bytes are held back until they complete a UTF-8 character, so streamed
//! text never splits one.

use candle_core::quantized::gguf_file;
use std::collections::HashMap;
use tokenizers::models::bpe::{Vocab, BPE};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::Tokenizer;

/// `<|endoftext|>`, `<|im_start|>` and `<|im_end|>` in SmolLM2's vocabulary.
pub const ENDOFTEXT: &str = "<|endoftext|>";
pub const IM_START: &str = "<|im_start|>";
pub const IM_END: &str = "<|im_end|>";

/// llama.cpp's token type for control tokens (`LLAMA_TOKEN_TYPE_CONTROL`).
const TOKEN_TYPE_CONTROL: u32 = 3;

#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    #[error("GGUF metadata: {0}")]
    Metadata(String),
    #[error("tokenizer: {0}")]
    Tokenizer(String),
}

fn meta<'a>(ct: &'a gguf_file::Content, key: &str) -> Result<&'a gguf_file::Value, TokenizerError> {
    ct.metadata
        .get(key)
        .ok_or_else(|| TokenizerError::Metadata(format!("missing key `{key}`")))
}

fn strings(v: &gguf_file::Value, key: &str) -> Result<Vec<String>, TokenizerError> {
    let bad = |e: candle_core::Error| TokenizerError::Metadata(format!("`{key}`: {e}"));
    v.to_vec()
        .map_err(bad)?
        .iter()
        .map(|s| s.to_string().cloned().map_err(bad))
        .collect()
}

fn as_u32(v: &gguf_file::Value) -> Option<u32> {
    use gguf_file::Value::*;
    match v {
        U8(v) => Some(u32::from(*v)),
        U16(v) => Some(u32::from(*v)),
        U32(v) => Some(*v),
        I32(v) => u32::try_from(*v).ok(),
        U64(v) => u32::try_from(*v).ok(),
        I64(v) => u32::try_from(*v).ok(),
        _ => None,
    }
}

/// GPT-2's byte ↔ printable-character table (the byte-level alphabet).
fn byte_to_char() -> [char; 256] {
    let mut table = ['\0'; 256];
    let mut n = 0u32;
    for b in 0..=255u8 {
        let printable = matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
        table[usize::from(b)] = if printable {
            char::from(b)
        } else {
            let c = char::from_u32(256 + n).unwrap_or('\u{FFFD}');
            n += 1;
            c
        };
    }
    table
}

/// SmolLM2's tokenizer (see the module documentation).
pub struct SmolTokenizer {
    bpe: Tokenizer,
    /// Each token's bytes (empty for control tokens, which never print).
    token_bytes: Vec<Vec<u8>>,
    /// Control tokens by text (`<|im_start|>` → 1).
    control: HashMap<String, u32>,
    pub im_start: u32,
    pub im_end: u32,
    pub endoftext: u32,
}

impl SmolTokenizer {
    /// Builds the tokenizer from `tokenizer.ggml.*` metadata.
    pub fn from_gguf(ct: &gguf_file::Content) -> Result<SmolTokenizer, TokenizerError> {
        let model = meta(ct, "tokenizer.ggml.model")?
            .to_string()
            .map_err(|e| TokenizerError::Metadata(e.to_string()))?;
        if model != "gpt2" {
            return Err(TokenizerError::Metadata(format!(
                "tokenizer.ggml.model is {model:?}, expected \"gpt2\" (byte-level BPE)"
            )));
        }
        let pre = ct
            .metadata
            .get("tokenizer.ggml.pre")
            .and_then(|v| v.to_string().ok())
            .cloned()
            .unwrap_or_default();
        if pre != "smollm" {
            return Err(TokenizerError::Metadata(format!(
                "tokenizer.ggml.pre is {pre:?}; only SmolLM's \"smollm\" pre-tokenizer is built here"
            )));
        }
        let tokens = strings(meta(ct, "tokenizer.ggml.tokens")?, "tokenizer.ggml.tokens")?;
        let merges = strings(meta(ct, "tokenizer.ggml.merges")?, "tokenizer.ggml.merges")?
            .into_iter()
            .map(|m| {
                m.split_once(' ')
                    .map(|(a, b)| (a.to_owned(), b.to_owned()))
                    .ok_or_else(|| TokenizerError::Metadata(format!("invalid merge {m:?}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let types: Vec<u32> = match ct.metadata.get("tokenizer.ggml.token_type") {
            Some(v) => v
                .to_vec()
                .map_err(|e| TokenizerError::Metadata(e.to_string()))?
                .iter()
                .map(|t| as_u32(t).unwrap_or(1))
                .collect(),
            None => vec![1; tokens.len()],
        };

        let mut vocab = Vocab::default();
        for (i, t) in tokens.iter().enumerate() {
            let id = u32::try_from(i).map_err(|e| TokenizerError::Metadata(e.to_string()))?;
            vocab.insert(t.clone(), id);
        }
        let bpe = BPE::builder()
            .vocab_and_merges(vocab, merges)
            .build()
            .map_err(|e| TokenizerError::Tokenizer(e.to_string()))?;
        let mut tokenizer = Tokenizer::new(bpe);
        tokenizer.with_pre_tokenizer(Some(Sequence::new(vec![
            Digits::new(true).into(),
            ByteLevel::new(false, false, true).into(),
        ])));

        let mut char_to_byte = HashMap::with_capacity(256);
        for (b, c) in byte_to_char().iter().enumerate() {
            char_to_byte.insert(*c, u8::try_from(b).unwrap_or(0));
        }
        let mut control = HashMap::new();
        let mut token_bytes = Vec::with_capacity(tokens.len());
        for (i, t) in tokens.iter().enumerate() {
            if types.get(i).copied() == Some(TOKEN_TYPE_CONTROL) {
                control.insert(t.clone(), u32::try_from(i).unwrap_or(u32::MAX));
                token_bytes.push(Vec::new());
            } else {
                // Byte-level tokens map back char by char; anything else
                // (a user-defined token) is its own UTF-8.
                let bytes: Option<Vec<u8>> =
                    t.chars().map(|c| char_to_byte.get(&c).copied()).collect();
                token_bytes.push(bytes.unwrap_or_else(|| t.as_bytes().to_vec()));
            }
        }
        let id_of = |name: &str| {
            control.get(name).copied().ok_or_else(|| {
                TokenizerError::Metadata(format!("{name} is not a control token of this model"))
            })
        };
        Ok(SmolTokenizer {
            im_start: id_of(IM_START)?,
            im_end: id_of(IM_END)?,
            endoftext: id_of(ENDOFTEXT)?,
            bpe: tokenizer,
            token_bytes,
            control,
        })
    }

    /// Token ids of `text` read as plain text: control tokens written in it
    /// are spelled out character by character, never turned into control
    /// ids (llama.cpp's `tokenize(…, add_bos=False, special=False)`).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, TokenizerError> {
        if text.is_empty() {
            return Ok(Vec::new());
        }
        self.bpe
            .encode_fast(text, false)
            .map(|e| e.get_ids().to_vec())
            .map_err(|e| TokenizerError::Tokenizer(e.to_string()))
    }

    /// The text of `ids`, control tokens left out (invalid UTF-8 replaced).
    pub fn decode(&self, ids: &[u32]) -> String {
        let mut bytes = Vec::new();
        for id in ids {
            bytes.extend_from_slice(self.bytes_of(*id));
        }
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// A token's bytes (empty for control tokens and unknown ids).
    pub fn bytes_of(&self, id: u32) -> &[u8] {
        usize::try_from(id)
            .ok()
            .and_then(|i| self.token_bytes.get(i))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// The control tokens' texts (`<|im_start|>`, `<repo_name>`, …).
    pub fn control_tokens(&self) -> impl Iterator<Item = &str> + Clone {
        self.control.keys().map(String::as_str)
    }

    /// Whether `id` is a control token.
    pub fn is_control(&self, id: u32) -> bool {
        self.control.values().any(|v| *v == id)
    }

    pub fn vocab_size(&self) -> usize {
        self.token_bytes.len()
    }
}

/// Turns token ids into text as they come, never splitting a UTF-8
/// character: bytes that end in the middle of one wait for the next token.
#[derive(Default)]
pub struct StreamDecoder {
    pending: Vec<u8>,
}

impl StreamDecoder {
    pub fn new() -> StreamDecoder {
        StreamDecoder::default()
    }

    /// Adds a token's bytes; returns the text that is now complete (maybe empty).
    pub fn push(&mut self, bytes: &[u8]) -> String {
        self.pending.extend_from_slice(bytes);
        let mut out = String::new();
        loop {
            match std::str::from_utf8(&self.pending) {
                Ok(s) => {
                    out.push_str(s);
                    self.pending.clear();
                    return out;
                }
                Err(e) => {
                    let valid = e.valid_up_to();
                    out.push_str(&String::from_utf8_lossy(&self.pending[..valid]));
                    match e.error_len() {
                        // Incomplete at the end: wait for more bytes.
                        None => {
                            self.pending.drain(..valid);
                            return out;
                        }
                        // Bytes that can never be valid: replace and go on.
                        Some(n) => {
                            out.push(char::REPLACEMENT_CHARACTER);
                            self.pending.drain(..valid + n);
                        }
                    }
                }
            }
        }
    }

    /// What is left at the end (an incomplete character becomes U+FFFD).
    pub fn finish(&mut self) -> String {
        let rest = String::from_utf8_lossy(&self.pending).into_owned();
        self.pending.clear();
        rest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_table_is_a_bijection() {
        let t = byte_to_char();
        let set: std::collections::HashSet<char> = t.iter().copied().collect();
        assert_eq!(set.len(), 256);
        assert_eq!(t[usize::from(b' ')], 'Ġ');
        assert_eq!(t[usize::from(b'\n')], 'Ċ');
    }

    #[test]
    fn stream_decoder_never_splits_a_character() {
        let text = "நமஸ்காரம் नमस्ते 🙏 ok";
        let bytes = text.as_bytes();
        // Feed one byte at a time: every piece must be valid UTF-8 on its
        // own, and together they must be the text.
        let mut d = StreamDecoder::new();
        let mut out = String::new();
        for b in bytes {
            let piece = d.push(std::slice::from_ref(b));
            out.push_str(&piece);
        }
        out.push_str(&d.finish());
        assert_eq!(out, text);
    }

    #[test]
    fn stream_decoder_replaces_invalid_bytes() {
        let mut d = StreamDecoder::new();
        assert_eq!(d.push(&[b'a', 0xFF, b'b']), "a\u{FFFD}b");
        assert_eq!(d.push(&[0xE0, 0xAE]), "");
        assert_eq!(d.finish(), "\u{FFFD}");
    }
}
