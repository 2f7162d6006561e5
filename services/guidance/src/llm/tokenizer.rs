//! SmolLM2's tokenizer from the GGUF metadata. (To be completed.)
