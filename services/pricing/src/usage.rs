//! Usage events from JetStream, the input of the engine's demand factor.
//!
//! A durable consumer (`pricing-usage`) reads `evt.pricing.credits.spent`
//! (every capture names its service when the hold came from a quote) and
//! records one `usage_events` row per event, idempotently (event id primary
//! key plus `processed_events`). Other services' usage events can be added
//! as further consumers feeding the same table.

use crate::events::CreditsSpent;
use crate::AppState;
use platform::db::q;
use platform::nats::{ConsumerSpec, Delivery};

pub const CONSUMER: &str = "pricing-usage";
pub const SUBJECT: &str = "evt.pricing.credits.spent";

pub fn spec() -> ConsumerSpec {
    ConsumerSpec::new(common::subjects::pricing::SERVICE, CONSUMER, SUBJECT)
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
            "INSERT INTO usage_events (event_id, service_code, units, credits, occurred_at)
             VALUES ($1, $2, 1, $3, $4) ON CONFLICT (event_id) DO NOTHING",
            &[
                &d.envelope.id.as_uuid(),
                &code,
                &d.envelope.data.amount,
                &d.envelope.occurred_at,
            ],
        )
        .await
        .map_err(q)?;
    }
    tx.commit().await.map_err(q)?;
    Ok(())
}
