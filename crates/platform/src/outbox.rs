//! The transactional outbox. An event that follows a database change is
//! inserted into the service's `outbox` table in the same transaction, then
//! relayed to JetStream with `Nats-Msg-Id` = the event id. A crash or a NATS
//! outage loses nothing (the row waits), and a retry duplicates nothing
//! (JetStream de-duplicates on the id; consumers also record processed ids).
//! Replicas relay concurrently without double work (`FOR UPDATE SKIP LOCKED`).

use crate::error::AppError;
use crate::metrics::Metrics;
use crate::nats::{Bus, CallContext};
use common::EventEnvelope;
use deadpool_postgres::GenericClient;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Wakes the relay after a commit so events go out without waiting for the poll.
#[derive(Clone, Default)]
pub struct OutboxSignal(Arc<Notify>);

impl OutboxSignal {
    pub fn notify(&self) {
        self.0.notify_one();
    }
}

/// Writes an event into the outbox inside the caller's transaction.
pub async fn enqueue<C: GenericClient, T: Serialize>(
    tx: &C,
    event: &EventEnvelope<T>,
    ctx: &CallContext,
) -> Result<(), AppError> {
    enqueue_to(tx, &event.subject(), event, ctx).await
}

/// Like [`enqueue`], for a subject other than the event's own `evt.<type>`:
/// a work item for a JetStream work-queue stream (e.g. media's avatar jobs),
/// relayed the same way (signed, `Nats-Msg-Id` = the envelope's id) so the
/// work is queued if and only if the transaction commits. The stream that
/// captures `subject` must exist (its consumer creates it).
pub async fn enqueue_to<C: GenericClient, T: Serialize>(
    tx: &C,
    subject: &str,
    event: &EventEnvelope<T>,
    ctx: &CallContext,
) -> Result<(), AppError> {
    let payload = serde_json::to_value(event).map_err(AppError::internal)?;
    let headers: BTreeMap<String, String> = ctx
        .headers()
        .iter()
        .filter_map(|(k, vs)| vs.first().map(|v| (k.to_string(), v.as_str().to_owned())))
        .collect();
    let headers = serde_json::to_value(headers).map_err(AppError::internal)?;
    tx.execute(
        "INSERT INTO outbox (id, subject, payload, headers) VALUES ($1, $2, $3, $4)",
        &[&event.id.as_uuid(), &subject, &payload, &headers],
    )
    .await
    .map_err(crate::db::q)?;
    Ok(())
}

/// Records that `consumer` applied `event_id`, inside the caller's
/// transaction. Returns false when it had already been applied: the caller
/// then skips its effect (and still acks).
pub async fn mark_processed<C: GenericClient>(
    tx: &C,
    consumer: &str,
    event_id: uuid::Uuid,
) -> Result<bool, AppError> {
    let n = tx
        .execute(
            "INSERT INTO processed_events (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&consumer, &event_id],
        )
        .await
        .map_err(crate::db::q)?;
    Ok(n == 1)
}

/// The relay's settings.
#[derive(Clone, Debug)]
pub struct RelayConfig {
    pub service: String,
    pub poll_interval: Duration,
    pub batch_size: i64,
    pub retention_hours: i64,
    pub publish_timeout: Duration,
}

/// Relays one batch. Returns how many events were published.
pub async fn relay_once(
    pool: &deadpool_postgres::Pool,
    bus: &Bus,
    cfg: &RelayConfig,
    metrics: &Metrics,
) -> anyhow::Result<usize> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let rows = tx
        .query(
            "SELECT id, subject, payload::text, headers FROM outbox
             WHERE published_at IS NULL ORDER BY created_at, id LIMIT $1 FOR UPDATE SKIP LOCKED",
            &[&cfg.batch_size],
        )
        .await?;
    let mut published: Vec<uuid::Uuid> = Vec::with_capacity(rows.len());
    let mut failure: Option<(uuid::Uuid, String)> = None;
    let mut stream_checked = false;
    for row in &rows {
        let id: uuid::Uuid = row.get(0);
        let subject: String = row.get(1);
        let payload: String = row.get(2);
        let stored: serde_json::Value = row.get(3);
        let mut headers = async_nats::HeaderMap::new();
        if let Some(map) = stored.as_object() {
            for (k, v) in map {
                if let Some(v) = v.as_str() {
                    headers.insert(k.as_str(), v);
                }
            }
        }
        let id_text = id.to_string();
        headers.insert(common::subjects::headers::MSG_ID, id_text.as_str());
        // Signed by this service, so consumers can tell its events from any
        // client's that can publish on the subject.
        let subject = bus.subject(&subject);
        bus.auth
            .sign_event(&mut headers, &subject, &id_text, payload.as_bytes());
        let mut attempt = crate::nats::publish_event(
            &bus.js,
            subject.clone(),
            headers.clone(),
            payload.clone().into(),
            cfg.publish_timeout,
        )
        .await;
        if attempt.is_err() && !stream_checked {
            // The stream may not exist yet (first start, or NATS lost its state): create it and retry once.
            stream_checked = true;
            if crate::nats::ensure_stream(bus, &cfg.service).await.is_ok() {
                attempt = crate::nats::publish_event(
                    &bus.js,
                    subject,
                    headers,
                    payload.into(),
                    cfg.publish_timeout,
                )
                .await;
            }
        }
        match attempt {
            Ok(()) => published.push(id),
            Err(e) => {
                failure = Some((id, format!("{e:#}")));
                break; // keep order: later events wait for this one
            }
        }
    }
    if !published.is_empty() {
        tx.execute(
            "UPDATE outbox SET published_at = now(), attempts = attempts + 1 WHERE id = ANY($1)",
            &[&published],
        )
        .await?;
    }
    if let Some((id, err)) = &failure {
        tx.execute(
            "UPDATE outbox SET attempts = attempts + 1, last_error = $2 WHERE id = $1",
            &[id, err],
        )
        .await?;
    }
    tx.commit().await?;
    metrics.outbox_published.inc_by(published.len() as u64);
    if let Some((_, err)) = failure {
        metrics.outbox_publish_failures.inc();
        anyhow::bail!("relay stopped: {err}");
    }
    Ok(published.len())
}

