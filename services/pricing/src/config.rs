//! The pricing service's own configuration sections (beside the platform's).

use crate::limits::{MAX_HOLD_TTL_SECS, MAX_PACKAGE_CREDITS, MAX_UNIT_PRICE};
use platform::config::{check_secret, ConfigError, Environment, Validate, INSECURE_DEFAULT_PREFIX};
use secrecy::SecretString;
use serde::Deserialize;

pub const SERVICE: &str = "pricing";
pub const DEFAULT_PORT: u16 = 8082;

#[derive(Clone, Debug, Deserialize)]
pub struct PricingConfig {
    pub credits: CreditsConfig,
    pub stripe: StripeConfig,
    pub quotes: QuotesConfig,
    pub engine: EngineConfig,
    pub cleanup: CleanupConfig,
}

/// The periodic clean-up (`crate::cleanup`).
#[derive(Clone, Debug, Deserialize)]
pub struct CleanupConfig {
    /// How often it runs.
    pub interval_ms: u64,
    /// Rows deleted per statement.
    pub batch_size: i64,
    /// Quotes are deleted this long after they expired.
    pub quotes_retention_secs: i64,
    /// Stripe event ids (webhook de-duplication) are kept this long. Stripe
    /// retries a webhook for up to 3 days; production refuses less.
    pub stripe_events_retention_secs: i64,
    /// Consumer de-duplication (`processed_events`) is kept this long; it
    /// should outlive the streams' max age (7 days); production refuses less.
    pub processed_events_retention_secs: i64,
}

/// Stripe retries webhooks for up to three days.
pub const STRIPE_RETRY_WINDOW_SECS: i64 = 3 * 86_400;
/// JetStream streams keep events for seven days (`platform::nats::ensure_stream`).
pub const STREAM_MAX_AGE_SECS: i64 = 7 * 86_400;

#[derive(Clone, Debug, Deserialize)]
pub struct CreditsConfig {
    /// Credits granted once to every new user (0 disables the grant).
    pub welcome_grant: i64,
    /// `evt.pricing.credits.low` is emitted when a wallet drops below this.
    pub low_balance_threshold: i64,
    /// Hold lifetime when the caller does not name one.
    pub default_hold_ttl_secs: i64,
    pub max_hold_ttl_secs: i64,
    /// How often expired holds are released.
    pub sweep_interval_ms: u64,
}

#[derive(Clone, Debug, Deserialize)]
pub struct StripeConfig {
    pub secret_key: SecretString,
    pub webhook_secret: SecretString,
    pub api_base: String,
    pub success_url: String,
    pub cancel_url: String,
    /// Signed webhooks older than this are refused (Stripe's default tolerance is 5 minutes).
    pub tolerance_secs: i64,
    pub timeout_ms: u64,
}

#[derive(Clone, Debug, Deserialize)]
pub struct QuotesConfig {
    /// How long a quoted price is honoured.
    pub ttl_secs: i64,
}

#[derive(Clone, Debug, Deserialize)]
pub struct EngineConfig {
    /// Margin over cost, basis points (3000 = +30 %).
    pub margin_bps: i64,
    /// Lowest and highest price the engine may recommend, in credits.
    pub floor_credits: i64,
    pub ceiling_credits: i64,
    /// Prices are rounded to a multiple of this many credits.
    pub rounding_step: i64,
    /// Demand factor bounds, basis points.
    pub demand_min_bps: i64,
    pub demand_max_bps: i64,
    /// Window of recent usage that the demand factor compares with the baseline.
    pub demand_window_hours: i64,
    pub demand_baseline_days: i64,
}

