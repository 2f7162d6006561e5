//! Avatar jobs in the database: the state machine, the worker's lease, the
//! job's events, and the outbox entries that go with each change (the work
//! message on `media.avatar.jobs`, and `evt.media.avatar.*`).
//!
//! Every transition is one transaction guarded by the state it leaves (and
//! for a running job, by the lease owner), so of two workers, or a worker
//! and a cancel, exactly one wins; the loser's update touches no row.

use super::model::{JobErrorView, JobState, JobView, Kind, Language, ResultView};
use crate::state::AppState;
use chrono::{DateTime, Utc};
use common::subjects::media as subj;
use common::EventEnvelope;
use deadpool_postgres::{GenericClient, Transaction};
use platform::db::q;
use platform::nats::CallContext;
use platform::AppError;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::time::Duration;
use uuid::Uuid;

/// The work message: one job to run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct JobMessage {
    pub job_id: Uuid,
}

/// Version 1 of the work message's envelope type.
pub const JOB_MESSAGE_TYPE: &str = "media.avatar.job";

/// Payload of `evt.media.avatar.succeeded|failed|cancelled` (version 1).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AvatarJobEnded {
    pub job_id: Uuid,
    pub user_id: Uuid,
    pub kind: String,
    /// `succeeded`, `failed` or `cancelled`.
    pub state: String,
    pub provider: String,
    /// Credits held; captured when it succeeded, released otherwise.
    pub credits_held: i64,
    pub content_type: Option<String>,
    pub bytes: Option<i64>,
    pub duration_ms: Option<i32>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
}

/// A job row.
#[derive(Clone, Debug)]
pub struct JobRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub request_hash: String,
    pub kind: Kind,
    pub text: String,
    pub language: Language,
    pub voice: Option<String>,
    pub image_id: Option<Uuid>,
    /// The image's object key (video jobs with an image).
    pub image_key: Option<String>,
    pub provider: String,
    pub state: JobState,
    pub service_code: String,
    pub quote_id: Option<Uuid>,
    pub hold_id: Option<Uuid>,
    pub hold_amount: Option<i64>,
    pub credits_charged: i64,
    pub settled: bool,
    pub attempts: i32,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub result_key: Option<String>,
    pub result_type: Option<String>,
    pub result_bytes: Option<i64>,
    pub duration_ms: Option<i32>,
    pub captions_key: Option<String>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

pub const COLUMNS: &str = "id, user_id, request_hash, kind, input_text, language, voice, image_id, provider, \
    state, service_code, quote_id, hold_id, hold_amount, credits_charged, settled, attempts, error_code, \
    error_message, result_key, result_type, result_bytes, duration_ms, captions_key, created_at, \
    started_at, finished_at, \
    (SELECT object_key FROM avatar_images ai WHERE ai.id = avatar_jobs.image_id) AS image_key";

pub fn from_row(r: &tokio_postgres::Row) -> JobRow {
    JobRow {
        id: r.get("id"),
        user_id: r.get("user_id"),
        request_hash: r.get("request_hash"),
        kind: Kind::parse(r.get("kind")).unwrap_or(Kind::Voice),
        text: r.get("input_text"),
        language: Language::parse(r.get("language")).unwrap_or(Language::En),
        voice: r.get("voice"),
        image_id: r.get("image_id"),
        image_key: r.get("image_key"),
        provider: r.get("provider"),
        state: JobState::parse(r.get("state")).unwrap_or(JobState::Failed),
        service_code: r.get("service_code"),
        quote_id: r.get("quote_id"),
        hold_id: r.get("hold_id"),
        hold_amount: r.get("hold_amount"),
        credits_charged: r.get("credits_charged"),
        settled: r.get("settled"),
        attempts: r.get("attempts"),
        error_code: r.get("error_code"),
        error_message: r.get("error_message"),
        result_key: r.get("result_key"),
        result_type: r.get("result_type"),
        result_bytes: r.get("result_bytes"),
        duration_ms: r.get("duration_ms"),
        captions_key: r.get("captions_key"),
        created_at: r.get("created_at"),
        started_at: r.get("started_at"),
        finished_at: r.get("finished_at"),
    }
}

