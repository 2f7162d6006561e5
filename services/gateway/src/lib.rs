//! The JyotiFlow gateway: accounts and authentication, and the edge that
//! routes `/api/v1/*` to the services with the caller's identity.

pub mod accounts;
pub mod config;
pub mod openapi;
pub mod passwords;
pub mod path;
pub mod proxy;
pub mod ratelimit;
pub mod revocations;
pub mod state;
pub mod throttle;
pub mod tokens;

use crate::config::GatewayConfig;
use crate::state::GatewayState;
use actix_web::web;
use platform::config::BaseConfig;
use platform::migrate::Migration;
use platform::runtime::Runtime;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use utoipa::OpenApi;

pub const MIGRATIONS: &[Migration] = platform::migrations!("../../../migrations/gateway", 1 => "0001_accounts", 2 => "0002_revocations");

#[derive(OpenApi)]
#[openapi(
    info(title = "JyotiFlow gateway", description = "Accounts, authentication and routing to the platform's services"),
    paths(
        accounts::register,
        accounts::login,
        accounts::refresh,
        accounts::logout,
        accounts::me,
        accounts::change_password
    ),
    components(schemas(
        accounts::RegisterRequest,
        accounts::LoginRequest,
        accounts::RefreshRequest,
        accounts::ChangePasswordRequest,
        accounts::User,
        accounts::AuthResponse,
        common::ErrorBody
    )),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;
impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

pub fn build_state(runtime: &Runtime, cfg: GatewayConfig) -> anyhow::Result<GatewayState> {
    let http = platform::http_client::builder()
        .connect_timeout(Duration::from_millis(cfg.proxy.connect_timeout_ms))
        .read_timeout(Duration::from_millis(cfg.proxy.read_timeout_ms))
        .pool_max_idle_per_host(cfg.proxy.pool_idle_per_host)
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let hasher = passwords::Hasher::new(&cfg.auth)?;
    runtime.metrics.register(
        "password_verifications",
        "password checks performed (logins, password changes)",
        hasher.verifications.clone(),
    );
    Ok(GatewayState {
        pool: runtime.pool.clone(),
        hasher,
        access: tokens::AccessTokens::new(&cfg.auth),
        internal_auth: runtime.internal_auth.clone(),
        outbox: runtime.outbox.clone(),
        http,
        bus: Some(runtime.bus.clone()),
        revocations: Default::default(),
        proxies: cfg.throttle.proxies(),
        limits: ratelimit::Limits::new(&cfg.rate_limit),
        body_limit: runtime.config.http.body_limit_bytes,
        cfg,
    })
}

/// The gateway's clean-up: expired refresh tokens, stale throttle rows and
/// revocations that no longer cover a live token.
fn cleaner(runtime: &Runtime, cfg: &config::CleanupConfig) -> platform::cleanup::Cleaner {
    use platform::cleanup::Target;
    let retention =
        Duration::from_secs(u64::try_from(cfg.refresh_token_retention_secs).unwrap_or(0));
    platform::cleanup::Cleaner::new(
        runtime.pool.clone(),
        vec![
            Target {
                table: "refresh_tokens",
                sql: "DELETE FROM refresh_tokens WHERE id IN (
                        SELECT id FROM refresh_tokens WHERE expires_at < $1
                        ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)",
                retention,
            },
            Target {
                table: "login_throttle",
                sql: "DELETE FROM login_throttle WHERE key IN (
                        SELECT key FROM login_throttle
                        WHERE window_start < $1 AND (locked_until IS NULL OR locked_until < now())
                        ORDER BY window_start LIMIT $2 FOR UPDATE SKIP LOCKED)",
                // Longer than any window: a row past it counts nothing any more.
                retention: Duration::from_secs(86_400),
            },
            Target {
                table: "access_revocations",
                sql: "DELETE FROM access_revocations WHERE id IN (
                        SELECT id FROM access_revocations WHERE expires_at < $1
                        ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)",
                retention: Duration::ZERO,
            },
        ],
        cfg.batch_size,
        Duration::from_millis(cfg.interval_ms),
        &runtime.metrics,
    )
}

