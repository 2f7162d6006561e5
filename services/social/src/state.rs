//! What every handler and worker shares.

use crate::config::SocialConfig;
use crate::credentials::Keyring;
use platform::nats::Bus;
use std::sync::Arc;
use std::time::Duration;

pub struct AppState {
    pub pool: deadpool_postgres::Pool,
    pub cfg: Arc<SocialConfig>,
    pub keyring: Arc<Keyring>,
    pub bus: Bus,
    pub outbox: platform::outbox::OutboxSignal,
    /// This instance, as attempts and leases name it.
    pub instance: String,
}

impl AppState {
    pub fn sources(&self) -> crate::generate::Sources<'_> {
        crate::generate::Sources {
            bus: &self.bus,
            timeout: Duration::from_millis(self.cfg.content.request_timeout_ms),
            max_tokens: self.cfg.content.max_tokens,
        }
    }
}
