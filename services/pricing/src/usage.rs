//! Usage events from JetStream, the input of the engine's demand factor.
//!
//! A durable consumer (`pricing-usage`) reads `evt.pricing.credits.spent`
//! (every capture names its service when the hold came from a quote), and
//! another (`pricing-guidance-usage`) guidance's `evt.guidance.usage.recorded`
//! (answers, and text generated for other services). Each records one
//! `usage_events` row, idempotently (event id primary key plus
//! `processed_events`), and an answer both events describe counts once: they
//! name the same hold, which is unique in the table.

use crate::events::CreditsSpent;
use crate::AppState;
use platform::db::q;
use platform::nats::{ConsumerSpec, Delivery};

pub const CONSUMER: &str = "pricing-usage";
pub const SUBJECT: &str = "evt.pricing.credits.spent";

pub fn spec() -> ConsumerSpec {
    ConsumerSpec::new(common::subjects::pricing::SERVICE, CONSUMER, SUBJECT)
}

pub const GUIDANCE_CONSUMER: &str = "pricing-guidance-usage";
pub const GUIDANCE_SUBJECT: &str = "evt.guidance.usage.recorded";

/// Guidance's usage events (signed by guidance).
pub fn guidance_spec() -> ConsumerSpec {
    ConsumerSpec::new(
        common::subjects::guidance::SERVICE,
        GUIDANCE_CONSUMER,
        GUIDANCE_SUBJECT,
    )
}

#[tracing::instrument(skip_all, fields(event = %d.envelope.id))]
pub async fn handle_recorded(
    st: &AppState,
    d: Delivery<common::event::UsageRecorded>,
) -> anyhow::Result<()> {
    let u = &d.envelope.data;
    let mut client = platform::db::conn(&st.pool).await?;
    let tx = client.transaction().await.map_err(q)?;
    if platform::outbox::mark_processed(&tx, GUIDANCE_CONSUMER, d.envelope.id.as_uuid()).await? {
        tx.execute(
            "INSERT INTO usage_events (event_id, service_code, units, credits, occurred_at, hold_id, source)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
            &[
                &d.envelope.id.as_uuid(),
                &u.service_code,
                &u.units.clamp(0, 1_000_000),
                &u.credits.clamp(0, crate::limits::MAX_BALANCE),
                &d.envelope.occurred_at,
                &u.hold_id.map(|h| h.as_uuid()),
                &d.producer,
            ],
        )
        .await
        .map_err(q)?;
    }
    tx.commit().await.map_err(q)?;
    Ok(())
}

#[tracing::instrument(skip_all, fields(event = %d.envelope.id))]
pub async fn handle(st: &AppState, d: Delivery<CreditsSpent>) -> anyhow::Result<()> {
    let Some(code) = d.envelope.data.service_code.as_deref() else {
        return Ok(()); // spending not tied to a catalogued service
    };
    let mut client = platform::db::conn(&st.pool).await?;
    let tx = client.transaction().await.map_err(q)?;
    if platform::outbox::mark_processed(&tx, CONSUMER, d.envelope.id.as_uuid()).await? {
        tx.execute(
            "INSERT INTO usage_events (event_id, service_code, units, credits, occurred_at, hold_id)
             VALUES ($1, $2, 1, $3, $4, $5) ON CONFLICT DO NOTHING",
            &[
                &d.envelope.id.as_uuid(),
                &code,
                &d.envelope.data.amount,
                &d.envelope.occurred_at,
                &d.envelope.data.hold_id.as_uuid(),
            ],
        )
        .await
        .map_err(q)?;
    }
    tx.commit().await.map_err(q)?;
    Ok(())
}
