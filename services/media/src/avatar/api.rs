//! The users' API of avatar jobs: submit (credits held before anything is
//! queued), read, follow (SSE), cancel, and fetch the result (range
//! requests) and captions. Every job is its owner's: anyone else gets 404.

use super::jobs::{self, JobEvent, NewRow};
use super::metrics::KindLabels;
use super::model::{Binary, JobState, JobView, Kind, NewJob};
use super::range::{self, Range};
use super::{credits, store, worker};
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;
use common::subjects::media as subj;
use common::{ErrorBody, ErrorCode};
use futures_util::StreamExt;
use object_store::{GetOptions, GetRange, ObjectStore};
use platform::auth::Authenticated;
use platform::http::Json;
use platform::AppError;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::VecDeque;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Longest `Idempotency-Key`.
pub const MAX_IDEMPOTENCY_KEY: usize = 200;
/// A comment line is sent when an event stream has been quiet this long.
const KEEPALIVE: Duration = Duration::from_secs(15);

fn idempotency_key(req: &HttpRequest) -> Result<String, AppError> {
    const FIELD: &str = common::subjects::headers::IDEMPOTENCY_KEY;
    let v = req.headers().get(FIELD).ok_or_else(|| {
        AppError::new(
            ErrorCode::BadRequest,
            "an Idempotency-Key header is required: repeating a submit with the same key \
             returns the same job instead of making (and charging) another",
        )
        .with_field(FIELD)
    })?;
    let k = v
        .to_str()
        .map(str::trim)
        .ok()
        .filter(|k| {
            !k.is_empty()
                && k.len() <= MAX_IDEMPOTENCY_KEY
                && k.bytes().all(|b| (b' '..=b'~').contains(&b))
        })
        .ok_or_else(|| {
            AppError::validation(
                FIELD,
                format!("must be 1 to {MAX_IDEMPOTENCY_KEY} printable ASCII characters"),
            )
        })?;
    Ok(k.to_owned())
}

fn job_id(s: &str) -> Result<Uuid, AppError> {
    Uuid::parse_str(s).map_err(|_| AppError::not_found("avatar job"))
}

/// A submit, checked and normalised.
struct Spec {
    kind: Kind,
    /// A guidance answer of the caller's to speak (its text is fetched).
    message: Option<Uuid>,
    text: String,
    language: super::model::Language,
    voice: Option<String>,
    image_id: Option<Uuid>,
}

impl Spec {
    fn parse(b: NewJob) -> Result<Spec, AppError> {
        if b.guidance_message_id.is_some() && b.text.is_some() {
            return Err(AppError::validation(
                "guidance_message_id",
                "send either `text` or `guidance_message_id`, not both",
            ));
        }
        let text = b
            .text
            .map(|t| t.as_str().trim().to_owned())
            .unwrap_or_default();
        if text.is_empty() && b.guidance_message_id.is_none() {
            return Err(AppError::validation(
                "text",
                format!(
                    "is required: 1 to {} characters for the avatar to say",
                    super::model::MAX_TEXT
                ),
            ));
        }
        if b.kind == Kind::Voice && b.image_id.is_some() {
            return Err(AppError::validation(
                "image_id",
                "applies to video jobs only",
            ));
        }
        Ok(Spec {
            kind: b.kind,
            message: b.guidance_message_id,
            text,
            language: b.language,
            voice: b.voice.map(|v| v.as_str().to_owned()),
            image_id: b.image_id,
        })
    }

    /// Identifies the request for idempotency (same key, same request).
    fn hash(&self) -> String {
        let canonical = format!(
            "v1\n{}\n{}\n{}\n{}\n{}",
            self.kind.as_str(),
            self.language.as_str(),
            self.voice.as_deref().unwrap_or(""),
            self.image_id.map(|i| i.to_string()).unwrap_or_default(),
            self.text
        );
        hex::encode(Sha256::digest(canonical.as_bytes()))
    }
}

#[derive(serde::Deserialize)]
struct AnswerText {
    content: String,
}

