//! Conversations and answers.
//!
//! `POST /api/v1/guidance/conversations/{id}/messages` answers a question:
//! crisis messages get a fixed answer (no model, no charge, flagged); else
//! the chart comes from charts (`charts.chart.get`, summary form, acting for
//! the user), the facts that matter and the knowledge entries that fit are
//! chosen, pricing quotes and holds the credits (402 before any
//! generation), the model streams the answer, every sentence is checked
//! against the chart before it is sent, and the hold is captured when the
//! answer is delivered or released when the provider fails or the client
//! leaves first. With `Accept: text/event-stream` the answer streams as SSE
//! (`delta` events, then one `done`); otherwise one JSON body.

pub mod answer;
pub mod facts;
pub mod faithful;
pub mod lang;
pub mod prompt;
pub mod safety;
pub mod vocab;

use crate::state::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use common::{ErrorBody, ErrorCode};
use lang::{Language, Persona};
use platform::auth::{Admin, Authenticated};
use platform::db::q;
use platform::http::Json;
use platform::input::Text;
use platform::nats::{RpcRequest, RpcServer};
use platform::AppError;
use serde::{Deserialize, Serialize};
use utoipa::OpenApi;
use uuid::Uuid;

#[derive(OpenApi)]
#[openapi(
    paths(
        create_conversation,
        list_conversations,
        get_conversation,
        delete_conversation,
        post_message,
        list_flags,
        review_flag
    ),
    components(schemas(
        NewConversation,
        Conversation,
        ConversationList,
        ConversationDetail,
        MessageView,
        NewMessage,
        answer::Answer,
        answer::Source,
        answer::UsageView,
        facts::Fact,
        Flag,
        FlagList,
        Language,
        Persona,
        ErrorBody
    ))
)]
pub struct ApiDoc;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/api/v1/guidance/conversations")
            .route(web::post().to(create_conversation))
            .route(web::get().to(list_conversations)),
    )
    .service(
        web::resource("/api/v1/guidance/conversations/{id}")
            .route(web::get().to(get_conversation))
            .route(web::delete().to(delete_conversation)),
    )
    .service(
        web::resource("/api/v1/guidance/conversations/{id}/messages")
            .route(web::post().to(post_message)),
    )
    .service(web::resource("/api/v1/admin/guidance/flags").route(web::get().to(list_flags)))
    .service(
        web::resource("/api/v1/admin/guidance/flags/{id}/review")
            .route(web::post().to(review_flag)),
    );
}

