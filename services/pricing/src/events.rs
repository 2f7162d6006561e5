//! Payloads of the events pricing publishes (version 1). They live here
//! until another service consumes them; then they belong in `common::event`.

use common::{HoldId, UserId};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

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
