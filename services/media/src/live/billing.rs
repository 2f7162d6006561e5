//! Per-minute billing on pricing's credit holds.
//!
//! A session is paid by a sequence of holds (`live_holds`): the first block
//! when it is requested, then further blocks whenever `live.low_credit_minutes`
//! or fewer covered minutes are left. Minutes are billed when they start
//! (the first when both participants have joined, then one per
//! `live.billing_period_secs`). A hold whose minutes are all used is captured
//! at once; when the session ends, the hold in use is captured for its used
//! minutes and the rest released. When no further credit can be held, the
//! user is warned (`low_credit`) and the session ends when the covered
//! minutes are used up (`credit_exhausted`): nothing is ever overdrawn.
//!
//! Everything is in the database and every pricing request has an
//! idempotency key derived from the session and the hold's sequence
//! number, written down (`pending`) before the request is sent: after a
//! crash or restart the same request is repeated and pricing answers with
//! the hold it already made, so nothing is held, captured or billed twice.
//! Replicas share the work: the bulk of minutes is billed by one statement
//! (`FOR UPDATE SKIP LOCKED`); a session that needs pricing is handled by
//! whoever takes its advisory lock.

use super::events::{self, kind};
use super::{acting_for, Kind};
use crate::state::AppState;
use actix_web::web;
use common::subjects::pricing;
use common::{ErrorCode, EventEnvelope, Principal};
use futures_util::StreamExt;
use platform::db::q;
use platform::nats::CallContext;
use platform::AppError;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use serde::Deserialize;
use serde_json::json;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// The catalog code a kind is priced by.
pub fn service_code(state: &AppState, kind: Kind) -> &str {
    let c = &state.cfg.live.service_codes;
    match kind {
        Kind::Chat => &c.chat,
        Kind::Voice => &c.voice,
        Kind::Video => &c.video,
    }
}

#[derive(Debug, Deserialize)]
pub struct QuoteReply {
    pub id: Uuid,
    pub unit_price: i64,
}

#[derive(Debug, Deserialize)]
struct HoldReply {
    hold_id: Uuid,
}

#[derive(Debug, Deserialize)]
struct BalanceReply {
    available: i64,
}

fn upstream(e: AppError) -> AppError {
    match e.code {
        ErrorCode::Timeout | ErrorCode::MessagingUnavailable => AppError::new(
            ErrorCode::ServiceUnavailable,
            "pricing is unavailable; try again shortly",
        )
        .with_cause(anyhow::anyhow!("{}: {}", e.code.as_str(), e.message)),
        _ => e,
    }
}

/// Whether a pricing error may go away by itself (try again later).
fn transient(e: &AppError) -> bool {
    matches!(
        e.code,
        ErrorCode::Timeout
            | ErrorCode::MessagingUnavailable
            | ErrorCode::ServiceUnavailable
            | ErrorCode::DatabaseUnavailable
            | ErrorCode::GatewayTimeout
            | ErrorCode::BadGateway
            | ErrorCode::Internal
            | ErrorCode::TooManyRequests
    )
}

/// The per-minute price of `code` now, as a quote for `units` minutes.
pub async fn quote(
    state: &AppState,
    p: &Principal,
    code: &str,
    units: i32,
) -> Result<QuoteReply, AppError> {
    state
        .bus
        .request(
            pricing::QUOTE_CREATE,
            Some(p),
            &CallContext::current(),
            &json!({ "service_code": code, "units": units }),
        )
        .await
        .map_err(upstream)
}

fn key(session: Uuid, op: &str, seq: i32) -> String {
    format!("media-live:{session}:{op}:{seq}")
}

/// Holds `amount` credits for hold `seq` of `session` (idempotent by key).
pub async fn place_hold(
    state: &AppState,
    session: Uuid,
    user: Uuid,
    seq: i32,
    amount: i64,
    code: &str,
) -> Result<Uuid, AppError> {
    let ctx = CallContext::current().with_idempotency_key(key(session, "hold", seq));
    let r: HoldReply = state
        .bus
        .request(
            pricing::CREDITS_HOLD,
            Some(&acting_for(user)),
            &ctx,
            &json!({
                "amount": amount,
                "service_code": code,
                "reference": format!("live:{session}"),
                "ttl_secs": state.cfg.live.hold_ttl_secs,
            }),
        )
        .await
        .map_err(upstream)?;
    Ok(r.hold_id)
}

