//! The provider chain: fallback before the first token, a circuit breaker
//! per provider, metrics per provider. (To be completed.)

use super::{ChatRequest, ChunkStream, LlmError, Provider};
use std::sync::Arc;

pub struct Chain {
    providers: Vec<Arc<dyn Provider>>,
}

impl Chain {
    pub fn new(providers: Vec<Arc<dyn Provider>>) -> Chain {
        Chain { providers }
    }

    /// Generates with the first provider that starts; returns its name too.
    pub async fn generate(&self, req: ChatRequest) -> Result<(String, ChunkStream), LlmError> {
        for p in &self.providers {
            if let Ok(s) = p.generate(req.clone()).await {
                return Ok((p.name().to_owned(), s));
            }
        }
        Err(LlmError::Unavailable)
    }
}