impl JobRow {
    pub fn view(&self) -> JobView {
        let base = format!("/api/v1/avatars/jobs/{}", self.id);
        let result = match (self.state, &self.result_type, self.result_bytes) {
            (JobState::Succeeded, Some(ct), Some(bytes)) => Some(ResultView {
                url: format!("{base}/result"),
                content_type: ct.clone(),
                bytes,
                duration_ms: self.duration_ms,
                captions_url: self
                    .captions_key
                    .as_ref()
                    .map(|_| format!("{base}/captions")),
            }),
            _ => None,
        };
        let error = match (&self.error_code, &self.error_message) {
            (Some(code), Some(message)) => Some(JobErrorView {
                code: code.clone(),
                message: message.clone(),
            }),
            _ => None,
        };
        JobView {
            id: self.id,
            kind: self.kind,
            state: self.state,
            text: self.text.clone(),
            language: self.language,
            voice: self.voice.clone(),
            image_id: self.image_id,
            provider: self.provider.clone(),
            credits_held: self.hold_amount.unwrap_or(0),
            credits_charged: self.credits_charged,
            attempts: self.attempts,
            error,
            result,
            created_at: self.created_at,
            started_at: self.started_at,
            finished_at: self.finished_at,
        }
    }

    fn ended(&self) -> AvatarJobEnded {
        AvatarJobEnded {
            job_id: self.id,
            user_id: self.user_id,
            kind: self.kind.as_str().to_owned(),
            state: self.state.as_str().to_owned(),
            provider: self.provider.clone(),
            credits_held: self.hold_amount.unwrap_or(0),
            content_type: self.result_type.clone(),
            bytes: self.result_bytes,
            duration_ms: self.duration_ms,
            error_code: self.error_code.clone(),
            error_message: self.error_message.clone(),
        }
    }

    /// Seconds from submit to now (the duration metric at the end).
    pub fn age_secs(&self) -> f64 {
        (Utc::now() - self.created_at).num_milliseconds() as f64 / 1000.0
    }
}

/// The user's job with this idempotency key.
pub async fn by_key<C: GenericClient>(
    c: &C,
    user: Uuid,
    key: &str,
) -> Result<Option<JobRow>, AppError> {
    Ok(c.query_opt(
        &format!("SELECT {COLUMNS} FROM avatar_jobs WHERE user_id = $1 AND idempotency_key = $2"),
        &[&user, &key],
    )
    .await
    .map_err(q)?
    .as_ref()
    .map(from_row))
}

/// The user's job (404 for anyone else's, and while it is still being submitted).
pub async fn owned<C: GenericClient>(c: &C, user: Uuid, id: Uuid) -> Result<JobRow, AppError> {
    c.query_opt(
        &format!(
            "SELECT {COLUMNS} FROM avatar_jobs WHERE id = $1 AND user_id = $2 AND state <> 'submitting'"
        ),
        &[&id, &user],
    )
    .await
    .map_err(q)?
    .as_ref()
    .map(from_row)
    .ok_or_else(|| AppError::not_found("avatar job"))
}

pub async fn get<C: GenericClient>(c: &C, id: Uuid) -> Result<Option<JobRow>, AppError> {
    Ok(c.query_opt(
        &format!("SELECT {COLUMNS} FROM avatar_jobs WHERE id = $1"),
        &[&id],
    )
    .await
    .map_err(q)?
    .as_ref()
    .map(from_row))
}

/// A new job in `submitting`; `None` when the key was taken meanwhile.
pub struct NewRow<'a> {
    pub user: Uuid,
    pub key: &'a str,
    pub hash: &'a str,
    pub kind: Kind,
    pub text: &'a str,
    pub language: Language,
    pub voice: Option<&'a str>,
    pub image_id: Option<Uuid>,
    pub provider: &'a str,
    pub service_code: &'a str,
}

pub async fn insert_submitting<C: GenericClient>(
    c: &C,
    n: &NewRow<'_>,
) -> Result<Option<JobRow>, AppError> {
    Ok(c.query_opt(
        &format!(
            "INSERT INTO avatar_jobs (id, user_id, idempotency_key, request_hash, kind, input_text,
                    language, voice, image_id, provider, state, service_code)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'submitting', $11)
                 ON CONFLICT (user_id, idempotency_key) DO NOTHING RETURNING {COLUMNS}"
        ),
        &[
            &Uuid::now_v7(),
            &n.user,
            &n.key,
            &n.hash,
            &n.kind.as_str(),
            &n.text,
            &n.language.as_str(),
            &n.voice,
            &n.image_id,
            &n.provider,
            &n.service_code,
        ],
    )
    .await
    .map_err(q)?
    .as_ref()
    .map(from_row))
}

