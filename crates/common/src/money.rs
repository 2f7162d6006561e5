//! Credits and money. Credits are whole numbers; currency amounts are integer
//! minor units (cents, paise). There are no floats anywhere near money.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A number of platform credits. Signed, so a ledger entry can be a debit,
/// but a wallet balance is never allowed below zero by the ledger.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(transparent)]
pub struct Credits(pub i64);

impl Credits {
    pub const ZERO: Credits = Credits(0);

    pub fn checked_add(self, other: Credits) -> Option<Credits> {
        self.0.checked_add(other.0).map(Credits)
    }
    pub fn checked_sub(self, other: Credits) -> Option<Credits> {
        self.0.checked_sub(other.0).map(Credits)
    }
    pub fn is_positive(self) -> bool {
        self.0 > 0
    }
}

impl fmt::Display for Credits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} credits", self.0)
    }
}

/// An ISO 4217 currency code, upper case, three ASCII letters.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "String", into = "String")]
pub struct CurrencyCode(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("currency must be a three-letter ISO 4217 code, got {0:?}")]
pub struct InvalidCurrency(pub String);

impl TryFrom<String> for CurrencyCode {
    type Error = InvalidCurrency;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        if s.len() == 3 && s.bytes().all(|b| b.is_ascii_alphabetic()) {
            Ok(Self(s.to_ascii_uppercase()))
        } else {
            Err(InvalidCurrency(s))
        }
    }
}

impl From<CurrencyCode> for String {
    fn from(c: CurrencyCode) -> String {
        c.0
    }
}

impl CurrencyCode {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An amount of a currency in integer minor units.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Money {
    pub amount_minor: i64,
    pub currency: CurrencyCode,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currency_codes_are_validated_and_uppercased() {
        let c: CurrencyCode = serde_json::from_str("\"inr\"").unwrap();
        assert_eq!(c.as_str(), "INR");
        assert!(serde_json::from_str::<CurrencyCode>("\"rupees\"").is_err());
        assert!(serde_json::from_str::<CurrencyCode>("\"U$D\"").is_err());
    }

    #[test]
    fn credit_arithmetic_is_checked() {
        assert_eq!(Credits(5).checked_sub(Credits(7)), Some(Credits(-2)));
        assert_eq!(Credits(i64::MAX).checked_add(Credits(1)), None);
    }
}
