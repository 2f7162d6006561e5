//! Background work every replica runs: schedules that are due run their
//! generator (a schedule row stays locked while it runs, so one replica runs
//! it; its next time is stored, so a restart loses nothing), metrics and
//! comments of recent posts are pulled, and credentials sealed under a
//! retired key are sealed again under the current one.

use crate::generate::{self, Generator, Params};
use crate::posts::{self, Origin};
use crate::schedule::Schedule;
use crate::state::AppState;
use crate::store;
use chrono::{DateTime, Utc};
use platform::db::q;
use platform::nats::CallContext;
use platform::AppError;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// A failed run is tried again after this (unless the next run is sooner).
const RETRY_FAILED_RUN: Duration = Duration::from_secs(300);

pub async fn schedules(state: Arc<AppState>, token: CancellationToken) {
    let every = Duration::from_millis(state.cfg.scheduler.interval_ms);
    loop {
        if let Err(e) = reseal(&state).await {
            tracing::warn!(error = %e, "resealing credentials failed");
        }
        match schedule_round(&state).await {
            Ok(n) if n > 0 => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "schedule round failed"),
        }
        tokio::select! {
            _ = token.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

/// How long a replica may take to run one schedule before another may.
const RUN_LEASE_SECS: f64 = 600.0;

/// Runs the due schedules; how many ran. Each is claimed in a short
/// transaction (its next time pushed past a lease, the time it fell due
/// kept), generated outside any transaction (charts and guidance may take
/// a while), then its posts and next time are written together.
pub async fn schedule_round(state: &AppState) -> Result<usize, AppError> {
    let claimed = {
        let c = platform::db::conn(&state.pool).await?;
        c.query(
            &format!(
                "UPDATE schedules s SET next_run_at = now() + make_interval(secs => $2),
                        claimed_fire_at = COALESCE(s.claimed_fire_at, s.next_run_at)
                 WHERE s.id IN (SELECT id FROM schedules WHERE enabled AND next_run_at <= now()
                                ORDER BY next_run_at LIMIT $1 FOR UPDATE SKIP LOCKED)
                 RETURNING {}, claimed_fire_at",
                store::SCHEDULE_COLUMNS
                    .split(", ")
                    .map(|col| format!("s.{col}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            &[&state.cfg.scheduler.batch, &RUN_LEASE_SECS],
        )
        .await
        .map_err(q)?
    };
    let n = claimed.len();
    for r in &claimed {
        let id: Uuid = r.get("id");
        let fire: DateTime<Utc> = r.get("claimed_fire_at");
        let made = generate_for(state, r, fire).await;
        let now = Utc::now();
        let next = Schedule::parse(r.get("cron"), r.get("tz"))
            .ok()
            .and_then(|s| s.next_after(now.max(fire)));
        let mut c = platform::db::conn(&state.pool).await?;
        let tx = c.transaction().await.map_err(q)?;
        let result = match made {
            Ok(Some(content)) => write_posts(&tx, r, &content, fire).await,
            Ok(None) => Ok(0),
            Err(e) => Err(e),
        };
        let (next, err) = match &result {
            Ok(_) => (next, None),
            Err(e) => {
                let retry = now + chrono::Duration::from_std(RETRY_FAILED_RUN).unwrap_or_default();
                (
                    Some(next.map_or(retry, |n| n.min(retry))),
                    Some(e.message.clone()),
                )
            }
        };
        // Only this run's claim is finished (an admin's edit meanwhile set its own time).
        tx.execute(
            "UPDATE schedules SET next_run_at = CASE WHEN claimed_fire_at = $4 THEN $2 ELSE next_run_at END,
                    claimed_fire_at = NULL, last_run_at = now(), last_error = $3
             WHERE id = $1",
            &[&id, &next, &err, &fire],
        )
        .await
        .map_err(q)?;
        tx.commit().await.map_err(q)?;
        match result {
            Ok(made) => tracing::info!(schedule = %id, posts = made, "schedule ran"),
            Err(e) => {
                tracing::warn!(schedule = %id, error = %e, "schedule run failed; it will be tried again")
            }
        }
    }
    Ok(n)
}

async fn generate_for(
    state: &AppState,
    r: &tokio_postgres::Row,
    fire: DateTime<Utc>,
) -> Result<Option<generate::Content>, AppError> {
    let generator = Generator::parse(r.get("generator"))
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("unknown generator")))?;
    let params: Params = serde_json::from_value(r.get::<_, Value>("params"))
        .map_err(|e| AppError::validation("params", e.to_string()))?;
    let tz: chrono_tz::Tz = r
        .get::<_, String>("tz")
        .parse()
        .map_err(|_| AppError::validation("tz", "not an IANA zone"))?;
    let date = fire.with_timezone(&tz).date_naive();
    generate::run(&state.sources(), generator, date, &params).await
}

async fn write_posts(
    tx: &deadpool_postgres::Transaction<'_>,
    r: &tokio_postgres::Row,
    content: &generate::Content,
    fire: DateTime<Utc>,
) -> Result<usize, AppError> {
    let ids: Vec<Uuid> = r.get("channel_ids");
    let chans = posts::channels(tx, &ids).await?;
    let origin = Origin {
        schedule_id: Some(r.get("id")),
        campaign_id: r.get("campaign_id"),
        scheduled_at: Some(fire),
    };
    let made = posts::create_from(tx, content, &chans, &origin).await?;
    Ok(made.iter().filter(|m| m.post_id.is_some()).count())
}

/// Seals again, under the current key, every token sealed under another.
pub async fn reseal(state: &AppState) -> Result<usize, AppError> {
    let prefix = format!("v1:{}:", state.keyring.current_key_id());
    let mut c = platform::db::conn(&state.pool).await?;
    let tx = c.transaction().await.map_err(q)?;
    let rows = tx
        .query(
            "SELECT id, credentials FROM channels WHERE NOT starts_with(credentials, $1)
             LIMIT 100 FOR UPDATE SKIP LOCKED",
            &[&prefix],
        )
        .await
        .map_err(q)?;
    let mut n = 0;
    for r in &rows {
        let id: Uuid = r.get(0);
        let sealed: String = r.get(1);
        match state
            .keyring
            .reseal(&sealed, &crate::credentials::channel_aad(&id.to_string()))
        {
            Ok(new) => {
                tx.execute(
                    "UPDATE channels SET credentials = $2, updated_at = now() WHERE id = $1",
                    &[&id, &new.as_str()],
                )
                .await
                .map_err(q)?;
                n += 1;
            }
            Err(e) => {
                tracing::error!(channel = %id, error = %e, "a channel's credentials cannot be resealed")
            }
        }
    }
    tx.commit().await.map_err(q)?;
    if n > 0 {
        tracing::info!(
            channels = n,
            key_id = state.keyring.current_key_id(),
            "credentials resealed under the current key"
        );
    }
    Ok(n)
}

// ------------------------------------------------------------------ analytics

pub async fn analytics(state: Arc<AppState>, token: CancellationToken) {
    let ms = state.cfg.analytics.interval_ms;
    if ms == 0 {
        return;
    }
    loop {
        tokio::select! {
            _ = token.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_millis(ms)) => {}
        }
        if let Err(e) = pull(&state).await {
            tracing::warn!(error = %e, "pulling analytics failed");
        }
    }
}

/// Pulls metrics and comments of the posts published within
/// `analytics.days`, one replica at a time (an advisory lock).
pub async fn pull(state: &AppState) -> Result<usize, AppError> {
    let c = platform::db::conn(&state.pool).await?;
    let got: bool = c
        .query_one(
            "SELECT pg_try_advisory_lock(hashtext('social.analytics'))",
            &[],
        )
        .await
        .map_err(q)?
        .get(0);
    if !got {
        return Ok(0);
    }
    let result = pull_locked(state, &c).await;
    let _ = c
        .execute(
            "SELECT pg_advisory_unlock(hashtext('social.analytics'))",
            &[],
        )
        .await;
    result
}

async fn pull_locked(state: &AppState, c: &deadpool_postgres::Object) -> Result<usize, AppError> {
    let rows = c
        .query(
            &format!(
                "SELECT p.id AS post_id, p.provider_post_id, {} FROM posts p JOIN channels c ON c.id = p.channel_id
                 WHERE p.state = 'published' AND p.published_at > now() - make_interval(days => $1::int)
                   AND c.enabled AND c.status = 'ok'",
                store::CHANNEL_COLUMNS
                    .split(", ")
                    .map(|col| format!("c.{col}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            &[&(state.cfg.analytics.days as i32)],
        )
        .await
        .map_err(q)?;
    let mut n = 0;
    for r in &rows {
        let post: Uuid = r.get(0);
        let provider_id: String = r.get(1);
        let ch = store::channel_row(r)?;
        let publisher = crate::channels::publisher(&state.cfg.networks, &state.keyring, &ch)?;
        match publisher.metrics(&provider_id).await {
            Ok(m) => {
                let v = |x: Option<u64>| x.map(|x| i64::try_from(x).unwrap_or(i64::MAX));
                c.execute(
                    "INSERT INTO metrics (post_id, reactions, comments, shares, views, fetched_at)
                     VALUES ($1, $2, $3, $4, $5, now())
                     ON CONFLICT (post_id) DO UPDATE SET reactions = $2, comments = $3, shares = $4, views = $5, fetched_at = now()",
                    &[&post, &v(m.reactions), &v(m.comments), &v(m.shares), &v(m.views)],
                )
                .await
                .map_err(q)?;
                n += 1;
            }
            Err(e) => tracing::info!(post = %post, error = %e, "metrics not available"),
        }
        match publisher.comments(&provider_id).await {
            Ok(list) => {
                for cm in list {
                    let inserted = c
                        .query_opt(
                            "INSERT INTO comments (id, post_id, provider_comment_id, author, text, commented_at)
                             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (post_id, provider_comment_id) DO NOTHING RETURNING id",
                            &[&Uuid::new_v4(), &post, &cm.id, &cm.author, &cm.text, &cm.created_at],
                        )
                        .await
                        .map_err(q)?;
                    if let (Some(row), true) = (inserted, state.cfg.analytics.suggest_replies) {
                        let id: Uuid = row.get(0);
                        if let Err(e) = suggest(state, c, id, &cm.text).await {
                            tracing::info!(comment = %id, error = %e, "no suggested reply");
                        }
                    }
                }
            }
            Err(e) => tracing::debug!(post = %post, error = %e, "comments not available"),
        }
    }
    Ok(n)
}

/// Asks guidance for a reply to a comment; it waits for an admin's approval.
pub async fn suggest(
    state: &AppState,
    c: &deadpool_postgres::Object,
    comment: Uuid,
    text: &str,
) -> Result<(), AppError> {
    let text: String = text.chars().take(1000).collect();
    let prompt = format!(
        "Someone commented on our spiritual guidance page's post: \"{text}\". Write a short, kind reply (one or two sentences), with no promises and no medical, legal or financial advice."
    );
    let reply: Value = state
        .bus
        .request_within(
            common::subjects::guidance::TEXT_GENERATE,
            None,
            &CallContext::current(),
            &json!({ "prompt": prompt, "max_tokens": state.cfg.content.max_tokens.min(120) }),
            Duration::from_millis(state.cfg.content.request_timeout_ms),
        )
        .await?;
    let words = reply["text"].as_str().unwrap_or("").trim().to_owned();
    if !words.is_empty() {
        c.execute(
            "UPDATE comments SET state = 'suggested', suggested_reply = $2 WHERE id = $1 AND state = 'new'",
            &[&comment, &words],
        )
        .await
        .map_err(q)?;
    }
    Ok(())
}
