//! One answer, from question to charged delivery (see the module above).

use super::facts::{ChartFacts, Fact};
use super::faithful::SentenceStream;
use super::lang::{self, Language, Persona};
use super::prompt::Prompt;
use super::{owned_conversation, safety, unavailable, Conversation, GeneratedText, TextGenerate};
use crate::llm::{ChatMessage, ChatRequest, Chunk, LlmError, Role, Usage};
use crate::retrieval::{Hit, Placement as Where};
use crate::state::AppState;
use actix_web::HttpResponse;
use common::event::UsageRecorded;
use common::subjects::{charts as charts_subj, guidance as subj, pricing};
use common::{ApiError, ErrorCode, EventEnvelope, HoldId, Principal, UserId};
use futures_util::StreamExt;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use platform::db::q;
use platform::nats::CallContext;
use platform::AppError;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use uuid::Uuid;

/// A knowledge entry the answer was given.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Source {
    pub id: String,
    pub title: String,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UsageView {
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
}

/// The answer (JSON), or the `done` event (without `text`).
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Answer {
    #[schema(value_type = String, format = Uuid)]
    pub message_id: Uuid,
    /// The whole answer (JSON answers only; SSE sends it as `delta` events).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// `complete`, or `crisis` for the fixed answer to a crisis message.
    pub status: String,
    pub provider: Option<String>,
    pub usage: UsageView,
    pub credits_charged: i64,
    /// Exactly the knowledge entries the model was given.
    pub sources: Vec<Source>,
    /// Exactly the chart facts the model was given (empty without a profile).
    pub chart_facts: Vec<Fact>,
    /// Sentences corrected from the chart, and dropped, before they were sent.
    pub corrected: u32,
    pub dropped: u32,
}

/// Questions per user per minute, per replica.
#[derive(Clone)]
pub struct Limiter(Arc<DefaultKeyedRateLimiter<UserId>>, DefaultClock);

impl Limiter {
    pub fn new(per_minute: u32) -> Limiter {
        let n = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
        Limiter(
            Arc::new(governor::RateLimiter::keyed(Quota::per_minute(n))),
            DefaultClock::default(),
        )
    }

    fn check(&self, user: UserId) -> Result<(), AppError> {
        self.0.check_key(&user).map_err(|n| {
            AppError::new(
                ErrorCode::TooManyRequests,
                "too many questions; please wait a little",
            )
            .with_retry_after(n.wait_time_from(self.1.now()).as_secs().max(1))
        })
    }
}

#[derive(Debug, Deserialize)]
struct QuoteReply {
    id: Uuid,
    total: i64,
}

#[derive(Debug, Deserialize)]
struct HoldReply {
    hold_id: HoldId,
    amount: i64,
}

/// What is streamed to the client.
enum Event {
    Delta(String),
    Done(Box<Answer>),
    Error(ApiError),
}

fn timeout(state: &AppState) -> Duration {
    Duration::from_millis(state.cfg.answers.upstream_timeout_ms)
}

/// Maps an upstream's failure: its own 4xx stays (e.g. 402), anything
/// unreachable is 503 naming the dependency.
fn upstream(what: &str, e: AppError) -> AppError {
    match e.code {
        ErrorCode::Timeout
        | ErrorCode::ServiceUnavailable
        | ErrorCode::MessagingUnavailable
        | ErrorCode::BadGateway => unavailable(what, e),
        _ => e,
    }
}

/// charts: the profile is the caller's (404 otherwise).
pub async fn profile_exists(
    state: &AppState,
    p: &Principal,
    profile: Uuid,
) -> Result<(), AppError> {
    state
        .bus
        .request_within::<_, serde_json::Value>(
            charts_subj::PROFILE_GET,
            Some(p),
            &CallContext::current(),
            &json!({ "profile_id": profile }),
            timeout(state),
        )
        .await
        .map(|_| ())
        .map_err(|e| upstream("charts", e))
}

