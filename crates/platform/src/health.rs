//! Liveness and readiness. Liveness is true as soon as the HTTP server
//! listens. Readiness is true only while the database and NATS answer and
//! the service is not draining; a background probe keeps it current, so a
//! dependency that comes back makes the service ready again without a restart.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

#[derive(Clone, Default)]
pub struct Health {
    inner: Arc<Flags>,
}

#[derive(Default)]
struct Flags {
    database: AtomicBool,
    nats: AtomicBool,
    draining: AtomicBool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Snapshot {
    pub database: bool,
    pub nats: bool,
    pub draining: bool,
}

impl Snapshot {
    pub fn ready(&self) -> bool {
        self.database && self.nats && !self.draining
    }
}

impl Health {
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            database: self.inner.database.load(Ordering::Acquire),
            nats: self.inner.nats.load(Ordering::Acquire),
            draining: self.inner.draining.load(Ordering::Acquire),
        }
    }
    pub fn set_database(&self, up: bool) {
        self.inner.database.store(up, Ordering::Release);
    }
    pub fn set_nats(&self, up: bool) {
        self.inner.nats.store(up, Ordering::Release);
    }
    pub fn set_draining(&self) {
        self.inner.draining.store(true, Ordering::Release);
    }
}

/// Checks the database with a round trip, bounded by `timeout`.
pub async fn check_database(pool: &deadpool_postgres::Pool, timeout: Duration) -> bool {
    let probe = async {
        let c = pool.get().await.ok()?;
        c.simple_query("SELECT 1").await.ok()
    };
    matches!(tokio::time::timeout(timeout, probe).await, Ok(Some(_)))
}

pub fn nats_connected(client: &async_nats::Client) -> bool {
    client.connection_state() == async_nats::connection::State::Connected
}

/// Runs until `token` is cancelled, refreshing the readiness flags every `every`.
pub async fn probe_loop(
    health: Health,
    pool: deadpool_postgres::Pool,
    nats: async_nats::Client,
    metrics: crate::metrics::Metrics,
    every: Duration,
    token: CancellationToken,
) {
    let mut was_ready = None;
    loop {
        let db = check_database(&pool, every.max(Duration::from_millis(500))).await;
        health.set_database(db);
        health.set_nats(nats_connected(&nats));
        metrics.observe_pool(&pool);
        let snap = health.snapshot();
        metrics.ready.set(i64::from(snap.ready()));
        if was_ready != Some(snap.ready()) {
            tracing::info!(
                database = snap.database,
                nats = snap.nats,
                ready = snap.ready(),
                "readiness changed"
            );
            was_ready = Some(snap.ready());
        }
        tokio::select! {
            _ = token.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}
