//! Periodic clean-up: quotes that expired more than
//! `cleanup.quotes_retention_secs` ago, Stripe event ids older than
//! `cleanup.stripe_events_retention_secs` (default 30 days; Stripe retries
//! for 3) and consumer de-duplication rows (`processed_events`) older than
//! `cleanup.processed_events_retention_secs`. One background task, every
//! `cleanup.interval_ms`; deletes go in batches of `cleanup.batch_size`
//! rows, each its own statement (`FOR UPDATE SKIP LOCKED`, so replicas
//! running it together neither block nor double-count). Counts go to the
//! log and to `jyotiflow_pricing_cleanup_deleted_rows_total{table}`.
//!
//! Forgetting a Stripe event id is safe: payment state, not the event id,
//! decides what an event does (see `crate::payments`).

use crate::config::CleanupConfig;
use chrono::{DateTime, Duration, Utc};
use platform::db::q;
use platform::AppError;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use tokio_util::sync::CancellationToken;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TableLabel {
    pub table: String,
}

/// Rows deleted by one run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Deleted {
    pub quotes: u64,
    pub stripe_events: u64,
    pub processed_events: u64,
}

impl Deleted {
    pub fn total(&self) -> u64 {
        self.quotes + self.stripe_events + self.processed_events
    }
}

/// One table's batched delete: `$1` = cutoff, `$2` = batch size.
struct Target {
    table: &'static str,
    sql: &'static str,
}

const QUOTES: Target = Target {
    table: "quotes",
    sql: "DELETE FROM quotes WHERE id IN (
            SELECT id FROM quotes WHERE expires_at < $1
            ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)",
};
const STRIPE_EVENTS: Target = Target {
    table: "stripe_events",
    sql: "DELETE FROM stripe_events WHERE id IN (
            SELECT id FROM stripe_events WHERE received_at < $1
            ORDER BY received_at LIMIT $2 FOR UPDATE SKIP LOCKED)",
};
const PROCESSED_EVENTS: Target = Target {
    table: "processed_events",
    sql: "DELETE FROM processed_events WHERE (consumer, event_id) IN (
            SELECT consumer, event_id FROM processed_events WHERE processed_at < $1
            ORDER BY processed_at LIMIT $2 FOR UPDATE SKIP LOCKED)",
};

/// The clean-up task's state.
#[derive(Clone)]
pub struct Cleaner {
    pool: deadpool_postgres::Pool,
    cfg: CleanupConfig,
    deleted: Family<TableLabel, Counter>,
}

impl Cleaner {
    /// Registers `pricing_cleanup_deleted_rows` in the service's metrics.
    pub fn new(
        pool: deadpool_postgres::Pool,
        cfg: CleanupConfig,
        metrics: &platform::metrics::Metrics,
    ) -> Self {
        let deleted = Family::<TableLabel, Counter>::default();
        metrics.register(
            "pricing_cleanup_deleted_rows",
            "Rows deleted by the periodic clean-up",
            deleted.clone(),
        );
        Self { pool, cfg, deleted }
    }

    /// Deletes, batch by batch, every row of one target older than `cutoff`.
    async fn purge(
        &self,
        t: &Target,
        cutoff: DateTime<Utc>,
        token: &CancellationToken,
    ) -> Result<u64, AppError> {
        let mut total = 0u64;
        loop {
            let c = platform::db::conn(&self.pool).await?;
            let n = c
                .execute(t.sql, &[&cutoff, &self.cfg.batch_size])
                .await
                .map_err(q)?;
            drop(c);
            total += n;
            self.deleted
                .get_or_create(&TableLabel {
                    table: t.table.to_owned(),
                })
                .inc_by(n);
            if n < u64::try_from(self.cfg.batch_size).unwrap_or(u64::MAX) || token.is_cancelled() {
                return Ok(total);
            }
        }
    }

    /// One pass over every table.
    #[tracing::instrument(skip_all)]
    pub async fn run_once(&self, token: &CancellationToken) -> Result<Deleted, AppError> {
        let now = Utc::now();
        let before = |secs: i64| now - Duration::seconds(secs);
        Ok(Deleted {
            quotes: self
                .purge(&QUOTES, before(self.cfg.quotes_retention_secs), token)
                .await?,
            stripe_events: self
                .purge(
                    &STRIPE_EVENTS,
                    before(self.cfg.stripe_events_retention_secs),
                    token,
                )
                .await?,
            processed_events: self
                .purge(
                    &PROCESSED_EVENTS,
                    before(self.cfg.processed_events_retention_secs),
                    token,
                )
                .await?,
        })
    }

    /// Runs every `cleanup.interval_ms` until `token` is cancelled.
    pub async fn run(self, token: CancellationToken) {
        let every = std::time::Duration::from_millis(self.cfg.interval_ms);
        loop {
            tokio::select! {
                _ = token.cancelled() => return,
                _ = tokio::time::sleep(every) => {}
            }
            match self.run_once(&token).await {
                Ok(d) if d.total() == 0 => tracing::debug!("clean-up: nothing to delete"),
                Ok(d) => tracing::info!(
                    quotes = d.quotes,
                    stripe_events = d.stripe_events,
                    processed_events = d.processed_events,
                    "clean-up deleted old rows"
                ),
                Err(e) => tracing::warn!(error = ?e, "clean-up failed; will retry"),
            }
        }
    }
}