/// The chart's facts: the conversation's profile, or the user's first one;
/// `None` when the user has no profile.
async fn chart_facts(
    state: &AppState,
    p: &Principal,
    conversation: &Conversation,
) -> Result<Option<ChartFacts>, AppError> {
    let mut body = json!({ "format": "summary" });
    if let Some(pid) = conversation.profile_id {
        body["profile_id"] = json!(pid);
    }
    let reply = state
        .bus
        .request_within::<_, serde_json::Value>(
            charts_subj::CHART_GET,
            Some(p),
            &CallContext::current(),
            &body,
            timeout(state),
        )
        .await;
    match reply {
        Ok(v) => Ok(ChartFacts::from_summary(&v["summary"])),
        // No profile to read (or the conversation's was deleted).
        Err(e) if matches!(e.code, ErrorCode::NotFound | ErrorCode::ValidationFailed) => Ok(None),
        Err(e) => Err(upstream("charts", e)),
    }
}

/// Knowledge for the question: the entries on the chart's own placements
/// the question touches, then the best matches for the question and its facts.
async fn teachings(state: &AppState, question: &str, facts: &[Fact]) -> Result<Vec<Hit>, AppError> {
    let want = state.cfg.answers.sources;
    let places: Vec<Where> = facts
        .iter()
        .filter(|f| f.kind == "placement")
        .filter_map(|f| {
            Some(Where {
                graha: f.graha.clone()?,
                house: f.house,
                sign: f.sign.clone(),
                nakshatra: None,
            })
        })
        .collect();
    let mut hits = state.retriever.placements(&places).await?;
    hits.truncate(want / 2);
    let query = format!(
        "{question}\n{}",
        facts
            .iter()
            .filter(|f| f.kind != "dasha")
            .map(|f| f.text.as_str())
            .collect::<Vec<_>>()
            .join(". ")
    );
    for h in state.retriever.search(&query, want * 2, None).await? {
        if hits.len() >= want {
            break;
        }
        if !hits.iter().any(|x| x.id == h.id) {
            hits.push(h);
        }
    }
    Ok(hits)
}

/// Everything decided before the model runs.
struct Job {
    user: Principal,
    conversation: Conversation,
    message_id: Uuid,
    question: String,
    facts: Option<ChartFacts>,
    chosen: Vec<Fact>,
    sources: Vec<Hit>,
    hold: Option<(HoldId, i64)>,
    history: Vec<ChatMessage>,
}

/// `POST …/messages`: validates, decides, then streams or collects.
pub async fn respond(
    state: Arc<AppState>,
    p: Principal,
    conversation_id: Uuid,
    question: String,
    sse: bool,
) -> Result<HttpResponse, AppError> {
    let conversation = owned_conversation(&state, p.user_id.as_uuid(), conversation_id).await?;
    let question = question.trim().to_owned();
    if question.is_empty() {
        return Err(AppError::validation("content", "ask a question"));
    }
    if question.chars().count() > state.cfg.answers.max_input_chars {
        return Err(AppError::validation(
            "content",
            format!(
                "must be at most {} characters",
                state.cfg.answers.max_input_chars
            ),
        ));
    }
    state.limiter.check(p.user_id)?;
    let message_id = Uuid::now_v7();
    if safety::is_crisis(&question) {
        let answer = crisis(&state, &p, &conversation, message_id, &question).await?;
        let text = answer.text.clone().unwrap_or_default();
        return Ok(if sse {
            let events = vec![Event::Delta(text), Event::Done(Box::new(answer))];
            sse_response(
                futures_util::stream::iter(events).boxed(),
                keepalive(&state),
            )
        } else {
            HttpResponse::Ok().json(answer)
        });
    }
    let facts = chart_facts(&state, &p, &conversation).await?;
    let chosen = facts
        .as_ref()
        .map(|f| f.select(&question))
        .unwrap_or_default();
    let sources = teachings(&state, &question, &chosen).await?;
    let history = history(&state, conversation_id).await?;
    // Price and hold before anything is generated: 402 here costs nothing.
    let hold = hold(&state, &p, message_id).await?;
    let job = Job {
        user: p,
        conversation,
        message_id,
        question,
        facts,
        chosen,
        sources,
        hold: Some(hold),
        history,
    };
    if let Err(e) = store_question(&state, &job).await {
        release(&state, &job).await;
        return Err(e);
    }
    let (tx, mut rx) = mpsc::channel::<Event>(64);
    tokio::spawn(run(state.clone(), job, tx));
    // The first event decides the status: a provider that fails before its
    // first token is an HTTP error, not a stream that ends in one.
    let first = rx.recv().await;
    match first {
        Some(Event::Error(e)) => Err(e.into()),
        None => Err(unavailable("the language model", "ended without an answer")),
        Some(first) if sse => {
            let rest = futures_util::stream::unfold(rx, |mut rx| async move {
                rx.recv().await.map(|e| (e, rx))
            });
            Ok(sse_response(
                futures_util::stream::iter([first]).chain(rest).boxed(),
                keepalive(&state),
            ))
        }
        Some(first) => {
            let mut text = String::new();
            let mut next = Some(first);
            loop {
                match next {
                    Some(Event::Delta(d)) => text.push_str(&d),
                    Some(Event::Done(mut a)) => {
                        a.text = Some(text);
                        return Ok(HttpResponse::Ok().json(a));
                    }
                    Some(Event::Error(e)) => return Err(e.into()),
                    None => return Err(unavailable("the language model", "ended early")),
                }
                next = rx.recv().await;
            }
        }
    }
}

