//! Welcome credits: a configurable grant on `evt.gateway.user.registered`,
//! exactly once per user however often (and under whatever event id) the
//! registration is delivered: the event id is recorded in
//! `processed_events` and the grant's idempotency key is `welcome:<user>`,
//! both in the grant's transaction.

use crate::ledger::{self, Kind};
use crate::AppState;
use common::event::UserRegistered;
use platform::db::q;
use platform::nats::{CallContext, ConsumerSpec, Delivery};

pub const CONSUMER: &str = "pricing-welcome";
pub const SUBJECT: &str = "evt.gateway.user.registered";

/// Registrations from the gateway's stream; only events the gateway signed
/// grant anything (a client that can publish on NATS cannot mint credits).
pub fn spec() -> ConsumerSpec {
    ConsumerSpec::new(common::subjects::gateway::SERVICE, CONSUMER, SUBJECT)
}

#[tracing::instrument(skip_all, fields(event = %d.envelope.id))]
pub async fn handle(st: &AppState, d: Delivery<UserRegistered>) -> anyhow::Result<()> {
    let user = d.envelope.data.user_id;
    let amount = st.cfg.credits.welcome_grant;
    let mut client = platform::db::conn(&st.pool).await?;
    let tx = client.transaction().await.map_err(q)?;
    if !platform::outbox::mark_processed(&tx, CONSUMER, d.envelope.id.as_uuid()).await? {
        tx.commit().await.map_err(q)?;
        return Ok(());
    }
    if amount > 0 {
        let key = format!("welcome:{user}");
        let ctx = CallContext::default().with_idempotency_key(key.clone());
        ledger::grant_in(
            st,
            &tx,
            &ctx,
            &key,
            "welcome",
            user,
            amount,
            Kind::Promotions,
            Some("welcome credits"),
            &key,
        )
        .await?;
    }
    tx.commit().await.map_err(q)?;
    st.outbox.notify();
    Ok(())
}