/// The text of one of the caller's guidance answers (guidance checks that
/// it is theirs), trimmed to what a job may say.
async fn guidance_answer(
    state: &AppState,
    p: &common::Principal,
    message: Uuid,
) -> Result<String, AppError> {
    let r: Result<AnswerText, AppError> = state
        .bus
        .request(
            common::subjects::guidance::MESSAGE_GET,
            Some(p),
            &platform::nats::CallContext::current(),
            &serde_json::json!({ "message_id": message }),
        )
        .await;
    let a = match r {
        Ok(a) => a,
        Err(e) if e.code == ErrorCode::NotFound => {
            return Err(AppError::validation(
                "guidance_message_id",
                "is not one of your delivered guidance answers",
            ))
        }
        Err(e)
            if matches!(
                e.code,
                ErrorCode::Timeout
                    | ErrorCode::MessagingUnavailable
                    | ErrorCode::ServiceUnavailable
            ) =>
        {
            return Err(AppError::new(
                ErrorCode::ServiceUnavailable,
                "guidance is unavailable to read the answer; try again shortly",
            )
            .with_cause(anyhow::anyhow!("{}", e.message)))
        }
        Err(e) => return Err(e),
    };
    let text: String = a
        .content
        .trim()
        .chars()
        .take(super::model::MAX_TEXT)
        .collect();
    if text.is_empty() {
        return Err(AppError::validation(
            "guidance_message_id",
            "the answer has no text to say",
        ));
    }
    Ok(text)
}

fn conflict(existing: Uuid) -> AppError {
    AppError::new(
        ErrorCode::IdempotencyConflict,
        format!(
            "this Idempotency-Key was already used for a different avatar job ({existing}); \
             use a new key for a new job"
        ),
    )
    .with_field(common::subjects::headers::IDEMPOTENCY_KEY)
}

/// Submit an avatar voice or video job.
///
/// The job's credits are held first (402 before anything is queued); they
/// are captured when the job succeeds and released when it fails or is
/// cancelled. Repeating a submit with the same `Idempotency-Key` and body
/// returns the same job (200); the same key with another body is 409.
#[utoipa::path(post, path = "/api/v1/avatars/jobs", request_body = NewJob,
    params(("Idempotency-Key" = String, Header, description = "required; 1 to 200 printable ASCII characters")),
    responses(
        (status = 201, body = JobView, description = "queued (credits held)"),
        (status = 200, body = JobView, description = "the job this Idempotency-Key already made (same request)"),
        (status = 400, body = ErrorBody, description = "bad_request (no Idempotency-Key) or malformed_json"),
        (status = 401, body = ErrorBody, description = "unauthorized"),
        (status = 402, body = ErrorBody, description = "insufficient_credits (no job was made)"),
        (status = 409, body = ErrorBody, description = "idempotency_conflict: the key was used for a different request"),
        (status = 413, body = ErrorBody, description = "payload_too_large"),
        (status = 415, body = ErrorBody, description = "unsupported_media_type"),
        (status = 422, body = ErrorBody, description = "validation_failed naming the field: text (1..=2000 characters), \
            language, voice, image_id (unknown, or on a voice job), guidance_message_id (not one of the caller's delivered answers, or given with text), Idempotency-Key"),
        (status = 503, body = ErrorBody, description = "avatar messages are turned off, or pricing, guidance or the database is unavailable")),
    security(("internal_token" = [])))]
