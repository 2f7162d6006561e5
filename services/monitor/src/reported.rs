//! Conditions services report as events, which the monitor cannot observe
//! by itself: a social channel whose token a network refused
//! (`evt.social.channel.credentials_expired`) stays an incident until the
//! channel is given a new token (`evt.social.channel.reconnected`).
//!
//! The consumer keeps the current conditions in `monitor.reported` (every
//! replica consumes, in one durable consumer); the leader turns each row
//! into a finding every round, so the incident opens, refreshes and
//! resolves like every other one.

use crate::findings::{Finding, Observed, Scope, Severity};
use chrono::{DateTime, Utc};
use common::subjects::social;
use platform::db::q;
use platform::nats::{ConsumerSpec, Delivery};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

/// The durable consumer of social's channel events.
pub const CONSUMER: &str = "monitor-social-channels";
const SUBJECT: &str = "evt.social.channel.>";
/// The incidents' kind.
pub const CHANNEL_CREDENTIALS: &str = "channel_credentials";

pub fn social_spec() -> ConsumerSpec {
    ConsumerSpec::new(social::SERVICE, CONSUMER, SUBJECT)
}

/// The fields of social's channel events the monitor reads.
#[derive(Debug, Deserialize)]
pub struct ChannelEvent {
    pub channel_id: Uuid,
    #[serde(default)]
    pub network: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
}

fn fingerprint(channel: Uuid) -> String {
    format!("{CHANNEL_CREDENTIALS}:{}:{channel}", social::SERVICE)
}

/// Applies one of social's channel events (idempotent: a redelivery or an
/// older event changes nothing).
pub async fn handle(
    pool: &deadpool_postgres::Pool,
    d: Delivery<ChannelEvent>,
) -> anyhow::Result<()> {
    let e = &d.envelope;
    let fp = fingerprint(e.data.channel_id);
    let c = platform::db::conn(pool)
        .await
        .map_err(|e| anyhow::anyhow!(e.message))?;
    let event_type = e.event_type.as_str();
    if event_type == social::EVT_CREDENTIALS_EXPIRED {
        let network = e.data.network.as_deref().unwrap_or("a network");
        let reason = e.data.reason.as_deref().unwrap_or("the token was refused");
        let title = format!(
            "social: the {network} channel {} must be reconnected (set a new token): {}",
            e.data.channel_id,
            reason.chars().take(300).collect::<String>()
        );
        c.execute(
            "INSERT INTO reported (fingerprint, kind, service, severity, title, evidence, reported_at, event_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (fingerprint) DO UPDATE
               SET title = EXCLUDED.title, evidence = EXCLUDED.evidence,
                   reported_at = EXCLUDED.reported_at, event_id = EXCLUDED.event_id
             WHERE reported.reported_at < EXCLUDED.reported_at",
            &[
                &fp,
                &CHANNEL_CREDENTIALS,
                &social::SERVICE,
                &Severity::Warning.as_str(),
                &title,
                &json!({
                    "channel_id": e.data.channel_id,
                    "network": e.data.network,
                    "reason": e.data.reason,
                    "event_id": e.id,
                    "reported_at": e.occurred_at,
                }),
                &e.occurred_at,
                &e.id.as_uuid(),
            ],
        )
        .await
        .map_err(q)
        .map_err(|e| anyhow::anyhow!(e.message))?;
        tracing::warn!(channel = %e.data.channel_id, "social reported a channel's credentials expired");
    } else if event_type == social::EVT_CHANNEL_RECONNECTED {
        let n = c
            .execute(
                "DELETE FROM reported WHERE fingerprint = $1 AND reported_at <= $2",
                &[&fp, &e.occurred_at],
            )
            .await
            .map_err(q)
            .map_err(|e| anyhow::anyhow!(e.message))?;
        if n > 0 {
            tracing::info!(channel = %e.data.channel_id, "social reported a channel reconnected");
        }
    }
    Ok(())
}

/// One finding per reported condition; covers every reported kind when the
/// table could be read (so cleared ones resolve), nothing otherwise.
pub async fn observe(pool: &deadpool_postgres::Pool) -> Observed {
    let mut obs = Observed::default();
    let rows = match platform::db::conn(pool).await {
        Ok(c) => c
            .query(
                "SELECT fingerprint, kind, service, severity, title, evidence, reported_at
                   FROM reported ORDER BY reported_at",
                &[],
            )
            .await
            .map_err(q),
        Err(e) => Err(e),
    };
    let rows = match rows {
        Ok(r) => r,
        Err(e) => {
            tracing::debug!(error = %e.message, "reported conditions unavailable this round");
            return obs;
        }
    };
    obs.scopes.push(Scope::all(CHANNEL_CREDENTIALS));
    for r in rows {
        let kind: String = r.get(1);
        if kind != CHANNEL_CREDENTIALS {
            continue;
        }
        let fp: String = r.get(0);
        let service: String = r.get(2);
        let severity: String = r.get(3);
        let at: DateTime<Utc> = r.get(6);
        let mut f = Finding::new(
            CHANNEL_CREDENTIALS,
            Some(&service),
            "",
            match severity.as_str() {
                "critical" => Severity::Critical,
                "info" => Severity::Info,
                _ => Severity::Warning,
            },
            r.get(4),
            r.get(5),
        );
        // The stored key (the channel) is the fingerprint.
        f.fingerprint = fp;
        tracing::trace!(fingerprint = %f.fingerprint, since = %at, "reported condition");
        obs.findings.push(f);
    }
    obs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_fingerprint_per_channel() {
        let a = Uuid::new_v4();
        assert_eq!(
            fingerprint(a),
            format!("channel_credentials:social:{a}"),
            "kind:service:key like the monitor's own findings"
        );
        assert_ne!(fingerprint(a), fingerprint(Uuid::new_v4()));
    }
}
