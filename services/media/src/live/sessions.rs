//! A session's lifecycle as its two participants drive it over HTTP.
//!
//! The user requests (the per-minute price is quoted, the first block of
//! minutes held); the reader accepts or declines before the deadline; both
//! get a token (calls) and join (Agora presence or heartbeats); billing
//! starts when both have joined ([`super::billing`] does the rest); either
//! ends it. Every change is one transaction that also stores the event.

use super::events::{self, kind};
use super::{billing, path_id, Kind, Side};
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use common::{ErrorBody, ErrorCode};
use platform::auth::Authenticated;
use platform::db::q;
use platform::http::Json;
use platform::input::Text;
use platform::AppError;
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSession {
    #[schema(value_type = String, format = Uuid)]
    pub reader_id: Uuid,
    pub kind: Kind,
}

/// A session as either participant sees it.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SessionView {
    #[schema(value_type = String, format = Uuid)]
    pub id: Uuid,
    #[schema(value_type = String, format = Uuid)]
    pub user_id: Uuid,
    #[schema(value_type = String, format = Uuid)]
    pub reader_id: Uuid,
    pub reader_name: String,
    pub kind: Kind,
    /// `requested`, `accepted`, `active` or `ended`.
    pub status: String,
    /// Why it ended: `declined`, `timed_out`, `cancelled`, `user_ended`,
    /// `reader_ended`, `no_heartbeat`, `not_joined`, `credit_exhausted`,
    /// `time_limit` or `failed`.
    pub end_reason: Option<String>,
    /// Which participant the caller is: `user` or `reader`.
    pub you_are: String,
    pub service_code: String,
    /// Credits per minute, quoted when the session was requested.
    pub price_per_minute: i64,
    /// Started minutes billed so far.
    pub billed_minutes: i32,
    /// Minutes the held credits cover.
    pub covered_minutes: i32,
    /// Credits for the billed minutes (captured when it ends).
    pub credits: i64,
    /// Credits captured so far.
    pub credits_captured: i64,
    /// Whether the holds were settled after the end (captured/released).
    pub settled: bool,
    pub requested_at: DateTime<Utc>,
    pub accept_deadline: DateTime<Utc>,
    pub accepted_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub user_joined: bool,
    pub reader_joined: bool,
    pub rating: Option<i16>,
    pub review: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SessionList {
    pub sessions: Vec<SessionView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// What a participant joins the Agora channel with.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CallToken {
    pub app_id: String,
    pub channel: String,
    /// The caller's numeric Agora uid in this channel.
    pub uid: u32,
    /// AccessToken2 (`007…`) with RTC join and publish (audio, video, data)
    /// privileges and RTM login for the uid.
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMessage {
    /// 1 to 4,000 characters.
    #[schema(value_type = String, min_length = 1, max_length = 4000)]
    pub body: Text<4000>,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChatMessage {
    #[schema(value_type = String, format = Uuid)]
    pub id: Uuid,
    /// `user` or `reader`.
    pub sender: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MessageList {
    pub messages: Vec<ChatMessage>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rating {
    /// 1 to 5.
    #[schema(minimum = 1, maximum = 5)]
    pub rating: i64,
    #[schema(value_type = Option<String>, max_length = 2000)]
    pub review: Option<Text<2000>>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// `user` (sessions the caller requested, the default) or `reader`
    /// (sessions requested of the caller).
    #[param(pattern = "^(user|reader)$")]
    pub role: Option<String>,
    /// `open` (requested, accepted, active) or `ended`; default both.
    #[param(pattern = "^(open|ended)$")]
    pub status: Option<String>,
    /// Page size, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

pub const COLUMNS: &str = "s.id, s.user_id, s.reader_id, r.display_name, s.kind, s.status, s.end_reason, \
     s.service_code, s.price_per_minute, s.billed_minutes, s.covered_minutes, s.credits_captured, s.settled, \
     s.requested_at, s.accept_deadline, s.accepted_at, s.started_at, s.ended_at, s.user_joined, \
     s.reader_joined, s.rating, s.review, s.channel, s.user_uid, s.reader_uid";

fn view(r: &tokio_postgres::Row, you: Side) -> SessionView {
    let billed: i32 = r.get("billed_minutes");
    let price: i64 = r.get("price_per_minute");
    SessionView {
        id: r.get("id"),
        user_id: r.get("user_id"),
        reader_id: r.get("reader_id"),
        reader_name: r.get("display_name"),
        kind: Kind::parse(r.get("kind")).unwrap_or(Kind::Chat),
        status: r.get("status"),
        end_reason: r.get("end_reason"),
        you_are: you.as_str().into(),
        service_code: r.get("service_code"),
        price_per_minute: price,
        billed_minutes: billed,
        covered_minutes: r.get("covered_minutes"),
        credits: i64::from(billed).saturating_mul(price),
        credits_captured: r.get("credits_captured"),
        settled: r.get("settled"),
        requested_at: r.get("requested_at"),
        accept_deadline: r.get("accept_deadline"),
        accepted_at: r.get("accepted_at"),
        started_at: r.get("started_at"),
        ended_at: r.get("ended_at"),
        user_joined: r.get("user_joined"),
        reader_joined: r.get("reader_joined"),
        rating: r.get("rating"),
        review: r.get("review"),
    }
}

/// A session the caller takes part in, and which side they are (404 for
/// anyone else).
pub async fn participant(
    state: &AppState,
    caller: Uuid,
    id: Uuid,
) -> Result<(tokio_postgres::Row, Side), AppError> {
    let c = platform::db::conn(&state.pool).await?;
    let row = c
        .query_opt(
            &format!(
                "SELECT {COLUMNS} FROM live_sessions s JOIN readers r ON r.user_id = s.reader_id
                 WHERE s.id = $1 AND (s.user_id = $2 OR s.reader_id = $2)"
            ),
            &[&id, &caller],
        )
        .await
        .map_err(q)?
        .ok_or_else(|| AppError::not_found("session"))?;
    let side = if row.get::<_, Uuid>("user_id") == caller {
        Side::User
    } else {
        Side::Reader
    };
    Ok((row, side))
}

async fn reload(state: &AppState, id: Uuid, you: Side) -> Result<SessionView, AppError> {
    let c = platform::db::conn(&state.pool).await?;
    let row = c
        .query_one(
            &format!(
                "SELECT {COLUMNS} FROM live_sessions s JOIN readers r ON r.user_id = s.reader_id WHERE s.id = $1"
            ),
            &[&id],
        )
        .await
        .map_err(q)?;
    Ok(view(&row, you))
}

fn conflict(msg: impl Into<String>) -> AppError {
    AppError::new(ErrorCode::Conflict, msg)
}

/// Request a session with a reader: the per-minute price is quoted and the
/// first block of minutes held (402 when the credits do not cover it).
#[utoipa::path(post, path = "/api/v1/live/sessions", request_body = NewSession,
    responses(
        (status = 201, body = SessionView, description = "requested: the reader has until `accept_deadline` to accept"),
        (status = 400, body = ErrorBody, description = "malformed_json"),
        (status = 401, body = ErrorBody, description = "unauthorized"),
        (status = 402, body = ErrorBody, description = "insufficient_credits (the first block of minutes is not covered; nothing was kept)"),
        (status = 404, body = ErrorBody, description = "not_found (no such reader)"),
        (status = 409, body = ErrorBody, description = "conflict (the reader is not online or does not offer this kind, or the caller already has an open session)"),
        (status = 413, body = ErrorBody, description = "payload_too_large"),
        (status = 415, body = ErrorBody, description = "unsupported_media_type"),
        (status = 422, body = ErrorBody, description = "validation_failed (kind, or a reader requesting themself)"),
        (status = 503, body = ErrorBody, description = "provider_not_configured (voice and video need Agora), or pricing is unavailable")),
    security(("internal_token" = [])))]
pub async fn request_session(
    state: web::Data<AppState>,
    Authenticated(p): Authenticated,
    body: Json<NewSession>,
) -> Result<HttpResponse, AppError> {
    let b = body.0;
    let user = p.user_id.as_uuid();
    if b.reader_id == user {
        return Err(AppError::validation(
            "reader_id",
            "you cannot request a session with yourself",
        ));
    }
    if b.kind.is_call() && !state.cfg.agora.configured() {
        return Err(AppError::new(
            ErrorCode::ProviderNotConfigured,
            "voice and video sessions are unavailable: Agora is not configured (agora.app_id, agora.app_certificate); chat works",
        ));
    }
    let c = platform::db::conn(&state.pool).await?;
    let reader = c
        .query_opt(
            "SELECT status, kinds FROM readers WHERE user_id = $1 AND active",
            &[&b.reader_id],
        )
        .await
        .map_err(q)?
        .ok_or_else(|| AppError::not_found("reader"))?;
    let status: String = reader.get(0);
    let kinds: Vec<String> = reader.get(1);
    if !kinds.iter().any(|k| k == b.kind.as_str()) {
        return Err(conflict(format!(
            "this reader does not offer {} sessions",
            b.kind.as_str()
        )));
    }
    if status != "online" {
        return Err(conflict(format!("the reader is {status}")));
    }
    if c.query_opt(
        "SELECT 1 FROM live_sessions WHERE user_id = $1 AND status IN ('requested', 'accepted', 'active')",
        &[&user],
    )
    .await
    .map_err(q)?
    .is_some()
    {
        return Err(conflict("you already have an open session; end it first"));
    }
    drop(c);
    let code = billing::service_code(&state, b.kind).to_owned();
    let first = state.cfg.live.first_block_minutes;
    let quote = billing::quote(&state, &p, &code, first).await?;
    let price = quote.unit_price;
    if price <= 0 {
        return Err(AppError::new(
            ErrorCode::ServiceUnavailable,
            "this kind of session has no price yet",
        ));
    }
    let amount = price
        .checked_mul(i64::from(first))
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("price overflow")))?;
    let id = Uuid::now_v7();
    let channel = format!("jf-{}", id.simple());
    let deadline = Utc::now()
        + chrono::Duration::seconds(
            i64::try_from(state.cfg.live.accept_timeout_secs).unwrap_or(i64::MAX / 2),
        );
    // The session and its first (pending) hold, before pricing is asked.
    {
        let mut c = platform::db::conn(&state.pool).await?;
        let tx = c.transaction().await.map_err(q)?;
        let r = tx
            .execute(
                "INSERT INTO live_sessions (id, user_id, reader_id, kind, status, service_code,
                   price_per_minute, quote_id, channel, user_uid, reader_uid, accept_deadline)
                 VALUES ($1, $2, $3, $4, 'requested', $5, $6, $7, $8, 1, 2, $9)",
                &[
                    &id,
                    &user,
                    &b.reader_id,
                    &b.kind.as_str(),
                    &code,
                    &price,
                    &quote.id,
                    &channel,
                    &deadline,
                ],
            )
            .await;
        if let Err(e) = r {
            if e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) {
                return Err(conflict("you already have an open session; end it first"));
            }
            return Err(q(e));
        }
        tx.execute(
            "INSERT INTO live_holds (session_id, seq, minutes, amount, status) VALUES ($1, 1, $2, $3, 'pending')",
            &[&id, &first, &amount],
        )
        .await
        .map_err(q)?;
        tx.commit().await.map_err(q)?;
    }
    match billing::place_hold(&state, id, user, 1, amount, &code).await {
        Ok(hold) => {
            let mut c = platform::db::conn(&state.pool).await?;
            let tx = c.transaction().await.map_err(q)?;
            billing::activate_hold(&tx, id, 1, hold).await?;
            events::record(
                &tx,
                id,
                kind::REQUESTED,
                json!({"kind": b.kind.as_str(), "price_per_minute": price, "covered_minutes": first,
                       "accept_deadline": deadline}),
            )
            .await?;
            tx.commit().await.map_err(q)?;
        }
        Err(e) if e.code == ErrorCode::InsufficientCredits => {
            // Nothing was held: the request leaves no trace.
            let mut c = platform::db::conn(&state.pool).await?;
            let tx = c.transaction().await.map_err(q)?;
            tx.execute("DELETE FROM live_holds WHERE session_id = $1", &[&id])
                .await
                .map_err(q)?;
            tx.execute("DELETE FROM live_sessions WHERE id = $1", &[&id])
                .await
                .map_err(q)?;
            tx.commit().await.map_err(q)?;
            return Err(AppError::new(
                ErrorCode::InsufficientCredits,
                format!(
                    "a {} session needs {amount} credits for its first {first} minutes ({price} per minute)",
                    b.kind.as_str()
                ),
            ));
        }
        Err(e) => {
            // The hold may or may not exist: the session ends as failed and
            // settling repeats the same request, then releases it.
            let c = platform::db::conn(&state.pool).await?;
            c.execute(
                "UPDATE live_sessions SET status = 'ended', end_reason = 'failed', ended_at = now() WHERE id = $1",
                &[&id],
            )
            .await
            .map_err(q)?;
            state.live_wake.notify_one();
            return Err(e);
        }
    }
    events::wake(&state, id).await;
    let v = reload(&state, id, Side::User).await?;
    tracing::info!(session = %id, kind = b.kind.as_str(), price, "live session requested");
    Ok(HttpResponse::Created().json(v))
}

