//! JyotiFlow media: live consultations with readers and avatar messages.
//!
//! * [`live`]: readers, sessions (chat, and voice/video on Agora), per-minute
//!   billing on pricing's holds, presence from Agora's Notification Center
//!   and heartbeats, session events over SSE.
//! * [`avatar`]: avatar voice/video messages as durable jobs on JetStream.
//! * The Agora token builder is the `agora` crate (`media agora-token`).

pub mod avatar;
pub mod config;
pub mod live;
pub mod state;

use crate::config::MediaConfig;
use crate::state::AppState;
use actix_web::web;
use platform::config::BaseConfig;
use platform::migrate::Migration;
use platform::runtime::Runtime;
use tokio_util::sync::CancellationToken;
use utoipa::OpenApi;

pub const MIGRATIONS: &[Migration] =
    platform::migrations!("../../../migrations/media", 1 => "0001_live", 2 => "0002_avatars");

#[derive(OpenApi)]
#[openapi(info(
    title = "JyotiFlow media",
    description = "Live consultations with readers (chat, voice, video) billed by the minute, and avatar voice/video messages"
))]
pub struct ApiDoc;

/// The whole document: each module contributes its own paths.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.merge(live::ApiDoc::openapi());
    doc.merge(avatar::ApiDoc::openapi());
    doc
}

pub fn routes(
    state: web::Data<AppState>,
) -> impl Fn(&mut web::ServiceConfig) + Clone + Send + 'static {
    move |cfg: &mut web::ServiceConfig| {
        cfg.app_data(state.clone());
        live::routes(cfg);
        avatar::routes(cfg);
    }
}

/// A running media service: built identically by `main` and by the tests.
pub struct Application {
    service: platform::runtime::Service,
    state: web::Data<AppState>,
}

impl Application {
    pub async fn build(base: BaseConfig, cfg: MediaConfig) -> anyhow::Result<Application> {
        let mut runtime = Runtime::start(base).await?;
        let avatars = avatar::prepare(&mut runtime, &cfg).await?;
        let state = web::Data::new(AppState {
            pool: runtime.pool.clone(),
            bus: runtime.bus.clone(),
            outbox: runtime.outbox.clone(),
            metrics: runtime.metrics.clone(),
            live_wake: std::sync::Arc::new(tokio::sync::Notify::new()),
            avatars,
            cfg,
        });
        live::start(&mut runtime, state.clone());
        avatar::start(&mut runtime, state.clone()).await?;
        let http = runtime.serve_http(openapi().to_json()?, routes(state.clone()))?;
        // No request/reply endpoints yet, but discoverable through the NATS
        // service API like every service (its HTTP address and pool).
        let rpc = runtime.rpc_server(http.port).await?;
        rpc.sync(std::time::Duration::from_secs(2)).await;
        Ok(Application {
            service: platform::runtime::Service::new(runtime, http, Some(rpc)),
            state,
        })
    }

    pub fn port(&self) -> u16 {
        self.service.port()
    }

    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    pub fn shutdown_token(&self) -> CancellationToken {
        self.service.shutdown_token()
    }

    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.service.run_until_stopped().await
    }
}

/// Loads the media configuration (overrides apply last; tests use them).
pub fn load_config(
    overrides: &[(String, String)],
) -> Result<(BaseConfig, MediaConfig), platform::config::ConfigError> {
    platform::config::load(
        config::SERVICE,
        config::DEFAULT_PORT,
        overrides,
        config::defaults,
    )
}