async fn capture(
    state: &AppState,
    session: Uuid,
    user: Uuid,
    seq: i32,
    hold: Uuid,
    amount: i64,
) -> Result<(), AppError> {
    let ctx = CallContext::current().with_idempotency_key(key(session, "capture", seq));
    state
        .bus
        .request::<_, serde_json::Value>(
            pricing::CREDITS_CAPTURE,
            Some(&acting_for(user)),
            &ctx,
            &json!({ "hold_id": hold, "amount": amount }),
        )
        .await
        .map(|_| ())
}

async fn release(
    state: &AppState,
    session: Uuid,
    user: Uuid,
    seq: i32,
    hold: Uuid,
) -> Result<(), AppError> {
    let ctx = CallContext::current().with_idempotency_key(key(session, "release", seq));
    state
        .bus
        .request::<_, serde_json::Value>(
            pricing::CREDITS_RELEASE,
            Some(&acting_for(user)),
            &ctx,
            &json!({ "hold_id": hold }),
        )
        .await
        .map(|_| ())
}

async fn available(state: &AppState, user: Uuid) -> Result<i64, AppError> {
    let r: BalanceReply = state
        .bus
        .request(
            pricing::CREDITS_BALANCE,
            Some(&acting_for(user)),
            &CallContext::current(),
            &json!({}),
        )
        .await?;
    Ok(r.available)
}

/// Marks a pending hold active and adds its minutes to the session's cover,
/// once (a second caller finds it no longer pending and changes nothing).
pub async fn activate_hold<C: deadpool_postgres::GenericClient>(
    c: &C,
    session: Uuid,
    seq: i32,
    hold: Uuid,
) -> Result<bool, AppError> {
    let n = c
        .execute(
            "WITH h AS (UPDATE live_holds SET status = 'active', hold_id = $3
                        WHERE session_id = $1 AND seq = $2 AND status = 'pending' RETURNING minutes)
             UPDATE live_sessions s SET covered_minutes = s.covered_minutes + h.minutes FROM h WHERE s.id = $1",
            &[&session, &seq, &hold],
        )
        .await
        .map_err(q)?;
    Ok(n == 1)
}

/// Ends a requested session as declined (for `sessions::change`).
pub const END_SQL_DECLINED: &str =
    "UPDATE live_sessions SET status = 'ended', end_reason = 'declined', ended_at = now()
     WHERE id = $1 AND status <> 'ended'";

/// Ends a session now for `reason`. An active session is billed for every
/// minute started by now (`period` seconds a minute), as far as its holds
/// cover.
pub fn end_sql(reason: &str, period: u64) -> String {
    format!(
        "UPDATE live_sessions SET status = 'ended', end_reason = '{reason}', ended_at = now(),
           billed_minutes = CASE WHEN status = 'active' AND started_at IS NOT NULL THEN
             GREATEST(billed_minutes, LEAST(covered_minutes,
               floor(extract(epoch FROM now() - started_at) / {period})::int + 1))
             ELSE billed_minutes END
         WHERE id = $1 AND status <> 'ended'"
    )
}

/// Counters of the billing loop.
#[derive(Clone, Default)]
pub struct LiveMetrics {
    pub minutes_billed: Counter,
    pub sessions_ended: Family<Vec<(String, String)>, Counter>,
    pub ticks: Counter,
    pub pricing_errors: Counter,
}

/// The billing loop: every `live.tick_interval_ms`, or sooner when woken.
pub async fn run(state: web::Data<AppState>, stop: CancellationToken) {
    let metrics = LiveMetrics::default();
    let m = &state.metrics;
    m.register(
        "live_minutes_billed",
        "live session minutes billed",
        metrics.minutes_billed.clone(),
    );
    m.register(
        "live_sessions_ended",
        "live sessions settled after they ended, by reason",
        metrics.sessions_ended.clone(),
    );
    m.register(
        "live_billing_ticks",
        "passes of the live billing loop",
        metrics.ticks.clone(),
    );
    m.register(
        "live_pricing_errors",
        "pricing requests of the billing loop that failed (retried)",
        metrics.pricing_errors.clone(),
    );
    let began = Instant::now();
    let interval = Duration::from_millis(state.cfg.live.tick_interval_ms);
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            () = tokio::time::sleep(interval) => {}
            () = state.live_wake.notified() => {}
        }
        metrics.ticks.inc();
        if let Err(e) = tick(&state, &metrics, began).await {
            tracing::warn!(error = %e.message, cause = ?e.cause, "live billing pass failed; retrying");
        }
    }
}