pub async fn submit(
    state: web::Data<AppState>,
    Authenticated(p): Authenticated,
    req: HttpRequest,
    body: Json<NewJob>,
) -> Result<HttpResponse, AppError> {
    let key = idempotency_key(&req)?;
    let mut spec = Spec::parse(body.0)?;
    if let Some(message) = spec.message {
        spec.text = guidance_answer(&state, &p, message).await?;
    }
    let cfg = &state.cfg.avatar;
    if !cfg.enabled {
        return Err(AppError::new(
            ErrorCode::ServiceUnavailable,
            "avatar messages are turned off",
        ));
    }
    let hash = spec.hash();
    let user = p.user_id.as_uuid();
    let service_code = match spec.kind {
        Kind::Voice => &cfg.service_codes.voice,
        Kind::Video => &cfg.service_codes.video,
    };
    let c = platform::db::conn(&state.pool).await?;
    let mut created = false;
    let job = match jobs::by_key(&c, user, &key).await? {
        Some(existing) => existing,
        None => {
            let image_id = match spec.kind {
                Kind::Video => super::images::resolve(&c, spec.image_id).await?,
                Kind::Voice => None,
            };
            let new = NewRow {
                user,
                key: &key,
                hash: &hash,
                kind: spec.kind,
                text: &spec.text,
                language: spec.language,
                voice: spec.voice.as_deref(),
                image_id,
                provider: state.avatars.pipeline.provider_for(spec.kind),
                service_code,
            };
            match jobs::insert_submitting(&c, &new).await? {
                Some(j) => {
                    created = true;
                    j
                }
                // The same key arrived concurrently.
                None => jobs::by_key(&c, user, &key)
                    .await?
                    .ok_or_else(|| AppError::internal(anyhow::anyhow!("job for key vanished")))?,
            }
        }
    };
    drop(c);
    if job.request_hash != hash {
        return Err(conflict(job.id));
    }
    if job.state != JobState::Submitting {
        return Ok(HttpResponse::Ok().json(job.view()));
    }
    // Credits: the same quote and hold keys for every repeat of this submit.
    let refused = |e: AppError| {
        let state = state.clone();
        let id = job.id;
        async move {
            if !credits::outcome_unknown(&e) {
                if let Ok(c) = platform::db::conn(&state.pool).await {
                    let _ = jobs::delete_submitting(&c, id).await;
                }
            }
            e
        }
    };
    let quote_id = match job.quote_id {
        Some(q) => q,
        None => match credits::quote(&state.bus, &p, &job.service_code).await {
            Ok(q) => {
                let c = platform::db::conn(&state.pool).await?;
                jobs::set_quote(&c, job.id, q).await?
            }
            Err(e) => return Err(refused(e).await),
        },
    };
    let (hold_id, amount) =
        match credits::hold(&state.bus, &p, job.id, quote_id, cfg.hold_ttl_secs).await {
            Ok(h) => h,
            Err(e) => return Err(refused(e).await),
        };
    let (job, queued_now) = jobs::queue(&state, job.id, hold_id.as_uuid(), amount).await?;
    if queued_now {
        state.outbox.notify();
        state
            .avatars
            .metrics
            .submitted
            .get_or_create(&KindLabels {
                kind: job.kind.as_str().to_owned(),
            })
            .inc();
        tracing::info!(job = %job.id, kind = job.kind.as_str(), credits = amount, "avatar job queued");
    }
    let mut resp = if created {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    };
    Ok(resp
        .insert_header((header::LOCATION, format!("/api/v1/avatars/jobs/{}", job.id)))
        .json(job.view()))
}

/// One of the caller's avatar jobs.
#[utoipa::path(get, path = "/api/v1/avatars/jobs/{id}",
    params(("id" = String, Path, format = Uuid, description = "job id")),
    responses(
        (status = 200, body = JobView),
        (status = 401, body = ErrorBody, description = "unauthorized"),
        (status = 404, body = ErrorBody, description = "not_found (or not the caller's)"),
        (status = 503, body = ErrorBody, description = "database_unavailable")),
    security(("internal_token" = [])))]
pub async fn get(
    state: web::Data<AppState>,
    Authenticated(p): Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = job_id(&id)?;
    let c = platform::db::conn(&state.pool).await?;
    let job = jobs::owned(&c, p.user_id.as_uuid(), id).await?;
    Ok(HttpResponse::Ok().json(job.view()))
}