/// The caller's sessions (as user, or as reader), newest first.
#[utoipa::path(get, path = "/api/v1/live/sessions", params(ListQuery),
    responses(
        (status = 200, body = SessionList),
        (status = 401, body = ErrorBody, description = "unauthorized"),
        (status = 422, body = ErrorBody, description = "validation_failed (role, status, limit or cursor)")),
    security(("internal_token" = [])))]
pub async fn list_sessions(
    state: web::Data<AppState>,
    Authenticated(p): Authenticated,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    let side = match query.role.as_deref() {
        None | Some("user") => Side::User,
        Some("reader") => Side::Reader,
        Some(_) => return Err(AppError::validation("role", "must be `user` or `reader`")),
    };
    let statuses: &[&str] = match query.status.as_deref() {
        None => &["requested", "accepted", "active", "ended"],
        Some("open") => &["requested", "accepted", "active"],
        Some("ended") => &["ended"],
        Some(_) => return Err(AppError::validation("status", "must be `open` or `ended`")),
    };
    let limit = query.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(AppError::validation("limit", "must be between 1 and 100"));
    }
    let cursor = match &query.cursor {
        None => None,
        Some(c) => Some(
            Uuid::parse_str(c)
                .map_err(|_| AppError::validation("cursor", "is not a cursor from this list"))?,
        ),
    };
    let statuses: Vec<String> = statuses.iter().map(|s| (*s).to_owned()).collect();
    let column = match side {
        Side::User => "s.user_id",
        Side::Reader => "s.reader_id",
    };
    let c = platform::db::conn(&state.pool).await?;
    let rows = c
        .query(
            &format!(
                "SELECT {COLUMNS} FROM live_sessions s JOIN readers r ON r.user_id = s.reader_id
                 WHERE {column} = $1 AND s.status = ANY($2) AND ($3::uuid IS NULL OR s.id < $3)
                 ORDER BY s.id DESC LIMIT $4"
            ),
            &[&p.user_id.as_uuid(), &statuses, &cursor, &(limit + 1)],
        )
        .await
        .map_err(q)?;
    let mut sessions: Vec<SessionView> = rows.iter().map(|r| view(r, side)).collect();
    let n = usize::try_from(limit).unwrap_or(20);
    let next_cursor = if sessions.len() > n {
        sessions.truncate(n);
        sessions.last().map(|s| s.id.to_string())
    } else {
        None
    };
    Ok(HttpResponse::Ok().json(SessionList {
        sessions,
        next_cursor,
    }))
}