/// Ends requests nobody answered, calls nobody joined and (once this
/// instance has run for the heartbeat time-out) sessions a side went
/// silent in; returns them.
async fn end_overdue(state: &AppState, began: Instant) -> Result<Vec<Uuid>, AppError> {
    let cfg = &state.cfg.live;
    let hb = f64::from(u32::try_from(cfg.heartbeat_timeout_secs).unwrap_or(u32::MAX));
    let period = f64::from(u32::try_from(cfg.billing_period_secs).unwrap_or(60));
    let mut woken: Vec<Uuid> = Vec::new();
    let c = platform::db::conn(&state.pool).await?;
    // Requests nobody answered, calls nobody joined.
    let rows = c
        .query(
            "UPDATE live_sessions SET status = 'ended', ended_at = now(),
               end_reason = CASE WHEN status = 'requested' THEN 'timed_out' ELSE 'not_joined' END
             WHERE (status = 'requested' AND accept_deadline <= now())
                OR (status = 'accepted' AND accepted_at <= now() - make_interval(secs => $1))
             RETURNING id",
            &[&hb],
        )
        .await
        .map_err(q)?;
    woken.extend(rows.iter().map(|r| r.get::<_, Uuid>(0)));
    // A side silent too long (not for a while after this instance
    // started: heartbeats sent while it was down could not arrive).
    if began.elapsed() > Duration::from_secs(cfg.heartbeat_timeout_secs) {
        let rows = c
            .query(
                // Billed up to the last moment both were there (never
                // below what was already captured).
                "UPDATE live_sessions SET status = 'ended', ended_at = now(), end_reason = 'no_heartbeat',
                   billed_minutes = GREATEST((credits_captured / price_per_minute)::int, LEAST(billed_minutes,
                     GREATEST(1, floor(extract(epoch FROM LEAST(
                       CASE WHEN user_in_channel THEN now() ELSE COALESCE(user_seen_at, started_at) END,
                       CASE WHEN reader_in_channel THEN now() ELSE COALESCE(reader_seen_at, started_at) END)
                       - started_at) / $2::float8)::int + 1)))
                 WHERE status = 'active'
                   AND ((NOT user_in_channel AND COALESCE(user_seen_at, started_at) <= now() - make_interval(secs => $1))
                     OR (NOT reader_in_channel AND COALESCE(reader_seen_at, started_at) <= now() - make_interval(secs => $1)))
                 RETURNING id",
                &[&hb, &period],
            )
            .await
            .map_err(q)?;
        woken.extend(rows.iter().map(|r| r.get::<_, Uuid>(0)));
    }
    Ok(woken)
}