/// Cancel a queued or running job (its credits are released). Cancelling a
/// cancelled job answers the same; a job that already ended is 409.
#[utoipa::path(delete, path = "/api/v1/avatars/jobs/{id}",
    params(("id" = String, Path, format = Uuid, description = "job id")),
    responses(
        (status = 200, body = JobView, description = "cancelled (now or before)"),
        (status = 401, body = ErrorBody, description = "unauthorized"),
        (status = 404, body = ErrorBody, description = "not_found (or not the caller's)"),
        (status = 409, body = ErrorBody, description = "conflict: the job already succeeded or failed"),
        (status = 503, body = ErrorBody, description = "database_unavailable")),
    security(("internal_token" = [])))]
pub async fn cancel(
    state: web::Data<AppState>,
    Authenticated(p): Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = job_id(&id)?;
    let (job, now) = jobs::cancel(&state, p.user_id.as_uuid(), id).await?;
    if !now {
        if job.state != JobState::Cancelled {
            return Err(AppError::new(
                ErrorCode::Conflict,
                format!(
                    "the job already {}; there is nothing to cancel",
                    job.state.as_str()
                ),
            ));
        }
        return Ok(HttpResponse::Ok().json(job.view()));
    }
    worker::ended(&state, &job);
    state.avatars.cancel_local(id);
    if let Err(e) = state
        .bus
        .broadcast(subj::AVATAR_CANCEL, Bytes::from(id.to_string()))
        .await
    {
        tracing::debug!(error = ?e, "cancel broadcast not sent; the worker notices at its next lease extension");
    }
    if let Err(e) = worker::settle(&state, id).await {
        tracing::warn!(error = ?e, job = %id, "releasing the hold failed; the sweeper retries");
    }
    let c = platform::db::conn(&state.pool).await?;
    let job = jobs::owned(&c, p.user_id.as_uuid(), id).await?;
    Ok(HttpResponse::Ok().json(job.view()))
}

fn render(id: Uuid, ev: &JobEvent) -> Bytes {
    let mut data = ev.data.clone();
    if let Some(o) = data.as_object_mut() {
        o.insert("job_id".into(), json!(id));
        o.insert("at".into(), json!(ev.at));
    }
    Bytes::from(format!(
        "id: {}\nevent: {}\ndata: {data}\n\n",
        ev.id, ev.kind
    ))
}

fn is_terminal_event(kind: &str) -> bool {
    matches!(kind, "succeeded" | "failed" | "cancelled")
}

struct Follow {
    state: web::Data<AppState>,
    id: Uuid,
    last: i64,
    hints: Option<async_nats::Subscriber>,
    pending: VecDeque<JobEvent>,
    done: bool,
    last_write: Instant,
}

impl Follow {
    async fn next(mut self) -> Option<(Result<Bytes, std::convert::Infallible>, Follow)> {
        loop {
            if let Some(ev) = self.pending.pop_front() {
                if is_terminal_event(&ev.kind) {
                    self.done = true;
                    self.pending.clear();
                }
                self.last_write = Instant::now();
                let out = render(self.id, &ev);
                return Some((Ok(out), self));
            }
            if self.done {
                return None;
            }
            match jobs::events_after(&self.state, self.id, self.last, 100).await {
                Ok(evs) if !evs.is_empty() => {
                    self.last = evs.last().map(|e| e.id).unwrap_or(self.last);
                    self.pending.extend(evs);
                    continue;
                }
                Ok(_) => {}
                Err(e) => tracing::debug!(error = ?e, "reading job events failed; retrying"),
            }
            let quiet = KEEPALIVE.saturating_sub(self.last_write.elapsed());
            if quiet.is_zero() {
                self.last_write = Instant::now();
                return Some((Ok(Bytes::from_static(b": keep-alive\n\n")), self));
            }
            // A hint says new events are there; without one (or without
            // NATS) the database is read again every so often anyway.
            match &mut self.hints {
                Some(h) => {
                    tokio::select! {
                        m = h.next() => if m.is_none() { self.hints = None },
                        _ = tokio::time::sleep(quiet.min(Duration::from_secs(2))) => {}
                    }
                }
                None => tokio::time::sleep(quiet.min(Duration::from_millis(500))).await,
            }
        }
    }
}

