//! What happened in a session, in order: stored in `live_events` in the
//! transaction that changed the session, then announced on core NATS
//! (`media.live.session.<id>`, a wake-up with no content) so that the
//! instance holding a participant's stream reads the new rows. A stream
//! replays from `Last-Event-ID` (or `?after=`), so a reconnecting client
//! misses nothing, and it polls now and then in case a wake-up was lost.

use super::{path_id, Side};
use crate::state::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use common::ErrorBody;
use deadpool_postgres::GenericClient;
use futures_util::StreamExt;
use platform::auth::Authenticated;
use platform::db::q;
use platform::AppError;
use serde::Deserialize;
use std::time::Duration;
use uuid::Uuid;

/// Event kinds a stream carries.
pub mod kind {
    pub const REQUESTED: &str = "requested";
    pub const ACCEPTED: &str = "accepted";
    pub const JOINED: &str = "joined";
    pub const STARTED: &str = "started";
    pub const MINUTE_BILLED: &str = "minute_billed";
    pub const CREDIT_HELD: &str = "credit_held";
    pub const LOW_CREDIT: &str = "low_credit";
    pub const MESSAGE: &str = "message";
    pub const ENDED: &str = "ended";
}

/// The NATS subject that announces new events of a session.
pub fn subject(session: Uuid) -> String {
    format!("media.live.session.{session}")
}

/// Stores one event (in the caller's transaction); returns its id.
pub async fn record<C: GenericClient>(
    c: &C,
    session: Uuid,
    kind: &str,
    data: serde_json::Value,
) -> Result<i64, AppError> {
    let row = c
        .query_one(
            "INSERT INTO live_events (session_id, kind, data) VALUES ($1, $2, $3) RETURNING id",
            &[&session, &kind, &data],
        )
        .await
        .map_err(q)?;
    Ok(row.get(0))
}

/// Announces that `session` has new events (after the commit). A lost
/// announcement only delays a stream until its next poll.
pub async fn wake(state: &AppState, session: Uuid) {
    let subject = state.bus.subject(&subject(session));
    if let Err(e) = state.bus.client.publish(subject, bytes::Bytes::new()).await {
        tracing::debug!(error = %e, %session, "session wake-up not published");
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct After {
    /// Replay the events after this id (as `Last-Event-ID` does).
    #[param(minimum = 0)]
    pub after: Option<i64>,
}

/// The session's events as Server-Sent Events.
#[utoipa::path(get, path = "/api/v1/live/sessions/{id}/events",
    params(("id" = String, Path, format = Uuid, description = "session id"), After,
        ("Last-Event-ID" = Option<String>, Header, description = "the id of the last event received: the stream resumes after it")),
    responses(
        (status = 200, description = "`text/event-stream`: events `requested`, `accepted`, `joined`, `started`, `minute_billed` ({minute, credits, covered_minutes}), `credit_held`, `low_credit` ({minutes_left}), `message` (a chat message), `ended` ({reason, minutes, credits}); each with its id. The stream closes after `ended`.",
         content((String = "text/event-stream"))),
        (status = 401, body = ErrorBody, description = "unauthorized"),
        (status = 404, body = ErrorBody, description = "not_found (no such session of the caller's)"),
        (status = 422, body = ErrorBody, description = "validation_failed (after or Last-Event-ID)")),
    security(("internal_token" = [])))]
pub async fn stream(
    state: web::Data<AppState>,
    Authenticated(p): Authenticated,
    path: web::Path<String>,
    query: web::Query<After>,
    req: HttpRequest,
) -> Result<HttpResponse, AppError> {
    let id = path_id(&path, "session")?;
    let header = req
        .headers()
        .get("last-event-id")
        .map(|v| {
            v.to_str()
                .ok()
                .and_then(|s| s.trim().parse::<i64>().ok())
                .filter(|n| *n >= 0)
                .ok_or_else(|| {
                    AppError::validation("Last-Event-ID", "must be an event id from this stream")
                })
        })
        .transpose()?;
    if query.after.is_some_and(|a| a < 0) {
        return Err(AppError::validation("after", "must be 0 or more"));
    }
    let after = header.or(query.after).unwrap_or(0);
    super::sessions::participant(&state, p.user_id.as_uuid(), id).await?;
    // Subscribe before the first read, so nothing falls between them.
    let sub = state
        .bus
        .client
        .subscribe(state.bus.subject(&subject(id)))
        .await
        .map_err(|e| {
            AppError::new(
                common::ErrorCode::MessagingUnavailable,
                "live updates are unavailable",
            )
            .with_cause(anyhow::anyhow!(e))
        })?;
    let st = state.into_inner();
    let body = futures_util::stream::unfold(
        Follow {
            st,
            session: id,
            last: after,
            sub,
            pending: Vec::new(),
            done: false,
            first: true,
        },
        |mut f| async move {
            loop {
                if let Some(chunk) = f.pending.pop() {
                    return Some((Ok::<_, std::convert::Infallible>(chunk), f));
                }
                if f.done {
                    return None;
                }
                if !f.first {
                    // Until a wake-up, a poll, or a keep-alive comment.
                    let woke = tokio::time::timeout(Duration::from_secs(5), f.sub.next()).await;
                    if let Ok(None) = woke {
                        return None;
                    }
                    if woke.is_err() {
                        f.pending.push(web::Bytes::from_static(b": keep-alive\n\n"));
                    }
                }
                f.first = false;
                match read_after(&f.st, f.session, f.last).await {
                    Ok(rows) => {
                        let mut out = Vec::with_capacity(rows.len());
                        for (eid, kind, data) in rows {
                            f.last = eid;
                            if kind == kind::ENDED {
                                f.done = true;
                            }
                            out.push(web::Bytes::from(format!(
                                "id: {eid}\nevent: {kind}\ndata: {data}\n\n"
                            )));
                        }
                        out.reverse();
                        // Keep-alive (if any) goes after the events.
                        out.append(&mut f.pending);
                        f.pending = out;
                    }
                    Err(e) => {
                        tracing::warn!(error = ?e.cause, session = %f.session, "session events not read");
                        f.pending.push(web::Bytes::from_static(
                            b": events unavailable, retrying\n\n",
                        ));
                    }
                }
            }
        },
    );
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("cache-control", "no-cache"))
        .insert_header(("x-accel-buffering", "no"))
        .streaming(body))
}

struct Follow {
    st: std::sync::Arc<AppState>,
    session: Uuid,
    last: i64,
    sub: async_nats::Subscriber,
    /// Chunks to send, last first.
    pending: Vec<web::Bytes>,
    done: bool,
    first: bool,
}

async fn read_after(
    st: &AppState,
    session: Uuid,
    after: i64,
) -> Result<Vec<(i64, String, serde_json::Value)>, AppError> {
    let c = platform::db::conn(&st.pool).await?;
    let rows = c
        .query(
            "SELECT id, kind, data FROM live_events WHERE session_id = $1 AND id > $2 ORDER BY id LIMIT 500",
            &[&session, &after],
        )
        .await
        .map_err(q)?;
    Ok(rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect())
}

/// The event data of a participant joining.
pub fn joined(side: Side) -> serde_json::Value {
    serde_json::json!({ "side": side.as_str() })
}
