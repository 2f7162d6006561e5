//! The local model as an OpenAI-compatible API (`POST /v1/chat/completions`,
//! streaming and not; `GET /v1/models`) on `llm_api.port`, not routed by the
//! gateway. (To be completed.)

use crate::state::AppState;
use actix_web::web;
use platform::runtime::Runtime;

/// Starts the API when enabled; returns its port.
pub fn start(runtime: &mut Runtime, state: web::Data<AppState>) -> anyhow::Result<Option<u16>> {
    let _ = (runtime, state);
    Ok(None)
}
