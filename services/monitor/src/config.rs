//! The monitor's own configuration sections (beside the platform's).

use platform::config::{ConfigError, Environment, Validate};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

pub const SERVICE: &str = common::subjects::monitor::SERVICE;
pub const DEFAULT_PORT: u16 = 8085;

#[derive(Clone, Debug, Deserialize)]
pub struct MonitorConfig {
    pub watch: WatchConfig,
    pub thresholds: Thresholds,
    pub budget: BudgetConfig,
    pub leader: LeaderConfig,
    pub policies: Policies,
    pub notify: NotifyConfig,
}

#[derive(Clone, Debug, Deserialize)]
pub struct WatchConfig {
    /// One discovery round (`$SRV.STATS` to every instance, `/readyz` of each).
    pub interval_ms: u64,
    /// How long a round waits for the instances' replies.
    pub collect_ms: u64,
    /// Rounds an instance may miss before it is lost.
    pub lost_after: u32,
    /// A lost instance no replacement arrived for is forgotten after this
    /// (a deliberate scale-down), and its incident resolved.
    pub forget_lost_secs: u64,
    /// Timeout of one `/readyz` probe.
    pub ready_timeout_ms: u64,
    /// Database observations.
    pub database_interval_ms: u64,
    /// Outbox and consumer observations.
    pub messaging_interval_ms: u64,
    /// Schema drift checks (every service compares its schema with its record).
    pub schema_interval_ms: u64,
    /// Comma-separated services that must have at least one live instance.
    pub services: String,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Thresholds {
    /// A statement running longer than this is reported.
    pub long_statement_ms: u64,
    /// A session idle in a transaction longer than this is reported.
    pub idle_in_transaction_ms: u64,
    /// A session waiting on a lock longer than this is reported with its blockers.
    pub blocked_ms: u64,
    /// An outbox whose oldest pending row is older than this is stuck.
    pub outbox_stuck_secs: u64,
    /// A durable consumer with more events pending than this has a backlog.
    pub consumer_pending: u64,
    /// Transaction ID age of the database above which vacuum is overdue.
    pub vacuum_age: i64,
    /// A readiness probe changing state this often in the last 20 rounds flaps.
    pub flap_transitions: usize,
}

#[derive(Clone, Debug, Deserialize)]
pub struct BudgetConfig {
    /// Connections kept out of the budget (superusers, migrations, admins).
    pub reserve: i64,
    /// Percentage of `max_connections - reserve` the services' pools may claim.
    pub threshold_pct: f64,
}

#[derive(Clone, Debug, Deserialize)]
pub struct LeaderConfig {
    /// How often a standby tries to become the leader, and the leader checks
    /// it still is.
    pub check_ms: u64,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Policies {
    /// Every policy only reports what it would do.
    pub dry_run: bool,
    /// A missing index, constraint or trigger re-created by its service.
    pub schema_repair: Policy,
    /// A service's own statement over its hard limit is cancelled by it.
    pub cancel_statement: StatementPolicy,
    /// A service's own session idle in a transaction over the limit is terminated by it.
    pub terminate_idle: LimitPolicy,
    /// A deleted durable consumer is re-created by its service.
    pub recreate_consumer: Policy,
    /// A stuck outbox is asked to relay.
    pub relay_outbox: Policy,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Policy {
    pub enabled: bool,
    pub dry_run: bool,
    /// Attempts allowed per hour (across the policy's targets).
    pub max_per_hour: i64,
}

#[derive(Clone, Debug, Deserialize)]
pub struct LimitPolicy {
    pub enabled: bool,
    pub dry_run: bool,
    pub max_per_hour: i64,
    pub limit_ms: u64,
}

#[derive(Clone, Debug, Deserialize)]
pub struct StatementPolicy {
    pub enabled: bool,
    pub dry_run: bool,
    pub max_per_hour: i64,
    /// The hard limit of every service's statements...
    pub hard_limit_ms: u64,
    /// ... unless the service has its own (`per_service.<service> = ms`).
    #[serde(default)]
    pub per_service: BTreeMap<String, u64>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct NotifyConfig {
    /// Comma-separated webhook URLs that receive Slack-compatible JSON.
    pub webhooks: String,
    pub timeout_ms: u64,
    /// Attempts per notification (with backoff between them).
    pub attempts: u32,
    /// Notifications waiting beyond this are dropped (and counted).
    pub queue: usize,
}

pub fn defaults(
    b: config::ConfigBuilder<config::builder::DefaultState>,
) -> Result<config::ConfigBuilder<config::builder::DefaultState>, config::ConfigError> {
    b.set_default("database.max_connections", 4)?
        .set_default("watch.interval_ms", 2000)?
        .set_default("watch.collect_ms", 500)?
        .set_default("watch.lost_after", 3)?
        .set_default("watch.forget_lost_secs", 900)?
        .set_default("watch.ready_timeout_ms", 1000)?
        .set_default("watch.database_interval_ms", 5000)?
        .set_default("watch.messaging_interval_ms", 5000)?
        .set_default("watch.schema_interval_ms", 60_000)?
        .set_default(
            "watch.services",
            "gateway,charts,pricing,guidance,media,social",
        )?
        .set_default("thresholds.long_statement_ms", 30_000)?
        .set_default("thresholds.idle_in_transaction_ms", 60_000)?
        .set_default("thresholds.blocked_ms", 10_000)?
        .set_default("thresholds.outbox_stuck_secs", 120)?
        .set_default("thresholds.consumer_pending", 10_000)?
        .set_default("thresholds.vacuum_age", 1_000_000_000)?
        .set_default("thresholds.flap_transitions", 4)?
        .set_default("budget.reserve", 10)?
        .set_default("budget.threshold_pct", 80.0)?
        .set_default("leader.check_ms", 2000)?
        .set_default("policies.dry_run", false)?
        .set_default("policies.schema_repair.enabled", true)?
        .set_default("policies.schema_repair.dry_run", false)?
        .set_default("policies.schema_repair.max_per_hour", 20)?
        .set_default("policies.cancel_statement.enabled", true)?
        .set_default("policies.cancel_statement.dry_run", false)?
        .set_default("policies.cancel_statement.max_per_hour", 60)?
        .set_default("policies.cancel_statement.hard_limit_ms", 300_000)?
        .set_default("policies.terminate_idle.enabled", true)?
        .set_default("policies.terminate_idle.dry_run", false)?
        .set_default("policies.terminate_idle.max_per_hour", 60)?
        .set_default("policies.terminate_idle.limit_ms", 600_000)?
        .set_default("policies.recreate_consumer.enabled", true)?
        .set_default("policies.recreate_consumer.dry_run", false)?
        .set_default("policies.recreate_consumer.max_per_hour", 20)?
        .set_default("policies.relay_outbox.enabled", true)?
        .set_default("policies.relay_outbox.dry_run", false)?
        .set_default("policies.relay_outbox.max_per_hour", 60)?
        .set_default("notify.webhooks", "")?
        .set_default("notify.timeout_ms", 3000)?
        .set_default("notify.attempts", 3)?
        .set_default("notify.queue", 1000)
}

fn positive(key: &str, v: u64) -> Result<(), ConfigError> {
    if v == 0 {
        return Err(ConfigError::invalid(key, "must be greater than 0"));
    }
    Ok(())
}

impl Validate for MonitorConfig {
    fn validate(&self, _env: Environment) -> Result<(), ConfigError> {
        let w = &self.watch;
        positive("watch.interval_ms", w.interval_ms)?;
        positive("watch.collect_ms", w.collect_ms)?;
        if w.collect_ms >= w.interval_ms {
            return Err(ConfigError::invalid(
                "watch.collect_ms",
                "must be less than watch.interval_ms",
            ));
        }
        if !(1..=100).contains(&w.lost_after) {
            return Err(ConfigError::invalid(
                "watch.lost_after",
                "must be between 1 and 100",
            ));
        }
        positive("watch.forget_lost_secs", w.forget_lost_secs)?;
        positive("watch.ready_timeout_ms", w.ready_timeout_ms)?;
        positive("watch.database_interval_ms", w.database_interval_ms)?;
        positive("watch.messaging_interval_ms", w.messaging_interval_ms)?;
        positive("watch.schema_interval_ms", w.schema_interval_ms)?;
        for s in self.services() {
            if !s
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
            {
                return Err(ConfigError::invalid(
                    "watch.services",
                    format!("`{s}` is not a service name (lowercase letters, digits, - and _)"),
                ));
            }
        }
        let t = &self.thresholds;
        positive("thresholds.long_statement_ms", t.long_statement_ms)?;
        positive(
            "thresholds.idle_in_transaction_ms",
            t.idle_in_transaction_ms,
        )?;
        positive("thresholds.blocked_ms", t.blocked_ms)?;
        positive("thresholds.outbox_stuck_secs", t.outbox_stuck_secs)?;
        positive("thresholds.consumer_pending", t.consumer_pending)?;
        if t.vacuum_age <= 0 {
            return Err(ConfigError::invalid(
                "thresholds.vacuum_age",
                "must be greater than 0",
            ));
        }
        if !(1..=20).contains(&t.flap_transitions) {
            return Err(ConfigError::invalid(
                "thresholds.flap_transitions",
                "must be between 1 and 20",
            ));
        }
        if self.budget.reserve < 0 {
            return Err(ConfigError::invalid(
                "budget.reserve",
                "must not be negative",
            ));
        }
        if !(self.budget.threshold_pct > 0.0 && self.budget.threshold_pct <= 100.0) {
            return Err(ConfigError::invalid(
                "budget.threshold_pct",
                "must be greater than 0 and at most 100",
            ));
        }
        positive("leader.check_ms", self.leader.check_ms)?;
        if self.leader.check_ms > 5000 {
            return Err(ConfigError::invalid(
                "leader.check_ms",
                "must be at most 5000 (a standby takes over within three checks)",
            ));
        }
        let p = &self.policies;
        for (key, n) in [
            (
                "policies.schema_repair.max_per_hour",
                p.schema_repair.max_per_hour,
            ),
            (
                "policies.cancel_statement.max_per_hour",
                p.cancel_statement.max_per_hour,
            ),
            (
                "policies.terminate_idle.max_per_hour",
                p.terminate_idle.max_per_hour,
            ),
            (
                "policies.recreate_consumer.max_per_hour",
                p.recreate_consumer.max_per_hour,
            ),
            (
                "policies.relay_outbox.max_per_hour",
                p.relay_outbox.max_per_hour,
            ),
        ] {
            if !(0..=10_000).contains(&n) {
                return Err(ConfigError::invalid(key, "must be between 0 and 10000"));
            }
        }
        positive(
            "policies.cancel_statement.hard_limit_ms",
            p.cancel_statement.hard_limit_ms,
        )?;
        for (svc, ms) in &p.cancel_statement.per_service {
            positive(&format!("policies.cancel_statement.per_service.{svc}"), *ms)?;
        }
        positive(
            "policies.terminate_idle.limit_ms",
            p.terminate_idle.limit_ms,
        )?;
        for url in self.webhooks() {
            match reqwest::Url::parse(url) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => {}
                _ => {
                    return Err(ConfigError::invalid(
                        "notify.webhooks",
                        format!("`{url}` is not an http(s) URL"),
                    ))
                }
            }
        }
        positive("notify.timeout_ms", self.notify.timeout_ms)?;
        if !(1..=10).contains(&self.notify.attempts) {
            return Err(ConfigError::invalid(
                "notify.attempts",
                "must be between 1 and 10",
            ));
        }
        if self.notify.queue == 0 {
            return Err(ConfigError::invalid(
                "notify.queue",
                "must be greater than 0",
            ));
        }
        Ok(())
    }
}

impl MonitorConfig {
    /// The services that must have a live instance.
    pub fn services(&self) -> Vec<&str> {
        split_list(&self.watch.services)
    }

    pub fn webhooks(&self) -> Vec<&str> {
        split_list(&self.notify.webhooks)
    }

    pub fn interval(&self) -> Duration {
        Duration::from_millis(self.watch.interval_ms)
    }

    /// The hard statement limit of `service`.
    pub fn statement_limit_ms(&self, service: &str) -> u64 {
        self.policies
            .cancel_statement
            .per_service
            .get(service)
            .copied()
            .unwrap_or(self.policies.cancel_statement.hard_limit_ms)
    }
}

fn split_list(s: &str) -> Vec<&str> {
    s.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn load(overrides: &[(&str, &str)]) -> Result<(), ConfigError> {
        let mut o: Vec<(String, String)> = vec![("env".into(), "test".into())];
        o.extend(
            overrides
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        crate::load_config(&o).map(|_| ())
    }

    #[test]
    fn defaults_load_and_bad_values_name_their_key() {
        let (base, cfg) = crate::load_config(&[("env".into(), "test".into())]).unwrap();
        assert_eq!(base.http.port, DEFAULT_PORT);
        assert_eq!(base.service, "monitor");
        assert_eq!(cfg.services().len(), 6);
        assert_eq!(cfg.statement_limit_ms("pricing"), 300_000);
        for (key, value) in [
            ("watch.interval_ms", "0"),
            ("watch.collect_ms", "5000"),
            ("watch.lost_after", "0"),
            ("watch.services", "Charts"),
            ("budget.threshold_pct", "0"),
            ("leader.check_ms", "60000"),
            ("notify.webhooks", "ftp://x"),
            ("notify.attempts", "0"),
            ("policies.schema_repair.max_per_hour", "-1"),
        ] {
            let e = load(&[(key, value)]).unwrap_err().to_string();
            assert!(e.contains(key), "{key}: {e}");
        }
    }

    #[test]
    fn a_service_may_have_its_own_statement_limit() {
        let o = vec![
            ("env".to_owned(), "test".to_owned()),
            (
                "policies.cancel_statement.per_service.pricing".to_owned(),
                "2000".to_owned(),
            ),
        ];
        let (_, cfg) = crate::load_config(&o).unwrap();
        assert_eq!(cfg.statement_limit_ms("pricing"), 2000);
        assert_eq!(cfg.statement_limit_ms("charts"), 300_000);
    }
}
