//! What every handler shares.

use crate::config::MediaConfig;
use platform::nats::Bus;
use platform::outbox::OutboxSignal;

pub struct AppState {
    pub pool: deadpool_postgres::Pool,
    pub cfg: MediaConfig,
    pub bus: Bus,
    pub outbox: OutboxSignal,
    pub metrics: platform::metrics::Metrics,
    /// Wakes the billing loop (a session changed state).
    pub live_wake: std::sync::Arc<tokio::sync::Notify>,
    pub avatars: crate::avatar::Avatars,
}
