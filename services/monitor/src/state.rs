//! What every handler shares.

use crate::config::MonitorConfig;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct AppState {
    pub pool: deadpool_postgres::Pool,
    pub cfg: Arc<MonitorConfig>,
    /// Whether this replica leads now.
    pub leading: Arc<AtomicBool>,
    pub outbox: platform::outbox::OutboxSignal,
    /// The public status, computed at most every two seconds.
    pub status_cache: StatusCache,
}

#[derive(Default)]
pub struct StatusCache(Mutex<Option<(Instant, serde_json::Value)>>);

const STATUS_TTL: Duration = Duration::from_secs(2);

impl StatusCache {
    pub fn get(&self) -> Option<serde_json::Value> {
        let g = self.0.lock().ok()?;
        g.as_ref()
            .filter(|(at, _)| at.elapsed() < STATUS_TTL)
            .map(|(_, v)| v.clone())
    }

    pub fn put(&self, v: serde_json::Value) {
        if let Ok(mut g) = self.0.lock() {
            *g = Some((Instant::now(), v));
        }
    }
}