/// One of the caller's sessions.
#[utoipa::path(get, path = "/api/v1/live/sessions/{id}",
    params(("id" = String, Path, format = Uuid, description = "session id")),
    responses(
        (status = 200, body = SessionView),
        (status = 401, body = ErrorBody, description = "unauthorized"),
        (status = 404, body = ErrorBody, description = "not_found (no such session of the caller's)")),
    security(("internal_token" = [])))]
pub async fn get_session(
    state: web::Data<AppState>,
    Authenticated(p): Authenticated,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = path_id(&path, "session")?;
    let (row, side) = participant(&state, p.user_id.as_uuid(), id).await?;
    Ok(HttpResponse::Ok().json(view(&row, side)))
}

/// Runs `f` on the locked session row of a participant; `f` returns the
/// events to store. Then wakes streams and the billing loop.
async fn change<F>(state: &AppState, caller: Uuid, id: Uuid, f: F) -> Result<SessionView, AppError>
where
    F: for<'a> FnOnce(
        &'a tokio_postgres::Row,
        Side,
    )
        -> Result<(Vec<String>, Vec<(&'static str, serde_json::Value)>), AppError>,
{
    let mut c = platform::db::conn(&state.pool).await?;
    let tx = c.transaction().await.map_err(q)?;
    let row = tx
        .query_opt(
            &format!(
                "SELECT {COLUMNS} FROM live_sessions s JOIN readers r ON r.user_id = s.reader_id
                 WHERE s.id = $1 AND (s.user_id = $2 OR s.reader_id = $2) FOR UPDATE OF s"
            ),
            &[&id, &caller],
        )
        .await
        .map_err(q)?
        .ok_or_else(|| AppError::not_found("session"))?;
    let side = if row.get::<_, Uuid>("user_id") == caller {
        Side::User
    } else {
        Side::Reader
    };
    let (statements, evs) = f(&row, side)?;
    for s in statements {
        let r = tx.execute(s.as_str(), &[&id]).await;
        if let Err(e) = r {
            if e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) {
                return Err(conflict("the reader is already in another session"));
            }
            return Err(q(e));
        }
    }
    for (k, d) in evs {
        events::record(&tx, id, k, d).await?;
    }
    tx.commit().await.map_err(q)?;
    drop(c);
    state.live_wake.notify_one();
    events::wake(state, id).await;
    reload(state, id, side).await
}

fn status_of(row: &tokio_postgres::Row) -> String {
    row.get("status")
}

/// The reader accepts a requested session.
#[utoipa::path(post, path = "/api/v1/live/sessions/{id}/accept",
    params(("id" = String, Path, format = Uuid, description = "session id")),
    responses(
        (status = 200, body = SessionView),
        (status = 401, body = ErrorBody, description = "unauthorized"),
        (status = 403, body = ErrorBody, description = "forbidden (only the reader accepts)"),
        (status = 404, body = ErrorBody, description = "not_found (no such session of the caller's)"),
        (status = 409, body = ErrorBody, description = "conflict (not waiting for an answer: already accepted, ended or timed out; or the reader is in another session)")),
    security(("internal_token" = [])))]