fn keepalive(state: &AppState) -> Duration {
    Duration::from_millis(state.cfg.answers.keepalive_ms)
}

fn render(e: Event) -> bytes::Bytes {
    let (name, data) = match e {
        Event::Delta(text) => ("delta", json!({ "text": text })),
        Event::Done(a) => ("done", serde_json::to_value(*a).unwrap_or_default()),
        Event::Error(e) => ("error", json!({ "error": e })),
    };
    bytes::Bytes::from(format!("event: {name}\ndata: {data}\n\n"))
}

/// The events as SSE, with a comment line whenever `every` passes without
/// one: writing to a client that left fails, which drops this stream and
/// with it the receiver the generation sends to (see [`run`]).
fn sse_response(
    events: futures_util::stream::BoxStream<'static, Event>,
    every: Duration,
) -> HttpResponse {
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let body = futures_util::stream::unfold((events, tick), |(mut events, mut tick)| async move {
        let out = tokio::select! {
            e = events.next() => render(e?),
            _ = tick.tick() => bytes::Bytes::from_static(b": keep-alive\n\n"),
        };
        // Quiet time restarts after every write.
        tick.reset();
        Some((Ok::<_, std::convert::Infallible>(out), (events, tick)))
    });
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("cache-control", "no-cache"))
        .insert_header(("x-accel-buffering", "no"))
        .streaming(body)
}

/// Earlier turns of the conversation, oldest first (delivered answers only).
async fn history(state: &AppState, conversation: Uuid) -> Result<Vec<ChatMessage>, AppError> {
    let c = platform::db::conn(&state.pool).await?;
    let rows = c
        .query(
            "SELECT role, content FROM (
               SELECT role, content, created_at, id FROM messages
               WHERE conversation_id = $1 AND status = 'complete'
               ORDER BY created_at DESC, id DESC LIMIT 20) m ORDER BY created_at, id",
            &[&conversation],
        )
        .await
        .map_err(q)?;
    Ok(rows
        .iter()
        .map(|r| ChatMessage {
            role: if r.get::<_, &str>(0) == "user" {
                Role::User
            } else {
                Role::Assistant
            },
            content: r.get(1),
        })
        .collect())
}

async fn hold(
    state: &AppState,
    p: &Principal,
    message_id: Uuid,
) -> Result<(HoldId, i64), AppError> {
    let quote: QuoteReply = state
        .bus
        .request_within(
            pricing::QUOTE_CREATE,
            Some(p),
            &CallContext::current(),
            &json!({ "service_code": state.cfg.answers.service_code }),
            timeout(state),
        )
        .await
        .map_err(|e| upstream("pricing", e))?;
    let ctx = CallContext::current().with_idempotency_key(format!("guidance-hold:{message_id}"));
    let hold: HoldReply = state
        .bus
        .request_within(
            pricing::CREDITS_HOLD,
            Some(p),
            &ctx,
            &json!({ "quote_id": quote.id, "reference": format!("guidance:{message_id}") }),
            timeout(state),
        )
        .await
        .map_err(|e| upstream("pricing", e))?;
    tracing::debug!(quote = quote.total, held = hold.amount, "credits held");
    Ok((hold.hold_id, hold.amount))
}

