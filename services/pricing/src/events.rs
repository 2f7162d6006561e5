//! Payloads of the events pricing publishes (version 1). They live here
//! until another service consumes them; then they belong in `common::event`.

use common::{HoldId, UserId};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Event type of [`PaymentMismatch`]; published on the subject
/// [`SUBJECT_PAYMENT_MISMATCH`] (`evt.<type>`, stream `EVT_PRICING`). For
/// admins: a Stripe payment that did not buy credits.
pub const EVT_PAYMENT_MISMATCH: &str = "pricing.payment.mismatch";
/// The JetStream subject of [`EVT_PAYMENT_MISMATCH`].
pub const SUBJECT_PAYMENT_MISMATCH: &str = "evt.pricing.payment.mismatch";

/// `evt.pricing.credits.granted`
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreditsGranted {
    pub user_id: UserId,
    pub amount: i64,
    /// welcome, purchase, adjustment, refund
    pub reason: String,
    pub transaction_id: Uuid,
    pub available: i64,
}

/// `evt.pricing.credits.spent`
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreditsSpent {
    pub user_id: UserId,
    pub amount: i64,
    pub hold_id: HoldId,
    pub reference: Option<String>,
    pub service_code: Option<String>,
    pub transaction_id: Uuid,
    pub available: i64,
}

/// `evt.pricing.credits.low`
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreditsLow {
    pub user_id: UserId,
    pub available: i64,
    pub threshold: i64,
}

/// `evt.pricing.price.changed`
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceChanged {
    pub service_code: String,
    pub old_price: Option<i64>,
    pub new_price: i64,
    /// approved, override
    pub cause: String,
    pub recommendation_id: Option<Uuid>,
    pub effective_from: chrono::DateTime<chrono::Utc>,
}

/// `evt.pricing.payment.mismatch`: a paid Checkout Session granted nothing
/// because it was not the one our checkout created, or Stripe reported
/// another amount or currency than the package price recorded then.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentMismatch {
    pub session_id: String,
    /// unknown_session, amount_mismatch, currency_mismatch, amount_and_currency_mismatch
    pub reason: String,
    pub stripe_event_id: String,
    pub stripe_event_type: String,
    pub payment_intent: Option<String>,
    /// From our `payments` row (None for an unknown session: metadata is not trusted).
    pub user_id: Option<UserId>,
    pub package_id: Option<Uuid>,
    pub expected_amount_minor: Option<i64>,
    pub expected_currency: Option<String>,
    /// What Stripe reported (`amount_total`, `currency` upper-cased).
    pub reported_amount_minor: Option<i64>,
    pub reported_currency: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mismatch_event_goes_to_its_subject() {
        let e = common::EventEnvelope::new(
            crate::config::SERVICE,
            EVT_PAYMENT_MISMATCH,
            1,
            serde_json::json!({}),
        );
        assert_eq!(e.subject(), SUBJECT_PAYMENT_MISMATCH);
    }
}
