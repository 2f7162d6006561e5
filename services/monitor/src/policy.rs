//! Safe automatic repairs. Each remedy belongs to a policy (enabled, dry
//! run, attempts per hour); the owning service carries it out over NATS
//! (the monitor holds no rights to change anything itself), and every
//! attempt, refusal, dry run and rate-limited skip is audited with the
//! service's answer. The same target is not tried again within a cooldown.

use crate::config::MonitorConfig;
use crate::findings::{Finding, Remedy};
use crate::metrics::MonitorMetrics;
use crate::store::{self, NewAction};
use platform::migrate::{RepairOutcome, RepairRequest};
use platform::monitoring::{
    ConsumerState, ConsumersRequest, SignalAction, SignalOutcome, SignalRequest,
};
use platform::nats::{Bus, CallContext};
use platform::outbox::OutboxStats;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How long the same target is left alone after an attempt.
pub const COOLDOWN: Duration = Duration::from_secs(60);

pub struct Policies {
    /// Target key -> (when tried, the finding's fingerprint).
    last: HashMap<String, (Instant, String)>,
}

/// (enabled, dry run, attempts per hour) of a remedy's policy.
fn settings(cfg: &MonitorConfig, r: &Remedy) -> (bool, bool, i64) {
    let p = &cfg.policies;
    let (enabled, dry, max) = match r {
        Remedy::SchemaRepair { .. } => (
            p.schema_repair.enabled,
            p.schema_repair.dry_run,
            p.schema_repair.max_per_hour,
        ),
        Remedy::CancelStatement { .. } => (
            p.cancel_statement.enabled,
            p.cancel_statement.dry_run,
            p.cancel_statement.max_per_hour,
        ),
        Remedy::TerminateIdle { .. } => (
            p.terminate_idle.enabled,
            p.terminate_idle.dry_run,
            p.terminate_idle.max_per_hour,
        ),
        Remedy::RecreateConsumer { .. } => (
            p.recreate_consumer.enabled,
            p.recreate_consumer.dry_run,
            p.recreate_consumer.max_per_hour,
        ),
        Remedy::RelayOutbox { .. } => (
            p.relay_outbox.enabled,
            p.relay_outbox.dry_run,
            p.relay_outbox.max_per_hour,
        ),
    };
    (enabled, dry || p.dry_run, max)
}

impl Policies {
    pub fn new() -> Policies {
        Policies {
            last: HashMap::new(),
        }
    }

    /// Carries out the remedies of `findings` that their policies allow.
    pub async fn run(
        &mut self,
        pool: &deadpool_postgres::Pool,
        bus: &Bus,
        cfg: &MonitorConfig,
        metrics: &MonitorMetrics,
        findings: &[Finding],
        changes: &store::Changes,
    ) {
        let incident_ids = &changes.ids;
        // A condition that cleared may be acted on at once when it returns.
        self.last.retain(|_, (t, fp)| {
            t.elapsed() < COOLDOWN && !changes.resolved.iter().any(|i| &i.fingerprint == fp)
        });
        for f in findings {
            let Some(remedy) = &f.remedy else { continue };
            let (enabled, dry_run, max_per_hour) = settings(cfg, remedy);
            if !enabled {
                continue;
            }
            let key = format!(
                "{}:{}:{}",
                remedy.policy(),
                remedy.service(),
                remedy.target()
            );
            if self.last.contains_key(&key) {
                continue;
            }
            self.last
                .insert(key, (Instant::now(), f.fingerprint.clone()));
            let policy = remedy.policy();
            let target = remedy.target();
            let incident_id = incident_ids.get(&f.fingerprint).copied();
            let (result, detail) = match store::attempts_last_hour(pool, policy).await {
                Err(e) => {
                    tracing::warn!(error = %e.message, policy, "cannot count the policy's attempts; not acting");
                    continue;
                }
                Ok(n) if n >= max_per_hour => (
                    "rate_limited",
                    json!({"attempts_last_hour": n, "max_per_hour": max_per_hour}),
                ),
                Ok(_) => carry_out(bus, remedy, dry_run).await,
            };
            metrics.action(policy, result);
            tracing::warn!(policy, service = remedy.service(), target = %target, result, dry_run, reason = %f.title, "monitor action");
            if let Err(e) = store::record_action(
                pool,
                NewAction {
                    policy,
                    service: remedy.service(),
                    target: &target,
                    reason: &f.title,
                    incident_id,
                    dry_run,
                    result,
                    detail,
                },
            )
            .await
            {
                tracing::error!(error = %e.message, policy, target = %target, "could not audit an action");
            }
        }
    }
}

impl Default for Policies {
    fn default() -> Self {
        Policies::new()
    }
}

/// Asks the owning service; returns (result, its answer or the error).
async fn carry_out(bus: &Bus, remedy: &Remedy, dry_run: bool) -> (&'static str, Value) {
    let ctx = CallContext::default();
    let failed = |e: platform::AppError| {
        let result = if e.code == common::ErrorCode::Conflict {
            "refused"
        } else {
            "failed"
        };
        (result, json!({"error": e.message, "code": e.code}))
    };
    match remedy {
        Remedy::SchemaRepair {
            service,
            kind,
            name,
        } => {
            let req = RepairRequest {
                kind: kind.clone(),
                name: name.clone(),
                dry_run,
            };
            match bus
                .request::<_, RepairOutcome>(&format!("{service}.schema.repair"), None, &ctx, &req)
                .await
            {
                Ok(o) => (if dry_run { "dry_run" } else { "done" }, json!(o)),
                Err(e) => failed(e),
            }
        }
        Remedy::CancelStatement {
            service,
            pid,
            backend_start,
            min_age_ms,
        }
        | Remedy::TerminateIdle {
            service,
            pid,
            backend_start,
            min_age_ms,
        } => {
            let action = if matches!(remedy, Remedy::CancelStatement { .. }) {
                SignalAction::Cancel
            } else {
                SignalAction::Terminate
            };
            let req = SignalRequest {
                pid: *pid,
                action,
                backend_start: *backend_start,
                min_age_ms: *min_age_ms,
                dry_run,
            };
            match bus
                .request::<_, SignalOutcome>(&format!("{service}.db.signal"), None, &ctx, &req)
                .await
            {
                Ok(o) if !o.signalled => ("not_needed", json!(o)),
                Ok(o) => (if dry_run { "dry_run" } else { "done" }, json!(o)),
                Err(e) => failed(e),
            }
        }
        Remedy::RecreateConsumer { service, durable } => {
            match bus
                .request::<_, Vec<ConsumerState>>(
                    &format!("{service}.consumers.ensure"),
                    None,
                    &ctx,
                    &ConsumersRequest { dry_run },
                )
                .await
            {
                Ok(list) => {
                    let this = list.iter().find(|c| &c.durable == durable);
                    let result = match this {
                        Some(c) if c.created => "done",
                        Some(c) if !c.existed && dry_run => "dry_run",
                        Some(c) if c.existed => "not_needed",
                        _ => "failed",
                    };
                    (result, json!({"consumer": this}))
                }
                Err(e) => failed(e),
            }
        }
        Remedy::RelayOutbox { service } => {
            if dry_run {
                return ("dry_run", json!({}));
            }
            match bus
                .request::<_, OutboxStats>(
                    &format!("{service}.outbox.relay"),
                    None,
                    &ctx,
                    &json!({}),
                )
                .await
            {
                Ok(o) => ("done", json!(o)),
                Err(e) => failed(e),
            }
        }
    }
}