/// Releases the job's hold; nothing is charged. Failures are logged (the
/// hold also expires by itself).
async fn release(state: &AppState, job: &Job) {
    let Some((hold_id, _)) = job.hold else { return };
    let ctx =
        CallContext::current().with_idempotency_key(format!("guidance-release:{}", job.message_id));
    let r = state
        .bus
        .request_within::<_, serde_json::Value>(
            pricing::CREDITS_RELEASE,
            Some(&job.user),
            &ctx,
            &json!({ "hold_id": hold_id }),
            timeout(state),
        )
        .await;
    if let Err(e) = r {
        tracing::warn!(error = ?e, %hold_id, "hold not released; it expires by itself");
    }
}

/// Captures the held credits for a delivered answer.
async fn capture(state: &AppState, job: &Job) -> Result<i64, AppError> {
    let Some((hold_id, amount)) = job.hold else {
        return Ok(0);
    };
    let ctx =
        CallContext::current().with_idempotency_key(format!("guidance-capture:{}", job.message_id));
    state
        .bus
        .request_within::<_, serde_json::Value>(
            pricing::CREDITS_CAPTURE,
            Some(&job.user),
            &ctx,
            &json!({ "hold_id": hold_id, "amount": amount }),
            timeout(state),
        )
        .await?;
    Ok(amount)
}

async fn store_question(state: &AppState, job: &Job) -> Result<(), AppError> {
    let mut c = platform::db::conn(&state.pool).await?;
    let tx = c.transaction().await.map_err(q)?;
    tx.execute(
        "INSERT INTO messages (id, conversation_id, role, content) VALUES ($1, $2, 'user', $3)",
        &[&Uuid::now_v7(), &job.conversation.id, &job.question],
    )
    .await
    .map_err(q)?;
    let title: String = job.question.chars().take(80).collect();
    tx.execute(
        "UPDATE conversations SET updated_at = now(), title = COALESCE(title, $2) WHERE id = $1",
        &[&job.conversation.id, &title],
    )
    .await
    .map_err(q)?;
    tx.commit().await.map_err(q)
}

/// The fixed answer to a crisis message: stored, flagged, not charged.
async fn crisis(
    state: &AppState,
    p: &Principal,
    conversation: &Conversation,
    message_id: Uuid,
    question: &str,
) -> Result<Answer, AppError> {
    let text = lang::crisis_answer(conversation.language).to_owned();
    let mut c = platform::db::conn(&state.pool).await?;
    let tx = c.transaction().await.map_err(q)?;
    tx.execute(
        "INSERT INTO messages (id, conversation_id, role, content) VALUES ($1, $2, 'user', $3)",
        &[&Uuid::now_v7(), &conversation.id, &question],
    )
    .await
    .map_err(q)?;
    tx.execute(
        "INSERT INTO messages (id, conversation_id, role, content, status) VALUES ($1, $2, 'assistant', $3, 'crisis')",
        &[&message_id, &conversation.id, &text],
    )
    .await
    .map_err(q)?;
    let excerpt: String = question.chars().take(500).collect();
    tx.execute(
        "INSERT INTO flags (id, user_id, conversation_id, kind, language, excerpt) VALUES ($1, $2, $3, 'crisis', $4, $5)",
        &[
            &Uuid::now_v7(),
            &p.user_id.as_uuid(),
            &conversation.id,
            &conversation.language.as_str(),
            &excerpt,
        ],
    )
    .await
    .map_err(q)?;
    tx.commit().await.map_err(q)?;
    tracing::warn!(conversation = %conversation.id, "crisis message answered and flagged");
    Ok(Answer {
        message_id,
        text: Some(text),
        status: "crisis".into(),
        provider: None,
        usage: UsageView::default(),
        credits_charged: 0,
        sources: Vec::new(),
        chart_facts: Vec::new(),
        corrected: 0,
        dropped: 0,
    })
}

/// How an answer ended.
enum Outcome {
    Delivered(Usage),
    Failed(LlmError),
    /// The client went away before `done`.
    Cancelled,
}

