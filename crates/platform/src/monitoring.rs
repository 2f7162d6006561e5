//! What the monitor may ask every service to do, beyond reporting: the
//! request and reply types of the endpoints [`crate::runtime::Runtime::rpc_server`]
//! registers for it (callable by the `monitor` service only), and what they do.
//!
//! * `<service>.db.signal` ([`SignalRequest`] → [`SignalOutcome`]): cancel
//!   a query running too long, or end a session idle in a transaction too
//!   long, on one of this service's own database sessions.
//! * `<service>.consumers.ensure` ([`ConsumersRequest`] → `Vec<`[`ConsumerState`]`>`):
//!   report this process's durable JetStream consumers and re-create the
//!   missing ones.
//! * `<service>.outbox.relay` (`{}` → [`crate::outbox::OutboxStats`]): wake
//!   the outbox relay now.
//!
//! Nothing in a request becomes SQL text or a JetStream name: the service
//! signals only sessions it can prove are its own, and re-creates only the
//! consumers it runs, with their own configuration.

use crate::error::AppError;
use crate::nats::{Bus, ConsumerSpec};
use async_nats::jetstream;
use chrono::{DateTime, Utc};
use common::ErrorCode;
use deadpool_postgres::GenericClient;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The signal `<service>.db.signal` sends to a database session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SignalAction {
    /// `pg_cancel_backend`: stops the running statement; the session stays.
    /// Only for a session that is `active` (running a statement).
    Cancel,
    /// `pg_terminate_backend`: ends the session, rolling back its open
    /// transaction. Only for a session idle in a transaction.
    Terminate,
}

impl SignalAction {
    pub fn as_str(self) -> &'static str {
        match self {
            SignalAction::Cancel => "cancel",
            SignalAction::Terminate => "terminate",
        }
    }
}

/// A request to signal one of the service's database sessions
/// (`<service>.db.signal`). The service checks everything itself, in the
/// same statement that signals: the session must have this service's
/// `application_name`, the service's database user, the given
/// `backend_start` (so a pid reused by a newer session is never hit), not
/// be the session answering the request, and still be over the limit:
/// running its statement for at least `min_age_ms` (`cancel`), or idle in
/// a transaction for at least `min_age_ms` (`terminate`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignalRequest {
    /// The backend's process id, as `pg_stat_activity.pid` shows it.
    pub pid: i32,
    pub action: SignalAction,
    /// `pg_stat_activity.backend_start` of the session, as observed.
    pub backend_start: DateTime<Utc>,
    /// How long the statement must have run (`cancel`, from `query_start`)
    /// or the session have been idle in its transaction (`terminate`, from
    /// `state_change`), in milliseconds.
    pub min_age_ms: u64,
    /// Report whether the session would be signalled, without signalling.
    #[serde(default)]
    pub dry_run: bool,
}

/// What `<service>.db.signal` did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignalOutcome {
    pub pid: i32,
    pub action: SignalAction,
    pub dry_run: bool,
    /// Whether the session was signalled (with `dry_run`: whether it
    /// would have been).
    pub signalled: bool,
    /// What was done, or why nothing was ("no such session of <service>",
    /// "no longer over the limit ...", ...).
    pub reason: String,
}

/// A request to check (and, unless `dry_run`, re-create) the durable
/// consumers this process runs (`<service>.consumers.ensure`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsumersRequest {
    /// Report only: create nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// One durable consumer this process runs, as `<service>.consumers.ensure`
/// found it (and left it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerState {
    /// The durable name as the service's [`ConsumerSpec`] gives it, before
    /// the deployment prefix.
    pub durable: String,
    /// The stream it reads, with the deployment prefix (as on the server).
    pub stream: String,
    /// The consumer's subject filter, with the deployment prefix (as on the
    /// server).
    pub filter_subject: String,
    /// Whether the consumer existed on the server when asked.
    pub existed: bool,
    /// Whether this request created it (never with `dry_run`, nor when the
    /// stream itself is missing: streams are not created here).
    pub created: bool,
    /// Messages in the stream not yet delivered to it (`num_pending`).
    pub pending: u64,
    /// Messages delivered and not yet acknowledged.
    pub ack_pending: u64,
    /// Messages delivered more than once and not yet acknowledged.
    pub redelivered: u64,
}

