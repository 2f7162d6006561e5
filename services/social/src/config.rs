//! The social service's configuration sections (beside the platform's).

use crate::credentials::KeyringConfig;
use crate::networks::{FacebookConfig, InstagramConfig, TelegramConfig, XConfig, YouTubeConfig};
use platform::config::{ConfigError, Environment, Validate};
use serde::Deserialize;

pub const SERVICE: &str = "social";
pub const DEFAULT_PORT: u16 = 8086;

/// The key id of the development keyring (refused in production).
pub const DEV_KEY_ID: &str = "dev";
/// A 32-byte key everyone knows: only for development and tests.
const DEV_KEY: &str = "anlvdGlmbG93LWRldmVsb3BtZW50LWtleS0zMmJ5dGU=";

impl SocialConfig {
    /// The keyring as configured; in production without the built-in
    /// development key (a default that cannot be removed from the map, so
    /// it is dropped here: nothing sealed with it opens in production).
    pub fn keyring(
        &self,
        env: Environment,
    ) -> Result<crate::credentials::Keyring, crate::credentials::CredentialError> {
        let mut k = self.credentials.clone();
        if env == Environment::Production {
            k.keys.remove(DEV_KEY_ID);
        }
        crate::credentials::Keyring::from_config(&k)
    }
}

