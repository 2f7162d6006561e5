//! The JyotiFlow charts service: birth charts computed by the astro engine
//! and cached (in-process LRU in front of PostgreSQL, single flight, bounded
//! compute pool), saved birth profiles, the places gazetteer and panchang.

pub mod api;
pub mod cache;
pub mod config;
pub mod engine;
pub mod input;
pub mod lru;
pub mod openapi;
pub mod panchang;
pub mod places;
pub mod profiles;
pub mod rpc;
pub mod state;

use crate::cache::{CacheMetrics, ChartCache};
use crate::config::ChartsConfig;
use crate::state::AppState;
use actix_web::web;
use futures_util::StreamExt;
use platform::config::BaseConfig;
use platform::migrate::Migration;
use platform::runtime::Runtime;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub const MIGRATIONS: &[Migration] =
    platform::migrations!("../../../migrations/charts", 1 => "0001_init");

/// Core NATS subject on which a purge tells every replica to drop its memory.
pub const PURGED_SUBJECT: &str = "charts.cache.purged";

/// The service's routes.
pub fn routes(
    state: web::Data<AppState>,
) -> impl Fn(&mut web::ServiceConfig) + Clone + Send + 'static {
    move |cfg: &mut web::ServiceConfig| {
        cfg.app_data(state.clone())
            .service(web::resource("/api/v1/places").route(web::get().to(api::search_places)))
            .service(web::resource("/api/v1/places/{id}").route(web::get().to(api::get_place)))
            .service(web::resource("/api/v1/panchang").route(web::get().to(api::panchang)))
            .service(web::resource("/api/v1/charts").route(web::post().to(api::create_chart)))
            .service(
                web::resource("/api/v1/charts/compatibility")
                    .route(web::post().to(api::compatibility)),
            )
            .service(web::resource("/api/v1/charts/{id}").route(web::get().to(api::get_chart)))
            .service(
                web::resource("/api/v1/charts/{id}/dashas").route(web::get().to(api::chart_dashas)),
            )
            .service(
                web::resource("/api/v1/profiles")
                    .route(web::get().to(profiles::list))
                    .route(web::post().to(profiles::create)),
            )
            .service(
                web::resource("/api/v1/profiles/{id}")
                    .route(web::get().to(profiles::get))
                    .route(web::patch().to(profiles::update))
                    .route(web::delete().to(profiles::delete)),
            )
            .service(
                web::resource("/api/v1/admin/charts/cache/stats")
                    .route(web::get().to(api::cache_stats)),
            )
            .service(
                web::resource("/api/v1/admin/charts/cache/purge")
                    .route(web::post().to(api::cache_purge)),
            );
    }
}

/// A running charts service: built identically by `main` and by the tests.
pub struct Application {
    service: platform::runtime::Service,
    state: web::Data<AppState>,
}

impl Application {
    /// Binds the listener (port 0 picks one), loads the gazetteer, starts
    /// the runtime, the HTTP server and the NATS endpoints.
    pub async fn build(base: BaseConfig, cfg: ChartsConfig) -> anyhow::Result<Application> {
        let mut runtime = Runtime::start(base).await?;
        let places = Arc::new(places::Gazetteer::load_bundled()?);
        let compute_threads = cfg.compute_threads();
        let metrics = CacheMetrics::new(&runtime.metrics);
        let engine_version = cfg
            .cache
            .engine_version
            .clone()
            .unwrap_or_else(|| engine::ENGINE_VERSION.to_owned());
        let cache = ChartCache::new(
            runtime.pool.clone(),
            cfg.cache.lru_capacity,
            cfg.cache.ownership_capacity,
            compute_threads,
            tokio::runtime::Handle::current(),
            metrics,
            engine_version,
            runtime.outbox.clone(),
        );
        let flush_every = Duration::from_millis(cfg.cache.hit_flush_ms);
        let c = cache.clone();
        runtime.spawn(move |token| c.hit_flush_loop(flush_every, token));
        let c = cache.clone();
        let bus = runtime.bus.clone();
        runtime.spawn(move |token| purge_listener(bus, c, token));
        let state = web::Data::new(AppState {
            pool: runtime.pool.clone(),
            cache,
            places,
            cfg,
            compute_threads,
            bus: runtime.bus.clone(),
        });
        let doc = openapi::document(&state.cfg.places)?.to_string();
        let http = runtime.serve_http(doc, routes(state.clone()))?;
        let mut rpc = runtime.rpc_server(http.port).await?;
        rpc::register(&mut rpc, state.clone().into_inner()).await?;
        rpc.sync(Duration::from_secs(2)).await;
        tracing::info!(compute_threads, "charts ready");
        Ok(Application {
            service: platform::runtime::Service::new(runtime, http, Some(rpc)),
            state,
        })
    }

    pub fn port(&self) -> u16 {
        self.service.port()
    }

    /// The shared state (tests and benchmarks read the cache counters).
    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    /// Cancelling this token shuts the service down gracefully.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.service.shutdown_token()
    }

    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.service.run_until_stopped().await
    }
}

/// Drops in-memory charts whenever a replica announces a purge (only
/// announcements signed by charts itself count).
async fn purge_listener(
    bus: platform::nats::Bus,
    cache: Arc<ChartCache>,
    token: CancellationToken,
) {
    let mut delay = Duration::from_millis(200);
    loop {
        let sub = tokio::select! {
            _ = token.cancelled() => return,
            s = bus.subscribe(PURGED_SUBJECT) => s,
        };
        match sub {
            Ok(mut sub) => loop {
                tokio::select! {
                    _ = token.cancelled() => {
                        let _ = sub.unsubscribe().await;
                        return;
                    }
                    m = sub.next() => match m {
                        Some(msg) => match bus.verify_broadcast(&msg, &[config::SERVICE]) {
                            Ok(_) => cache.clear_memory(),
                            Err(e) => tracing::warn!(error = %e.message, "purge announcement refused"),
                        },
                        None => break,
                    }
                }
            },
            Err(e) => {
                tracing::debug!(error = %e, "purge subscription failed; retrying");
                tokio::select! {
                    _ = token.cancelled() => return,
                    _ = tokio::time::sleep(delay) => {}
                }
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// Loads the charts configuration (overrides apply last; tests use them).
pub fn load_config(
    overrides: &[(String, String)],
) -> Result<(BaseConfig, ChartsConfig), platform::config::ConfigError> {
    platform::config::load(
        config::SERVICE,
        config::DEFAULT_PORT,
        overrides,
        config::defaults,
    )
}