/// One pass: time-outs, the bulk of due minutes, then each session that
/// needs pricing (a new hold, a capture, settling after the end).
pub async fn tick(state: &AppState, metrics: &LiveMetrics, began: Instant) -> Result<(), AppError> {
    let cfg = &state.cfg.live;
    let period = f64::from(u32::try_from(cfg.billing_period_secs).unwrap_or(60));
    let mut woken: Vec<Uuid> = match end_overdue(state, began).await {
        Ok(w) => w,
        Err(e) => {
            tracing::warn!(error = %e.message, cause = ?e.cause, "overdue sessions not ended; retrying");
            Vec::new()
        }
    };
    {
        let c = platform::db::conn(&state.pool).await?;
        // The bulk of due minutes: sessions whose cover stays ahead.
        loop {
            let rows = c
                .query(
                    "WITH due AS (
                       SELECT id FROM live_sessions
                       WHERE status = 'active' AND next_bill_at <= now()
                         AND covered_minutes - billed_minutes - 1 > $1 AND billed_minutes < $2
                       ORDER BY next_bill_at LIMIT 1000 FOR UPDATE SKIP LOCKED),
                     b AS (
                       UPDATE live_sessions s SET billed_minutes = s.billed_minutes + 1,
                              next_bill_at = s.next_bill_at + make_interval(secs => $3)
                       FROM due WHERE s.id = due.id
                       RETURNING s.id, s.billed_minutes, s.price_per_minute, s.covered_minutes)
                     INSERT INTO live_events (session_id, kind, data)
                     SELECT id, 'minute_billed', jsonb_build_object('minute', billed_minutes,
                            'credits', billed_minutes * price_per_minute, 'covered_minutes', covered_minutes)
                     FROM b RETURNING session_id",
                    &[&cfg.low_credit_minutes, &cfg.max_minutes, &period],
                )
                .await
                .map_err(q)?;
            metrics.minutes_billed.inc_by(rows.len() as u64);
            let full = rows.len() == 1000;
            woken.extend(rows.iter().map(|r| r.get::<_, Uuid>(0)));
            if !full {
                break;
            }
        }
    }
    for id in woken.drain(..) {
        events::wake(state, id).await;
    }
    // Sessions that need pricing.
    let ids: Vec<Uuid> = {
        let c = platform::db::conn(&state.pool).await?;
        c.query(
            "SELECT id FROM live_sessions WHERE status = 'active' AND next_bill_at <= now()
             UNION SELECT id FROM live_sessions WHERE status = 'ended' AND NOT settled
             UNION SELECT session_id FROM live_holds
                   WHERE status = 'pending' AND (seq > 1 OR created_at <= now() - interval '10 seconds')
             LIMIT 5000",
            &[],
        )
        .await
        .map_err(q)?
        .iter()
        .map(|r| r.get(0))
        .collect()
    };
    // One connection each; leave some of the pool to the HTTP handlers.
    let concurrency = cfg
        .concurrency
        .min(state.pool.status().max_size.saturating_sub(2).max(1));
    futures_util::stream::iter(ids)
        .for_each_concurrent(concurrency, |id| async move {
            if let Err(e) = process(state, metrics, id).await {
                metrics.pricing_errors.inc();
                tracing::warn!(session = %id, error = %e.message, cause = ?e.cause, "live session not processed; retrying");
            }
        })
        .await;
    Ok(())
}

struct Session {
    user: Uuid,
    reader: Uuid,
    kind: String,
    status: String,
    end_reason: Option<String>,
    code: String,
    price: i64,
    billed: i32,
    covered: i32,
    warned: bool,
    settled: bool,
    due: bool,
}

async fn load<C: deadpool_postgres::GenericClient>(c: &C, id: Uuid) -> Result<Session, AppError> {
    let r = c
        .query_one(
            "SELECT user_id, reader_id, kind, status, end_reason, service_code, price_per_minute,
                    billed_minutes, covered_minutes, low_credit_warned, settled,
                    status = 'active' AND next_bill_at <= now()
             FROM live_sessions WHERE id = $1",
            &[&id],
        )
        .await
        .map_err(q)?;
    Ok(Session {
        user: r.get(0),
        reader: r.get(1),
        kind: r.get(2),
        status: r.get(3),
        end_reason: r.get(4),
        code: r.get(5),
        price: r.get(6),
        billed: r.get(7),
        covered: r.get(8),
        warned: r.get(9),
        settled: r.get(10),
        due: r.get(11),
    })
}

/// Everything a session needs from pricing now, under its advisory lock,
/// on one connection (so `live.concurrency` sessions need as many
/// connections, never two each).
async fn process(state: &AppState, metrics: &LiveMetrics, id: Uuid) -> Result<(), AppError> {
    let mut c = platform::db::conn(&state.pool).await?;
    let key = id.to_string();
    let got: bool = c
        .query_one(
            "SELECT pg_try_advisory_lock(hashtextextended($1::text, 7))",
            &[&key],
        )
        .await
        .map_err(q)?
        .get(0);
    if !got {
        return Ok(());
    }
    let r = process_locked(state, metrics, &mut c, id).await;
    let unlocked = c
        .query_one(
            "SELECT pg_advisory_unlock(hashtextextended($1::text, 7))",
            &[&key],
        )
        .await;
    if unlocked.is_err() {
        // Never hand a connection that may still hold the lock back to the pool.
        drop(deadpool_postgres::Object::take(c));
    }
    r
}