/// Signals the checks pass for, and signals; one statement, so the checks
/// and the signal see the same `pg_stat_activity` row. `pg_cancel_backend`
/// and `pg_terminate_backend` run only for the row the WHERE clause keeps.
const SIGNAL_SQL: &str = "\
SELECT CASE WHEN $3::text = 'cancel' THEN pg_cancel_backend(pid) ELSE pg_terminate_backend(pid) END
FROM pg_stat_activity
WHERE pid = $1
  AND backend_start = $2
  AND application_name = $4::text
  AND usename = current_user
  AND pid <> pg_backend_pid()
  AND CASE WHEN $3::text = 'cancel'
           THEN state = 'active'
                AND (extract(epoch FROM now() - query_start) * 1000)::float8 >= $5::float8
           ELSE state IN ('idle in transaction', 'idle in transaction (aborted)')
                AND (extract(epoch FROM now() - state_change) * 1000)::float8 >= $5::float8
      END";

/// [`SIGNAL_SQL`]'s checks without the signal (dry run).
const WOULD_SIGNAL_SQL: &str = "\
SELECT true
FROM pg_stat_activity
WHERE pid = $1
  AND backend_start = $2
  AND application_name = $4::text
  AND usename = current_user
  AND pid <> pg_backend_pid()
  AND CASE WHEN $3::text = 'cancel'
           THEN state = 'active'
                AND (extract(epoch FROM now() - query_start) * 1000)::float8 >= $5::float8
           ELSE state IN ('idle in transaction', 'idle in transaction (aborted)')
                AND (extract(epoch FROM now() - state_change) * 1000)::float8 >= $5::float8
      END";

/// Why a session was not signalled: the same checks, one by one.
const EXPLAIN_SQL: &str = "\
SELECT application_name = $2::text AND usename = current_user,
       backend_start = $3,
       pid = pg_backend_pid(),
       state,
       (extract(epoch FROM now() - query_start) * 1000)::float8,
       (extract(epoch FROM now() - state_change) * 1000)::float8
FROM pg_stat_activity
WHERE pid = $1";

/// Cancels or terminates one of `service`'s own database sessions when
/// every check of [`SignalRequest`] passes (see there), using `c` (a
/// connection of the service's pool, so `current_user` is the service's).
#[tracing::instrument(skip_all, fields(pid = req.pid, action = req.action.as_str(), dry_run = req.dry_run))]
pub async fn signal_session<C: GenericClient>(
    c: &C,
    service: &str,
    req: &SignalRequest,
) -> Result<SignalOutcome, AppError> {
    if req.pid <= 0 {
        return Err(AppError::validation(
            "pid",
            "must be a positive backend process id",
        ));
    }
    // Milliseconds as float8: any u64 compares correctly (no interval overflow).
    let min_age_ms = req.min_age_ms as f64;
    let action = req.action.as_str();
    let outcome = |signalled: bool, reason: String| SignalOutcome {
        pid: req.pid,
        action: req.action,
        dry_run: req.dry_run,
        signalled,
        reason,
    };
    let sql = if req.dry_run {
        WOULD_SIGNAL_SQL
    } else {
        SIGNAL_SQL
    };
    let row = c
        .query_opt(
            sql,
            &[&req.pid, &req.backend_start, &action, &service, &min_age_ms],
        )
        .await
        .map_err(crate::db::q)?;
    if let Some(row) = row {
        let done: Option<bool> = row.get(0);
        let done = done.unwrap_or(false);
        let reason = match (req.dry_run, done, req.action) {
            (true, _, SignalAction::Cancel) => "would cancel the running statement".to_owned(),
            (true, _, SignalAction::Terminate) => {
                "would terminate the session idle in its transaction".to_owned()
            }
            (false, true, SignalAction::Cancel) => "cancelled the running statement".to_owned(),
            (false, true, SignalAction::Terminate) => {
                "terminated the session idle in its transaction".to_owned()
            }
            (false, false, _) => format!(
                "PostgreSQL did not signal pid {} (the session may just have ended)",
                req.pid
            ),
        };
        if done && !req.dry_run {
            tracing::warn!(
                pid = req.pid,
                action,
                min_age_ms = req.min_age_ms,
                "signalled a database session of this service at the monitor's request"
            );
        }
        return Ok(outcome(done, reason));
    }
    let reason = explain(c, service, req, min_age_ms).await?;
    Ok(outcome(false, reason))
}