// ---------------------------------------------------------------- types

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewConversation {
    /// A birth profile of the caller's (charts); default: their first one.
    #[schema(value_type = Option<String>, format = Uuid)]
    pub profile_id: Option<Uuid>,
    pub persona: Option<Persona>,
    pub language: Option<Language>,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Conversation {
    #[schema(value_type = String, format = Uuid)]
    pub id: Uuid,
    #[schema(value_type = Option<String>, format = Uuid)]
    pub profile_id: Option<Uuid>,
    pub persona: Persona,
    pub language: Language,
    pub title: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConversationList {
    pub conversations: Vec<Conversation>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MessageView {
    #[schema(value_type = String, format = Uuid)]
    pub id: Uuid,
    /// `user` or `assistant`
    pub role: String,
    pub content: String,
    /// `complete`, `failed`, `cancelled` or `crisis`
    pub status: String,
    pub credits_charged: i64,
    /// The knowledge entries the answer was given (`[]` for questions).
    #[schema(value_type = Vec<answer::Source>)]
    pub sources: serde_json::Value,
    /// The chart facts the answer was given (`[]` for questions).
    #[schema(value_type = Vec<facts::Fact>)]
    pub chart_facts: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConversationDetail {
    #[serde(flatten)]
    pub conversation: Conversation,
    pub messages: Vec<MessageView>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMessage {
    /// The question, 1 to 4,000 characters.
    #[schema(value_type = String, min_length = 1, max_length = 4000)]
    pub content: Text<4000>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Page {
    /// Page size, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl Page {
    fn parse(&self) -> Result<(i64, Option<Uuid>), AppError> {
        let limit = self.limit.unwrap_or(20);
        if !(1..=100).contains(&limit) {
            return Err(AppError::validation("limit", "must be between 1 and 100"));
        }
        let cursor =
            match &self.cursor {
                None => None,
                Some(c) => Some(Uuid::parse_str(c).map_err(|_| {
                    AppError::validation("cursor", "is not a cursor from this list")
                })?),
            };
        Ok((limit, cursor))
    }
}

fn conversation_id(s: &str) -> Result<Uuid, AppError> {
    Uuid::parse_str(s).map_err(|_| AppError::not_found("conversation"))
}

const CONVERSATION_COLUMNS: &str =
    "id, profile_id, persona, language, title, created_at, updated_at";

fn conversation_from(r: &tokio_postgres::Row) -> Conversation {
    Conversation {
        id: r.get("id"),
        profile_id: r.get("profile_id"),
        persona: Persona::parse(r.get("persona")).unwrap_or(Persona::Swamiji),
        language: Language::parse(r.get("language")).unwrap_or(Language::En),
        title: r.get("title"),
        created_at: r.get("created_at"),
        updated_at: r.get("updated_at"),
    }
}

/// The caller's conversation (404 for anyone else's).
pub async fn owned_conversation(
    state: &AppState,
    user: Uuid,
    id: Uuid,
) -> Result<Conversation, AppError> {
    let c = platform::db::conn(&state.pool).await?;
    let row = c
        .query_opt(
            &format!(
                "SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id = $1 AND user_id = $2"
            ),
            &[&id, &user],
        )
        .await
        .map_err(q)?
        .ok_or_else(|| AppError::not_found("conversation"))?;
    Ok(conversation_from(&row))
}

// ---------------------------------------------------------------- handlers

/// Start a conversation.
#[utoipa::path(post, path = "/api/v1/guidance/conversations", request_body = NewConversation,
    responses(
        (status = 201, body = Conversation),
        (status = 400, body = ErrorBody, description = "malformed_json"),
        (status = 401, body = ErrorBody, description = "unauthorized"),
        (status = 404, body = ErrorBody, description = "the profile is not the caller's"),
        (status = 413, body = ErrorBody, description = "payload_too_large"),
        (status = 415, body = ErrorBody, description = "unsupported_media_type"),
        (status = 422, body = ErrorBody, description = "validation_failed (persona or language unknown)"),
        (status = 503, body = ErrorBody, description = "charts is unavailable to check the profile")),
    security(("internal_token" = [])))]
pub async fn create_conversation(
    state: web::Data<AppState>,
    Authenticated(p): Authenticated,
    body: Json<NewConversation>,
) -> Result<HttpResponse, AppError> {
    let b = body.0;
    if let Some(profile) = b.profile_id {
        // The profile must be the caller's: charts answers 404 otherwise.
        answer::profile_exists(&state, &p, profile).await?;
    }
    let c = platform::db::conn(&state.pool).await?;
    let row = c
        .query_one(
            &format!(
                "INSERT INTO conversations (id, user_id, profile_id, persona, language)
                 VALUES ($1, $2, $3, $4, $5) RETURNING {CONVERSATION_COLUMNS}"
            ),
            &[
                &Uuid::now_v7(),
                &p.user_id.as_uuid(),
                &b.profile_id,
                &b.persona.unwrap_or(Persona::Swamiji).as_str(),
                &b.language.unwrap_or(Language::En).as_str(),
            ],
        )
        .await
        .map_err(q)?;
    Ok(HttpResponse::Created().json(conversation_from(&row)))
}

/// The caller's conversations, newest first.
#[utoipa::path(get, path = "/api/v1/guidance/conversations", params(Page),
    responses(
        (status = 200, body = ConversationList),
        (status = 401, body = ErrorBody, description = "unauthorized"),
        (status = 422, body = ErrorBody, description = "validation_failed (limit or cursor)")),
    security(("internal_token" = [])))]
pub async fn list_conversations(
    state: web::Data<AppState>,
    Authenticated(p): Authenticated,
    page: web::Query<Page>,
) -> Result<HttpResponse, AppError> {
    let (limit, before) = page.parse()?;
    let c = platform::db::conn(&state.pool).await?;
    let rows = c
        .query(
            &format!(
                "SELECT {CONVERSATION_COLUMNS} FROM conversations
                 WHERE user_id = $1 AND ($2::uuid IS NULL OR id < $2) ORDER BY id DESC LIMIT $3"
            ),
            &[&p.user_id.as_uuid(), &before, &(limit + 1)],
        )
        .await
        .map_err(q)?;
    let mut conversations: Vec<Conversation> = rows.iter().map(conversation_from).collect();
    let n = usize::try_from(limit).unwrap_or(20);
    let next_cursor = if conversations.len() > n {
        conversations.truncate(n);
        conversations.last().map(|c| c.id.to_string())
    } else {
        None
    };
    Ok(HttpResponse::Ok().json(ConversationList {
        conversations,
        next_cursor,
    }))
}

/// One conversation with its messages.
#[utoipa::path(get, path = "/api/v1/guidance/conversations/{id}",
    params(("id" = String, Path, format = Uuid, description = "conversation id")),
    responses(
        (status = 200, body = ConversationDetail),
        (status = 401, body = ErrorBody, description = "unauthorized"),
        (status = 404, body = ErrorBody, description = "not_found (or not the caller's)")),
    security(("internal_token" = [])))]
