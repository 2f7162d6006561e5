//! What every handler shares.

use crate::config::GuidanceConfig;
use crate::llm::Chain;
use crate::retrieval::Retriever;
use platform::nats::Bus;
use platform::outbox::OutboxSignal;
use std::sync::Arc;

pub struct AppState {
    pub pool: deadpool_postgres::Pool,
    pub cfg: GuidanceConfig,
    pub bus: Bus,
    pub outbox: OutboxSignal,
    pub retriever: Arc<Retriever>,
    pub llm: Arc<Chain>,
    pub metrics: platform::metrics::Metrics,
    /// Questions per user per minute.
    pub limiter: crate::chat::answer::Limiter,
}