pub async fn accept(
    state: web::Data<AppState>,
    Authenticated(p): Authenticated,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = path_id(&path, "session")?;
    let v = change(&state, p.user_id.as_uuid(), id, |row, side| {
        if side != Side::Reader {
            return Err(AppError::new(
                ErrorCode::Forbidden,
                "only the reader accepts a session",
            ));
        }
        let status = status_of(row);
        let deadline: DateTime<Utc> = row.get("accept_deadline");
        if status != "requested" {
            return Err(conflict(format!("the session is {status}")));
        }
        if deadline <= Utc::now() {
            return Err(conflict("the request timed out"));
        }
        Ok((
            vec![
                "UPDATE live_sessions SET status = 'accepted', accepted_at = now() WHERE id = $1"
                    .into(),
                "UPDATE readers SET status = 'busy', updated_at = now()
                 WHERE user_id = (SELECT reader_id FROM live_sessions WHERE id = $1)"
                    .into(),
            ],
            vec![(kind::ACCEPTED, json!({}))],
        ))
    })
    .await?;
    Ok(HttpResponse::Ok().json(v))
}

/// The reader declines a requested session (the hold is released).
#[utoipa::path(post, path = "/api/v1/live/sessions/{id}/decline",
    params(("id" = String, Path, format = Uuid, description = "session id")),
    responses(
        (status = 200, body = SessionView),
        (status = 401, body = ErrorBody, description = "unauthorized"),
        (status = 403, body = ErrorBody, description = "forbidden (only the reader declines)"),
        (status = 404, body = ErrorBody, description = "not_found (no such session of the caller's)"),
        (status = 409, body = ErrorBody, description = "conflict (not waiting for an answer)")),
    security(("internal_token" = [])))]