pub async fn get_conversation(
    state: web::Data<AppState>,
    Authenticated(p): Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = conversation_id(&id)?;
    let conversation = owned_conversation(&state, p.user_id.as_uuid(), id).await?;
    let c = platform::db::conn(&state.pool).await?;
    let rows = c
        .query(
            "SELECT id, role, content, status, credits_charged, sources, chart_facts, created_at
             FROM messages WHERE conversation_id = $1 ORDER BY created_at, id",
            &[&id],
        )
        .await
        .map_err(q)?;
    let messages = rows
        .iter()
        .map(|r| MessageView {
            id: r.get(0),
            role: r.get(1),
            content: r.get(2),
            status: r.get(3),
            credits_charged: r.get(4),
            sources: r.get(5),
            chart_facts: r.get(6),
            created_at: r.get(7),
        })
        .collect();
    Ok(HttpResponse::Ok().json(ConversationDetail {
        conversation,
        messages,
    }))
}

/// Delete a conversation and erase its messages.
#[utoipa::path(delete, path = "/api/v1/guidance/conversations/{id}",
    params(("id" = String, Path, format = Uuid, description = "conversation id")),
    responses(
        (status = 204, description = "deleted"),
        (status = 401, body = ErrorBody, description = "unauthorized"),
        (status = 404, body = ErrorBody, description = "not_found (or not the caller's)")),
    security(("internal_token" = [])))]
pub async fn delete_conversation(
    state: web::Data<AppState>,
    Authenticated(p): Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = conversation_id(&id)?;
    let c = platform::db::conn(&state.pool).await?;
    let n = c
        .execute(
            "DELETE FROM conversations WHERE id = $1 AND user_id = $2",
            &[&id, &p.user_id.as_uuid()],
        )
        .await
        .map_err(q)?;
    if n == 0 {
        return Err(AppError::not_found("conversation"));
    }
    Ok(HttpResponse::NoContent().finish())
}