type Conn = deadpool_postgres::Object;

async fn process_locked(
    state: &AppState,
    metrics: &LiveMetrics,
    c: &mut Conn,
    id: Uuid,
) -> Result<(), AppError> {
    let cfg = &state.cfg.live;
    resolve_pending(state, c, id).await?;
    let period = f64::from(u32::try_from(cfg.billing_period_secs).unwrap_or(60));
    // Bill due minutes one at a time (a restart may have left several due).
    for _ in 0..1000 {
        let s = load(&*c, id).await?;
        if s.status != "active" || !s.due {
            break;
        }
        let minute = s.billed + 1;
        let tx = c.transaction().await.map_err(q)?;
        if s.billed >= cfg.max_minutes || s.covered < minute {
            let reason = if s.billed >= cfg.max_minutes {
                "time_limit"
            } else {
                "credit_exhausted"
            };
            tx.execute(
                "UPDATE live_sessions SET status = 'ended', end_reason = $2, ended_at = now()
                 WHERE id = $1 AND status = 'active' AND billed_minutes = $3",
                &[&id, &reason, &s.billed],
            )
            .await
            .map_err(q)?;
            tx.commit().await.map_err(q)?;
            break;
        }
        let n = tx
            .execute(
                "UPDATE live_sessions SET billed_minutes = $2, next_bill_at = next_bill_at + make_interval(secs => $3)
                 WHERE id = $1 AND status = 'active' AND billed_minutes = $4",
                &[&id, &minute, &period, &s.billed],
            )
            .await
            .map_err(q)?;
        if n == 0 {
            break;
        }
        events::record(
            &tx,
            id,
            kind::MINUTE_BILLED,
            json!({"minute": minute, "credits": i64::from(minute) * s.price, "covered_minutes": s.covered}),
        )
        .await?;
        tx.commit().await.map_err(q)?;
        metrics.minutes_billed.inc();
        events::wake(state, id).await;
        if s.covered - minute <= cfg.low_credit_minutes {
            extend(state, c, id, &s, minute).await?;
        }
        capture_used(state, c, id).await?;
    }
    let s = load(&*c, id).await?;
    if s.status == "ended" && !s.settled {
        settle(state, metrics, c, id, &s).await?;
    }
    Ok(())
}

/// Repeats the pricing request of every pending hold (same key, same
/// amount): activates it, or marks it failed when pricing refuses it.
async fn resolve_pending(state: &AppState, c: &mut Conn, id: Uuid) -> Result<(), AppError> {
    let rows = {
        c.query(
            "SELECT h.seq, h.amount, s.user_id, s.service_code FROM live_holds h
             JOIN live_sessions s ON s.id = h.session_id
             WHERE h.session_id = $1 AND h.status = 'pending' ORDER BY h.seq",
            &[&id],
        )
        .await
        .map_err(q)?
    };
    for r in rows {
        let (seq, amount, user, code): (i32, i64, Uuid, String) =
            (r.get(0), r.get(1), r.get(2), r.get(3));
        match place_hold(state, id, user, seq, amount, &code).await {
            Ok(hold) => {
                activate_hold(&*c, id, seq, hold).await?;
            }
            Err(e) if transient(&e) => return Err(e),
            Err(e) => {
                tracing::info!(session = %id, seq, error = %e.message, "a pending hold was refused");
                c.execute(
                    "UPDATE live_holds SET status = 'failed', settled_at = now()
                     WHERE session_id = $1 AND seq = $2 AND status = 'pending'",
                    &[&id, &seq],
                )
                .await
                .map_err(q)?;
            }
        }
    }
    Ok(())
}

