//! The curated corpus: parsing `knowledge/**/*.md` (TOML front matter),
//! chunking by heading, `guidance seed` (idempotent, versioned, only changed
//! chunks re-embedded), and the admin API. (To be completed.)

use crate::state::AppState;
use actix_web::web;
use platform::nats::RpcServer;
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi()]
pub struct ApiDoc;

pub fn routes(cfg: &mut web::ServiceConfig) {
    let _ = cfg;
}

pub async fn register(rpc: &mut RpcServer, state: web::Data<AppState>) -> anyhow::Result<()> {
    let _ = (rpc, state);
    Ok(())
}
