//! The gateway's own configuration sections (beside the platform's).

use platform::config::{check_secret, ConfigError, Environment, Validate, INSECURE_DEFAULT_PREFIX};
use secrecy::SecretString;
use serde::Deserialize;
use std::collections::BTreeMap;

pub const SERVICE: &str = "gateway";
pub const DEFAULT_PORT: u16 = 8080;

#[derive(Clone, Debug, Deserialize)]
pub struct GatewayConfig {
    pub auth: AuthConfig,
    pub throttle: ThrottleConfig,
    pub rate_limit: RateLimitConfig,
    pub cleanup: CleanupConfig,
    pub proxy: ProxyConfig,
    /// Upstream base URLs by service name.
    pub upstreams: BTreeMap<String, String>,
    /// Path-prefix routes; the longest matching prefix wins.
    #[serde(default = "default_routes")]
    pub routes: Vec<Route>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct AuthConfig {
    /// Key id of the signing key for access tokens.
    pub jwt_kid: String,
    pub jwt_secret: SecretString,
    /// A previous key still accepted for verification while tokens it signed live out.
    #[serde(default)]
    pub jwt_previous_kid: Option<String>,
    #[serde(default)]
    pub jwt_previous_secret: Option<SecretString>,
    pub access_ttl_secs: i64,
    pub refresh_ttl_days: i64,
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    pub argon2_parallelism: u32,
    pub password_min_len: usize,
    /// How often each replica reloads the access-token revocations (it also
    /// hears of each one over NATS as it happens).
    pub revocation_sync_ms: u64,
}

#[derive(Clone, Debug, Deserialize)]
pub struct ThrottleConfig {
    /// Login attempts allowed per account within the window; the next one
    /// locks the account for `lockout_secs`. Attempts are counted before
    /// the password is checked, so concurrent guesses cannot slip past.
    pub account_max_failures: i32,
    /// Failed logins allowed per client address within the window.
    pub address_max_failures: i32,
    pub window_secs: i64,
    pub lockout_secs: i64,
    /// Registrations per client address, and per email, within `register_window_secs`.
    pub register_max_per_address: i32,
    pub register_max_per_account: i32,
    pub register_window_secs: i64,
    /// Proxies whose `X-Forwarded-For` entries are believed: comma-separated
    /// addresses or CIDR ranges (e.g. the ingress's pod range). The client
    /// address is the rightmost entry not in this list; with the list empty
    /// (default) it is the TCP peer and the header is ignored.
    #[serde(default)]
    pub trusted_proxies: String,
}

impl ThrottleConfig {
    /// The parsed `trusted_proxies` (validated at start).
    pub fn proxies(&self) -> Vec<ipnet::IpNet> {
        parse_proxies(&self.trusted_proxies).unwrap_or_default()
    }
}

fn parse_proxies(s: &str) -> Result<Vec<ipnet::IpNet>, String> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.parse::<ipnet::IpNet>()
                .or_else(|_| p.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| format!("{p:?} is not an address or CIDR range"))
        })
        .collect()
}

/// Token buckets on proxied routes, per signed-in user and per client
/// address (each gateway replica keeps its own buckets).
#[derive(Clone, Debug, Deserialize)]
pub struct RateLimitConfig {
    pub enabled: bool,
    pub per_user_per_sec: u32,
    pub per_user_burst: u32,
    pub per_address_per_sec: u32,
    pub per_address_burst: u32,
}

/// Deletion of expired refresh tokens, throttle rows and revocations.
#[derive(Clone, Debug, Deserialize)]
pub struct CleanupConfig {
    pub interval_ms: u64,
    pub batch_size: i64,
    /// Expired or revoked refresh tokens are kept this long (for reuse detection).
    pub refresh_token_retention_secs: i64,
}