/// Holds more minutes (a block, or as many as the balance covers); warns
/// once when nothing more can be held.
async fn extend(
    state: &AppState,
    c: &mut Conn,
    id: Uuid,
    s: &Session,
    billed: i32,
) -> Result<(), AppError> {
    let cfg = &state.cfg.live;
    let mut minutes = cfg.extend_block_minutes;
    for attempt in 0..2 {
        let seq = {
            let amount = i64::from(minutes) * s.price;
            let row = c
                .query_one(
                    "INSERT INTO live_holds (session_id, seq, minutes, amount, status)
                     SELECT $1, COALESCE(max(seq), 0) + 1, $2, $3, 'pending' FROM live_holds WHERE session_id = $1
                     RETURNING seq",
                    &[&id, &minutes, &amount],
                )
                .await
                .map_err(q)?;
            row.get::<_, i32>(0)
        };
        let amount = i64::from(minutes) * s.price;
        match place_hold(state, id, s.user, seq, amount, &s.code).await {
            Ok(hold) => {
                let tx = c.transaction().await.map_err(q)?;
                if activate_hold(&tx, id, seq, hold).await? {
                    events::record(
                        &tx,
                        id,
                        kind::CREDIT_HELD,
                        json!({"minutes": minutes, "covered_minutes": s.covered + minutes}),
                    )
                    .await?;
                }
                tx.commit().await.map_err(q)?;
                events::wake(state, id).await;
                return Ok(());
            }
            Err(e) if e.code == ErrorCode::InsufficientCredits => {
                c.execute(
                    "UPDATE live_holds SET status = 'failed', settled_at = now()
                     WHERE session_id = $1 AND seq = $2 AND status = 'pending'",
                    &[&id, &seq],
                )
                .await
                .map_err(q)?;
                if attempt == 0 {
                    let avail = available(state, s.user).await?;
                    let affordable = avail / s.price;
                    if affordable >= 1 {
                        minutes = i32::try_from(affordable.min(i64::from(minutes))).unwrap_or(1);
                        continue;
                    }
                }
                break;
            }
            Err(e) => return Err(e),
        }
    }
    if !s.warned {
        let tx = c.transaction().await.map_err(q)?;
        let n = tx
            .execute(
                "UPDATE live_sessions SET low_credit_warned = true WHERE id = $1 AND NOT low_credit_warned",
                &[&id],
            )
            .await
            .map_err(q)?;
        if n == 1 {
            events::record(
                &tx,
                id,
                kind::LOW_CREDIT,
                json!({"minutes_left": s.covered - billed, "price_per_minute": s.price}),
            )
            .await?;
        }
        tx.commit().await.map_err(q)?;
        events::wake(state, id).await;
    }
    Ok(())
}

/// Active holds with every minute used are captured in full, in order.
async fn capture_used(state: &AppState, c: &mut Conn, id: Uuid) -> Result<(), AppError> {
    let plan = plan(c, id).await?;
    for h in plan.into_iter().filter(|h| h.used == h.minutes) {
        finish_hold(state, c, id, &h).await?;
    }
    Ok(())
}

struct PlannedHold {
    seq: i32,
    minutes: i32,
    used: i32,
    hold: Uuid,
    price: i64,
    user: Uuid,
}

/// The active holds of a session and how many of each one's minutes are
/// used (holds cover minutes in sequence order; failed ones cover none).
async fn plan(c: &mut Conn, id: Uuid) -> Result<Vec<PlannedHold>, AppError> {
    let s = c
        .query_one(
            "SELECT billed_minutes, price_per_minute, user_id FROM live_sessions WHERE id = $1",
            &[&id],
        )
        .await
        .map_err(q)?;
    let billed: i32 = s.get(0);
    let price: i64 = s.get(1);
    let user: Uuid = s.get(2);
    let rows = c
        .query(
            "SELECT seq, minutes, status, hold_id FROM live_holds
             WHERE session_id = $1 AND status IN ('active', 'captured', 'released') ORDER BY seq",
            &[&id],
        )
        .await
        .map_err(q)?;
    let mut start = 0i32;
    let mut out = Vec::new();
    for r in rows {
        let minutes: i32 = r.get(1);
        let used = (billed - start).clamp(0, minutes);
        start += minutes;
        let status: String = r.get(2);
        if status == "active" {
            if let Some(hold) = r.get::<_, Option<Uuid>>(3) {
                out.push(PlannedHold {
                    seq: r.get(0),
                    minutes,
                    used,
                    hold,
                    price,
                    user,
                });
            }
        }
    }
    Ok(out)
}

