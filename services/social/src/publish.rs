//! The publishing worker. Every replica runs it; a post is claimed with
//! `FOR UPDATE SKIP LOCKED` and a lease, so one replica publishes it. An
//! attempt that may have reached the network (a timeout, a crash with the
//! lease still held) makes the next attempt look the post up by its marker
//! before posting again.

use crate::channels::{self, ChannelRow};
use crate::networks::{Marker, Media, NetworkError, OutgoingPost, Published};
use crate::state::AppState;
use crate::store::{self, CHANNEL_COLUMNS};
use common::subjects::social as subj;
use common::EventEnvelope;
use platform::db::q;
use platform::nats::CallContext;
use platform::AppError;
use serde_json::json;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// A claimed post.
struct Claimed {
    id: Uuid,
    channel_id: Uuid,
    text: String,
    title: Option<String>,
    link: Option<String>,
    media_id: Option<Uuid>,
    marker: String,
    attempts: i32,
    maybe_sent: bool,
}

pub async fn run(state: std::sync::Arc<AppState>, token: CancellationToken) {
    let every = Duration::from_millis(state.cfg.publisher.interval_ms);
    loop {
        match round(&state).await {
            Ok(n) if n > 0 => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "publishing round failed"),
        }
        tokio::select! {
            _ = token.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

/// Claims due posts and publishes them; how many were claimed.
pub async fn round(state: &AppState) -> Result<usize, AppError> {
    let claimed = claim(state).await?;
    let n = claimed.len();
    for c in claimed {
        if let Err(e) = publish_one(state, &c).await {
            tracing::warn!(post = %c.id, error = %e, "publishing a post failed");
        }
    }
    Ok(n)
}

async fn claim(state: &AppState) -> Result<Vec<Claimed>, AppError> {
    let c = platform::db::conn(&state.pool).await?;
    let rows = c
        .query(
            "UPDATE posts p SET state = 'publishing', lease_owner = $1,
                    lease_until = now() + make_interval(secs => $2::bigint),
                    attempts = p.attempts + 1,
                    -- A lease that ran out: that attempt may have posted.
                    maybe_sent = p.maybe_sent OR p.state = 'publishing',
                    updated_at = now()
             WHERE p.id IN (
                SELECT id FROM posts
                WHERE (state = 'scheduled' AND scheduled_at <= now())
                   OR (state = 'publishing' AND lease_until < now())
                ORDER BY scheduled_at
                LIMIT $3
                FOR UPDATE SKIP LOCKED)
             RETURNING p.id, p.channel_id, p.text, p.title, p.link, p.media_id, p.marker, p.attempts, p.maybe_sent",
            &[
                &state.instance,
                &state.cfg.publisher.lease_secs,
                &state.cfg.publisher.batch,
            ],
        )
        .await
        .map_err(q)?;
    Ok(rows
        .iter()
        .map(|r| Claimed {
            id: r.get(0),
            channel_id: r.get(1),
            text: r.get(2),
            title: r.get(3),
            link: r.get(4),
            media_id: r.get(5),
            marker: r.get(6),
            attempts: r.get(7),
            maybe_sent: r.get(8),
        })
        .collect())
}

/// How an attempt ended.
enum Outcome {
    Published(Published, &'static str),
    Retry(NetworkError, Duration),
    Failed(String, Option<NetworkError>),
}

async fn publish_one(state: &AppState, p: &Claimed) -> Result<(), AppError> {
    let c = platform::db::conn(&state.pool).await?;
    let channel = c
        .query_opt(
            &format!("SELECT {CHANNEL_COLUMNS} FROM channels WHERE id = $1"),
            &[&p.channel_id],
        )
        .await
        .map_err(q)?
        .map(|r| store::channel_row(&r))
        .transpose()?;
    let media = match p.media_id {
        Some(m) => c
            .query_opt("SELECT content_type, bytes FROM media WHERE id = $1", &[&m])
            .await
            .map_err(q)?
            .map(|r| (m, r.get::<_, String>(0), r.get::<_, Vec<u8>>(1))),
        None => None,
    };
    let request = json!({
        "channel_id": p.channel_id,
        "marker": p.marker,
        "text_chars": p.text.chars().count(),
        "media": media.as_ref().map(|(id, ct, b)| json!({"id": id, "content_type": ct, "bytes": b.len()})),
        "look_up_first": p.maybe_sent,
    });
    let attempt: i64 = c
        .query_one(
            "INSERT INTO attempts (post_id, number, worker, request) VALUES ($1, $2, $3, $4) RETURNING id",
            &[&p.id, &p.attempts, &state.instance, &request],
        )
        .await
        .map_err(q)?
        .get(0);
    drop(c);
    let outcome = match channel {
        None => Outcome::Failed("the channel no longer exists".into(), None),
        Some(ch) if !ch.enabled => Outcome::Failed("the channel is disabled".into(), None),
        Some(ch) if ch.status == "credentials_expired" => Outcome::Failed(
            format!(
                "{}: the credentials are expired or revoked ({}); reconnect the channel",
                ch.network,
                ch.status_reason.as_deref().unwrap_or("refused earlier")
            ),
            None,
        ),
        Some(ch) => attempt_on(state, p, &ch, media).await,
    };
    finish(state, p, attempt, outcome).await
}

async fn attempt_on(
    state: &AppState,
    p: &Claimed,
    ch: &ChannelRow,
    media: Option<(Uuid, String, Vec<u8>)>,
) -> Outcome {
    let publisher = match channels::publisher(&state.cfg.networks, &state.keyring, ch) {
        Ok(x) => x,
        Err(e) => return Outcome::Failed(e.message.clone(), None),
    };
    let marker = match Marker::parse(&p.marker) {
        Ok(m) => m,
        Err(e) => return Outcome::Failed(format!("the post's marker is invalid: {e}"), None),
    };
    let mut post = OutgoingPost::text(marker, p.text.clone());
    post.title = p.title.clone();
    post.link = p.link.clone();
    post.prior_attempt = p.maybe_sent;
    if let Some((id, ct, bytes)) = media {
        post.media = Some(
            Media::image_bytes(bytes, ct, "card.png")
                .with_url(store::media_url(&state.cfg.content.public_base_url, id)),
        );
    }
    match publisher.publish(&post).await {
        Ok(done) => Outcome::Published(
            done,
            if p.maybe_sent {
                "found_or_published"
            } else {
                "published"
            },
        ),
        Err(e) if e.is_retryable() && p.attempts < state.cfg.publisher.max_attempts => {
            let backoff = state
                .cfg
                .publisher
                .backoff_ms
                .saturating_mul(1u64 << (p.attempts.clamp(1, 16) - 1) as u32);
            let wait = e
                .retry_after()
                .unwrap_or(Duration::from_millis(backoff))
                .min(Duration::from_secs(3600));
            Outcome::Retry(e, wait)
        }
        Err(e) => Outcome::Failed(e.to_string(), Some(e)),
    }
}

async fn finish(
    state: &AppState,
    p: &Claimed,
    attempt: i64,
    outcome: Outcome,
) -> Result<(), AppError> {
    let mut c = platform::db::conn(&state.pool).await?;
    let tx = c.transaction().await.map_err(q)?;
    let ctx = CallContext::current();
    // Only the lease holder may finish (a lease that ran out went to another).
    let mine = "id = $1 AND state = 'publishing' AND lease_owner = $2";
    match outcome {
        Outcome::Published(done, how) => {
            let n = tx
                .execute(
                    &format!("UPDATE posts SET state = 'published', provider_post_id = $3, url = $4, published_at = now(),
                              lease_owner = NULL, lease_until = NULL, last_error = NULL, updated_at = now() WHERE {mine}"),
                    &[&p.id, &state.instance, &done.provider_post_id, &done.url],
                )
                .await
                .map_err(q)?;
            tx.execute(
                "UPDATE attempts SET finished_at = now(), outcome = $2, provider_post_id = $3 WHERE id = $1",
                &[&attempt, &(if how == "published" { "published" } else { "found_or_published" }), &done.provider_post_id],
            )
            .await
            .map_err(q)?;
            if n == 1 {
                let e = EventEnvelope::new(
                    subj::SERVICE,
                    subj::EVT_POST_PUBLISHED,
                    1,
                    json!({"post_id": p.id, "channel_id": p.channel_id, "provider_post_id": done.provider_post_id, "url": done.url}),
                );
                platform::outbox::enqueue(&tx, &e, &ctx).await?;
                tracing::info!(post = %p.id, provider_post_id = %done.provider_post_id, "post published");
            }
        }
        Outcome::Retry(e, wait) => {
            let ms = i64::try_from(wait.as_millis()).unwrap_or(i64::MAX);
            tx.execute(
                &format!("UPDATE posts SET state = 'scheduled', scheduled_at = now() + make_interval(secs => $3::float8 / 1000.0),
                          maybe_sent = maybe_sent OR $4, last_error = $5, lease_owner = NULL, lease_until = NULL, updated_at = now() WHERE {mine}"),
                &[&p.id, &state.instance, &(ms as f64), &e.maybe_accepted(), &e.to_string()],
            )
            .await
            .map_err(q)?;
            tx.execute(
                "UPDATE attempts SET finished_at = now(), outcome = 'retry', error = $2 WHERE id = $1",
                &[&attempt, &e.to_string()],
            )
            .await
            .map_err(q)?;
            tracing::info!(post = %p.id, error = %e, wait_ms = ms, "post will be retried");
        }
        Outcome::Failed(reason, err) => {
            let maybe = err.as_ref().is_some_and(NetworkError::maybe_accepted);
            let n = tx
                .execute(
                    &format!("UPDATE posts SET state = 'failed', last_error = $3, maybe_sent = maybe_sent OR $4,
                              lease_owner = NULL, lease_until = NULL, updated_at = now() WHERE {mine}"),
                    &[&p.id, &state.instance, &reason, &maybe],
                )
                .await
                .map_err(q)?;
            tx.execute(
                "UPDATE attempts SET finished_at = now(), outcome = 'failed', error = $2 WHERE id = $1",
                &[&attempt, &reason],
            )
            .await
            .map_err(q)?;
            if let Some(e) = err.as_ref().filter(|e| e.is_credentials()) {
                let changed = tx
                    .execute(
                        "UPDATE channels SET status = 'credentials_expired', status_reason = $2, updated_at = now()
                         WHERE id = $1 AND status <> 'credentials_expired'",
                        &[&p.channel_id, &e.to_string()],
                    )
                    .await
                    .map_err(q)?;
                if changed == 1 {
                    let ev = EventEnvelope::new(
                        subj::SERVICE,
                        subj::EVT_CREDENTIALS_EXPIRED,
                        1,
                        json!({"channel_id": p.channel_id, "network": e_network(e), "reason": e.to_string()}),
                    );
                    platform::outbox::enqueue(&tx, &ev, &ctx).await?;
                    tracing::error!(channel = %p.channel_id, error = %e, "a channel's credentials were refused; it must be reconnected");
                }
            }
            if n == 1 {
                let ev = EventEnvelope::new(
                    subj::SERVICE,
                    subj::EVT_POST_FAILED,
                    1,
                    json!({"post_id": p.id, "channel_id": p.channel_id, "reason": reason}),
                );
                platform::outbox::enqueue(&tx, &ev, &ctx).await?;
                tracing::warn!(post = %p.id, reason = %reason, "post failed");
            }
        }
    }
    tx.commit().await.map_err(q)?;
    state.outbox.notify();
    Ok(())
}

fn e_network(e: &NetworkError) -> Option<String> {
    match e {
        NetworkError::ExpiredCredentials { network, .. } => Some(network.to_string()),
        _ => None,
    }
}