/// Why [`SIGNAL_SQL`] kept no row (looked up again: the session may have
/// changed in between, and then says so).
async fn explain<C: GenericClient>(
    c: &C,
    service: &str,
    req: &SignalRequest,
    min_age_ms: f64,
) -> Result<String, AppError> {
    let row = c
        .query_opt(EXPLAIN_SQL, &[&req.pid, &service, &req.backend_start])
        .await
        .map_err(crate::db::q)?;
    let Some(row) = row else {
        return Ok(format!("no such session of {service}"));
    };
    let ours: Option<bool> = row.get(0);
    let same_session: Option<bool> = row.get(1);
    let is_self: Option<bool> = row.get(2);
    let state: Option<String> = row.get(3);
    let query_ms: Option<f64> = row.get(4);
    let state_ms: Option<f64> = row.get(5);
    if ours != Some(true) {
        return Ok(format!("no such session of {service}"));
    }
    if same_session != Some(true) {
        return Ok(format!(
            "no such session of {service}: pid {} now belongs to a newer session",
            req.pid
        ));
    }
    if is_self == Some(true) {
        return Ok("refusing to signal the session answering this request".to_owned());
    }
    let state = state.unwrap_or_else(|| "unknown".to_owned());
    let (right_state, age) = match req.action {
        SignalAction::Cancel => (state == "active", query_ms),
        SignalAction::Terminate => (
            state == "idle in transaction" || state == "idle in transaction (aborted)",
            state_ms,
        ),
    };
    if !right_state {
        let wanted = match req.action {
            SignalAction::Cancel => "running a statement",
            SignalAction::Terminate => "idle in a transaction",
        };
        return Ok(format!("no longer {wanted} (now {state})"));
    }
    match age {
        Some(age) if age >= min_age_ms => {
            Ok("the session changed while it was checked; nothing was signalled".to_owned())
        }
        Some(age) => Ok(format!(
            "no longer over the limit ({} ms < {} ms)",
            age.round(),
            req.min_age_ms
        )),
        None => Ok("no longer over the limit (no start time)".to_owned()),
    }
}

fn messaging(e: impl std::error::Error + Send + Sync + 'static) -> AppError {
    AppError::new(ErrorCode::MessagingUnavailable, "messaging is unavailable").with_cause(e)
}

/// Looks up every durable consumer in `specs` (once per stream and
/// durable) and, unless `dry_run`, creates the missing ones with
/// [`crate::nats::consumer_config`], the configuration
/// [`crate::nats::run_consumer`] uses; a running consumer loop picks a
/// re-created consumer up within about two seconds. A missing stream is
/// reported (not existed, not created) and left alone.
#[tracing::instrument(skip_all, fields(consumers = specs.len(), dry_run))]
pub async fn ensure_consumers(
    bus: &Bus,
    specs: &[ConsumerSpec],
    dry_run: bool,
) -> Result<Vec<ConsumerState>, AppError> {
    use jetstream::context::{ConsumerInfoErrorKind, GetStreamErrorKind};
    let mut seen = BTreeSet::new();
    let mut states = Vec::with_capacity(specs.len());
    for spec in specs {
        let stream_name = bus.stream_name(spec.producer);
        if !seen.insert((stream_name.clone(), spec.durable)) {
            continue;
        }
        let config = crate::nats::consumer_config(bus, spec);
        let mut state = ConsumerState {
            durable: spec.durable.to_owned(),
            stream: stream_name.clone(),
            filter_subject: config.filter_subject.clone(),
            existed: false,
            created: false,
            pending: 0,
            ack_pending: 0,
            redelivered: 0,
        };
        let stream = match bus.js.get_stream(&stream_name).await {
            Ok(s) => s,
            Err(e)
                if matches!(e.kind(), GetStreamErrorKind::JetStream(ref j)
                    if j.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND) =>
            {
                states.push(state);
                continue;
            }
            Err(e) => return Err(messaging(e)),
        };
        let durable = bus.name(spec.durable);
        let info = match stream.consumer_info(&durable).await {
            Ok(info) => {
                state.existed = true;
                Some(info)
            }
            Err(e) if e.kind() == ConsumerInfoErrorKind::StreamNotFound => None,
            Err(e) if e.kind() == ConsumerInfoErrorKind::NotFound => {
                if dry_run {
                    None
                } else {
                    let consumer: jetstream::consumer::PullConsumer =
                        stream.create_consumer(config).await.map_err(messaging)?;
                    state.created = true;
                    tracing::warn!(
                        consumer = spec.durable,
                        stream = %stream_name,
                        "re-created a missing durable consumer at the monitor's request"
                    );
                    Some(consumer.cached_info().clone())
                }
            }
            Err(e) => return Err(messaging(e)),
        };
        if let Some(info) = info {
            state.pending = info.num_pending;
            state.ack_pending = u64::try_from(info.num_ack_pending).unwrap_or(u64::MAX);
            state.redelivered = u64::try_from(info.num_redelivered).unwrap_or(u64::MAX);
        }
        states.push(state);
    }
    Ok(states)
}
