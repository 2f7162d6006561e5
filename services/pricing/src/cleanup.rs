//! Periodic clean-up: quotes that expired more than
//! `cleanup.quotes_retention_secs` ago, Stripe event ids older than
//! `cleanup.stripe_events_retention_secs` (default 30 days; Stripe retries
//! for 3) and consumer de-duplication rows (`processed_events`) older than
//! `cleanup.processed_events_retention_secs`. One background task, every
//! `cleanup.interval_ms`; deletes go in batches of `cleanup.batch_size`
//! rows, each its own statement (`FOR UPDATE SKIP LOCKED`, so replicas
//! running it together neither block nor double-count). Counts go to the
//! log and to `jyotiflow_cleanup_deleted_rows_total{table}` (see `platform::cleanup`).
//!
//! Forgetting a Stripe event id is safe: payment state, not the event id,
//! decides what an event does (see `crate::payments`).

use crate::config::CleanupConfig;
use platform::cleanup::{Cleaner, Target};
use std::time::Duration;

fn secs(s: i64) -> Duration {
    Duration::from_secs(u64::try_from(s).unwrap_or(0))
}

/// Pricing's clean-up: its tables and retentions.
pub fn cleaner(
    pool: deadpool_postgres::Pool,
    cfg: &CleanupConfig,
    metrics: &platform::metrics::Metrics,
) -> Cleaner {
    let targets = vec![
        Target {
            table: "quotes",
            sql: "DELETE FROM quotes WHERE id IN (
                    SELECT id FROM quotes WHERE expires_at < $1
                    ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)",
            retention: secs(cfg.quotes_retention_secs),
        },
        Target {
            table: "stripe_events",
            sql: "DELETE FROM stripe_events WHERE id IN (
                    SELECT id FROM stripe_events WHERE received_at < $1
                    ORDER BY received_at LIMIT $2 FOR UPDATE SKIP LOCKED)",
            retention: secs(cfg.stripe_events_retention_secs),
        },
        Target {
            table: "processed_events",
            sql: "DELETE FROM processed_events WHERE (consumer, event_id) IN (
                    SELECT consumer, event_id FROM processed_events WHERE processed_at < $1
                    ORDER BY processed_at LIMIT $2 FOR UPDATE SKIP LOCKED)",
            retention: secs(cfg.processed_events_retention_secs),
        },
    ];
    Cleaner::new(
        pool,
        targets,
        cfg.batch_size,
        Duration::from_millis(cfg.interval_ms),
        metrics,
    )
}