/// The job's progress as server-sent events: its history (after
/// `Last-Event-ID`, if given), then new events as they happen, until the
/// job ends.
#[utoipa::path(get, path = "/api/v1/avatars/jobs/{id}/events",
    params(("id" = String, Path, format = Uuid, description = "job id"),
        ("Last-Event-ID" = Option<String>, Header, description = "resume after this event id")),
    responses(
        (status = 200, description = "text/event-stream: events `queued`, `running` {attempt}, `progress` {stage}, \
            `retrying` {stage, retry, delay_ms, error}, then one of `succeeded` {content_type, bytes, duration_ms, result_url}, \
            `failed` {error: {code, message}} or `cancelled`, which ends the stream. Each event's data has `state`, `job_id` \
            and `at`; its id is the event's sequence number. Comment lines keep a quiet stream open.",
         content_type = "text/event-stream", body = String),
        (status = 401, body = ErrorBody, description = "unauthorized"),
        (status = 404, body = ErrorBody, description = "not_found (or not the caller's)"),
        (status = 503, body = ErrorBody, description = "database_unavailable")),
    security(("internal_token" = [])))]
pub async fn events(
    state: web::Data<AppState>,
    Authenticated(p): Authenticated,
    id: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, AppError> {
    let id = job_id(&id)?;
    {
        let c = platform::db::conn(&state.pool).await?;
        jobs::owned(&c, p.user_id.as_uuid(), id).await?;
    }
    let last = req
        .headers()
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.trim().parse::<i64>().ok())
        .unwrap_or(0);
    // Subscribe before the first read, so no hint falls between them.
    let hints = state
        .bus
        .subscribe(&format!("{}.{id}", subj::AVATAR_PROGRESS_PREFIX))
        .await
        .ok();
    let follow = Follow {
        state: state.clone(),
        id,
        last,
        hints,
        pending: VecDeque::new(),
        done: false,
        last_write: Instant::now(),
    };
    let body = futures_util::stream::unfold(follow, Follow::next);
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header(("x-accel-buffering", "no"))
        .streaming(body))
}

fn not_ready(job: &jobs::JobRow) -> AppError {
    AppError::new(
        ErrorCode::Conflict,
        format!(
            "the job is {}; its files exist once it has succeeded",
            job.state.as_str()
        ),
    )
}

fn store_error(e: object_store::Error) -> AppError {
    AppError::new(
        ErrorCode::ServiceUnavailable,
        "the avatar store is unavailable",
    )
    .with_cause(e)
}

/// The result file, with range requests (`Range: bytes=a-b`, `bytes=a-`,
/// `bytes=-n`).
#[utoipa::path(get, path = "/api/v1/avatars/jobs/{id}/result",
    params(("id" = String, Path, format = Uuid, description = "job id"),
        ("Range" = Option<String>, Header, description = "one range: bytes=a-b, bytes=a- or bytes=-n (several ranges: the whole file)")),
    responses(
        (status = 200, description = "the whole file (Accept-Ranges: bytes)",
         content((Binary = "audio/ogg"), (Binary = "audio/mpeg"), (Binary = "video/mp4"))),
        (status = 206, description = "the requested range, with Content-Range",
         content((Binary = "audio/ogg"), (Binary = "audio/mpeg"), (Binary = "video/mp4"))),
        (status = 401, body = ErrorBody, description = "unauthorized"),
        (status = 404, body = ErrorBody, description = "not_found (or not the caller's)"),
        (status = 409, body = ErrorBody, description = "conflict: the job has not succeeded"),
        (status = 416, body = ErrorBody, description = "range_not_satisfiable, with Content-Range: bytes */<size>"),
        (status = 503, body = ErrorBody, description = "database_unavailable, or the store is unavailable")),
    security(("internal_token" = [])))]
