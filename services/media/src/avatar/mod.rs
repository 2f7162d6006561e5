//! Avatar voice and video messages as durable jobs (not built yet).

pub mod config;

use crate::state::AppState;
use actix_web::web;
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi()]
pub struct ApiDoc;

/// What the avatar side keeps in the shared state.
#[derive(Clone, Default)]
pub struct Avatars {}

/// Builds what [`Avatars`] needs (stores, providers) before the state exists.
pub async fn prepare(
    _runtime: &mut platform::runtime::Runtime,
    _cfg: &crate::config::MediaConfig,
) -> anyhow::Result<Avatars> {
    Ok(Avatars {})
}

/// Starts the workers once the state exists.
pub async fn start(
    _runtime: &mut platform::runtime::Runtime,
    _state: web::Data<AppState>,
) -> anyhow::Result<()> {
    Ok(())
}

pub fn routes(_cfg: &mut web::ServiceConfig) {}