/// Records the job's quote, unless a concurrent submit already did: the
/// quote every submitter then uses. Two statements: the second sees what a
/// concurrent submit committed while the first waited for its row lock.
pub async fn set_quote<C: GenericClient>(c: &C, id: Uuid, quote: Uuid) -> Result<Uuid, AppError> {
    let set = c
        .query_opt(
            "UPDATE avatar_jobs SET quote_id = $2, updated_at = now()
             WHERE id = $1 AND quote_id IS NULL RETURNING quote_id",
            &[&id, &quote],
        )
        .await
        .map_err(q)?;
    if set.is_some() {
        return Ok(quote);
    }
    let row = c
        .query_opt("SELECT quote_id FROM avatar_jobs WHERE id = $1", &[&id])
        .await
        .map_err(q)?
        .ok_or_else(|| AppError::not_found("avatar job"))?;
    Ok(row.get::<_, Option<Uuid>>(0).unwrap_or(quote))
}

/// Forgets a job pricing refused (no credits were held).
pub async fn delete_submitting<C: GenericClient>(c: &C, id: Uuid) -> Result<(), AppError> {
    c.execute(
        "DELETE FROM avatar_jobs WHERE id = $1 AND state = 'submitting'",
        &[&id],
    )
    .await
    .map_err(q)?;
    Ok(())
}

/// Appends an event to the job's history.
pub async fn record<C: GenericClient>(
    c: &C,
    job: Uuid,
    kind: &str,
    data: Value,
) -> Result<(), AppError> {
    c.execute(
        "INSERT INTO avatar_job_events (job_id, kind, data) VALUES ($1, $2, $3)",
        &[&job, &kind, &data],
    )
    .await
    .map_err(q)?;
    Ok(())
}

/// Queues the work message for `job` in the outbox.
async fn dispatch(tx: &Transaction<'_>, job: Uuid) -> Result<(), AppError> {
    let msg = EventEnvelope::new(
        subj::SERVICE,
        JOB_MESSAGE_TYPE,
        1,
        JobMessage { job_id: job },
    );
    platform::outbox::enqueue_to(tx, subj::AVATAR_JOBS, &msg, &CallContext::current()).await
}

async fn announce(tx: &Transaction<'_>, row: &JobRow) -> Result<(), AppError> {
    let event_type = match row.state {
        JobState::Succeeded => subj::EVT_AVATAR_SUCCEEDED,
        JobState::Failed => subj::EVT_AVATAR_FAILED,
        _ => subj::EVT_AVATAR_CANCELLED,
    };
    let e = EventEnvelope::new(subj::SERVICE, event_type, 1, row.ended());
    platform::outbox::enqueue(tx, &e, &CallContext::current()).await
}

/// `submitting` → `queued` with the hold, the `queued` event and the work
/// message, in one transaction. Returns the job and whether this call
/// queued it (false: a concurrent submit with the same key did).
pub async fn queue(
    state: &AppState,
    id: Uuid,
    hold_id: Uuid,
    amount: i64,
) -> Result<(JobRow, bool), AppError> {
    let mut c = platform::db::conn(&state.pool).await?;
    let tx = c.transaction().await.map_err(q)?;
    let row = tx
        .query_opt(
            &format!(
                "UPDATE avatar_jobs SET state = 'queued', hold_id = $2, hold_amount = $3,
                    dispatched_at = now(), updated_at = now()
                 WHERE id = $1 AND state = 'submitting' RETURNING {COLUMNS}"
            ),
            &[&id, &hold_id, &amount],
        )
        .await
        .map_err(q)?;
    let Some(row) = row.as_ref().map(from_row) else {
        drop(tx);
        let job = get(&c, id)
            .await?
            .ok_or_else(|| AppError::not_found("avatar job"))?;
        return Ok((job, false));
    };
    record(
        &tx,
        id,
        "queued",
        json!({"state": "queued", "credits_held": amount}),
    )
    .await?;
    dispatch(&tx, id).await?;
    tx.commit().await.map_err(q)?;
    Ok((row, true))
}