pub async fn result(
    state: web::Data<AppState>,
    Authenticated(p): Authenticated,
    id: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, AppError> {
    let id = job_id(&id)?;
    let job = {
        let c = platform::db::conn(&state.pool).await?;
        jobs::owned(&c, p.user_id.as_uuid(), id).await?
    };
    let (JobState::Succeeded, Some(key), Some(ct), Some(size)) = (
        job.state,
        job.result_key.as_deref(),
        job.result_type.as_deref(),
        job.result_bytes,
    ) else {
        return Err(not_ready(&job));
    };
    let size = u64::try_from(size).unwrap_or(0);
    let wanted = range::parse(
        req.headers()
            .get(header::RANGE)
            .and_then(|v| v.to_str().ok()),
        size,
    );
    let (status, get_range, content_range, len) = match wanted {
        Range::Unsatisfiable => {
            let body = ErrorBody {
                error: common::ApiError {
                    code: ErrorCode::Other("range_not_satisfiable".into()),
                    message: format!("the range is outside the file ({size} bytes)"),
                    request_id: platform::http::current_request_id(),
                    field: Some("Range".into()),
                },
            };
            return Ok(
                HttpResponse::build(actix_web::http::StatusCode::RANGE_NOT_SATISFIABLE)
                    .insert_header((header::CONTENT_RANGE, format!("bytes */{size}")))
                    .insert_header((header::ACCEPT_RANGES, "bytes"))
                    .json(body),
            );
        }
        Range::Full => (actix_web::http::StatusCode::OK, None, None, size),
        Range::Partial { start, end } => (
            actix_web::http::StatusCode::PARTIAL_CONTENT,
            Some(GetRange::Bounded(start..end + 1)),
            Some(format!("bytes {start}-{end}/{size}")),
            end + 1 - start,
        ),
    };
    let opts = GetOptions {
        range: get_range,
        ..Default::default()
    };
    let got = state
        .avatars
        .store
        .get_opts(&store::path(key), opts)
        .await
        .map_err(store_error)?;
    let stream = got.into_stream();
    let ext = key.rsplit('.').next().unwrap_or("bin");
    let mut resp = HttpResponse::build(status);
    resp.content_type(ct)
        .insert_header((header::ACCEPT_RANGES, "bytes"))
        .insert_header((header::CACHE_CONTROL, "private, max-age=86400"))
        .insert_header((header::ETAG, format!("\"{id}-{size}\"")))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("inline; filename=\"avatar-{id}.{ext}\""),
        ));
    if let Some(cr) = content_range {
        resp.insert_header((header::CONTENT_RANGE, cr));
    }
    Ok(resp.no_chunking(len).streaming(stream))
}

/// The WebVTT captions of a video job.
#[utoipa::path(get, path = "/api/v1/avatars/jobs/{id}/captions",
    params(("id" = String, Path, format = Uuid, description = "job id")),
    responses(
        (status = 200, description = "WebVTT, one cue per sentence timed over the speech", content_type = "text/vtt", body = String),
        (status = 401, body = ErrorBody, description = "unauthorized"),
        (status = 404, body = ErrorBody, description = "not_found (or not the caller's, or a voice job: captions are made for videos)"),
        (status = 409, body = ErrorBody, description = "conflict: the job has not succeeded"),
        (status = 503, body = ErrorBody, description = "database_unavailable, or the store is unavailable")),
    security(("internal_token" = [])))]
pub async fn captions(
    state: web::Data<AppState>,
    Authenticated(p): Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = job_id(&id)?;
    let job = {
        let c = platform::db::conn(&state.pool).await?;
        jobs::owned(&c, p.user_id.as_uuid(), id).await?
    };
    if job.kind != Kind::Video {
        return Err(AppError::new(
            ErrorCode::NotFound,
            "captions are made for video jobs only",
        ));
    }
    if job.state != JobState::Succeeded {
        return Err(not_ready(&job));
    }
    let Some(key) = job.captions_key.as_deref() else {
        return Err(AppError::not_found("captions"));
    };
    let bytes = state
        .avatars
        .store
        .get_opts(&store::path(key), GetOptions::default())
        .await
        .map_err(store_error)?
        .bytes()
        .await
        .map_err(store_error)?;
    Ok(HttpResponse::Ok()
        .content_type("text/vtt; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "private, max-age=86400"))
        .body(bytes))
}
