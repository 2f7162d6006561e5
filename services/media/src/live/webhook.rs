//! Presence from Agora's Notification Center (RTC channel events).
//!
//! Each delivery is signed: `Agora-Signature-V2` is the hex HMAC-SHA256 of
//! the raw body keyed with the configured secret (`agora.webhook_secret`).
//! Agora may deliver a notice more than once: `noticeId` is recorded and a
//! repeat changes nothing. Joins (broadcaster 103, audience 105,
//! communication 107) put a participant in the channel, and so join them to
//! the session; leaves (104, 106, 108) take them out, after which their
//! heartbeats must keep them there. `clientSeq` orders a uid's notices: an
//! older one arriving late is ignored.

use super::events;
use super::sessions::{presence_events, START_SQL};
use super::Side;
use crate::state::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use common::{ErrorBody, ErrorCode};
use platform::db::q;
use platform::AppError;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Notice {
    notice_id: String,
    #[serde(default)]
    event_type: i64,
    #[serde(default)]
    payload: Payload,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Payload {
    channel_name: Option<String>,
    uid: Option<i64>,
    client_seq: Option<i64>,
}

/// The answer to a delivery.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NoticeReceipt {
    /// Whether this notice had been received before (nothing changed).
    pub duplicate: bool,
    /// Whether it changed a session.
    pub applied: bool,
}

const JOINS: &[i64] = &[103, 105, 107];
const LEAVES: &[i64] = &[104, 106, 108];

/// Agora Notification Center deliveries (RTC channel events).
#[utoipa::path(post, path = "/api/v1/live/agora/events",
    request_body(content = Object, content_type = "application/json",
        description = "a notice: {noticeId, productId, eventType, notifyMs, payload: {channelName, uid, clientSeq, ts, ...}}"),
    params(("Agora-Signature-V2" = String, Header, description = "hex HMAC-SHA256 of the raw body keyed with the Notification Center secret")),
    responses(
        (status = 200, body = NoticeReceipt),
        (status = 400, body = ErrorBody, description = "malformed_json (not a notice)"),
        (status = 401, body = ErrorBody, description = "unauthorized (signature missing or wrong)"),
        (status = 413, body = ErrorBody, description = "payload_too_large"),
        (status = 503, body = ErrorBody, description = "provider_not_configured (agora.webhook_secret is not set)")))]
pub async fn agora_events(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let secret = state.cfg.agora.webhook_secret.expose_secret();
    if secret.is_empty() {
        return Err(AppError::new(
            ErrorCode::ProviderNotConfigured,
            "Agora notifications are not configured (set agora.webhook_secret)",
        ));
    }
    let signature = req
        .headers()
        .get("agora-signature-v2")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !agora::notification_signature_is_valid(secret.as_bytes(), &body, signature) {
        return Err(AppError::unauthorized(
            "the Agora-Signature-V2 header does not sign this body",
        ));
    }
    let notice: Notice = serde_json::from_slice(&body).map_err(|e| {
        AppError::new(
            ErrorCode::MalformedJson,
            format!("not an Agora notice: {e}"),
        )
    })?;
    if notice.notice_id.is_empty() || notice.notice_id.len() > 200 {
        return Err(AppError::new(
            ErrorCode::MalformedJson,
            "noticeId must be 1 to 200 characters",
        ));
    }
    let join = JOINS.contains(&notice.event_type);
    let leave = LEAVES.contains(&notice.event_type);
    let channel = notice
        .payload
        .channel_name
        .clone()
        .filter(|c| c.len() <= 64);
    let mut c = platform::db::conn(&state.pool).await?;
    let tx = c.transaction().await.map_err(q)?;
    let fresh = tx
        .execute(
            "INSERT INTO agora_notices (notice_id, event_type, channel) VALUES ($1, $2, $3)
             ON CONFLICT (notice_id) DO NOTHING",
            &[
                &notice.notice_id,
                &i32::try_from(notice.event_type).unwrap_or(0),
                &channel,
            ],
        )
        .await
        .map_err(q)?
        == 1;
    if !fresh {
        return Ok(HttpResponse::Ok().json(NoticeReceipt {
            duplicate: true,
            applied: false,
        }));
    }
    let mut applied = None;
    if let (true, Some(channel), Some(uid)) = (join || leave, channel, notice.payload.uid) {
        let row = tx
            .query_opt(
                &format!(
                    "SELECT {} FROM live_sessions s JOIN readers r ON r.user_id = s.reader_id
                     WHERE s.channel = $1 AND s.status IN ('accepted', 'active') FOR UPDATE OF s",
                    super::sessions::COLUMNS
                ),
                &[&channel],
            )
            .await
            .map_err(q)?;
        if let Some(row) = row {
            let id: Uuid = row.get("id");
            let side = if uid == row.get::<_, i64>("user_uid") {
                Some(Side::User)
            } else if uid == row.get::<_, i64>("reader_uid") {
                Some(Side::Reader)
            } else {
                None
            };
            if let Some(side) = side {
                let s = side.as_str();
                let seq = notice.payload.client_seq;
                // Only a notice newer than the last one applied for this side.
                let n = tx
                    .execute(
                        &format!(
                            "UPDATE live_sessions SET {s}_in_channel = $2, {s}_seen_at = now(),
                               {s}_joined = {s}_joined OR $2, {s}_client_seq = COALESCE($3, {s}_client_seq)
                             WHERE id = $1 AND ($3::bigint IS NULL OR {s}_client_seq IS NULL OR {s}_client_seq < $3)"
                        ),
                        &[&id, &join, &seq],
                    )
                    .await
                    .map_err(q)?;
                if n == 1 && join {
                    tx.execute(START_SQL, &[&id]).await.map_err(q)?;
                    for (k, d) in presence_events(&row, side) {
                        events::record(&tx, id, k, d).await?;
                    }
                }
                if n == 1 {
                    applied = Some(id);
                }
            }
        }
    }
    tx.commit().await.map_err(q)?;
    if let Some(id) = applied {
        state.live_wake.notify_one();
        events::wake(&state, id).await;
    }
    Ok(HttpResponse::Ok().json(NoticeReceipt {
        duplicate: false,
        applied: applied.is_some(),
    }))
}