/// Generates, checks, streams and settles one answer.
async fn run(state: Arc<AppState>, job: Job, tx: mpsc::Sender<Event>) {
    let empty = ChartFacts::default();
    let facts = job.facts.as_ref().unwrap_or(&empty);
    let mut checker = SentenceStream::new(facts);
    let prompt = Prompt {
        persona: job.conversation.persona,
        language: job.conversation.language,
        facts: job.facts.as_ref().map(|_| job.chosen.as_slice()),
        teachings: &job.sources,
        history: &job.history,
        history_tokens: state.cfg.answers.history_tokens,
        teaching_chars: state.cfg.answers.teaching_chars,
        question: &job.question,
    };
    let req = ChatRequest {
        messages: prompt.messages(),
        max_tokens: state.cfg.llm.local.max_tokens,
        temperature: None,
        top_p: None,
    };
    let mut text = String::new();
    let mut provider = None;
    let outcome = match state.llm.generate(req).await {
        Err(e) => Outcome::Failed(e),
        Ok((name, mut stream)) => {
            provider = Some(name);
            let outcome = loop {
                // A client that leaves is noticed even while the provider is
                // silent (a stalled stream would otherwise keep the hold).
                let next = tokio::select! {
                    n = stream.next() => n,
                    () = tx.closed() => break Outcome::Cancelled,
                };
                match next {
                    Some(Ok(Chunk::Delta(d))) => {
                        let ready = checker.push(&d);
                        if !ready.is_empty() {
                            text.push_str(&ready);
                            if tx.send(Event::Delta(ready)).await.is_err() {
                                break Outcome::Cancelled;
                            }
                        }
                    }
                    Some(Ok(Chunk::Done(u))) => break Outcome::Delivered(u),
                    Some(Err(e)) => break Outcome::Failed(e),
                    None => {
                        break Outcome::Failed(LlmError::Provider {
                            provider: provider.clone().unwrap_or_default(),
                            message: "the stream ended without finishing".into(),
                        })
                    }
                }
            };
            // Stops the generation when it is not finished.
            drop(stream);
            outcome
        }
    };
    let outcome = match outcome {
        Outcome::Delivered(u) => {
            let mut tail = checker.finish();
            let mut extra: Vec<&str> = Vec::new();
            if job.facts.is_none() {
                extra.push(lang::no_profile_hint(job.conversation.language));
            }
            for t in safety::topics(&job.question) {
                extra.push(lang::disclaimer(job.conversation.language, t));
            }
            for e in extra {
                if !text.is_empty() || !tail.is_empty() {
                    tail.push_str("\n\n");
                }
                tail.push_str(e);
            }
            if !tail.is_empty() {
                text.push_str(&tail);
                if tx.send(Event::Delta(tail)).await.is_err() {
                    Outcome::Cancelled
                } else {
                    Outcome::Delivered(u)
                }
            } else {
                Outcome::Delivered(u)
            }
        }
        other => other,
    };
    // A client that left before `done` pays nothing.
    let outcome = match outcome {
        Outcome::Delivered(_) if tx.is_closed() => Outcome::Cancelled,
        o => o,
    };
    let (status, usage, charged) = match &outcome {
        Outcome::Delivered(u) => match capture(&state, &job).await {
            Ok(c) => ("complete", *u, c),
            Err(e) => {
                tracing::error!(error = ?e, message = %job.message_id, "answer delivered but not charged");
                ("complete", *u, 0)
            }
        },
        Outcome::Failed(e) => {
            tracing::warn!(error = %e, message = %job.message_id, "answer failed; hold released");
            release(&state, &job).await;
            ("failed", Usage::default(), 0)
        }
        Outcome::Cancelled => {
            tracing::info!(message = %job.message_id, "client left before the answer was done; hold released");
            release(&state, &job).await;
            ("cancelled", Usage::default(), 0)
        }
    };
    let answer = Answer {
        message_id: job.message_id,
        text: None,
        status: status.into(),
        provider: provider.clone(),
        usage: UsageView {
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
        },
        credits_charged: charged,
        sources: job
            .sources
            .iter()
            .map(|h| Source {
                id: h.id.clone(),
                title: h.title.clone(),
            })
            .collect(),
        chart_facts: job.chosen.clone(),
        corrected: checker.corrected,
        dropped: checker.dropped,
    };
    if let Err(e) = store_answer(&state, &job, &answer, &text).await {
        tracing::error!(error = ?e, message = %job.message_id, "answer not stored");
    }
    let event = match outcome {
        Outcome::Delivered(_) => Event::Done(Box::new(answer)),
        Outcome::Failed(e) => Event::Error(llm_error(e).body(None).error),
        Outcome::Cancelled => return,
    };
    let _ = tx.send(event).await;
}

