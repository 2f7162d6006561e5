//! Layered configuration: built-in defaults, `config/default.toml`,
//! `config/<env>.toml`, then environment variables `JYOTIFLOW__SECTION__KEY`.
//!
//! The whole configuration is validated before any socket opens; every error
//! names the exact key. Secrets are [`SecretString`]s, which never print.
//! In production (`JYOTIFLOW__ENV=production`) default or short secrets are
//! refused.

use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// Secrets shipped in the defaults start with this marker; production refuses them.
pub const INSECURE_DEFAULT_PREFIX: &str = "insecure-dev-";
/// The shortest secret production accepts.
pub const MIN_SECRET_LEN: usize = 32;

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    Development,
    Test,
    Production,
}

impl Environment {
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Development => "development",
            Environment::Test => "test",
            Environment::Production => "production",
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
pub struct HttpConfig {
    pub host: String,
    pub port: u16,
    /// Largest request body accepted, in bytes (413 above it).
    pub body_limit_bytes: usize,
    /// How long graceful shutdown may take in total.
    pub shutdown_timeout_secs: u64,
    /// actix worker threads; 0 = one per core.
    pub workers: usize,
    /// Serve `/metrics` on this address (`host:port`) only, not on the main
    /// listener. Empty: on the main listener.
    #[serde(default)]
    pub metrics_address: Option<String>,
    /// When set, `/metrics` answers only `Authorization: Bearer <token>`.
    #[serde(default)]
    pub metrics_token: Option<SecretString>,
    /// The host name or address other services and the monitor reach this
    /// instance at, published as `http_address` in the NATS service
    /// metadata. Unset: `host`, unless that is a wildcard (`0.0.0.0`,
    /// `::`), then `$HOSTNAME`, else `127.0.0.1`.
    #[serde(default)]
    pub advertise_host: Option<String>,
}

impl HttpConfig {
    /// Where this instance's HTTP listener is reached from elsewhere
    /// (`host:port`, IPv6 addresses in brackets); `hostname` is the
    /// `HOSTNAME` environment variable.
    pub fn advertised_address(&self, port: u16, hostname: Option<&str>) -> String {
        fn configured(h: Option<&str>) -> Option<&str> {
            h.map(str::trim).filter(|h| !h.is_empty())
        }
        let host = match configured(self.advertise_host.as_deref()) {
            Some(h) => h,
            None => match self.host.trim() {
                "0.0.0.0" | "::" | "[::]" => configured(hostname).unwrap_or("127.0.0.1"),
                h => h,
            },
        };
        if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
pub struct DatabaseConfig {
    /// `postgres://user:password@host:port/db[?params]`. TLS is chosen with
    /// libpq's `sslmode=disable|prefer|require|verify-ca|verify-full` (default
    /// `prefer`) and `sslrootcert=<PEM file of the CA>` (required by the
    /// `verify-*` modes); see [`crate::db::tls`]. A secret: it may hold a
    /// password, so it never prints, and errors about it name the key only.
    pub url: SecretString,
    /// The pool's `max_size`: this process never holds more connections.
    pub max_connections: usize,
    /// TCP connect timeout, set on the tokio-postgres config.
    pub connect_timeout_ms: u64,
    /// How long a request waits for a free connection.
    pub wait_timeout_ms: u64,
    /// How long creating a new connection may take.
    pub create_timeout_ms: u64,
    /// How long verifying a connection on checkout may take.
    pub recycle_timeout_ms: u64,
    /// Server-side `statement_timeout`.
    pub statement_timeout_ms: u64,
    /// Server-side `idle_in_transaction_session_timeout`.
    pub idle_in_transaction_timeout_ms: u64,
}

/// The NATS connection. Credentials are at most one of: `user` with
/// `password`, `token`, or `nkey_seed` (an NKey user seed, `SU...`); none
/// means the server does not ask for any. The secrets never print, and in
/// production the shipped development placeholders (and secrets shorter than
/// [`MIN_SECRET_LEN`]) are refused, as for every other secret.
#[derive(Clone, Debug, Deserialize)]
pub struct NatsConfig {
    /// `nats://host:port` or `tls://host:port`, without credentials in it.
    pub url: String,
    /// Namespace of this deployment on a shared NATS server: prefixes every
    /// subject (`<prefix>.pricing.credits.hold`), stream and durable name,
    /// so deployments sharing a server never see each other. Empty: none.
    #[serde(default)]
    pub prefix: String,
    pub request_timeout_ms: u64,
    pub connect_timeout_ms: u64,
    /// User name for user/password authentication (with `password`).
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub password: Option<SecretString>,
    /// Token authentication.
    #[serde(default)]
    pub token: Option<SecretString>,
    /// NKey authentication: the user's seed (the server knows the public key).
    #[serde(default)]
    pub nkey_seed: Option<SecretString>,
}

/// How this process authenticates to NATS (from [`NatsConfig::auth`]).
#[derive(Clone, Copy, Debug)]
pub enum NatsAuth<'a> {
    None,
    UserPassword {
        user: &'a str,
        password: &'a SecretString,
    },
    Token(&'a SecretString),
    NKey(&'a SecretString),
}

impl NatsAuth<'_> {
    /// The method's name, for logs (never the secret).
    pub fn method(&self) -> &'static str {
        match self {
            NatsAuth::None => "none",
            NatsAuth::UserPassword { .. } => "user/password",
            NatsAuth::Token(_) => "token",
            NatsAuth::NKey(_) => "nkey",
        }
    }
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Json,
    Pretty,
}

#[derive(Clone, Debug, Deserialize)]
pub struct TelemetryConfig {
    /// An `EnvFilter` directive, e.g. `info,gateway=debug`.
    pub log_level: String,
    pub log_format: LogFormat,
    /// OTLP/HTTP endpoint (e.g. `http://otel-collector:4318`); empty disables export.
    #[serde(default)]
    pub otlp_endpoint: Option<String>,
}

/// This service's identity towards the others (see [`crate::auth`]).
#[derive(Clone, Debug, Deserialize)]
pub struct InternalAuthConfig {
    /// Key id of `signing_key`, as peers list it in their `trusted_keys`.
    pub key_id: String,
    /// Base64 32-byte Ed25519 seed (`<service> keygen` makes one). The
    /// `insecure-dev-` default derives a public development key from the
    /// service name; production refuses it.
    pub signing_key: SecretString,
    /// Lifetime of the tokens this service signs (at most 60 s).
    pub ttl_secs: u64,
    /// Public keys of the services this one accepts calls and events from:
    /// `service = "kid:base64[,kid:base64]"`. In development and test, a
    /// service not listed is trusted with its development key.
    #[serde(default)]
    pub trusted_keys: std::collections::BTreeMap<String, String>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct OutboxConfig {
    pub poll_interval_ms: u64,
    pub batch_size: i64,
    /// Published rows older than this are deleted.
    pub retention_hours: i64,
}

/// The sections every service has.
#[derive(Clone, Debug, Deserialize)]
pub struct BaseConfig {
    pub env: Environment,
    /// Service name (set by the loader, not by configuration).
    #[serde(default)]
    pub service: String,
    pub http: HttpConfig,
    pub database: DatabaseConfig,
    pub nats: NatsConfig,
    pub telemetry: TelemetryConfig,
    pub internal_auth: InternalAuthConfig,
    pub outbox: OutboxConfig,
}

impl DatabaseConfig {
    pub fn wait_timeout(&self) -> Duration {
        Duration::from_millis(self.wait_timeout_ms)
    }
}

impl NatsConfig {
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }

    /// The one authentication method configured; an error names the key
    /// when more than one is set or a user comes without its password.
    pub fn auth(&self) -> Result<NatsAuth<'_>, ConfigError> {
        let mut set: Vec<(&str, NatsAuth<'_>)> = Vec::new();
        match (&self.user, &self.password) {
            (Some(user), Some(password)) => set.push((
                "nats.user",
                NatsAuth::UserPassword {
                    user: user.as_str(),
                    password,
                },
            )),
            (Some(_), None) => {
                return Err(ConfigError::invalid(
                    "nats.password",
                    "must be set together with nats.user",
                ))
            }
            (None, Some(_)) => {
                return Err(ConfigError::invalid(
                    "nats.user",
                    "must be set together with nats.password",
                ))
            }
            (None, None) => {}
        }
        if let Some(t) = &self.token {
            set.push(("nats.token", NatsAuth::Token(t)));
        }
        if let Some(seed) = &self.nkey_seed {
            set.push(("nats.nkey_seed", NatsAuth::NKey(seed)));
        }
        match set.as_slice() {
            [] => Ok(NatsAuth::None),
            [(_, auth)] => Ok(*auth),
            [(first, _), (second, _), ..] => Err(ConfigError::invalid(
                second,
                format!(
                    "only one NATS authentication method may be set, and {first} is set too \
                     (nats.user + nats.password, nats.token or nats.nkey_seed)"
                ),
            )),
        }
    }
}

/// A configuration error that names the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid configuration: {key}: {message}")]
    Invalid { key: String, message: String },
    #[error("invalid configuration: {0}")]
    Load(#[from] config::ConfigError),
}

impl ConfigError {
    pub fn invalid(key: &str, message: impl fmt::Display) -> Self {
        ConfigError::Invalid {
            key: key.to_owned(),
            message: message.to_string(),
        }
    }
}

/// Implemented by each service's own configuration section(s).
pub trait Validate {
    fn validate(&self, env: Environment) -> Result<(), ConfigError>;
}

impl Validate for () {
    fn validate(&self, _env: Environment) -> Result<(), ConfigError> {
        Ok(())
    }
}

/// Where configuration files live: `$JYOTIFLOW_CONFIG_DIR`, else `./config`.
pub fn config_dir() -> PathBuf {
    std::env::var_os("JYOTIFLOW_CONFIG_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("config"))
}

/// Built-in defaults for the base sections. `port` is the service's default port.
fn base_defaults(
    builder: config::ConfigBuilder<config::builder::DefaultState>,
    service: &str,
    port: u16,
) -> Result<config::ConfigBuilder<config::builder::DefaultState>, config::ConfigError> {
    builder
        .set_default("env", "production")?
        .set_default("http.host", "127.0.0.1")?
        .set_default("http.port", i64::from(port))?
        .set_default("http.body_limit_bytes", 256 * 1024)?
        .set_default("http.shutdown_timeout_secs", 20)?
        .set_default("http.workers", 0)?
        .set_default(
            "database.url",
            "postgres://postgres@127.0.0.1:5432/jyotiflow",
        )?
        .set_default("database.max_connections", 10)?
        .set_default("database.connect_timeout_ms", 3000)?
        .set_default("database.wait_timeout_ms", 2000)?
        .set_default("database.create_timeout_ms", 3000)?
        .set_default("database.recycle_timeout_ms", 1000)?
        .set_default("database.statement_timeout_ms", 10_000)?
        .set_default("database.idle_in_transaction_timeout_ms", 30_000)?
        .set_default("nats.url", "nats://127.0.0.1:4222")?
        .set_default("nats.request_timeout_ms", 5000)?
        .set_default("nats.connect_timeout_ms", 2000)?
        .set_default("telemetry.log_level", format!("info,{service}=info"))?
        .set_default("telemetry.log_format", "json")?
        .set_default("internal_auth.key_id", "k1")?
        .set_default(
            "internal_auth.signing_key",
            format!("{INSECURE_DEFAULT_PREFIX}derive-from-service-name"),
        )?
        .set_default("internal_auth.ttl_secs", 60)?
        .set_default("outbox.poll_interval_ms", 500)?
        .set_default("outbox.batch_size", 100)?
        .set_default("outbox.retention_hours", 72)
}

/// Loads and validates the base sections and the service's own type `E`
/// (deserialized from the same layered sources; `defaults` adds its defaults).
/// `overrides` (key, value) pairs apply last; tests use them instead of the
/// process environment.
pub fn load<E>(
    service: &str,
    default_port: u16,
    overrides: &[(String, String)],
    defaults: impl FnOnce(
        config::ConfigBuilder<config::builder::DefaultState>,
    ) -> Result<
        config::ConfigBuilder<config::builder::DefaultState>,
        config::ConfigError,
    >,
) -> Result<(BaseConfig, E), ConfigError>
where
    E: DeserializeOwned + Validate,
{
    // Fail closed: without an explicit development or test environment,
    // the service runs as production and refuses development secrets.
    let env_name = overrides
        .iter()
        .find(|(k, _)| k == "env")
        .map(|(_, v)| v.clone())
        .or_else(|| std::env::var("JYOTIFLOW__ENV").ok())
        .unwrap_or_else(|| "production".into());
    let dir = config_dir();
    let builder = base_defaults(config::Config::builder(), service, default_port)?;
    let builder = defaults(builder)?
        .add_source(config::File::from(dir.join("default.toml")).required(false))
        .add_source(config::File::from(dir.join(format!("{env_name}.toml"))).required(false))
        .add_source(config::File::from(dir.join(format!("{service}.toml"))).required(false))
        .add_source(
            config::Environment::with_prefix("JYOTIFLOW")
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true),
        );
    let mut builder = builder;
    for (k, v) in overrides {
        builder = builder.set_override(k.as_str(), v.as_str())?;
    }
    let cfg = builder.build()?;
    let mut base: BaseConfig = cfg.clone().try_deserialize()?;
    base.service = service.to_owned();
    base.validate()?;
    let ext: E = cfg.try_deserialize()?;
    ext.validate(base.env)?;
    Ok((base, ext))
}

/// Checks a secret: production refuses the shipped defaults and short ones.
pub fn check_secret(key: &str, secret: &SecretString, env: Environment) -> Result<(), ConfigError> {
    let s = secret.expose_secret();
    if s.is_empty() {
        return Err(ConfigError::invalid(key, "must not be empty"));
    }
    if env == Environment::Production {
        if s.starts_with(INSECURE_DEFAULT_PREFIX) {
            return Err(ConfigError::invalid(
                key,
                "is the insecure development default; set a real secret in production",
            ));
        }
        if s.len() < MIN_SECRET_LEN {
            return Err(ConfigError::invalid(
                key,
                format!("must be at least {MIN_SECRET_LEN} bytes in production"),
            ));
        }
    }
    Ok(())
}

fn positive(key: &str, v: u64) -> Result<(), ConfigError> {
    if v == 0 {
        Err(ConfigError::invalid(key, "must be greater than 0"))
    } else {
        Ok(())
    }
}

impl BaseConfig {
    fn validate_nats_auth(&self) -> Result<(), ConfigError> {
        match self.nats.auth()? {
            NatsAuth::None => Ok(()),
            NatsAuth::UserPassword { user, password } => {
                if user.trim().is_empty() {
                    return Err(ConfigError::invalid("nats.user", "must not be empty"));
                }
                check_secret("nats.password", password, self.env)
            }
            NatsAuth::Token(token) => check_secret("nats.token", token, self.env),
            NatsAuth::NKey(seed) => {
                check_secret("nats.nkey_seed", seed, self.env)?;
                // Parsed now so a typo fails at start, not at every reconnect.
                // nkeys' own error is not shown: it could quote the seed.
                let s = seed.expose_secret();
                match nkeys::KeyPair::from_seed(s) {
                    Ok(kp) if s.starts_with("SU") && kp.public_key().starts_with('U') => Ok(()),
                    _ => Err(ConfigError::invalid(
                        "nats.nkey_seed",
                        "is not an NKey user seed (58 characters starting with SU)",
                    )),
                }
            }
        }
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.http.host.trim().is_empty() {
            return Err(ConfigError::invalid("http.host", "must not be empty"));
        }
        if self.http.body_limit_bytes == 0 {
            return Err(ConfigError::invalid(
                "http.body_limit_bytes",
                "must be greater than 0",
            ));
        }
        let db = &self.database;
        let url = db.url.expose_secret();
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(ConfigError::invalid(
                "database.url",
                "must be a postgres:// or postgresql:// URL",
            ));
        }
        // sslmode, sslrootcert (readable, holding a CA certificate), then the rest.
        // The messages never contain the URL.
        crate::db::tls::check(url).map_err(|e| ConfigError::invalid("database.url", e))?;
        if db.max_connections == 0 || db.max_connections > 1000 {
            return Err(ConfigError::invalid(
                "database.max_connections",
                "must be between 1 and 1000",
            ));
        }
        positive("database.connect_timeout_ms", db.connect_timeout_ms)?;
        positive("database.wait_timeout_ms", db.wait_timeout_ms)?;
        positive("database.create_timeout_ms", db.create_timeout_ms)?;
        positive("database.recycle_timeout_ms", db.recycle_timeout_ms)?;
        positive("database.statement_timeout_ms", db.statement_timeout_ms)?;
        positive(
            "database.idle_in_transaction_timeout_ms",
            db.idle_in_transaction_timeout_ms,
        )?;
        if !self.nats.url.starts_with("nats://") && !self.nats.url.starts_with("tls://") {
            return Err(ConfigError::invalid(
                "nats.url",
                "must be a nats:// or tls:// URL",
            ));
        }
        if !crate::nats::valid_prefix(&self.nats.prefix) {
            return Err(ConfigError::invalid(
                "nats.prefix",
                "must be at most 32 lowercase letters, digits, '-' or '_'",
            ));
        }
        if self.nats.url.contains('@') {
            return Err(ConfigError::invalid(
                "nats.url",
                "must not carry credentials; set nats.user and nats.password, nats.token or nats.nkey_seed",
            ));
        }
        positive("nats.request_timeout_ms", self.nats.request_timeout_ms)?;
        positive("nats.connect_timeout_ms", self.nats.connect_timeout_ms)?;
        self.validate_nats_auth()?;
        if tracing_subscriber::EnvFilter::try_new(&self.telemetry.log_level).is_err() {
            return Err(ConfigError::invalid(
                "telemetry.log_level",
                "is not a valid filter directive",
            ));
        }
        crate::auth::validate_config(&self.internal_auth, self.env)?;
        if let Some(a) = self
            .http
            .metrics_address
            .as_deref()
            .filter(|a| !a.is_empty())
        {
            if a.parse::<std::net::SocketAddr>().is_err() {
                return Err(ConfigError::invalid(
                    "http.metrics_address",
                    "must be host:port with an IP address",
                ));
            }
        }
        if let Some(h) = &self.http.advertise_host {
            if h.trim().chars().any(|c| c.is_whitespace() || c == '/') {
                return Err(ConfigError::invalid(
                    "http.advertise_host",
                    "must be a host name or an IP address",
                ));
            }
        }
        if let Some(t) = &self.http.metrics_token {
            check_secret("http.metrics_token", t, self.env)?;
        }
        positive("outbox.poll_interval_ms", self.outbox.poll_interval_ms)?;
        if self.outbox.batch_size <= 0 {
            return Err(ConfigError::invalid(
                "outbox.batch_size",
                "must be greater than 0",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::HttpConfig;

    fn http(host: &str, advertise_host: Option<&str>) -> HttpConfig {
        HttpConfig {
            host: host.to_owned(),
            port: 8080,
            body_limit_bytes: 1024,
            shutdown_timeout_secs: 1,
            workers: 1,
            metrics_address: None,
            metrics_token: None,
            advertise_host: advertise_host.map(str::to_owned),
        }
    }

    #[test]
    fn advertised_address_prefers_the_advertise_host_then_a_concrete_host() {
        let a = |host, adv, hostname| http(host, adv).advertised_address(8081, hostname);
        assert_eq!(a("0.0.0.0", Some("charts-1"), Some("pod")), "charts-1:8081");
        assert_eq!(a("10.0.0.5", None, Some("pod")), "10.0.0.5:8081");
        assert_eq!(a("0.0.0.0", None, Some("pod-7")), "pod-7:8081");
        assert_eq!(a("::", None, Some("pod-7")), "pod-7:8081");
        assert_eq!(a("0.0.0.0", None, None), "127.0.0.1:8081");
        assert_eq!(a("0.0.0.0", Some(""), Some("")), "127.0.0.1:8081");
        assert_eq!(a("::1", None, None), "[::1]:8081");
        assert_eq!(a("0.0.0.0", Some("fd00::5"), None), "[fd00::5]:8081");
    }
}
