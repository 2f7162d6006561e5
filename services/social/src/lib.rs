//! The JyotiFlow social service: daily posts from the real panchang, the
//! observances of the tithi and the knowledge base, rendered image cards,
//! an approval calendar, and idempotent publishing to Facebook, Instagram,
//! X, YouTube and Telegram, with analytics and a comment inbox.

pub mod api;
pub mod cards;
pub mod channels;
pub mod config;
pub mod credentials;
pub mod generate;
pub mod limits;
pub mod networks;
pub mod observances;
pub mod posts;
pub mod publish;
pub mod runner;
pub mod schedule;
pub mod state;
pub mod store;

use crate::config::SocialConfig;
use crate::state::AppState;
use actix_web::web;
use platform::config::BaseConfig;
use platform::migrate::Migration;
use platform::runtime::Runtime;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use utoipa::OpenApi;

pub const MIGRATIONS: &[Migration] =
    platform::migrations!("../../../migrations/social", 1 => "0001_init");

#[derive(OpenApi)]
#[openapi(
    info(
        title = "JyotiFlow social",
        description = "Channels (network accounts with sealed credentials), campaigns, schedules that run the panchang, observance and teaching generators, posts through approval to publishing, analytics and the comment inbox; rendered cards are public. Admin operations take the internal token the gateway signs (`X-Internal-Token`); through the gateway they take an admin's bearer access token."
    ),
    paths(
        api::list_channels,
        api::create_channel,
        api::patch_channel,
        api::list_campaigns,
        api::create_campaign,
        api::list_schedules,
        api::create_schedule,
        api::patch_schedule,
        api::list_posts,
        api::create_post,
        api::get_post,
        api::patch_post,
        api::approve,
        api::reject,
        api::publish_now,
        api::generate_now,
        api::analytics,
        api::comments,
        api::reply,
        api::dismiss,
        api::media
    ),
    components(schemas(
        api::NetworkName,
        api::Lang,
        api::NewChannel,
        api::ChannelPatch,
        api::ChannelList,
        api::NewCampaign,
        api::CampaignList,
        api::NewSchedule,
        api::SchedulePatch,
        api::ScheduleList,
        api::PostList,
        api::NewPost,
        api::PostPatch,
        api::PostDetail,
        api::Rejection,
        api::GenerateRequest,
        api::Generated,
        api::CampaignTotals,
        api::PostMetricsView,
        api::Analytics,
        api::CommentView,
        api::CommentList,
        api::ReplyApproval,
        store::ChannelView,
        store::CampaignView,
        store::ScheduleView,
        store::PostView,
        store::AttemptView,
        posts::Made,
        generate::Generator,
        generate::Params,
        common::ErrorBody
    )),
    modifiers(&InternalTokenAuth)
)]
pub struct ApiDoc;

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
                "short-lived internal token the gateway signs for the authenticated admin",
            ))),
        );
    }
}

pub fn routes(
    state: web::Data<AppState>,
) -> impl Fn(&mut web::ServiceConfig) + Clone + Send + 'static {
    move |cfg: &mut web::ServiceConfig| {
        let a = "/api/v1/admin/social";
        cfg.app_data(state.clone())
            .service(web::resource("/api/v1/social/media/{id}").route(web::get().to(api::media)))
            .service(
                web::resource(format!("{a}/channels"))
                    .route(web::get().to(api::list_channels))
                    .route(web::post().to(api::create_channel)),
            )
            .service(
                web::resource(format!("{a}/channels/{{id}}"))
                    .route(web::patch().to(api::patch_channel)),
            )
            .service(
                web::resource(format!("{a}/campaigns"))
                    .route(web::get().to(api::list_campaigns))
                    .route(web::post().to(api::create_campaign)),
            )
            .service(
                web::resource(format!("{a}/schedules"))
                    .route(web::get().to(api::list_schedules))
                    .route(web::post().to(api::create_schedule)),
            )
            .service(
                web::resource(format!("{a}/schedules/{{id}}"))
                    .route(web::patch().to(api::patch_schedule)),
            )
            .service(
                web::resource(format!("{a}/posts"))
                    .route(web::get().to(api::list_posts))
                    .route(web::post().to(api::create_post)),
            )
            .service(
                web::resource(format!("{a}/posts/{{id}}"))
                    .route(web::get().to(api::get_post))
                    .route(web::patch().to(api::patch_post)),
            )
            .service(
                web::resource(format!("{a}/posts/{{id}}/approve"))
                    .route(web::post().to(api::approve)),
            )
            .service(
                web::resource(format!("{a}/posts/{{id}}/reject"))
                    .route(web::post().to(api::reject)),
            )
            .service(
                web::resource(format!("{a}/posts/{{id}}/publish-now"))
                    .route(web::post().to(api::publish_now)),
            )
            .service(
                web::resource(format!("{a}/generate")).route(web::post().to(api::generate_now)),
            )
            .service(web::resource(format!("{a}/analytics")).route(web::get().to(api::analytics)))
            .service(web::resource(format!("{a}/comments")).route(web::get().to(api::comments)))
            .service(
                web::resource(format!("{a}/comments/{{id}}/reply"))
                    .route(web::post().to(api::reply)),
            )
            .service(
                web::resource(format!("{a}/comments/{{id}}/dismiss"))
                    .route(web::post().to(api::dismiss)),
            );
    }
}

/// A running social service: built identically by `main` and by the tests.
pub struct Application {
    service: platform::runtime::Service,
    state: Arc<AppState>,
}

impl Application {
    pub async fn build(base: BaseConfig, cfg: SocialConfig) -> anyhow::Result<Application> {
        let keyring = cfg.keyring(base.env)?;
        let mut runtime = Runtime::start(base).await?;
        let instance = format!("social-{}", uuid::Uuid::new_v4().simple());
        let state = Arc::new(AppState {
            pool: runtime.pool.clone(),
            cfg: Arc::new(cfg),
            keyring: Arc::new(keyring),
            bus: runtime.bus.clone(),
            outbox: runtime.outbox.clone(),
            instance,
        });
        let data = web::Data::from(state.clone());
        let http = runtime.serve_http(ApiDoc::openapi().to_json()?, routes(data))?;
        let rpc = runtime.rpc_server(http.port).await?;
        rpc.sync(Duration::from_secs(2)).await;
        let s = state.clone();
        runtime.spawn(move |token| runner::schedules(s, token));
        let s = state.clone();
        runtime.spawn(move |token| publish::run(s, token));
        let s = state.clone();
        runtime.spawn(move |token| runner::analytics(s, token));
        Ok(Application {
            service: platform::runtime::Service::new(runtime, http, Some(rpc)),
            state,
        })
    }

    pub fn port(&self) -> u16 {
        self.service.port()
    }

    pub fn state(&self) -> Arc<AppState> {
        self.state.clone()
    }

    pub fn shutdown_token(&self) -> CancellationToken {
        self.service.shutdown_token()
    }

    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.service.run_until_stopped().await
    }
}

/// Loads the social configuration (overrides apply last; tests use them).
pub fn load_config(
    overrides: &[(String, String)],
) -> Result<(BaseConfig, SocialConfig), platform::config::ConfigError> {
    platform::config::load(
        config::SERVICE,
        config::DEFAULT_PORT,
        overrides,
        config::defaults,
    )
}