/// What a delivery found.
pub enum Claim {
    /// No such job: the message is stale.
    Gone,
    /// Already ended (a repeat delivery): nothing to run.
    Ended,
    /// Another worker holds a live lease: try again after this long.
    Busy(Duration),
    /// Too many deliveries died; the job was failed here.
    GaveUp(Box<JobRow>),
    /// This delivery owns the job now (state running, attempts counted).
    Run(Box<JobRow>),
}

/// Takes a queued job, or a running one whose worker's lease expired, for
/// `owner` until `lease` from now.
pub async fn claim(
    state: &AppState,
    id: Uuid,
    owner: Uuid,
    lease: Duration,
    max_attempts: i32,
) -> Result<Claim, AppError> {
    let mut c = platform::db::conn(&state.pool).await?;
    let tx = c.transaction().await.map_err(q)?;
    let row = tx
        .query_opt(
            "SELECT state, attempts, lease_until > now(),
                    GREATEST(EXTRACT(EPOCH FROM (lease_until - now())), 0)::float8
             FROM avatar_jobs WHERE id = $1 FOR UPDATE",
            &[&id],
        )
        .await
        .map_err(q)?;
    let Some(row) = row else {
        return Ok(Claim::Gone);
    };
    let st = JobState::parse(row.get(0)).unwrap_or(JobState::Failed);
    let attempts: i32 = row.get(1);
    let leased: Option<bool> = row.get(2);
    let remaining: Option<f64> = row.get(3);
    match st {
        JobState::Submitting => return Ok(Claim::Gone),
        s if s.is_terminal() => return Ok(Claim::Ended),
        JobState::Running if leased == Some(true) => {
            let wait = Duration::from_secs_f64(remaining.unwrap_or(1.0).clamp(0.0, 3600.0))
                + Duration::from_millis(100);
            return Ok(Claim::Busy(wait));
        }
        _ => {}
    }
    if attempts >= max_attempts {
        let message =
            format!("the job's worker stopped before finishing {attempts} times; giving up");
        let job = end_in(
            &tx,
            id,
            None,
            JobState::Failed,
            Some(("worker_lost", &message)),
            None,
        )
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("job {id} vanished")))?;
        tx.commit().await.map_err(q)?;
        return Ok(Claim::GaveUp(Box::new(job)));
    }
    let job = tx
        .query_one(
            &format!(
                "UPDATE avatar_jobs SET state = 'running', attempts = attempts + 1, lease_owner = $2,
                    lease_until = now() + make_interval(secs => $3), started_at = COALESCE(started_at, now()),
                    updated_at = now()
                 WHERE id = $1 RETURNING {COLUMNS}"
            ),
            &[&id, &owner, &lease.as_secs_f64()],
        )
        .await
        .map_err(q)?;
    let job = from_row(&job);
    record(
        &tx,
        id,
        "running",
        json!({"state": "running", "attempt": job.attempts}),
    )
    .await?;
    tx.commit().await.map_err(q)?;
    Ok(Claim::Run(Box::new(job)))
}

/// Extends the lease while the owner works; false when the owner lost the
/// job (cancelled, or taken over after its lease expired).
pub async fn extend_lease(
    state: &AppState,
    id: Uuid,
    owner: Uuid,
    lease: Duration,
) -> Result<bool, AppError> {
    let c = platform::db::conn(&state.pool).await?;
    let n = c
        .execute(
            "UPDATE avatar_jobs SET lease_until = now() + make_interval(secs => $3), updated_at = now()
             WHERE id = $1 AND state = 'running' AND lease_owner = $2",
            &[&id, &owner, &lease.as_secs_f64()],
        )
        .await
        .map_err(q)?;
    Ok(n == 1)
}

/// Records a progress event of a running job (only while `owner` holds it).
pub async fn record_progress(
    state: &AppState,
    id: Uuid,
    owner: Uuid,
    kind: &str,
    data: Value,
) -> Result<bool, AppError> {
    let c = platform::db::conn(&state.pool).await?;
    let n = c
        .execute(
            "INSERT INTO avatar_job_events (job_id, kind, data)
             SELECT $1, $2, $3 WHERE EXISTS
               (SELECT 1 FROM avatar_jobs WHERE id = $1 AND state = 'running' AND lease_owner = $4)",
            &[&id, &kind, &data, &owner],
        )
        .await
        .map_err(q)?;
    Ok(n == 1)
}