/// The gateway's routes; everything else under `/api/` is proxied.
pub fn routes(
    state: web::Data<GatewayState>,
) -> impl Fn(&mut web::ServiceConfig) + Clone + Send + 'static {
    move |cfg: &mut web::ServiceConfig| {
        cfg.app_data(state.clone())
            .service(
                web::resource("/api/v1/auth/register").route(web::post().to(accounts::register)),
            )
            .service(web::resource("/api/v1/auth/login").route(web::post().to(accounts::login)))
            .service(web::resource("/api/v1/auth/refresh").route(web::post().to(accounts::refresh)))
            .service(web::resource("/api/v1/auth/logout").route(web::post().to(accounts::logout)))
            .service(web::resource("/api/v1/me").route(web::get().to(accounts::me)))
            .service(
                web::resource("/api/v1/me/password")
                    .route(web::post().to(accounts::change_password)),
            )
            .app_data(web::Data::new(openapi::Merged::default()))
            .service(
                web::resource("/api/openapi.json").route(web::get().to(openapi::public_document)),
            )
            .service(web::resource("/api/{tail:.*}").to(proxy::forward));
    }
}

/// A running gateway: built identically by `main` and by the tests.
pub struct Application(platform::runtime::Service);

impl Application {
    /// Binds the listener (port 0 picks one), starts the runtime and the server.
    pub async fn build(base: BaseConfig, cfg: GatewayConfig) -> anyhow::Result<Application> {
        let mut runtime = Runtime::start(base).await?;
        let state = web::Data::new(build_state(&runtime, cfg)?);
        let cleaner = cleaner(&runtime, &state.cfg.cleanup);
        runtime.spawn(move |token| cleaner.run(token));
        let limits = state.limits.clone();
        runtime.spawn(move |token| limits.housekeeping(token));
        let (revocations, pool, bus) = (
            state.revocations.clone(),
            runtime.pool.clone(),
            runtime.bus.clone(),
        );
        let every = Duration::from_millis(state.cfg.auth.revocation_sync_ms);
        runtime.spawn(move |token| revocations::sync_loop(revocations, pool, bus, every, token));
        let http = runtime.serve_http(ApiDoc::openapi().to_json()?, routes(state))?;
        // No request/reply endpoints yet; registering makes every instance discoverable.
        let rpc = runtime.rpc_server(http.port).await?;
        Ok(Application(platform::runtime::Service::new(
            runtime,
            http,
            Some(rpc),
        )))
    }

    pub fn port(&self) -> u16 {
        self.0.port()
    }

    /// Where `/metrics` is served when it has a listener of its own.
    pub fn metrics_port(&self) -> Option<u16> {
        self.0.metrics_port()
    }

    /// Cancelling this token shuts the gateway down gracefully.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.0.shutdown_token()
    }

    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.0.run_until_stopped().await
    }
}

/// Loads the gateway's configuration (overrides apply last; tests use them).
pub fn load_config(
    overrides: &[(String, String)],
) -> Result<(BaseConfig, GatewayConfig), platform::config::ConfigError> {
    platform::config::load(
        config::SERVICE,
        config::DEFAULT_PORT,
        overrides,
        config::defaults,
    )
}

/// `gateway create-admin`: creates an admin account, or grants the admin
/// role to an existing one. The password comes from standard input.
pub async fn create_admin(
    base: BaseConfig,
    cfg: GatewayConfig,
    email: &str,
    display_name: &str,
    password: String,
) -> anyhow::Result<String> {
    let runtime_pool = platform::db::build_pool(&base.database, &base.service)?;
    let state = GatewayState {
        pool: runtime_pool.clone(),
        hasher: passwords::Hasher::new(&cfg.auth)?,
        access: tokens::AccessTokens::new(&cfg.auth),
        internal_auth: platform::auth::InternalAuth::from_config(
            &base.service,
            &base.internal_auth,
            base.env,
        )?,
        outbox: Default::default(),
        http: platform::http_client::client(),
        bus: None,
        revocations: Default::default(),
        proxies: cfg.throttle.proxies(),
        limits: ratelimit::Limits::new(&cfg.rate_limit),
        body_limit: base.http.body_limit_bytes,
        cfg,
    };
    let email_n =
        accounts::normalize_email("email", email).map_err(|e| anyhow::anyhow!("{}", e.message))?;
    let client = runtime_pool.get().await?;
    let updated = client
        .execute(
            "UPDATE users SET roles = ARRAY(SELECT DISTINCT unnest(roles || ARRAY['admin'])), updated_at = now()
             WHERE email_normalized = $1",
            &[&email_n],
        )
        .await?;
    drop(client);
    if updated == 1 {
        return Ok(format!(
            "{email_n} already had an account; it is now an admin (password unchanged)"
        ));
    }
    let (user, _) = accounts::create_user(
        &state,
        email,
        password,
        display_name,
        &[common::Role::User, common::Role::Admin],
    )
    .await
    .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    runtime_pool.close();
    Ok(format!("admin {} created with id {}", user.email, user.id))
}