/// Updates the outbox lag gauges.
pub async fn observe_lag(
    pool: &deadpool_postgres::Pool,
    metrics: &Metrics,
) -> anyhow::Result<(i64, f64)> {
    let client = pool.get().await?;
    let row = client
        .query_one(
            "SELECT count(*), COALESCE(EXTRACT(EPOCH FROM now() - min(created_at))::float8, 0)
             FROM outbox WHERE published_at IS NULL",
            &[],
        )
        .await?;
    let (n, age): (i64, f64) = (row.get(0), row.get(1));
    metrics.outbox_pending.set(n);
    metrics.outbox_oldest_age_seconds.set(age.round() as i64);
    Ok((n, age))
}

/// Runs the relay until `token` is cancelled, then makes one last pass
/// (bounded by `final_flush`) so a clean shutdown leaves nothing behind
/// when NATS is up.
pub async fn relay_loop(
    pool: deadpool_postgres::Pool,
    bus: Bus,
    cfg: RelayConfig,
    metrics: Metrics,
    signal: OutboxSignal,
    token: CancellationToken,
    final_flush: Duration,
) {
    let mut backoff = cfg.poll_interval;
    let mut passes: u64 = 0;
    loop {
        let result = relay_once(&pool, &bus, &cfg, &metrics).await;
        let _ = observe_lag(&pool, &metrics).await;
        passes += 1;
        if passes.is_multiple_of(600) {
            if let Ok(c) = pool.get().await {
                let _ = c
                    .execute(
                        "DELETE FROM outbox WHERE published_at < now() - make_interval(hours => $1::int)",
                        &[&i32::try_from(cfg.retention_hours).unwrap_or(72)],
                    )
                    .await;
            }
        }
        let wait = match result {
            Ok(n) if n as i64 >= cfg.batch_size => Duration::ZERO, // more waiting: go on at once
            Ok(_) => {
                backoff = cfg.poll_interval;
                cfg.poll_interval
            }
            Err(e) => {
                tracing::debug!(
                    error = format!("{e:#}"),
                    "outbox relay pass failed; will retry"
                );
                backoff = (backoff * 2).min(Duration::from_secs(5));
                backoff
            }
        };
        tokio::select! {
            _ = token.cancelled() => break,
            _ = signal.0.notified() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
    let flush = async {
        loop {
            match relay_once(&pool, &bus, &cfg, &metrics).await {
                Ok(n) if (n as i64) < cfg.batch_size => break,
                Ok(_) => continue,
                Err(_) => break,
            }
        }
    };
    if tokio::time::timeout(final_flush, flush).await.is_err() {
        tracing::warn!(
            "outbox not fully flushed before shutdown; the rest is relayed on next start"
        );
    }
}

/// What the monitor asks each service about its outbox
/// (`<service>.outbox.stats`).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OutboxStats {
    /// Rows not yet relayed to JetStream.
    pub pending: i64,
    /// Age of the oldest of them, in seconds.
    pub oldest_pending_age_secs: Option<f64>,
    /// Pending rows whose relay already failed at least once.
    pub failing: i64,
    /// The newest failure's message, if any row is failing.
    pub last_error: Option<String>,
}

/// The outbox's backlog, from the partial index over pending rows.
pub async fn stats<C: GenericClient>(c: &C) -> Result<OutboxStats, AppError> {
    let row = c
        .query_one(
            "SELECT count(*),
                    extract(epoch FROM now() - min(created_at))::float8,
                    count(*) FILTER (WHERE attempts > 0),
                    (SELECT last_error FROM outbox WHERE published_at IS NULL AND last_error IS NOT NULL
                     ORDER BY created_at DESC LIMIT 1)
             FROM outbox WHERE published_at IS NULL",
            &[],
        )
        .await
        .map_err(crate::db::q)?;
    Ok(OutboxStats {
        pending: row.get(0),
        oldest_pending_age_secs: row.get(1),
        failing: row.get(2),
        last_error: row.get(3),
    })
}