pub async fn decline(
    state: web::Data<AppState>,
    Authenticated(p): Authenticated,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = path_id(&path, "session")?;
    let v = change(&state, p.user_id.as_uuid(), id, |row, side| {
        if side != Side::Reader {
            return Err(AppError::new(
                ErrorCode::Forbidden,
                "only the reader declines a session; the user ends it",
            ));
        }
        let status = status_of(row);
        if status != "requested" {
            return Err(conflict(format!("the session is {status}")));
        }
        Ok((vec![billing::END_SQL_DECLINED.into()], Vec::new()))
    })
    .await?;
    Ok(HttpResponse::Ok().json(v))
}

/// Either participant ends the session (a request not yet accepted is
/// cancelled). Billed minutes are captured and the rest released.
#[utoipa::path(post, path = "/api/v1/live/sessions/{id}/end",
    params(("id" = String, Path, format = Uuid, description = "session id")),
    responses(
        (status = 200, body = SessionView, description = "ended (also when it had already ended: ending is idempotent)"),
        (status = 401, body = ErrorBody, description = "unauthorized"),
        (status = 404, body = ErrorBody, description = "not_found (no such session of the caller's)")),
    security(("internal_token" = [])))]
pub async fn end(
    state: web::Data<AppState>,
    Authenticated(p): Authenticated,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = path_id(&path, "session")?;
    let period = state.cfg.live.billing_period_secs;
    let v = change(&state, p.user_id.as_uuid(), id, |row, side| {
        let status = status_of(row);
        let reason = match (status.as_str(), side) {
            ("ended", _) => return Ok((Vec::new(), Vec::new())),
            ("requested", Side::User) => "cancelled",
            ("requested", Side::Reader) => "declined",
            (_, Side::User) => "user_ended",
            (_, Side::Reader) => "reader_ended",
        };
        Ok((vec![billing::end_sql(reason, period)], Vec::new()))
    })
    .await?;
    Ok(HttpResponse::Ok().json(v))
}