#[derive(Clone, Debug, Deserialize)]
pub struct SocialConfig {
    pub credentials: KeyringConfig,
    /// Each network's API root, timeouts and retries (defaults: the real APIs).
    #[serde(default)]
    pub networks: NetworksConfig,
    pub scheduler: SchedulerConfig,
    pub publisher: PublisherConfig,
    pub analytics: AnalyticsConfig,
    pub content: ContentConfig,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct NetworksConfig {
    pub facebook: FacebookConfig,
    pub instagram: InstagramConfig,
    pub x: XConfig,
    pub youtube: YouTubeConfig,
    pub telegram: TelegramConfig,
}

#[derive(Clone, Debug, Deserialize)]
pub struct SchedulerConfig {
    /// How often due schedules are looked for.
    pub interval_ms: u64,
    /// Schedules run per round, at most.
    pub batch: i64,
}

#[derive(Clone, Debug, Deserialize)]
pub struct PublisherConfig {
    /// How often due posts are looked for.
    pub interval_ms: u64,
    /// Posts claimed per round, at most.
    pub batch: i64,
    /// A claimed post not finished within this is claimed again (by any
    /// replica), with a look-up first.
    pub lease_secs: i64,
    /// Attempts before a post fails for good.
    pub max_attempts: i32,
    /// First wait before a retry; doubles per attempt (a `Retry-After` wins).
    pub backoff_ms: u64,
}

#[derive(Clone, Debug, Deserialize)]
pub struct AnalyticsConfig {
    /// How often metrics and comments of recent posts are pulled (0: never).
    pub interval_ms: u64,
    /// Posts published within this many days are pulled.
    pub days: i64,
    /// Suggested replies to new comments come from guidance.
    pub suggest_replies: bool,
}

#[derive(Clone, Debug, Deserialize)]
pub struct ContentConfig {
    /// Where the networks fetch images from: the public root of
    /// `/api/v1/social/media/{id}` (the gateway's public URL).
    pub public_base_url: String,
    /// Timeout of a request to charts or guidance.
    pub request_timeout_ms: u64,
    /// Longest generated teaching (tokens).
    pub max_tokens: i64,
}

pub fn defaults(
    b: config::ConfigBuilder<config::builder::DefaultState>,
) -> Result<config::ConfigBuilder<config::builder::DefaultState>, config::ConfigError> {
    b.set_default("database.max_connections", 6)?
        .set_default("credentials.current_key_id", DEV_KEY_ID)?
        .set_default(format!("credentials.keys.{DEV_KEY_ID}"), DEV_KEY)?
        .set_default("scheduler.interval_ms", 5000)?
        .set_default("scheduler.batch", 10)?
        .set_default("publisher.interval_ms", 2000)?
        .set_default("publisher.batch", 10)?
        .set_default("publisher.lease_secs", 900)?
        .set_default("publisher.max_attempts", 5)?
        .set_default("publisher.backoff_ms", 30_000)?
        .set_default("analytics.interval_ms", 3_600_000)?
        .set_default("analytics.days", 14)?
        .set_default("analytics.suggest_replies", true)?
        .set_default("content.public_base_url", "http://localhost:8080")?
        .set_default("content.request_timeout_ms", 60_000)?
        .set_default("content.max_tokens", 160)
}

impl Validate for SocialConfig {
    fn validate(&self, env: Environment) -> Result<(), ConfigError> {
        if env == Environment::Production && self.credentials.current_key_id == DEV_KEY_ID {
            return Err(ConfigError::invalid(
                "credentials.current_key_id",
                "the development key must not be used in production; set credentials.current_key_id and credentials.keys.<id>",
            ));
        }
        self.keyring(env)
            .map_err(|e| ConfigError::invalid("credentials", e))?;
        for (k, v) in [
            ("scheduler.interval_ms", self.scheduler.interval_ms),
            ("publisher.interval_ms", self.publisher.interval_ms),
            ("publisher.backoff_ms", self.publisher.backoff_ms),
            (
                "content.request_timeout_ms",
                self.content.request_timeout_ms,
            ),
        ] {
            if v == 0 {
                return Err(ConfigError::invalid(k, "must be greater than 0"));
            }
        }
        if !(1..=1000).contains(&self.scheduler.batch) {
            return Err(ConfigError::invalid(
                "scheduler.batch",
                "must be between 1 and 1000",
            ));
        }
        if !(1..=1000).contains(&self.publisher.batch) {
            return Err(ConfigError::invalid(
                "publisher.batch",
                "must be between 1 and 1000",
            ));
        }
        if self.publisher.lease_secs < 1 {
            return Err(ConfigError::invalid(
                "publisher.lease_secs",
                "must be at least 1",
            ));
        }
        if !(1..=100).contains(&self.publisher.max_attempts) {
            return Err(ConfigError::invalid(
                "publisher.max_attempts",
                "must be between 1 and 100",
            ));
        }
        if !(1..=365).contains(&self.analytics.days) {
            return Err(ConfigError::invalid(
                "analytics.days",
                "must be between 1 and 365",
            ));
        }
        if !(16..=1024).contains(&self.content.max_tokens) {
            return Err(ConfigError::invalid(
                "content.max_tokens",
                "must be between 16 and 1024",
            ));
        }
        let u = &self.content.public_base_url;
        if !(u.starts_with("http://") || u.starts_with("https://")) {
            return Err(ConfigError::invalid(
                "content.public_base_url",
                "must be an http(s) URL",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn cfg() -> SocialConfig {
        let o = vec![("env".to_owned(), "test".to_owned())];
        crate::load_config(&o).expect("test config").1
    }

    #[test]
    fn the_development_key_is_refused_in_production_and_dropped_there() {
        let mut c = cfg();
        assert!(c.validate(Environment::Test).is_ok());
        let e = c.validate(Environment::Production).unwrap_err().to_string();
        assert!(e.contains("credentials.current_key_id"), "{e}");
        c.credentials.keys.insert(
            "k2026".into(),
            secrecy::SecretString::from("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=".to_owned()),
        );
        c.credentials.current_key_id = "k2026".into();
        assert!(c.validate(Environment::Production).is_ok());
        let dev_sealed = c
            .keyring(Environment::Test)
            .unwrap()
            .seal(b"t", b"a")
            .unwrap();
        let prod = c.keyring(Environment::Production).unwrap();
        assert!(prod.open(&dev_sealed, b"a").is_ok(), "k2026 sealed it");
        let mut dev_only = c.clone();
        dev_only.credentials.current_key_id = DEV_KEY_ID.into();
        let sealed_with_dev = dev_only
            .keyring(Environment::Test)
            .unwrap()
            .seal(b"t", b"a")
            .unwrap();
        assert!(
            prod.open(&sealed_with_dev, b"a").is_err(),
            "no dev key in production"
        );
    }

    #[test]
    fn bad_values_are_named() {
        let mut c = cfg();
        c.publisher.max_attempts = 0;
        assert!(c
            .validate(Environment::Test)
            .unwrap_err()
            .to_string()
            .contains("publisher.max_attempts"));
        let mut c = cfg();
        c.content.public_base_url = "ftp://x".into();
        assert!(c
            .validate(Environment::Test)
            .unwrap_err()
            .to_string()
            .contains("content.public_base_url"));
    }
}