/// The error a failed generation is answered with.
fn llm_error(e: LlmError) -> AppError {
    match e {
        LlmError::PromptTooLong => AppError::validation(
            "content",
            "the question and its context are too long for the model",
        ),
        other => unavailable("the language model", other),
    }
}

async fn store_answer(state: &AppState, job: &Job, a: &Answer, text: &str) -> Result<(), AppError> {
    let mut c = platform::db::conn(&state.pool).await?;
    let tx = c.transaction().await.map_err(q)?;
    tx.execute(
        "INSERT INTO messages (id, conversation_id, role, content, status, provider, prompt_tokens,
            completion_tokens, credits_charged, hold_id, sources, chart_facts, corrections)
         VALUES ($1, $2, 'assistant', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        &[
            &job.message_id,
            &job.conversation.id,
            &text,
            &a.status,
            &a.provider,
            &i32::try_from(a.usage.prompt_tokens).unwrap_or(i32::MAX),
            &i32::try_from(a.usage.completion_tokens).unwrap_or(i32::MAX),
            &a.credits_charged,
            &job.hold.map(|(h, _)| h.as_uuid()),
            &serde_json::to_value(&a.sources).map_err(AppError::internal)?,
            &serde_json::to_value(&a.chart_facts).map_err(AppError::internal)?,
            &i32::try_from(a.corrected + a.dropped).unwrap_or(i32::MAX),
        ],
    )
    .await
    .map_err(q)?;
    if a.status == "complete" {
        let event = EventEnvelope::new(
            subj::SERVICE,
            subj::EVT_USAGE_RECORDED,
            1,
            UsageRecorded {
                service_code: state.cfg.answers.service_code.clone(),
                units: 1,
                credits: a.credits_charged,
                user_id: Some(job.user.user_id),
                caller: None,
                hold_id: job.hold.map(|(h, _)| h),
                prompt_tokens: a.usage.prompt_tokens,
                completion_tokens: a.usage.completion_tokens,
                provider: a.provider.clone().unwrap_or_default(),
            },
        );
        platform::outbox::enqueue(&tx, &event, &CallContext::current()).await?;
    }
    tx.commit().await.map_err(q)?;
    state.outbox.notify();
    Ok(())
}

/// `guidance.text.generate`: text for another service (social captions,
/// avatar scripts), charged to that service, not to a user.
pub async fn generate_text(
    state: &AppState,
    caller: &str,
    body: TextGenerate,
) -> Result<GeneratedText, AppError> {
    let persona = body.persona.unwrap_or(Persona::General);
    let language = body.language.unwrap_or(Language::En);
    let system = format!(
        "{}\n\n{}",
        persona.system_prompt().trim(),
        language.instruction()
    );
    let req = ChatRequest {
        messages: vec![
            ChatMessage {
                role: Role::System,
                content: system,
            },
            ChatMessage {
                role: Role::User,
                content: safety::strip_control_tokens(&body.prompt),
            },
        ],
        max_tokens: body
            .max_tokens
            .map(|m| usize::try_from(m.get()).unwrap_or(256))
            .unwrap_or(state.cfg.llm.local.max_tokens),
        temperature: None,
        top_p: None,
    };
    let (provider, mut stream) = state.llm.generate(req).await.map_err(llm_error)?;
    let mut text = String::new();
    let mut usage = Usage::default();
    while let Some(chunk) = stream.next().await {
        match chunk.map_err(llm_error)? {
            Chunk::Delta(d) => text.push_str(&d),
            Chunk::Done(u) => {
                usage = u;
                break;
            }
        }
    }
    let mut c = platform::db::conn(&state.pool).await?;
    let tx = c.transaction().await.map_err(q)?;
    let event = EventEnvelope::new(
        subj::SERVICE,
        subj::EVT_USAGE_RECORDED,
        1,
        UsageRecorded {
            service_code: state.cfg.answers.text_service_code.clone(),
            units: 1,
            credits: 0,
            user_id: None,
            caller: Some(caller.to_owned()),
            hold_id: None,
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
            provider: provider.clone(),
        },
    );
    platform::outbox::enqueue(&tx, &event, &CallContext::current()).await?;
    tx.commit().await.map_err(q)?;
    state.outbox.notify();
    Ok(GeneratedText {
        text: text.trim().to_owned(),
        provider,
        usage,
    })
}