#[derive(Clone, Debug, Deserialize)]
pub struct ProxyConfig {
    pub connect_timeout_ms: u64,
    /// Longest wait for the upstream's headers and between body chunks.
    pub read_timeout_ms: u64,
    pub pool_idle_per_host: usize,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    Public,
    User,
    Admin,
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Route {
    pub prefix: String,
    pub upstream: String,
    pub access: Access,
    /// The largest request body this route forwards (default
    /// `http.body_limit_bytes`); read only after the route and the caller
    /// are checked.
    #[serde(default)]
    pub max_body_bytes: Option<usize>,
}

fn route(prefix: &str, upstream: &str, access: Access) -> Route {
    Route {
        prefix: prefix.to_owned(),
        upstream: upstream.to_owned(),
        access,
        max_body_bytes: None,
    }
}

/// Avatar images admins upload (media checks them: at most 5 MiB).
pub const AVATAR_IMAGE_MAX_BYTES: usize = 5 * 1024 * 1024 + 1024;

/// The route table the platform ships with.
pub fn default_routes() -> Vec<Route> {
    use Access::*;
    let mut r = vec![
        route("/api/v1/charts", "charts", User),
        route("/api/v1/places", "charts", Public),
        route("/api/v1/panchang", "charts", Public),
        route("/api/v1/profiles", "charts", User),
        route("/api/v1/credits", "pricing", User),
        route("/api/v1/pricing", "pricing", User),
        route("/api/v1/pricing/services", "pricing", Public),
        route("/api/v1/payments", "pricing", User),
        route("/api/v1/payments/stripe/webhook", "pricing", Public),
        route("/api/v1/guidance", "guidance", User),
        route("/api/v1/live", "media", User),
        // Agora's Notification Center: signed (Agora-Signature-V2), no user.
        route("/api/v1/live/agora/events", "media", Public),
        route("/api/v1/avatars", "media", User),
        // The platform's status: one word per service, for anyone.
        route("/api/v1/status", "monitor", Public),
        // Rendered social cards: public, the networks fetch them.
        route("/api/v1/social/media", "social", Public),
    ];
    for s in [
        "charts", "pricing", "guidance", "media", "monitor", "social",
    ] {
        r.push(route(&format!("/api/v1/admin/{s}"), s, Admin));
    }
    r.push(Route {
        max_body_bytes: Some(AVATAR_IMAGE_MAX_BYTES),
        ..route("/api/v1/admin/media/avatar-images", "media", Admin)
    });
    r
}

/// Built-in defaults for the gateway's sections.
pub fn defaults(
    b: config::ConfigBuilder<config::builder::DefaultState>,
) -> Result<config::ConfigBuilder<config::builder::DefaultState>, config::ConfigError> {
    // The gateway faces the internet: its metrics get a listener of their own.
    b.set_default("http.metrics_address", "127.0.0.1:9180")?
        .set_default("auth.jwt_kid", "k1")?
        .set_default(
            "auth.jwt_secret",
            format!("{INSECURE_DEFAULT_PREFIX}jwt-signing-secret-change-me"),
        )?
        .set_default("auth.access_ttl_secs", 900)?
        .set_default("auth.refresh_ttl_days", 30)?
        // OWASP's minimum for Argon2id: 19 MiB, 2 passes, 1 lane.
        .set_default("auth.argon2_memory_kib", 19_456)?
        .set_default("auth.argon2_iterations", 2)?
        .set_default("auth.argon2_parallelism", 1)?
        .set_default("auth.password_min_len", 10)?
        .set_default("auth.revocation_sync_ms", 5000)?
        .set_default("throttle.account_max_failures", 5)?
        .set_default("throttle.address_max_failures", 30)?
        .set_default("throttle.window_secs", 900)?
        .set_default("throttle.lockout_secs", 900)?
        .set_default("throttle.register_max_per_address", 20)?
        .set_default("throttle.register_max_per_account", 5)?
        .set_default("throttle.register_window_secs", 3600)?
        .set_default("throttle.trusted_proxies", "")?
        .set_default("rate_limit.enabled", true)?
        .set_default("rate_limit.per_user_per_sec", 30)?
        .set_default("rate_limit.per_user_burst", 120)?
        .set_default("rate_limit.per_address_per_sec", 100)?
        .set_default("rate_limit.per_address_burst", 300)?
        .set_default("cleanup.interval_ms", 600_000)?
        .set_default("cleanup.batch_size", 1000)?
        .set_default("cleanup.refresh_token_retention_secs", 7 * 86_400)?
        .set_default("proxy.connect_timeout_ms", 2000)?
        .set_default("proxy.read_timeout_ms", 30_000)?
        .set_default("proxy.pool_idle_per_host", 64)?
        .set_default("upstreams.charts", "http://127.0.0.1:8081")?
        .set_default("upstreams.pricing", "http://127.0.0.1:8082")?
        .set_default("upstreams.guidance", "http://127.0.0.1:8083")?
        .set_default("upstreams.media", "http://127.0.0.1:8084")?
        .set_default("upstreams.monitor", "http://127.0.0.1:8085")?
        .set_default("upstreams.social", "http://127.0.0.1:8086")
}

impl Validate for GatewayConfig {
    fn validate(&self, env: Environment) -> Result<(), ConfigError> {
        let a = &self.auth;
        if a.jwt_kid.trim().is_empty() {
            return Err(ConfigError::invalid("auth.jwt_kid", "must not be empty"));
        }
        check_secret("auth.jwt_secret", &a.jwt_secret, env)?;
        match (&a.jwt_previous_kid, &a.jwt_previous_secret) {
            (Some(k), Some(s)) => {
                if k == &a.jwt_kid {
                    return Err(ConfigError::invalid(
                        "auth.jwt_previous_kid",
                        "must differ from auth.jwt_kid",
                    ));
                }
                check_secret("auth.jwt_previous_secret", s, env)?;
            }
            (None, None) => {}
            (Some(_), None) => {
                return Err(ConfigError::invalid(
                    "auth.jwt_previous_secret",
                    "is required with auth.jwt_previous_kid",
                ))
            }
            (None, Some(_)) => {
                return Err(ConfigError::invalid(
                    "auth.jwt_previous_kid",
                    "is required with auth.jwt_previous_secret",
                ))
            }
        }
        if !(60..=3600).contains(&a.access_ttl_secs) {
            return Err(ConfigError::invalid(
                "auth.access_ttl_secs",
                "must be between 60 and 3600",
            ));
        }
        if !(1..=365).contains(&a.refresh_ttl_days) {
            return Err(ConfigError::invalid(
                "auth.refresh_ttl_days",
                "must be between 1 and 365",
            ));
        }
        if a.argon2_memory_kib < 8 * 1024 {
            return Err(ConfigError::invalid(
                "auth.argon2_memory_kib",
                "must be at least 8192",
            ));
        }
        if a.argon2_iterations == 0 || a.argon2_parallelism == 0 {
            return Err(ConfigError::invalid(
                "auth.argon2_iterations",
                "iterations and parallelism must be > 0",
            ));
        }
        if a.revocation_sync_ms == 0 {
            return Err(ConfigError::invalid(
                "auth.revocation_sync_ms",
                "must be greater than 0",
            ));
        }
        if a.password_min_len < 8 {
            return Err(ConfigError::invalid(
                "auth.password_min_len",
                "must be at least 8",
            ));
        }
        let t = &self.throttle;
        if t.account_max_failures < 1 || t.address_max_failures < 1 {
            return Err(ConfigError::invalid(
                "throttle.account_max_failures",
                "limits must be at least 1",
            ));
        }
        if t.window_secs < 1 || t.lockout_secs < 1 {
            return Err(ConfigError::invalid(
                "throttle.window_secs",
                "window and lockout must be positive",
            ));
        }
        if t.register_max_per_address < 1 || t.register_max_per_account < 1 {
            return Err(ConfigError::invalid(
                "throttle.register_max_per_address",
                "registration limits must be at least 1",
            ));
        }
        if t.register_window_secs < 1 {
            return Err(ConfigError::invalid(
                "throttle.register_window_secs",
                "must be positive",
            ));
        }
        parse_proxies(&t.trusted_proxies)
            .map_err(|m| ConfigError::invalid("throttle.trusted_proxies", m))?;
        let r = &self.rate_limit;
        for (key, v) in [
            ("rate_limit.per_user_per_sec", r.per_user_per_sec),
            ("rate_limit.per_user_burst", r.per_user_burst),
            ("rate_limit.per_address_per_sec", r.per_address_per_sec),
            ("rate_limit.per_address_burst", r.per_address_burst),
        ] {
            if v == 0 {
                return Err(ConfigError::invalid(key, "must be at least 1"));
            }
        }
        if self.cleanup.interval_ms == 0 || self.cleanup.batch_size < 1 {
            return Err(ConfigError::invalid(
                "cleanup.interval_ms",
                "interval and batch size must be positive",
            ));
        }
        if self.proxy.connect_timeout_ms == 0 || self.proxy.read_timeout_ms == 0 {
            return Err(ConfigError::invalid(
                "proxy.read_timeout_ms",
                "timeouts must be positive",
            ));
        }
        for (name, url) in &self.upstreams {
            if !(url.starts_with("http://") || url.starts_with("https://"))
                || url.parse::<reqwest::Url>().is_err()
            {
                return Err(ConfigError::invalid(
                    &format!("upstreams.{name}"),
                    "must be an http(s) URL",
                ));
            }
        }
        for (i, r) in self.routes.iter().enumerate() {
            if !r.prefix.starts_with("/api/") {
                return Err(ConfigError::invalid(
                    &format!("routes[{i}].prefix"),
                    "must start with /api/",
                ));
            }
            if !self.upstreams.contains_key(&r.upstream) {
                return Err(ConfigError::invalid(
                    &format!("routes[{i}].upstream"),
                    format!("names no configured upstream ({:?})", r.upstream),
                ));
            }
        }
        Ok(())
    }
}