/// Ask a question; the answer streams as SSE with `Accept: text/event-stream`.
#[utoipa::path(post, path = "/api/v1/guidance/conversations/{id}/messages",
    params(("id" = String, Path, format = Uuid, description = "conversation id")),
    request_body = NewMessage,
    responses(
        (status = 200, description = "the answer (JSON), or with Accept: text/event-stream a stream of `delta` events ({text}) then one `done` event (the answer without its text)",
         content((answer::Answer = "application/json"), (String = "text/event-stream"))),
        (status = 400, body = ErrorBody, description = "malformed_json"),
        (status = 401, body = ErrorBody, description = "unauthorized"),
        (status = 402, body = ErrorBody, description = "insufficient_credits (nothing was generated)"),
        (status = 404, body = ErrorBody, description = "not_found (or not the caller's)"),
        (status = 413, body = ErrorBody, description = "payload_too_large"),
        (status = 415, body = ErrorBody, description = "unsupported_media_type"),
        (status = 422, body = ErrorBody, description = "validation_failed (empty, too long or control characters)"),
        (status = 429, body = ErrorBody, description = "too_many_requests (per-user limit; see Retry-After)"),
        (status = 503, body = ErrorBody, description = "service_unavailable: pricing, charts or every language model is unavailable")),
    security(("internal_token" = [])))]
pub async fn post_message(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(p): Authenticated,
    id: web::Path<String>,
    body: Json<NewMessage>,
) -> Result<HttpResponse, AppError> {
    let id = conversation_id(&id)?;
    let sse = req
        .headers()
        .get(actix_web::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/event-stream"));
    let question = body.0.content.into_inner();
    answer::respond(state.into_inner(), p, id, question, sse).await
}

// ---------------------------------------------------------------- flags

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Flag {
    #[schema(value_type = String, format = Uuid)]
    pub id: Uuid,
    #[schema(value_type = String, format = Uuid)]
    pub user_id: Uuid,
    #[schema(value_type = Option<String>, format = Uuid)]
    pub conversation_id: Option<Uuid>,
    pub kind: String,
    pub language: String,
    pub excerpt: String,
    /// `open` or `reviewed`
    pub status: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FlagList {
    pub flags: Vec<Flag>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FlagQuery {
    /// `open` (default) or `reviewed`
    #[param(pattern = "^(open|reviewed)$")]
    pub status: Option<String>,
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// Messages flagged for review (crisis signals), newest first.
#[utoipa::path(get, path = "/api/v1/admin/guidance/flags", params(FlagQuery),
    responses(
        (status = 200, body = FlagList),
        (status = 401, body = ErrorBody, description = "unauthorized"),
        (status = 403, body = ErrorBody, description = "forbidden: admins only"),
        (status = 422, body = ErrorBody, description = "validation_failed")),
    security(("internal_token" = [])))]
pub async fn list_flags(
    state: web::Data<AppState>,
    _admin: Admin,
    query: web::Query<FlagQuery>,
) -> Result<HttpResponse, AppError> {
    let status = query.status.as_deref().unwrap_or("open");
    if !matches!(status, "open" | "reviewed") {
        return Err(AppError::validation("status", "must be open or reviewed"));
    }
    let (limit, before) = Page {
        limit: query.limit,
        cursor: query.cursor.clone(),
    }
    .parse()?;
    let c = platform::db::conn(&state.pool).await?;
    let rows = c
        .query(
            "SELECT id, user_id, conversation_id, kind, language, excerpt, status, created_at FROM flags
             WHERE status = $1 AND ($2::uuid IS NULL OR id < $2) ORDER BY id DESC LIMIT $3",
            &[&status, &before, &(limit + 1)],
        )
        .await
        .map_err(q)?;
    let mut flags: Vec<Flag> = rows
        .iter()
        .map(|r| Flag {
            id: r.get(0),
            user_id: r.get(1),
            conversation_id: r.get(2),
            kind: r.get(3),
            language: r.get(4),
            excerpt: r.get(5),
            status: r.get(6),
            created_at: r.get(7),
        })
        .collect();
    let n = usize::try_from(limit).unwrap_or(20);
    let next_cursor = if flags.len() > n {
        flags.truncate(n);
        flags.last().map(|f| f.id.to_string())
    } else {
        None
    };
    Ok(HttpResponse::Ok().json(FlagList { flags, next_cursor }))
}

/// Mark a flag reviewed.
#[utoipa::path(post, path = "/api/v1/admin/guidance/flags/{id}/review",
    params(("id" = String, Path, format = Uuid, description = "flag id")),
    responses(
        (status = 204, description = "reviewed"),
        (status = 401, body = ErrorBody, description = "unauthorized"),
        (status = 403, body = ErrorBody, description = "forbidden: admins only"),
        (status = 404, body = ErrorBody, description = "not_found")),
    security(("internal_token" = [])))]
