//! The JyotiFlow monitor: watches every service from outside (the NATS
//! service API, readiness, the database through a `pg_monitor` role,
//! outboxes, durable consumers, schema drift), keeps one incident per
//! condition, notifies webhooks, and repairs only what a policy allows —
//! always through the service that owns the thing. One replica leads at a
//! time (a PostgreSQL advisory lock); the others stand by and serve the API.

pub mod api;
pub mod config;
pub mod database;
pub mod discovery;
pub mod findings;
pub mod leader;
pub mod messaging;
pub mod metrics;
pub mod notify;
pub mod policy;
pub mod reported;
pub mod schema;
pub mod state;
pub mod store;
pub mod watch;

use crate::config::MonitorConfig;
use crate::state::AppState;
use actix_web::web;
use platform::config::BaseConfig;
use platform::migrate::Migration;
use platform::runtime::Runtime;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use utoipa::OpenApi;

pub const MIGRATIONS: &[Migration] =
    platform::migrations!("../../../migrations/monitor", 1 => "0001_init", 2 => "0002_reported");

#[derive(OpenApi)]
#[openapi(
    info(
        title = "JyotiFlow monitor",
        description = "Service instances, database and messaging health, schema drift, incidents, the audit of automatic repairs, and the public status. Admin operations take the internal token the gateway signs (`X-Internal-Token`); through the gateway they take an admin's bearer access token."
    ),
    paths(
        api::overview,
        api::database,
        api::messaging,
        api::schema,
        api::incidents,
        api::acknowledge,
        api::resolve,
        api::actions,
        api::policies,
        api::status
    ),
    components(schemas(
        api::AreaView,
        api::IncidentList,
        api::ActionList,
        api::PolicyList,
        api::PolicyView,
        api::Status,
        store::Incident,
        store::Action,
        findings::Severity,
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
        let admin = "/api/v1/admin/monitor";
        cfg.app_data(state.clone())
            .service(web::resource("/api/v1/status").route(web::get().to(api::status)))
            .service(web::resource(format!("{admin}/overview")).route(web::get().to(api::overview)))
            .service(web::resource(format!("{admin}/database")).route(web::get().to(api::database)))
            .service(
                web::resource(format!("{admin}/messaging")).route(web::get().to(api::messaging)),
            )
            .service(web::resource(format!("{admin}/schema")).route(web::get().to(api::schema)))
            .service(
                web::resource(format!("{admin}/incidents")).route(web::get().to(api::incidents)),
            )
            .service(
                web::resource(format!("{admin}/incidents/{{id}}/acknowledge"))
                    .route(web::post().to(api::acknowledge)),
            )
            .service(
                web::resource(format!("{admin}/incidents/{{id}}/resolve"))
                    .route(web::post().to(api::resolve)),
            )
            .service(web::resource(format!("{admin}/actions")).route(web::get().to(api::actions)))
            .service(
                web::resource(format!("{admin}/policies")).route(web::get().to(api::policies)),
            );
    }
}

/// A running monitor: built identically by `main` and by the tests.
pub struct Application {
    service: platform::runtime::Service,
    state: web::Data<AppState>,
}

impl Application {
    pub async fn build(base: BaseConfig, cfg: MonitorConfig) -> anyhow::Result<Application> {
        let mut runtime = Runtime::start(base).await?;
        let cfg = Arc::new(cfg);
        let metrics = metrics::MonitorMetrics::new(&runtime.metrics);
        let leading = Arc::new(AtomicBool::new(false));
        let (notifier, sender) = notify::Notifier::new(
            cfg.webhooks().iter().map(|s| (*s).to_owned()).collect(),
            Duration::from_millis(cfg.notify.timeout_ms),
            cfg.notify.attempts,
            cfg.notify.queue,
            metrics.clone(),
        )?;
        if let Some(sender) = sender {
            runtime.spawn(move |token| sender.run(token));
        }
        let state = web::Data::new(AppState {
            pool: runtime.pool.clone(),
            cfg: cfg.clone(),
            leading: leading.clone(),
            outbox: runtime.outbox.clone(),
            status_cache: Default::default(),
        });
        let http = runtime.serve_http(ApiDoc::openapi().to_json()?, routes(state.clone()))?;
        let rpc = runtime.rpc_server(http.port).await?;
        rpc.sync(Duration::from_secs(2)).await;
        let watcher = watch::Watcher {
            pool: runtime.pool.clone(),
            bus: runtime.bus.clone(),
            cfg,
            metrics,
            notifier,
            instance: rpc.instance_id().to_owned(),
            leading,
            outbox: runtime.outbox.clone(),
        };
        runtime.spawn(move |token| watch::run(watcher, token));
        let pool = runtime.pool.clone();
        runtime.consume(reported::social_spec(), move |d| {
            let pool = pool.clone();
            async move { reported::handle(&pool, d).await }
        });
        Ok(Application {
            service: platform::runtime::Service::new(runtime, http, Some(rpc)),
            state,
        })
    }

    pub fn port(&self) -> u16 {
        self.service.port()
    }

    /// Whether this replica leads now.
    pub fn is_leader(&self) -> bool {
        self.state
            .leading
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    pub fn shutdown_token(&self) -> CancellationToken {
        self.service.shutdown_token()
    }

    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.service.run_until_stopped().await
    }
}

/// Loads the monitor configuration (overrides apply last; tests use them).
pub fn load_config(
    overrides: &[(String, String)],
) -> Result<(BaseConfig, MonitorConfig), platform::config::ConfigError> {
    platform::config::load(
        config::SERVICE,
        config::DEFAULT_PORT,
        overrides,
        config::defaults,
    )
}