/// Built-in defaults for the pricing sections.
pub fn defaults(
    b: config::ConfigBuilder<config::builder::DefaultState>,
) -> Result<config::ConfigBuilder<config::builder::DefaultState>, config::ConfigError> {
    b.set_default("credits.welcome_grant", 20)?
        .set_default("credits.low_balance_threshold", 10)?
        .set_default("credits.default_hold_ttl_secs", 900)?
        .set_default("credits.max_hold_ttl_secs", 86_400)?
        .set_default("credits.sweep_interval_ms", 5000)?
        .set_default(
            "stripe.secret_key",
            format!("{INSECURE_DEFAULT_PREFIX}stripe-secret-key"),
        )?
        .set_default(
            "stripe.webhook_secret",
            format!("{INSECURE_DEFAULT_PREFIX}stripe-webhook-secret"),
        )?
        .set_default("stripe.api_base", "https://api.stripe.com")?
        .set_default(
            "stripe.success_url",
            "http://localhost:3000/credits/success?session_id={CHECKOUT_SESSION_ID}",
        )?
        .set_default("stripe.cancel_url", "http://localhost:3000/credits/cancel")?
        .set_default("stripe.tolerance_secs", 300)?
        .set_default("stripe.timeout_ms", 10_000)?
        .set_default("quotes.ttl_secs", 600)?
        .set_default("engine.margin_bps", 3000)?
        .set_default("engine.floor_credits", 1)?
        .set_default("engine.ceiling_credits", 500)?
        .set_default("engine.rounding_step", 1)?
        .set_default("engine.demand_min_bps", 8000)?
        .set_default("engine.demand_max_bps", 15000)?
        .set_default("engine.demand_window_hours", 24)?
        .set_default("engine.demand_baseline_days", 7)?
        .set_default("cleanup.interval_ms", 600_000)?
        .set_default("cleanup.batch_size", 1000)?
        .set_default("cleanup.quotes_retention_secs", 7 * 86_400)?
        .set_default("cleanup.stripe_events_retention_secs", 30 * 86_400)?
        .set_default("cleanup.processed_events_retention_secs", 14 * 86_400)
}

impl Validate for PricingConfig {
    fn validate(&self, env: Environment) -> Result<(), ConfigError> {
        let c = &self.credits;
        if !(0..=MAX_PACKAGE_CREDITS).contains(&c.welcome_grant) {
            return Err(ConfigError::invalid(
                "credits.welcome_grant",
                format!("must be between 0 and {MAX_PACKAGE_CREDITS}"),
            ));
        }
        if c.low_balance_threshold < 0 {
            return Err(ConfigError::invalid(
                "credits.low_balance_threshold",
                "must not be negative",
            ));
        }
        if !(1..=MAX_HOLD_TTL_SECS).contains(&c.max_hold_ttl_secs) {
            return Err(ConfigError::invalid(
                "credits.max_hold_ttl_secs",
                format!("must be between 1 and {MAX_HOLD_TTL_SECS}"),
            ));
        }
        if c.default_hold_ttl_secs <= 0 || c.default_hold_ttl_secs > c.max_hold_ttl_secs {
            return Err(ConfigError::invalid(
                "credits.default_hold_ttl_secs",
                "must be positive and at most credits.max_hold_ttl_secs",
            ));
        }
        if c.sweep_interval_ms == 0 {
            return Err(ConfigError::invalid(
                "credits.sweep_interval_ms",
                "must be greater than 0",
            ));
        }
        let s = &self.stripe;
        check_secret("stripe.secret_key", &s.secret_key, env)?;
        check_secret("stripe.webhook_secret", &s.webhook_secret, env)?;
        for (key, url) in [
            ("stripe.api_base", &s.api_base),
            ("stripe.success_url", &s.success_url),
            ("stripe.cancel_url", &s.cancel_url),
        ] {
            if !(url.starts_with("http://") || url.starts_with("https://"))
                || url.parse::<reqwest::Url>().is_err()
            {
                return Err(ConfigError::invalid(key, "must be an http(s) URL"));
            }
        }
        if env == Environment::Production && !s.api_base.starts_with("https://") {
            return Err(ConfigError::invalid(
                "stripe.api_base",
                "must be https in production",
            ));
        }
        if !(1..=3600).contains(&s.tolerance_secs) {
            return Err(ConfigError::invalid(
                "stripe.tolerance_secs",
                "must be between 1 and 3600",
            ));
        }
        if s.timeout_ms == 0 {
            return Err(ConfigError::invalid(
                "stripe.timeout_ms",
                "must be greater than 0",
            ));
        }
        if !(1..=86_400).contains(&self.quotes.ttl_secs) {
            return Err(ConfigError::invalid(
                "quotes.ttl_secs",
                "must be between 1 and 86400",
            ));
        }
        self.cleanup.validate(env)?;
        self.engine.validate()
    }
}

impl CleanupConfig {
    pub fn validate(&self, env: Environment) -> Result<(), ConfigError> {
        if self.interval_ms == 0 {
            return Err(ConfigError::invalid(
                "cleanup.interval_ms",
                "must be greater than 0",
            ));
        }
        if !(1..=100_000).contains(&self.batch_size) {
            return Err(ConfigError::invalid(
                "cleanup.batch_size",
                "must be between 1 and 100000",
            ));
        }
        for (key, secs, production_min) in [
            (
                "cleanup.quotes_retention_secs",
                self.quotes_retention_secs,
                1,
            ),
            (
                "cleanup.stripe_events_retention_secs",
                self.stripe_events_retention_secs,
                STRIPE_RETRY_WINDOW_SECS,
            ),
            (
                "cleanup.processed_events_retention_secs",
                self.processed_events_retention_secs,
                STREAM_MAX_AGE_SECS,
            ),
        ] {
            // Up to ~100 years: chrono durations stay far from overflow.
            if !(1..=3_153_600_000).contains(&secs) {
                return Err(ConfigError::invalid(
                    key,
                    "must be between 1 second and 100 years",
                ));
            }
            if env == Environment::Production && secs < production_min {
                return Err(ConfigError::invalid(
                    key,
                    format!("must be at least {production_min} seconds in production"),
                ));
            }
        }
        Ok(())
    }
}

