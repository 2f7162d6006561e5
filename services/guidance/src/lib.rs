//! JyotiFlow guidance: answers from "Swamiji" grounded in the user's birth
//! chart and a curated knowledge base, streamed as they are written, and
//! charged only when delivered.
//!
//! * [`knowledge`], [`embed`], [`glossary`], [`retrieval`]: the corpus, its
//!   embeddings (MiniLM in process) and hybrid search.
//! * [`llm`]: the local model (SmolLM2 GGUF in process) and OpenAI-compatible
//!   providers behind one chain; [`llm_api`] serves the local model as an
//!   OpenAI-compatible API on its own port.
//! * [`chat`]: conversations, prompts, chart facts, the faithfulness check,
//!   credits, safety.

pub mod chat;
pub mod config;
pub mod corpus;
pub mod embed;
pub mod eval;
pub mod glossary;
pub mod knowledge;
pub mod llm;
pub mod llm_api;
pub mod retrieval;
pub mod state;

use crate::config::GuidanceConfig;
use crate::state::AppState;
use actix_web::web;
use platform::config::BaseConfig;
use platform::migrate::Migration;
use platform::runtime::Runtime;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use utoipa::OpenApi;

pub const MIGRATIONS: &[Migration] = platform::migrations!("../../../migrations/guidance", 1 => "0001_init", 2 => "0002_knowledge_postings");

#[derive(OpenApi)]
#[openapi(info(
    title = "JyotiFlow guidance",
    description = "Spiritual guidance grounded in the user's chart and a curated knowledge base"
))]
pub struct ApiDoc;

/// The whole document: each module contributes its own paths.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.merge(chat::ApiDoc::openapi());
    doc.merge(knowledge::ApiDoc::openapi());
    doc
}

pub fn routes(
    state: web::Data<AppState>,
) -> impl Fn(&mut web::ServiceConfig) + Clone + Send + 'static {
    move |cfg: &mut web::ServiceConfig| {
        cfg.app_data(state.clone());
        chat::routes(cfg);
        knowledge::routes(cfg);
    }
}

/// A running guidance service: built identically by `main` and by the tests.
pub struct Application {
    service: platform::runtime::Service,
    state: web::Data<AppState>,
    llm_api_port: Option<u16>,
}

impl Application {
    pub async fn build(base: BaseConfig, cfg: GuidanceConfig) -> anyhow::Result<Application> {
        let mut runtime = Runtime::start(base).await?;
        let retriever = knowledge::start(&mut runtime, &cfg).await?;
        let llm = Arc::new(llm::Chain::from_config(&cfg, &runtime.metrics).await?);
        let state = web::Data::new(AppState {
            pool: runtime.pool.clone(),
            bus: runtime.bus.clone(),
            outbox: runtime.outbox.clone(),
            metrics: runtime.metrics.clone(),
            retriever,
            llm,
            limiter: chat::answer::Limiter::new(cfg.answers.per_user_per_minute),
            cfg,
        });
        let llm_api_port = llm_api::start(&mut runtime, state.clone())?;
        let http = runtime.serve_http(openapi().to_json()?, routes(state.clone()))?;
        let mut rpc = runtime.rpc_server(http.port).await?;
        chat::register(&mut rpc, state.clone()).await?;
        knowledge::register(&mut rpc, state.clone()).await?;
        rpc.sync(std::time::Duration::from_secs(2)).await;
        Ok(Application {
            service: platform::runtime::Service::new(runtime, http, Some(rpc)),
            state,
            llm_api_port,
        })
    }

    pub fn port(&self) -> u16 {
        self.service.port()
    }

    /// The OpenAI-compatible API's port, when enabled.
    pub fn llm_api_port(&self) -> Option<u16> {
        self.llm_api_port
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

/// Loads the guidance configuration (overrides apply last; tests use them).
pub fn load_config(
    overrides: &[(String, String)],
) -> Result<(BaseConfig, GuidanceConfig), platform::config::ConfigError> {
    platform::config::load(
        config::SERVICE,
        config::DEFAULT_PORT,
        overrides,
        config::defaults,
    )
}