/// Hands a running job back to the queue (this instance is shutting down):
/// the attempt does not count. False when `owner` no longer held it.
pub async fn hand_back(state: &AppState, id: Uuid, owner: Uuid) -> Result<bool, AppError> {
    let mut c = platform::db::conn(&state.pool).await?;
    let tx = c.transaction().await.map_err(q)?;
    let n = tx
        .execute(
            "UPDATE avatar_jobs SET state = 'queued', lease_owner = NULL, lease_until = NULL,
                attempts = GREATEST(attempts - 1, 0), updated_at = now()
             WHERE id = $1 AND state = 'running' AND lease_owner = $2",
            &[&id, &owner],
        )
        .await
        .map_err(q)?;
    if n == 1 {
        record(
            &tx,
            id,
            "queued",
            json!({"state": "queued", "reason": "the worker was stopped; another takes the job"}),
        )
        .await?;
    }
    tx.commit().await.map_err(q)?;
    Ok(n == 1)
}

/// The finished file of a successful attempt.
#[derive(Clone, Debug)]
pub struct Stored {
    pub result_key: String,
    pub content_type: String,
    pub bytes: i64,
    pub duration_ms: i32,
    pub captions_key: Option<String>,
}

/// Ends a job in one transaction: the state, its event, and the outbox
/// event. With `owner`, only while that worker still holds it running;
/// without, from queued or running (cancel, give up).
async fn end_in(
    tx: &Transaction<'_>,
    id: Uuid,
    owner: Option<Uuid>,
    to: JobState,
    error: Option<(&str, &str)>,
    stored: Option<&Stored>,
) -> Result<Option<JobRow>, AppError> {
    let (code, message) = match error {
        Some((c, m)) => (Some(c), Some(m.chars().take(1000).collect::<String>())),
        None => (None, None),
    };
    let row = tx
        .query_opt(
            &format!(
                "UPDATE avatar_jobs SET state = $2, error_code = $3, error_message = $4,
                    result_key = $5, result_type = $6, result_bytes = $7, duration_ms = $8, captions_key = $9,
                    finished_at = now(), updated_at = now(), lease_owner = NULL, lease_until = NULL
                 WHERE id = $1 AND state IN ('queued', 'running')
                   AND ($10::uuid IS NULL OR (state = 'running' AND lease_owner = $10))
                 RETURNING {COLUMNS}"
            ),
            &[
                &id,
                &to.as_str(),
                &code,
                &message,
                &stored.map(|s| s.result_key.clone()),
                &stored.map(|s| s.content_type.clone()),
                &stored.map(|s| s.bytes),
                &stored.map(|s| s.duration_ms),
                &stored.and_then(|s| s.captions_key.clone()),
                &owner,
            ],
        )
        .await
        .map_err(q)?;
    let Some(job) = row.as_ref().map(from_row) else {
        return Ok(None);
    };
    let data = match to {
        JobState::Succeeded => json!({
            "state": "succeeded",
            "content_type": job.result_type,
            "bytes": job.result_bytes,
            "duration_ms": job.duration_ms,
            "result_url": format!("/api/v1/avatars/jobs/{id}/result"),
        }),
        JobState::Failed => json!({
            "state": "failed",
            "error": {"code": job.error_code, "message": job.error_message},
        }),
        _ => json!({"state": to.as_str()}),
    };
    record(tx, id, to.as_str(), data).await?;
    announce(tx, &job).await?;
    Ok(Some(job))
}

/// Ends a job; `None` when the transition did not apply (already ended, or
/// `owner` lost it).
pub async fn end(
    state: &AppState,
    id: Uuid,
    owner: Option<Uuid>,
    to: JobState,
    error: Option<(&str, &str)>,
    stored: Option<&Stored>,
) -> Result<Option<JobRow>, AppError> {
    let mut c = platform::db::conn(&state.pool).await?;
    let tx = c.transaction().await.map_err(q)?;
    let job = end_in(&tx, id, owner, to, error, stored).await?;
    tx.commit().await.map_err(q)?;
    Ok(job)
}