impl EngineConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.margin_bps < 0 {
            return Err(ConfigError::invalid(
                "engine.margin_bps",
                "must not be negative",
            ));
        }
        if self.rounding_step <= 0 {
            return Err(ConfigError::invalid(
                "engine.rounding_step",
                "must be greater than 0",
            ));
        }
        if self.floor_credits < 0
            || self.ceiling_credits < self.floor_credits
            || self.ceiling_credits > MAX_UNIT_PRICE
        {
            return Err(ConfigError::invalid(
                "engine.ceiling_credits",
                format!(
                    "need 0 <= engine.floor_credits <= engine.ceiling_credits <= {MAX_UNIT_PRICE}"
                ),
            ));
        }
        let lo = crate::engine::ceil_to_step(self.floor_credits, self.rounding_step);
        if lo > self.ceiling_credits {
            return Err(ConfigError::invalid(
                "engine.rounding_step",
                "no multiple of the step lies between the floor and the ceiling",
            ));
        }
        if self.demand_min_bps <= 0 || self.demand_max_bps < self.demand_min_bps {
            return Err(ConfigError::invalid(
                "engine.demand_max_bps",
                "need 0 < engine.demand_min_bps <= engine.demand_max_bps",
            ));
        }
        if self.demand_window_hours <= 0 || self.demand_baseline_days <= 0 {
            return Err(ConfigError::invalid(
                "engine.demand_window_hours",
                "demand windows must be positive",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(extra: &[(&str, &str)]) -> Result<PricingConfig, ConfigError> {
        let mut o: Vec<(String, String)> = vec![("env".into(), "test".into())];
        o.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        crate::load_config(&o).map(|(_, c)| c)
    }

    #[test]
    fn defaults_load_and_production_refuses_placeholder_stripe_secrets() {
        let c = load(&[]).unwrap();
        assert_eq!(c.credits.welcome_grant, 20);
        let e = c.validate(Environment::Production).unwrap_err();
        assert!(e.to_string().contains("stripe.secret_key"), "{e}");
        assert_eq!(c.cleanup.stripe_events_retention_secs, 30 * 86_400);
        c.cleanup.validate(Environment::Production).unwrap();
    }

    #[test]
    fn production_keeps_stripe_event_ids_past_stripes_retries() {
        let c = load(&[("cleanup.stripe_events_retention_secs", "3600")]).unwrap();
        let e = c.cleanup.validate(Environment::Production).unwrap_err();
        assert!(
            e.to_string()
                .contains("cleanup.stripe_events_retention_secs"),
            "{e}"
        );
        let c = load(&[("cleanup.processed_events_retention_secs", "3600")]).unwrap();
        let e = c.cleanup.validate(Environment::Production).unwrap_err();
        assert!(
            e.to_string()
                .contains("cleanup.processed_events_retention_secs"),
            "{e}"
        );
    }

    #[test]
    fn bad_values_name_their_key() {
        let e = load(&[("engine.rounding_step", "0")]).unwrap_err();
        assert!(e.to_string().contains("engine.rounding_step"), "{e}");
        let e = load(&[("stripe.api_base", "ftp://x")]).unwrap_err();
        assert!(e.to_string().contains("stripe.api_base"), "{e}");
        let e = load(&[("credits.welcome_grant", "-1")]).unwrap_err();
        assert!(e.to_string().contains("credits.welcome_grant"), "{e}");
        let e = load(&[("cleanup.batch_size", "0")]).unwrap_err();
        assert!(e.to_string().contains("cleanup.batch_size"), "{e}");
        let e = load(&[("cleanup.stripe_events_retention_secs", "0")]).unwrap_err();
        assert!(
            e.to_string()
                .contains("cleanup.stripe_events_retention_secs"),
            "{e}"
        );
        let e = load(&[
            ("engine.floor_credits", "7"),
            ("engine.ceiling_credits", "9"),
            ("engine.rounding_step", "5"),
        ])
        .unwrap_err();
        assert!(e.to_string().contains("engine.rounding_step"), "{e}");
    }
}
