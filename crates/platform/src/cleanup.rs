//! Periodic deletion of rows that have outlived their use (expired tokens,
//! old de-duplication ids, expired quotes, ...). A service lists its
//! [`Target`]s; one background task deletes, every `interval`, the rows of
//! each target older than its retention, in batches (each its own
//! statement, `FOR UPDATE SKIP LOCKED`, so replicas running it together
//! neither block nor double-count). Counts go to the log and to
//! `jyotiflow_cleanup_deleted_rows_total{table}`.

use crate::db::q;
use crate::error::AppError;
use chrono::{DateTime, Utc};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TableLabel {
    pub table: String,
}

/// One table's batched delete. `sql` deletes at most `$2` (bigint) rows
/// older than `$1` (timestamptz), e.g.
/// `DELETE FROM t WHERE id IN (SELECT id FROM t WHERE created_at < $1 ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED)`.
#[derive(Clone, Debug)]
pub struct Target {
    pub table: &'static str,
    pub sql: &'static str,
    pub retention: Duration,
}

/// The clean-up task.
#[derive(Clone)]
pub struct Cleaner {
    pool: deadpool_postgres::Pool,
    targets: Vec<Target>,
    batch_size: i64,
    interval: Duration,
    deleted: Family<TableLabel, Counter>,
}

impl Cleaner {
    /// Registers `cleanup_deleted_rows` in the service's metrics.
    pub fn new(
        pool: deadpool_postgres::Pool,
        targets: Vec<Target>,
        batch_size: i64,
        interval: Duration,
        metrics: &crate::metrics::Metrics,
    ) -> Self {
        let deleted = Family::<TableLabel, Counter>::default();
        metrics.register(
            "cleanup_deleted_rows",
            "Rows deleted by the periodic clean-up",
            deleted.clone(),
        );
        Self {
            pool,
            targets,
            batch_size: batch_size.max(1),
            interval,
            deleted,
        }
    }

    async fn purge(
        &self,
        t: &Target,
        cutoff: DateTime<Utc>,
        token: &CancellationToken,
    ) -> Result<u64, AppError> {
        let mut total = 0u64;
        loop {
            let c = crate::db::conn(&self.pool).await?;
            let n = c
                .execute(t.sql, &[&cutoff, &self.batch_size])
                .await
                .map_err(q)?;
            drop(c);
            total += n;
            self.deleted
                .get_or_create(&TableLabel {
                    table: t.table.to_owned(),
                })
                .inc_by(n);
            if n < u64::try_from(self.batch_size).unwrap_or(u64::MAX) || token.is_cancelled() {
                return Ok(total);
            }
        }
    }

    /// One pass over every target: rows deleted per table, in order.
    #[tracing::instrument(skip_all)]
    pub async fn run_once(
        &self,
        token: &CancellationToken,
    ) -> Result<Vec<(&'static str, u64)>, AppError> {
        let now = Utc::now();
        let mut out = Vec::with_capacity(self.targets.len());
        for t in &self.targets {
            let retention =
                chrono::Duration::from_std(t.retention).unwrap_or(chrono::Duration::MAX);
            let cutoff = now
                .checked_sub_signed(retention)
                .unwrap_or(DateTime::<Utc>::MIN_UTC);
            out.push((t.table, self.purge(t, cutoff, token).await?));
        }
        Ok(out)
    }

    /// Runs every `interval` until `token` is cancelled.
    pub async fn run(self, token: CancellationToken) {
        loop {
            tokio::select! {
                _ = token.cancelled() => return,
                _ = tokio::time::sleep(self.interval) => {}
            }
            match self.run_once(&token).await {
                Ok(d) if d.iter().all(|(_, n)| *n == 0) => {
                    tracing::debug!("clean-up: nothing to delete")
                }
                Ok(d) => tracing::info!(deleted = ?d, "clean-up deleted old rows"),
                Err(e) => tracing::warn!(error = ?e, "clean-up failed; will retry"),
            }
        }
    }
}
