//! Live consultations with readers: chat, and voice or video calls on Agora,
//! billed by the minute.
//!
//! * [`readers`]: the reader role (granted by an admin), profiles, status.
//! * [`sessions`]: the lifecycle a user and a reader drive over HTTP:
//!   request (quote and first hold), accept or decline, tokens, heartbeats,
//!   chat messages, end, rating.
//! * [`billing`]: one loop per instance that times sessions out, bills
//!   started minutes, keeps the holds ahead of use, ends sessions whose
//!   credit ran out and settles ended ones (capture what was used, release
//!   the rest). Everything it needs is in the database, so a restart (or
//!   another replica) carries on where it stopped.
//! * [`events`]: what happened in a session, stored in order and streamed
//!   as Server-Sent Events.
//! * [`webhook`]: presence from Agora's Notification Center.

pub mod billing;
pub mod events;
pub mod readers;
pub mod sessions;
pub mod webhook;

use crate::state::AppState;
use actix_web::web;
use platform::AppError;
use serde::{Deserialize, Serialize};
use utoipa::OpenApi;
use uuid::Uuid;

#[derive(OpenApi)]
#[openapi(
    paths(
        readers::list_readers,
        readers::my_profile,
        readers::update_my_profile,
        readers::set_my_status,
        readers::admin_list_readers,
        readers::admin_put_reader,
        readers::admin_revoke_reader,
        sessions::request_session,
        sessions::list_sessions,
        sessions::get_session,
        sessions::accept,
        sessions::decline,
        sessions::end,
        sessions::token,
        sessions::heartbeat,
        sessions::list_messages,
        sessions::post_message,
        sessions::rate,
        events::stream,
        webhook::agora_events
    ),
    components(schemas(
        Kind,
        readers::ReaderView,
        readers::ReaderList,
        readers::ReaderProfile,
        readers::ReaderGrant,
        readers::StatusChange,
        readers::ReaderStatus,
        sessions::NewSession,
        sessions::SessionView,
        sessions::SessionList,
        sessions::CallToken,
        sessions::NewMessage,
        sessions::ChatMessage,
        sessions::MessageList,
        sessions::Rating,
        webhook::NoticeReceipt,
        common::ErrorBody
    )),
    modifiers(&InternalTokenAuth)
)]
pub struct ApiDoc;

pub fn routes(cfg: &mut web::ServiceConfig) {
    use readers as r;
    use sessions as s;
    cfg.route("/api/v1/live/readers", web::get().to(r::list_readers))
        .route("/api/v1/live/readers/me", web::get().to(r::my_profile))
        .route(
            "/api/v1/live/readers/me",
            web::put().to(r::update_my_profile),
        )
        .route(
            "/api/v1/live/readers/me/status",
            web::put().to(r::set_my_status),
        )
        .route(
            "/api/v1/admin/media/readers",
            web::get().to(r::admin_list_readers),
        )
        .route(
            "/api/v1/admin/media/readers/{user_id}",
            web::put().to(r::admin_put_reader),
        )
        .route(
            "/api/v1/admin/media/readers/{user_id}",
            web::delete().to(r::admin_revoke_reader),
        )
        .route("/api/v1/live/sessions", web::post().to(s::request_session))
        .route("/api/v1/live/sessions", web::get().to(s::list_sessions))
        .route("/api/v1/live/sessions/{id}", web::get().to(s::get_session))
        .route(
            "/api/v1/live/sessions/{id}/accept",
            web::post().to(s::accept),
        )
        .route(
            "/api/v1/live/sessions/{id}/decline",
            web::post().to(s::decline),
        )
        .route("/api/v1/live/sessions/{id}/end", web::post().to(s::end))
        .route("/api/v1/live/sessions/{id}/token", web::get().to(s::token))
        .route(
            "/api/v1/live/sessions/{id}/heartbeat",
            web::post().to(s::heartbeat),
        )
        .route(
            "/api/v1/live/sessions/{id}/messages",
            web::get().to(s::list_messages),
        )
        .route(
            "/api/v1/live/sessions/{id}/messages",
            web::post().to(s::post_message),
        )
        .route("/api/v1/live/sessions/{id}/rating", web::post().to(s::rate))
        .route(
            "/api/v1/live/sessions/{id}/events",
            web::get().to(events::stream),
        )
        .route(
            "/api/v1/live/agora/events",
            web::post().to(webhook::agora_events),
        );
}

/// Starts the billing loop.
pub fn start(runtime: &mut platform::runtime::Runtime, state: web::Data<AppState>) {
    runtime.spawn(move |stop| billing::run(state, stop));
}

/// What a session is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Text messages, delivered to both sides as they are sent.
    Chat,
    /// An Agora voice call.
    Voice,
    /// An Agora video call.
    Video,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Chat => "chat",
            Kind::Voice => "voice",
            Kind::Video => "video",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "chat" => Some(Kind::Chat),
            "voice" => Some(Kind::Voice),
            "video" => Some(Kind::Video),
            _ => None,
        }
    }

    /// Whether it needs an Agora channel.
    pub fn is_call(self) -> bool {
        self != Kind::Chat
    }
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Kind::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "{}must be one of chat, voice, video",
                platform::input::VALIDATION_MARK
            ))
        })
    }
}

/// Which participant a caller is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    User,
    Reader,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::User => "user",
            Side::Reader => "reader",
        }
    }
}

/// A path id that is not a UUID names nothing: 404, like an unknown one.
pub fn path_id(s: &str, what: &str) -> Result<Uuid, AppError> {
    Uuid::parse_str(s).map_err(|_| AppError::not_found(what))
}

/// The principal the billing loop acts for when it moves a user's credits.
pub fn acting_for(user: Uuid) -> common::Principal {
    common::Principal {
        user_id: common::UserId(user),
        roles: vec![common::Role::User],
    }
}

/// Adds the internal-token security scheme the operations name.
pub struct InternalTokenAuth;
impl utoipa::Modify for InternalTokenAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "internal_token",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Internal-Token",
                "short-lived internal token the gateway signs for the authenticated user",
            ))),
        );
    }
}
