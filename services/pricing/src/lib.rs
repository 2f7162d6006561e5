//! JyotiFlow pricing: the credit ledger and holds, credit packages and
//! Stripe payments, the service catalog, the cost model, approved prices
//! and quotes. See `ledger` for the accounting model.

pub mod api;
pub mod catalog;
pub mod cleanup;
pub mod config;
pub mod engine;
pub mod events;
pub mod ledger;
pub mod payments;
pub mod rpc;
pub mod stripe;
pub mod usage;
pub mod welcome;

use crate::config::PricingConfig;
use actix_web::web;
use platform::config::BaseConfig;
use platform::migrate::Migration;
use platform::outbox::OutboxSignal;
use platform::runtime::Runtime;
use tokio_util::sync::CancellationToken;
use utoipa::OpenApi;

pub const MIGRATIONS: &[Migration] = platform::migrations!("../../../migrations/pricing", 1 => "0001_init", 2 => "0002_usage_events", 3 => "0003_payment_safety");

#[derive(OpenApi)]
#[openapi(
    info(
        title = "JyotiFlow pricing",
        description = "Credits ledger and holds, packages and Stripe payments, prices and quotes. \
            Routes: GET /api/v1/credits/balance, GET /api/v1/credits/ledger, GET /api/v1/credits/packages, \
            POST /api/v1/credits/checkout, POST /api/v1/payments/stripe/webhook, POST /api/v1/pricing/quotes, \
            GET /api/v1/pricing/services, /api/v1/admin/pricing/{packages,services,cost-inputs,recommendations,\
            overrides,history,reports/daily,adjustments,refunds,payments}, /internal/v1/credits/holds"
    ),
    paths(
        api::balance,
        api::ledger_page,
        api::list_packages,
        stripe::checkout,
        stripe::webhook,
        catalog::quote_http,
        catalog::public_services,
        api::hold_http,
        api::capture_http,
        api::release_http,
        api::adjust,
        api::refund,
        payments::admin_payments,
        api::create_package,
        catalog::generate,
        catalog::approve,
        catalog::reject,
        catalog::create_override
    ),
    components(schemas(
        ledger::Balance,
        ledger::HoldRequest,
        ledger::HoldView,
        ledger::CaptureRequest,
        ledger::ReleaseRequest,
        ledger::LedgerPage,
        ledger::LedgerItem,
        ledger::Movement,
        api::PackageInput,
        api::Package,
        api::AdjustmentRequest,
        payments::PaymentView,
        payments::PaymentPage,
        stripe::CheckoutRequest,
        stripe::CheckoutResponse,
        catalog::QuoteRequest,
        catalog::Quote,
        catalog::ServiceView,
        catalog::RecommendationView,
        catalog::OverrideInput,
        api::AmountBody,
        common::ErrorBody
    ))
)]
pub struct ApiDoc;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub pool: deadpool_postgres::Pool,
    pub cfg: PricingConfig,
    pub outbox: OutboxSignal,
    pub stripe: stripe::StripeClient,
}

