//! JyotiFlow pricing: the credit ledger and holds, credit packages and
//! Stripe payments, the service catalog, the cost model, approved prices
//! and quotes. See `ledger` for the accounting model.

pub mod api;
pub mod catalog;
pub mod cleanup;
pub mod config;
pub mod engine;
pub mod events;
pub mod input;
pub mod ledger;
pub mod limits;
pub mod openapi;
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

pub const MIGRATIONS: &[Migration] = platform::migrations!("../../../migrations/pricing", 1 => "0001_init", 2 => "0002_usage_events", 3 => "0003_payment_safety", 4 => "0004_limits", 5 => "0005_usage_holds", 6 => "0006_service_accounts", 7 => "0007_live_and_avatar_services");

pub use openapi::ApiDoc;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub pool: deadpool_postgres::Pool,
    pub cfg: PricingConfig,
    pub outbox: OutboxSignal,
    pub stripe: stripe::StripeClient,
}

/// Registers routes and lists them, from one table, so that the OpenAPI
/// document can be checked against what is really routed.
macro_rules! operations {
    ($(#[$m:meta])* $list:ident, $register:ident { $($method:ident $path:literal => $handler:path,)* }) => {
        $(#[$m])*
        pub const $list: &[(&str, &str)] = &[$((stringify!($method), $path)),*];
        fn $register(cfg: &mut web::ServiceConfig) {
            $(cfg.route($path, web::$method().to($handler));)*
        }
    };
}

operations!(
    /// Every operation the gateway routes to pricing, as `(method, path)`:
    /// the OpenAPI document (`/openapi.json`) has exactly these.
    API_OPERATIONS, api_routes {
        get "/api/v1/credits/balance" => api::balance,
        get "/api/v1/credits/ledger" => api::ledger_page,
        get "/api/v1/credits/packages" => api::list_packages,
        post "/api/v1/credits/checkout" => stripe::checkout,
        post "/api/v1/payments/stripe/webhook" => stripe::webhook,
        post "/api/v1/pricing/quotes" => catalog::quote_http,
        get "/api/v1/pricing/services" => catalog::public_services,
        get "/api/v1/admin/pricing/packages" => api::admin_list_packages,
        post "/api/v1/admin/pricing/packages" => api::create_package,
        put "/api/v1/admin/pricing/packages/{id}" => api::update_package,
        delete "/api/v1/admin/pricing/packages/{id}" => api::delete_package,
        post "/api/v1/admin/pricing/adjustments" => api::adjust,
        post "/api/v1/admin/pricing/refunds" => api::refund,
        get "/api/v1/admin/pricing/payments" => payments::admin_payments,
        get "/api/v1/admin/pricing/services" => catalog::admin_services,
        post "/api/v1/admin/pricing/services" => catalog::create_service,
        put "/api/v1/admin/pricing/services/{code}" => catalog::update_service,
        get "/api/v1/admin/pricing/cost-inputs" => catalog::get_cost_inputs,
        put "/api/v1/admin/pricing/cost-inputs" => catalog::put_cost_inputs,
        get "/api/v1/admin/pricing/recommendations" => catalog::list_recommendations,
        post "/api/v1/admin/pricing/recommendations/generate" => catalog::generate,
        post "/api/v1/admin/pricing/recommendations/{id}/approve" => catalog::approve,
        post "/api/v1/admin/pricing/recommendations/{id}/reject" => catalog::reject,
        post "/api/v1/admin/pricing/overrides" => catalog::create_override,
        get "/api/v1/admin/pricing/history" => catalog::history,
        get "/api/v1/admin/pricing/reports/daily" => catalog::daily_report,
        get "/api/v1/admin/pricing/service-accounts" => usage::service_accounts,
    }
);

operations!(
    /// Service-to-service HTTP operations (`/internal/*`): never routed by
    /// the gateway, not in the OpenAPI document; see the README.
    INTERNAL_OPERATIONS, internal_routes {
        post "/internal/v1/credits/holds" => api::hold_http,
        post "/internal/v1/credits/holds/{id}/capture" => api::capture_http,
        post "/internal/v1/credits/holds/{id}/release" => api::release_http,
    }
);

pub fn routes(
    state: web::Data<AppState>,
) -> impl Fn(&mut web::ServiceConfig) + Clone + Send + 'static {
    move |cfg: &mut web::ServiceConfig| {
        cfg.app_data(state.clone());
        api_routes(cfg);
        internal_routes(cfg);
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
            serde_json::to_string(&openapi::document())?,
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
        let usage_state = state.clone();
        runtime.consume(usage::guidance_spec(), move |d| {
            let st = usage_state.clone();
            async move { usage::handle_recorded(&st, d).await }
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