pub async fn review_flag(
    state: web::Data<AppState>,
    Admin(admin): Admin,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = Uuid::parse_str(&id).map_err(|_| AppError::not_found("flag"))?;
    let c = platform::db::conn(&state.pool).await?;
    let n = c
        .execute(
            "UPDATE flags SET status = 'reviewed', reviewed_by = $2, reviewed_at = now() WHERE id = $1",
            &[&id, &admin.user_id.as_uuid()],
        )
        .await
        .map_err(q)?;
    if n == 0 {
        return Err(AppError::not_found("flag"));
    }
    Ok(HttpResponse::NoContent().finish())
}

// ---------------------------------------------------------------- NATS

/// Services that may have text generated (charged to them, not to a user).
pub const TEXT_CALLERS: &[&str] = &["social", "media"];

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TextGenerate {
    pub prompt: Text<8000>,
    #[serde(default)]
    pub persona: Option<Persona>,
    #[serde(default)]
    pub language: Option<Language>,
    #[serde(default)]
    pub max_tokens: Option<platform::input::Int<1, 1024>>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct GeneratedText {
    pub text: String,
    pub provider: String,
    pub usage: crate::llm::Usage,
}

/// Services that may read a user's answers, acting for that user (media
/// turns one into an avatar message).
pub const MESSAGE_READERS: &[&str] = &["media"];

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MessageGet {
    pub message_id: Uuid,
}

/// An answer as another service gets it.
#[derive(Debug, Deserialize, Serialize)]
pub struct AnswerText {
    pub id: Uuid,
    pub conversation_id: Uuid,
    pub content: String,
    pub language: Language,
    pub created_at: DateTime<Utc>,
}

/// `guidance.message.get`: one delivered answer (`complete` or `crisis`) in
/// a conversation of the acting user; 404 for anything else.
async fn answer_text(state: &AppState, user: Uuid, id: Uuid) -> Result<AnswerText, AppError> {
    let c = platform::db::conn(&state.pool).await?;
    let row = c
        .query_opt(
            "SELECT m.id, m.conversation_id, m.content, c.language, m.created_at
             FROM messages m JOIN conversations c ON c.id = m.conversation_id
             WHERE m.id = $1 AND c.user_id = $2 AND m.role = 'assistant'
               AND m.status IN ('complete', 'crisis')",
            &[&id, &user],
        )
        .await
        .map_err(q)?
        .ok_or_else(|| AppError::not_found("answer"))?;
    Ok(AnswerText {
        id: row.get(0),
        conversation_id: row.get(1),
        content: row.get(2),
        language: Language::parse(row.get(3)).unwrap_or(Language::En),
        created_at: row.get(4),
    })
}

pub async fn register(rpc: &mut RpcServer, state: web::Data<AppState>) -> anyhow::Result<()> {
    let reader = state.clone().into_inner();
    rpc.endpoint(
        common::subjects::guidance::MESSAGE_GET,
        MESSAGE_READERS,
        move |req: RpcRequest, body: MessageGet| {
            let st = reader.clone();
            async move {
                let user = req.acting_user(None)?;
                answer_text(&st, user.as_uuid(), body.message_id).await
            }
        },
    )
    .await?;
    let st = state.into_inner();
    rpc.endpoint(
        common::subjects::guidance::TEXT_GENERATE,
        TEXT_CALLERS,
        move |req: RpcRequest, body: TextGenerate| {
            let st = st.clone();
            async move { answer::generate_text(&st, &req.caller.service, body).await }
        },
    )
    .await?;
    Ok(())
}

/// A 503 for a dependency that did not answer.
pub fn unavailable(what: &str, cause: impl std::fmt::Display) -> AppError {
    AppError::new(
        ErrorCode::ServiceUnavailable,
        format!("{what} is unavailable; try again shortly"),
    )
    .with_cause(anyhow::anyhow!("{cause}"))
}