/// The caller's Agora token for a voice or video session.
#[utoipa::path(get, path = "/api/v1/live/sessions/{id}/token",
    params(("id" = String, Path, format = Uuid, description = "session id")),
    responses(
        (status = 200, body = CallToken),
        (status = 401, body = ErrorBody, description = "unauthorized"),
        (status = 404, body = ErrorBody, description = "not_found (no such session of the caller's)"),
        (status = 409, body = ErrorBody, description = "conflict (a chat session, or not accepted yet, or ended)"),
        (status = 503, body = ErrorBody, description = "provider_not_configured (Agora)")),
    security(("internal_token" = [])))]
pub async fn token(
    state: web::Data<AppState>,
    Authenticated(p): Authenticated,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = path_id(&path, "session")?;
    let (row, side) = participant(&state, p.user_id.as_uuid(), id).await?;
    let kind = Kind::parse(row.get("kind")).unwrap_or(Kind::Chat);
    if !kind.is_call() {
        return Err(conflict(
            "a chat session needs no token: send messages and follow the events",
        ));
    }
    let status = status_of(&row);
    if status != "accepted" && status != "active" {
        return Err(conflict(format!(
            "tokens are issued once the reader accepts and until the session ends; it is {status}"
        )));
    }
    let a = &state.cfg.agora;
    if !a.configured() {
        return Err(AppError::new(
            ErrorCode::ProviderNotConfigured,
            "Agora is not configured",
        ));
    }
    let uid_col = match side {
        Side::User => "user_uid",
        Side::Reader => "reader_uid",
    };
    let uid = u32::try_from(row.get::<_, i64>(uid_col))
        .map_err(|_| AppError::internal(anyhow::anyhow!("uid out of range")))?;
    let channel: String = row.get("channel");
    let now = Utc::now();
    let issue_ts = u32::try_from(now.timestamp())
        .map_err(|_| AppError::internal(anyhow::anyhow!("clock out of range")))?;
    let ttl = a.token_ttl_secs;
    let salt: u32 = rand_salt();
    use secrecy::ExposeSecret;
    let token = agora::AccessToken2 {
        app_id: a.app_id.clone(),
        app_certificate: a.app_certificate.expose_secret().to_owned(),
        issue_ts,
        expire: ttl,
        salt,
        services: vec![
            agora::Service::Rtc {
                channel_name: channel.clone(),
                uid: agora::Uid::Number(uid),
                privileges: vec![
                    (agora::rtc::JOIN_CHANNEL, ttl),
                    (agora::rtc::PUBLISH_AUDIO_STREAM, ttl),
                    (agora::rtc::PUBLISH_VIDEO_STREAM, ttl),
                    (agora::rtc::PUBLISH_DATA_STREAM, ttl),
                ],
            },
            agora::Service::Rtm {
                user_id: uid.to_string(),
                privileges: vec![(agora::rtm::LOGIN, ttl)],
            },
        ],
    }
    .build()
    .map_err(|e| AppError::internal(anyhow::anyhow!("agora token: {e}")))?;
    Ok(HttpResponse::Ok().json(CallToken {
        app_id: a.app_id.clone(),
        channel,
        uid,
        token,
        expires_at: now + chrono::Duration::seconds(i64::from(ttl)),
    }))
}

fn rand_salt() -> u32 {
    // Agora's builders draw the salt from 1..=99_999_999.
    let n = Uuid::new_v4().as_u128();
    u32::try_from(n % 99_999_999).unwrap_or(0) + 1
}

/// SQL that records a participant's presence (heartbeat or a message):
/// the first one joins them; both joined starts the session.
pub fn presence_sql(side: Side) -> String {
    let s = side.as_str();
    format!("UPDATE live_sessions SET {s}_seen_at = now(), {s}_joined = true WHERE id = $1")
}

/// If both have joined an accepted session: it starts now.
pub const START_SQL: &str =
    "UPDATE live_sessions SET status = 'active', started_at = now(), next_bill_at = now()
     WHERE id = $1 AND status = 'accepted' AND user_joined AND reader_joined";

/// Events of a presence: `joined` the first time, `started` when both are in.
pub fn presence_events(
    row: &tokio_postgres::Row,
    side: Side,
) -> Vec<(&'static str, serde_json::Value)> {
    let (me, other) = match side {
        Side::User => (
            row.get::<_, bool>("user_joined"),
            row.get::<_, bool>("reader_joined"),
        ),
        Side::Reader => (
            row.get::<_, bool>("reader_joined"),
            row.get::<_, bool>("user_joined"),
        ),
    };
    let mut evs = Vec::new();
    if !me {
        evs.push((kind::JOINED, events::joined(side)));
        if other && status_of(row) == "accepted" {
            evs.push((kind::STARTED, json!({})));
        }
    }
    evs
}