pub fn routes(
    state: web::Data<AppState>,
) -> impl Fn(&mut web::ServiceConfig) + Clone + Send + 'static {
    move |cfg: &mut web::ServiceConfig| {
        cfg.app_data(state.clone())
            .route("/api/v1/credits/balance", web::get().to(api::balance))
            .route("/api/v1/credits/ledger", web::get().to(api::ledger_page))
            .route(
                "/api/v1/credits/packages",
                web::get().to(api::list_packages),
            )
            .route("/api/v1/credits/checkout", web::post().to(stripe::checkout))
            .route(
                "/api/v1/payments/stripe/webhook",
                web::post().to(stripe::webhook),
            )
            .route(
                "/api/v1/pricing/quotes",
                web::post().to(catalog::quote_http),
            )
            .route(
                "/api/v1/pricing/services",
                web::get().to(catalog::public_services),
            )
            .route("/internal/v1/credits/holds", web::post().to(api::hold_http))
            .route(
                "/internal/v1/credits/holds/{id}/capture",
                web::post().to(api::capture_http),
            )
            .route(
                "/internal/v1/credits/holds/{id}/release",
                web::post().to(api::release_http),
            )
            .service(
                web::scope("/api/v1/admin/pricing")
                    .route("/packages", web::get().to(api::admin_list_packages))
                    .route("/packages", web::post().to(api::create_package))
                    .route("/packages/{id}", web::put().to(api::update_package))
                    .route("/packages/{id}", web::delete().to(api::delete_package))
                    .route("/adjustments", web::post().to(api::adjust))
                    .route("/refunds", web::post().to(api::refund))
                    .route("/payments", web::get().to(payments::admin_payments))
                    .route("/services", web::get().to(catalog::admin_services))
                    .route("/services", web::post().to(catalog::create_service))
                    .route("/services/{code}", web::put().to(catalog::update_service))
                    .route("/cost-inputs", web::get().to(catalog::get_cost_inputs))
                    .route("/cost-inputs", web::put().to(catalog::put_cost_inputs))
                    .route(
                        "/recommendations",
                        web::get().to(catalog::list_recommendations),
                    )
                    .route(
                        "/recommendations/generate",
                        web::post().to(catalog::generate),
                    )
                    .route(
                        "/recommendations/{id}/approve",
                        web::post().to(catalog::approve),
                    )
                    .route(
                        "/recommendations/{id}/reject",
                        web::post().to(catalog::reject),
                    )
                    .route("/overrides", web::post().to(catalog::create_override))
                    .route("/history", web::get().to(catalog::history))
                    .route("/reports/daily", web::get().to(catalog::daily_report)),
            );
    }
}

/// A running pricing service: built identically by `main` and by the tests.
pub struct Application(platform::runtime::Service);

impl Application {
    pub async fn build(base: BaseConfig, cfg: PricingConfig) -> anyhow::Result<Application> {
        let mut runtime = Runtime::start(base).await?;
        let state = AppState {
            pool: runtime.pool.clone(),
            stripe: stripe::StripeClient::new(&cfg.stripe)?,
            cfg,
            outbox: runtime.outbox.clone(),
        };
        let http = runtime.serve_http(
            ApiDoc::openapi().to_json()?,
            routes(web::Data::new(state.clone())),
        )?;
        let mut rpc = runtime.rpc_server(http.port).await?;
        rpc::register(&mut rpc, state.clone()).await?;
        rpc.sync(std::time::Duration::from_secs(2)).await;
        let welcome_state = state.clone();
        runtime.consume(welcome::spec(), move |d| {
            let st = welcome_state.clone();
            async move { welcome::handle(&st, d).await }
        });
        let usage_state = state.clone();
        runtime.consume(usage::spec(), move |d| {
            let st = usage_state.clone();
            async move { usage::handle(&st, d).await }
        });
        let cleaner = cleanup::cleaner(runtime.pool.clone(), &state.cfg.cleanup, &runtime.metrics);
        runtime.spawn(move |token| cleaner.run(token));
        let sweep_state = state;
        runtime.spawn(move |token| ledger::sweeper(sweep_state, token));
        Ok(Application(platform::runtime::Service::new(
            runtime,
            http,
            Some(rpc),
        )))
    }

    pub fn port(&self) -> u16 {
        self.0.port()
    }

    pub fn shutdown_token(&self) -> CancellationToken {
        self.0.shutdown_token()
    }

    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.0.run_until_stopped().await
    }
}

/// Loads the pricing configuration (overrides apply last; tests use them).
pub fn load_config(
    overrides: &[(String, String)],
) -> Result<(BaseConfig, PricingConfig), platform::config::ConfigError> {
    platform::config::load(
        config::SERVICE,
        config::DEFAULT_PORT,
        overrides,
        config::defaults,
    )
}
