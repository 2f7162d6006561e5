//! The media service's own configuration sections (beside the platform's).

use platform::config::{check_secret, ConfigError, Environment, Validate};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

pub const SERVICE: &str = "media";
pub const DEFAULT_PORT: u16 = 8084;

#[derive(Clone, Debug, Deserialize)]
pub struct MediaConfig {
    pub live: LiveConfig,
    pub agora: AgoraConfig,
    pub avatar: crate::avatar::config::AvatarConfig,
}

/// Live consultations (`crate::live`).
#[derive(Clone, Debug, Deserialize)]
pub struct LiveConfig {
    /// Length of a billed minute in seconds: 60 in production (refused
    /// otherwise); tests shorten it to run hours of sessions in seconds.
    pub billing_period_secs: u64,
    /// Minutes the first hold covers (held when the session is requested).
    pub first_block_minutes: i32,
    /// Minutes each later hold adds.
    pub extend_block_minutes: i32,
    /// The hold is extended, and a warning sent when it cannot be, once this
    /// many covered minutes or fewer are left.
    pub low_credit_minutes: i32,
    /// The reader must accept within this many seconds.
    pub accept_timeout_secs: u64,
    /// Both sides must join within this many seconds of the acceptance, and
    /// a side silent (no heartbeat, no Agora presence) this long ends it.
    pub heartbeat_timeout_secs: u64,
    /// How often the billing loop looks for due work.
    pub tick_interval_ms: u64,
    /// Sessions billed concurrently by one instance.
    pub concurrency: usize,
    /// Lifetime of each credit hold (pricing releases an abandoned one).
    pub hold_ttl_secs: i64,
    /// A session ends after this many minutes.
    pub max_minutes: i32,
    /// Catalog codes priced per minute, by kind.
    pub service_codes: ServiceCodes,
}

#[derive(Clone, Debug, Deserialize)]
pub struct ServiceCodes {
    pub chat: String,
    pub voice: String,
    pub video: String,
}

/// Agora: the project's App ID and App Certificate sign RTC/RTM tokens; the
/// Notification Center's secret signs webhook deliveries. Empty App ID or
/// certificate: voice and video are unavailable (chat still works).
#[derive(Clone, Debug, Deserialize)]
pub struct AgoraConfig {
    pub app_id: String,
    pub app_certificate: SecretString,
    pub webhook_secret: SecretString,
    /// Lifetime of a token and of its privileges.
    pub token_ttl_secs: u32,
}

impl AgoraConfig {
    /// Whether calls can be made (an App ID and certificate are set).
    pub fn configured(&self) -> bool {
        !self.app_id.is_empty() && !self.app_certificate.expose_secret().is_empty()
    }
}

/// Built-in defaults for the media sections.
pub fn defaults(
    b: config::ConfigBuilder<config::builder::DefaultState>,
) -> Result<config::ConfigBuilder<config::builder::DefaultState>, config::ConfigError> {
    let b = b
        .set_default("live.billing_period_secs", 60)?
        .set_default("live.first_block_minutes", 5)?
        .set_default("live.extend_block_minutes", 5)?
        .set_default("live.low_credit_minutes", 2)?
        .set_default("live.accept_timeout_secs", 60)?
        .set_default("live.heartbeat_timeout_secs", 60)?
        .set_default("live.tick_interval_ms", 250)?
        .set_default("live.concurrency", 32)?
        .set_default("live.hold_ttl_secs", 3 * 3600)?
        .set_default("live.max_minutes", 240)?
        .set_default("live.service_codes.chat", "live_chat")?
        .set_default("live.service_codes.voice", "live_voice")?
        .set_default("live.service_codes.video", "live_video")?
        .set_default("agora.app_id", "")?
        .set_default("agora.app_certificate", "")?
        .set_default("agora.webhook_secret", "")?
        .set_default("agora.token_ttl_secs", 3600)?;
    crate::avatar::config::defaults(b)
}

impl Validate for MediaConfig {
    fn validate(&self, env: Environment) -> Result<(), ConfigError> {
        let l = &self.live;
        if l.billing_period_secs == 0 || l.billing_period_secs > 3600 {
            return Err(ConfigError::invalid(
                "live.billing_period_secs",
                "must be between 1 and 3600",
            ));
        }
        if env == Environment::Production && l.billing_period_secs != 60 {
            return Err(ConfigError::invalid(
                "live.billing_period_secs",
                "must be 60 in production (prices are per minute)",
            ));
        }
        for (key, v) in [
            ("live.first_block_minutes", l.first_block_minutes),
            ("live.extend_block_minutes", l.extend_block_minutes),
        ] {
            if !(1..=120).contains(&v) {
                return Err(ConfigError::invalid(key, "must be between 1 and 120"));
            }
        }
        if l.low_credit_minutes < 1 || l.low_credit_minutes >= l.first_block_minutes {
            return Err(ConfigError::invalid(
                "live.low_credit_minutes",
                "must be at least 1 and less than live.first_block_minutes",
            ));
        }
        if l.extend_block_minutes <= l.low_credit_minutes {
            return Err(ConfigError::invalid(
                "live.extend_block_minutes",
                "must be more than live.low_credit_minutes (else every minute extends)",
            ));
        }
        for (key, v) in [
            ("live.accept_timeout_secs", l.accept_timeout_secs),
            ("live.heartbeat_timeout_secs", l.heartbeat_timeout_secs),
            ("live.tick_interval_ms", l.tick_interval_ms),
        ] {
            if v == 0 {
                return Err(ConfigError::invalid(key, "must be greater than 0"));
            }
        }
        if l.concurrency == 0 || l.concurrency > 1024 {
            return Err(ConfigError::invalid(
                "live.concurrency",
                "must be between 1 and 1024",
            ));
        }
        if l.hold_ttl_secs < 60 || l.hold_ttl_secs > 86_400 {
            return Err(ConfigError::invalid(
                "live.hold_ttl_secs",
                "must be between 60 and 86400 (pricing's longest hold)",
            ));
        }
        if !(1..=24 * 60).contains(&l.max_minutes) {
            return Err(ConfigError::invalid(
                "live.max_minutes",
                "must be between 1 and 1440",
            ));
        }
        let a = &self.agora;
        if !a.app_id.is_empty()
            && (a.app_id.len() != 32 || !a.app_id.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            return Err(ConfigError::invalid(
                "agora.app_id",
                "must be the project's 32-hex-digit App ID (or empty: no calls)",
            ));
        }
        let cert = a.app_certificate.expose_secret();
        if !cert.is_empty() && (cert.len() != 32 || !cert.bytes().all(|b| b.is_ascii_hexdigit())) {
            return Err(ConfigError::invalid(
                "agora.app_certificate",
                "must be the project's 32-hex-digit App Certificate (or empty: no calls)",
            ));
        }
        if a.app_id.is_empty() != cert.is_empty() {
            return Err(ConfigError::invalid(
                "agora.app_certificate",
                "set both agora.app_id and agora.app_certificate, or neither",
            ));
        }
        if !a.webhook_secret.expose_secret().is_empty() {
            check_secret("agora.webhook_secret", &a.webhook_secret, env)?;
        }
        if a.token_ttl_secs < 60 || a.token_ttl_secs > 86_400 {
            return Err(ConfigError::invalid(
                "agora.token_ttl_secs",
                "must be between 60 and 86400",
            ));
        }
        self.avatar.validate(env)
    }
}