/// A participant is still there. The first heartbeat of each side joins
/// it (for calls, Agora's presence notices do too); billing starts when
/// both have joined. A side silent for `live.heartbeat_timeout_secs` ends
/// the session.
#[utoipa::path(post, path = "/api/v1/live/sessions/{id}/heartbeat",
    params(("id" = String, Path, format = Uuid, description = "session id")),
    responses(
        (status = 200, body = SessionView),
        (status = 401, body = ErrorBody, description = "unauthorized"),
        (status = 404, body = ErrorBody, description = "not_found (no such session of the caller's)"),
        (status = 409, body = ErrorBody, description = "conflict (not accepted yet, or ended)")),
    security(("internal_token" = [])))]
pub async fn heartbeat(
    state: web::Data<AppState>,
    Authenticated(p): Authenticated,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = path_id(&path, "session")?;
    let v = change(&state, p.user_id.as_uuid(), id, |row, side| {
        let status = status_of(row);
        if status != "accepted" && status != "active" {
            return Err(conflict(format!("the session is {status}")));
        }
        Ok((
            vec![presence_sql(side), START_SQL.into()],
            presence_events(row, side),
        ))
    })
    .await?;
    Ok(HttpResponse::Ok().json(v))
}

/// A chat session's messages, oldest first.
#[utoipa::path(get, path = "/api/v1/live/sessions/{id}/messages",
    params(("id" = String, Path, format = Uuid, description = "session id")),
    responses(
        (status = 200, body = MessageList),
        (status = 401, body = ErrorBody, description = "unauthorized"),
        (status = 404, body = ErrorBody, description = "not_found (no such session of the caller's)")),
    security(("internal_token" = [])))]
pub async fn list_messages(
    state: web::Data<AppState>,
    Authenticated(p): Authenticated,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = path_id(&path, "session")?;
    participant(&state, p.user_id.as_uuid(), id).await?;
    let c = platform::db::conn(&state.pool).await?;
    let rows = c
        .query(
            "SELECT id, sender, body, created_at FROM live_messages WHERE session_id = $1 ORDER BY id LIMIT 5000",
            &[&id],
        )
        .await
        .map_err(q)?;
    Ok(HttpResponse::Ok().json(MessageList {
        messages: rows
            .iter()
            .map(|r| ChatMessage {
                id: r.get(0),
                sender: r.get(1),
                body: r.get(2),
                created_at: r.get(3),
            })
            .collect(),
    }))
}

/// Send a chat message: kept with the session and delivered to both
/// participants' event streams (`message`). Counts as a heartbeat.
#[utoipa::path(post, path = "/api/v1/live/sessions/{id}/messages",
    params(("id" = String, Path, format = Uuid, description = "session id")),
    request_body = NewMessage,
    responses(
        (status = 201, body = ChatMessage),
        (status = 400, body = ErrorBody, description = "malformed_json"),
        (status = 401, body = ErrorBody, description = "unauthorized"),
        (status = 404, body = ErrorBody, description = "not_found (no such session of the caller's)"),
        (status = 409, body = ErrorBody, description = "conflict (not a chat session, not accepted yet, or ended)"),
        (status = 413, body = ErrorBody, description = "payload_too_large"),
        (status = 415, body = ErrorBody, description = "unsupported_media_type"),
        (status = 422, body = ErrorBody, description = "validation_failed (body)")),
    security(("internal_token" = [])))]