/// A user's cancel: queued or running → cancelled. Returns the job as it
/// is now and whether this call cancelled it.
pub async fn cancel(state: &AppState, user: Uuid, id: Uuid) -> Result<(JobRow, bool), AppError> {
    let mut c = platform::db::conn(&state.pool).await?;
    let tx = c.transaction().await.map_err(q)?;
    let current = tx
        .query_opt(
            "SELECT state FROM avatar_jobs WHERE id = $1 AND user_id = $2 AND state <> 'submitting' FOR UPDATE",
            &[&id, &user],
        )
        .await
        .map_err(q)?
        .ok_or_else(|| AppError::not_found("avatar job"))?;
    let st = JobState::parse(current.get(0)).unwrap_or(JobState::Failed);
    if st.is_terminal() {
        drop(tx);
        return Ok((owned(&c, user, id).await?, false));
    }
    let job = end_in(&tx, id, None, JobState::Cancelled, None, None)
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("job {id} could not be cancelled")))?;
    tx.commit().await.map_err(q)?;
    Ok((job, true))
}

/// Marks the hold settled with what was charged.
pub async fn mark_settled(state: &AppState, id: Uuid, charged: i64) -> Result<(), AppError> {
    let c = platform::db::conn(&state.pool).await?;
    c.execute(
        "UPDATE avatar_jobs SET settled = true, credits_charged = $2, updated_at = now()
         WHERE id = $1 AND NOT settled",
        &[&id, &charged],
    )
    .await
    .map_err(q)?;
    Ok(())
}

/// One event of a job's history.
#[derive(Clone, Debug)]
pub struct JobEvent {
    pub id: i64,
    pub kind: String,
    pub data: Value,
    pub at: DateTime<Utc>,
}

/// The job's events after `after`, oldest first.
pub async fn events_after(
    state: &AppState,
    id: Uuid,
    after: i64,
    limit: i64,
) -> Result<Vec<JobEvent>, AppError> {
    let c = platform::db::conn(&state.pool).await?;
    let rows = c
        .query(
            "SELECT id, kind, data, created_at FROM avatar_job_events
             WHERE job_id = $1 AND id > $2 ORDER BY id LIMIT $3",
            &[&id, &after, &limit],
        )
        .await
        .map_err(q)?;
    Ok(rows
        .iter()
        .map(|r| JobEvent {
            id: r.get(0),
            kind: r.get(1),
            data: r.get(2),
            at: r.get(3),
        })
        .collect())
}

/// Queues again the jobs whose message seems lost: queued and not taken,
/// or running with a lease that expired, for longer than `after`.
pub async fn redispatch_stuck(state: &AppState, after: Duration) -> Result<Vec<Uuid>, AppError> {
    let mut c = platform::db::conn(&state.pool).await?;
    let tx = c.transaction().await.map_err(q)?;
    let secs = after.as_secs_f64();
    let rows = tx
        .query(
            "UPDATE avatar_jobs SET dispatched_at = now() WHERE id IN (
                SELECT id FROM avatar_jobs
                WHERE state IN ('queued', 'running')
                  AND COALESCE(dispatched_at, created_at) < now() - make_interval(secs => $1)
                  AND (state = 'queued' OR lease_until IS NULL OR lease_until < now() - make_interval(secs => $1))
                ORDER BY updated_at LIMIT 20 FOR UPDATE SKIP LOCKED)
             RETURNING id",
            &[&secs],
        )
        .await
        .map_err(q)?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.get(0)).collect();
    for id in &ids {
        dispatch(&tx, *id).await?;
    }
    tx.commit().await.map_err(q)?;
    Ok(ids)
}

/// Ended jobs whose hold is not settled yet (the settlement failed or has
/// not run), oldest first.
pub async fn unsettled(state: &AppState, older_than: Duration) -> Result<Vec<Uuid>, AppError> {
    let c = platform::db::conn(&state.pool).await?;
    let rows = c
        .query(
            "SELECT id FROM avatar_jobs
             WHERE finished_at IS NOT NULL AND NOT settled AND hold_id IS NOT NULL
               AND finished_at < now() - make_interval(secs => $1)
             ORDER BY finished_at LIMIT 50",
            &[&older_than.as_secs_f64()],
        )
        .await
        .map_err(q)?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Forgets submits abandoned before pricing answered (their hold, if any,
/// expires by itself).
pub async fn forget_abandoned_submits(state: &AppState) -> Result<u64, AppError> {
    let c = platform::db::conn(&state.pool).await?;
    c.execute(
        "DELETE FROM avatar_jobs WHERE state = 'submitting' AND created_at < now() - interval '1 day'",
        &[],
    )
    .await
    .map_err(q)
}