/// Captures a hold's used minutes (releases it when none were used).
async fn finish_hold(
    state: &AppState,
    c: &mut Conn,
    id: Uuid,
    h: &PlannedHold,
) -> Result<(), AppError> {
    let amount = i64::from(h.used) * h.price;
    let outcome = if amount > 0 {
        capture(state, id, h.user, h.seq, h.hold, amount).await
    } else {
        release(state, id, h.user, h.seq, h.hold).await
    };
    let (status, captured) = match outcome {
        Ok(()) if amount > 0 => ("captured", amount),
        Ok(()) => ("released", 0),
        Err(e) if matches!(e.code, ErrorCode::HoldExpired | ErrorCode::HoldNotFound) => {
            // Pricing already gave the credits back (the hold outlived its
            // lifetime): nothing can be captured any more.
            tracing::warn!(session = %id, seq = h.seq, error = %e.message, "hold gone before capture; minutes not charged");
            ("released", 0)
        }
        Err(e) => return Err(e),
    };
    c.execute(
        "WITH h AS (UPDATE live_holds SET status = $3, captured = $4, settled_at = now()
                    WHERE session_id = $1 AND seq = $2 AND status = 'active' RETURNING captured)
         UPDATE live_sessions s SET credits_captured = s.credits_captured + h.captured FROM h WHERE s.id = $1",
        &[&id, &h.seq, &status, &captured],
    )
    .await
    .map_err(q)?;
    Ok(())
}

/// After the end: the used minutes captured, the rest released, the
/// reader free again, `ended` sent and `evt.media.live.session.ended` put
/// in the outbox.
async fn settle(
    state: &AppState,
    metrics: &LiveMetrics,
    c: &mut Conn,
    id: Uuid,
    s: &Session,
) -> Result<(), AppError> {
    let pending = {
        c.query_one(
            "SELECT count(*) FROM live_holds WHERE session_id = $1 AND status = 'pending'",
            &[&id],
        )
        .await
        .map_err(q)?
        .get::<_, i64>(0)
    };
    if pending > 0 {
        // resolve_pending could not reach pricing: next pass.
        return Ok(());
    }
    for h in plan(c, id).await? {
        finish_hold(state, c, id, &h).await?;
    }
    let tx = c.transaction().await.map_err(q)?;
    let row = tx
        .query_opt(
            "UPDATE live_sessions SET settled = true WHERE id = $1 AND NOT settled
             RETURNING billed_minutes, credits_captured, end_reason, started_at IS NOT NULL",
            &[&id],
        )
        .await
        .map_err(q)?;
    let Some(row) = row else {
        return Ok(());
    };
    let minutes: i32 = row.get(0);
    let credits: i64 = row.get(1);
    let reason: String = row.get(2);
    tx.execute(
        "UPDATE readers SET minutes_served = minutes_served + $2,
           status = CASE WHEN status = 'busy' AND NOT EXISTS (
               SELECT 1 FROM live_sessions WHERE reader_id = $1 AND status IN ('accepted', 'active'))
             THEN 'online' ELSE status END,
           updated_at = now()
         WHERE user_id = $1",
        &[&s.reader, &i64::from(minutes)],
    )
    .await
    .map_err(q)?;
    events::record(
        &tx,
        id,
        kind::ENDED,
        json!({"reason": reason, "minutes": minutes, "credits": credits, "price_per_minute": s.price}),
    )
    .await?;
    let e = EventEnvelope::new(
        crate::config::SERVICE,
        common::subjects::media::EVT_LIVE_SESSION_ENDED,
        1,
        json!({
            "session_id": id, "user_id": s.user, "reader_id": s.reader, "kind": s.kind,
            "service_code": s.code, "reason": reason, "minutes": minutes, "credits": credits,
        }),
    );
    platform::outbox::enqueue(&tx, &e, &CallContext::current()).await?;
    tx.commit().await.map_err(q)?;
    state.outbox.notify();
    metrics
        .sessions_ended
        .get_or_create(&vec![("reason".to_owned(), reason.clone())])
        .inc();
    let _ = &s.end_reason;
    events::wake(state, id).await;
    tracing::info!(session = %id, reason, minutes, credits, "live session settled");
    Ok(())
}
