//! Conversations and answers. (To be completed.)

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
