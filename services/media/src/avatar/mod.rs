//! Avatar voice and video messages as durable jobs.
//!
//! * [`api`]: `POST /api/v1/avatars/jobs` holds the job's credits with
//!   pricing (402 before anything is queued), then, in one transaction,
//!   marks it queued and puts its id in the outbox for the JetStream
//!   work-queue stream `media.avatar.jobs`; `GET …/{id}`, `…/events` (SSE),
//!   `DELETE …/{id}`, `…/result` (range requests) and `…/captions`.
//! * [`worker`]: `avatar.workers` loops per instance pull jobs, claim them
//!   with a lease in the database, run the [`pipeline`] and end the job
//!   (with `evt.media.avatar.succeeded|failed` through the outbox), then
//!   capture or release the hold.
//! * [`pipeline`]: espeak-ng or ElevenLabs for speech, ffmpeg for Opus/MP3
//!   and for MP4 videos with WebVTT [`captions`], or D-ID for videos
//!   ([`providers`]); external programs through [`process`].
//! * [`images`]: admins upload avatar images; [`store`] keeps images and
//!   results (`object_store`: a directory, or S3 with the `s3` feature).

pub mod api;
pub mod captions;
pub mod config;
pub mod credits;
pub mod images;
pub mod jobs;
pub mod metrics;
pub mod model;
pub mod pipeline;
pub mod process;
pub mod providers;
pub mod range;
pub mod store;
pub mod worker;

pub use model::valid_voice;

use crate::state::AppState;
use actix_web::web;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;
use utoipa::OpenApi;
use uuid::Uuid;

#[derive(OpenApi)]
#[openapi(
    paths(
        api::submit,
        api::get,
        api::cancel,
        api::events,
        api::result,
        api::captions,
        images::user_list,
        images::upload,
        images::admin_list,
        images::deactivate
    ),
    components(schemas(
        model::NewJob,
        model::JobView,
        model::JobErrorView,
        model::ResultView,
        model::Kind,
        model::Language,
        model::JobState,
        model::Voice,
        model::Binary,
        images::AvatarImage,
        images::AvatarImageList,
        common::ErrorBody
    )),
    modifiers(&InternalTokenAuth)
)]
pub struct ApiDoc;

/// The name of the security scheme protected operations list.
pub const SECURITY_SCHEME: &str = "internal_token";

/// The identity the gateway forwards (`X-Internal-Token`).
struct InternalTokenAuth;
impl utoipa::Modify for InternalTokenAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            SECURITY_SCHEME,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Internal-Token",
                "short-lived internal token the gateway signs for the authenticated user",
            ))),
        );
    }
}

/// What the avatar side keeps in the shared state.
#[derive(Clone)]
pub struct Avatars {
    pub store: store::Store,
    pub pipeline: Arc<pipeline::Pipeline>,
    pub metrics: metrics::JobMetrics,
    /// Jobs this instance is running, to cancel them at once.
    running: Arc<Mutex<HashMap<Uuid, CancellationToken>>>,
}

impl Avatars {
    pub fn track(&self, job: Uuid, cancel: CancellationToken) {
        if let Ok(mut m) = self.running.lock() {
            m.insert(job, cancel);
        }
    }

    pub fn untrack(&self, job: Uuid) {
        if let Ok(mut m) = self.running.lock() {
            m.remove(&job);
        }
    }

    /// Cancels the job if this instance runs it.
    pub fn cancel_local(&self, job: Uuid) {
        if let Ok(m) = self.running.lock() {
            if let Some(c) = m.get(&job) {
                c.cancel();
            }
        }
    }
}

/// Builds what [`Avatars`] needs (store, providers, metrics) before the state exists.
pub async fn prepare(
    runtime: &mut platform::runtime::Runtime,
    cfg: &crate::config::MediaConfig,
) -> anyhow::Result<Avatars> {
    let store = store::build(&cfg.avatar.store)?;
    let metrics = metrics::JobMetrics::register(&runtime.metrics);
    let pipeline = pipeline::Pipeline::new(&cfg.avatar, store.clone(), metrics.clone())?;
    Ok(Avatars {
        store,
        pipeline: Arc::new(pipeline),
        metrics,
        running: Arc::new(Mutex::new(HashMap::new())),
    })
}

/// Starts the workers, the sweeper and the cancel listener once the state exists.
pub async fn start(
    runtime: &mut platform::runtime::Runtime,
    state: web::Data<AppState>,
) -> anyhow::Result<()> {
    for slot in 0..state.cfg.avatar.workers {
        let s = state.clone();
        runtime.spawn(move |token| worker::slot(s, slot, token));
    }
    let s = state.clone();
    runtime.spawn(move |token| worker::sweep(s, token));
    let s = state;
    runtime.spawn(move |token| worker::cancel_listener(s, token));
    Ok(())
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/api/v1/avatars/jobs").route(web::post().to(api::submit)))
        .service(
            web::resource("/api/v1/avatars/jobs/{id}")
                .route(web::get().to(api::get))
                .route(web::delete().to(api::cancel)),
        )
        .service(
            web::resource("/api/v1/avatars/jobs/{id}/events").route(web::get().to(api::events)),
        )
        .service(
            web::resource("/api/v1/avatars/jobs/{id}/result").route(web::get().to(api::result)),
        )
        .service(
            web::resource("/api/v1/avatars/jobs/{id}/captions").route(web::get().to(api::captions)),
        )
        .service(web::resource("/api/v1/avatars/images").route(web::get().to(images::user_list)))
        .service(
            web::resource("/api/v1/admin/media/avatar-images")
                .route(web::post().to(images::upload))
                .route(web::get().to(images::admin_list)),
        )
        .service(
            web::resource("/api/v1/admin/media/avatar-images/{id}")
                .route(web::delete().to(images::deactivate)),
        );
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    #[test]
    fn every_operation_is_documented_with_its_security_and_answers() {
        let doc = serde_json::to_value(<super::ApiDoc as utoipa::OpenApi>::openapi()).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        assert_eq!(paths.len(), 8, "{:?}", paths.keys().collect::<Vec<_>>());
        for (path, ops) in paths {
            for (method, op) in ops.as_object().unwrap() {
                let security = &op["security"][0];
                assert!(
                    security.get(super::SECURITY_SCHEME).is_some(),
                    "{method} {path}"
                );
                let answers = op["responses"].as_object().unwrap();
                assert!(answers.contains_key("401"), "{method} {path}");
                assert!(
                    answers.keys().any(|k| k.starts_with('2')),
                    "{method} {path}"
                );
            }
        }
        assert!(doc["components"]["securitySchemes"][super::SECURITY_SCHEME].is_object());
        assert_eq!(doc["components"]["schemas"]["Binary"]["format"], "binary");
        let result = &paths["/api/v1/avatars/jobs/{id}/result"]["get"]["responses"];
        for code in ["200", "206", "404", "409", "416"] {
            assert!(result.get(code).is_some(), "{code}");
        }
        assert!(result["206"]["content"]["video/mp4"].is_object());
    }
}
