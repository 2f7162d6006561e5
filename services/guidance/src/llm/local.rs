//! The `local` provider: SmolLM2 GGUF in process. (To be completed.)