pub async fn post_message(
    state: web::Data<AppState>,
    Authenticated(p): Authenticated,
    path: web::Path<String>,
    body: Json<NewMessage>,
) -> Result<HttpResponse, AppError> {
    let id = path_id(&path, "session")?;
    let text = body.0.body.into_inner();
    if text.trim().is_empty() {
        return Err(AppError::validation("body", "must not be blank"));
    }
    let caller = p.user_id.as_uuid();
    let mut c = platform::db::conn(&state.pool).await?;
    let tx = c.transaction().await.map_err(q)?;
    let row = tx
        .query_opt(
            &format!(
                "SELECT {COLUMNS} FROM live_sessions s JOIN readers r ON r.user_id = s.reader_id
                 WHERE s.id = $1 AND (s.user_id = $2 OR s.reader_id = $2) FOR UPDATE OF s"
            ),
            &[&id, &caller],
        )
        .await
        .map_err(q)?
        .ok_or_else(|| AppError::not_found("session"))?;
    let side = if row.get::<_, Uuid>("user_id") == caller {
        Side::User
    } else {
        Side::Reader
    };
    if row.get::<_, &str>("kind") != "chat" {
        return Err(conflict(
            "messages are for chat sessions; calls talk over Agora",
        ));
    }
    let status = status_of(&row);
    if status != "accepted" && status != "active" {
        return Err(conflict(format!("the session is {status}")));
    }
    let msg = ChatMessage {
        id: Uuid::now_v7(),
        sender: side.as_str().into(),
        body: text,
        created_at: Utc::now(),
    };
    tx.execute(
        "INSERT INTO live_messages (id, session_id, sender, body, created_at) VALUES ($1, $2, $3, $4, $5)",
        &[&msg.id, &id, &msg.sender, &msg.body, &msg.created_at],
    )
    .await
    .map_err(q)?;
    for s in [presence_sql(side), START_SQL.to_owned()] {
        tx.execute(s.as_str(), &[&id]).await.map_err(q)?;
    }
    for (k, d) in presence_events(&row, side) {
        events::record(&tx, id, k, d).await?;
    }
    let data = serde_json::to_value(&msg).map_err(AppError::internal)?;
    events::record(&tx, id, kind::MESSAGE, data).await?;
    tx.commit().await.map_err(q)?;
    state.live_wake.notify_one();
    events::wake(&state, id).await;
    Ok(HttpResponse::Created().json(msg))
}

/// The user rates an ended session once (1 to 5, with an optional review).
#[utoipa::path(post, path = "/api/v1/live/sessions/{id}/rating",
    params(("id" = String, Path, format = Uuid, description = "session id")),
    request_body = Rating,
    responses(
        (status = 200, body = SessionView),
        (status = 400, body = ErrorBody, description = "malformed_json"),
        (status = 401, body = ErrorBody, description = "unauthorized"),
        (status = 403, body = ErrorBody, description = "forbidden (only the user rates)"),
        (status = 404, body = ErrorBody, description = "not_found (no such session of the caller's)"),
        (status = 409, body = ErrorBody, description = "conflict (not ended, never started, or already rated)"),
        (status = 413, body = ErrorBody, description = "payload_too_large"),
        (status = 415, body = ErrorBody, description = "unsupported_media_type"),
        (status = 422, body = ErrorBody, description = "validation_failed (rating or review)")),
    security(("internal_token" = [])))]
pub async fn rate(
    state: web::Data<AppState>,
    Authenticated(p): Authenticated,
    path: web::Path<String>,
    body: Json<Rating>,
) -> Result<HttpResponse, AppError> {
    let id = path_id(&path, "session")?;
    let b = body.0;
    if !(1..=5).contains(&b.rating) {
        return Err(AppError::validation("rating", "must be between 1 and 5"));
    }
    let rating = i16::try_from(b.rating).unwrap_or(5);
    let review = b
        .review
        .map(Text::into_inner)
        .filter(|r| !r.trim().is_empty());
    let caller = p.user_id.as_uuid();
    let mut c = platform::db::conn(&state.pool).await?;
    let tx = c.transaction().await.map_err(q)?;
    let row = tx
        .query_opt(
            "SELECT user_id, reader_id, status, started_at IS NOT NULL, rating FROM live_sessions
             WHERE id = $1 AND (user_id = $2 OR reader_id = $2) FOR UPDATE",
            &[&id, &caller],
        )
        .await
        .map_err(q)?
        .ok_or_else(|| AppError::not_found("session"))?;
    if row.get::<_, Uuid>(0) != caller {
        return Err(AppError::new(
            ErrorCode::Forbidden,
            "only the user who requested the session rates it",
        ));
    }
    if row.get::<_, &str>(2) != "ended" {
        return Err(conflict("a session is rated after it ends"));
    }
    if !row.get::<_, bool>(3) {
        return Err(conflict("the session never started"));
    }
    if row.get::<_, Option<i16>>(4).is_some() {
        return Err(conflict("the session is already rated"));
    }
    let reader: Uuid = row.get(1);
    tx.execute(
        "UPDATE live_sessions SET rating = $2, review = $3, rated_at = now() WHERE id = $1",
        &[&id, &rating, &review],
    )
    .await
    .map_err(q)?;
    tx.execute(
        "UPDATE readers SET rating_sum = rating_sum + $2, rating_count = rating_count + 1 WHERE user_id = $1",
        &[&reader, &i64::from(rating)],
    )
    .await
    .map_err(q)?;
    tx.commit().await.map_err(q)?;
    Ok(HttpResponse::Ok().json(reload(&state, id, Side::User).await?))
}
