//! Every number pricing accepts has a documented range, checked while the
//! request is parsed (`platform::input::Int`), so no arithmetic on it can
//! overflow and the database never sees a value it would refuse.
//!
//! The ranges nest: a service price times the most units in a quote is at
//! most [`MAX_BALANCE`], so any quote can be held; a package buys at most
//! [`MAX_PACKAGE_CREDITS`]; every movement is at most [`MAX_BALANCE`], and
//! a user's balance (wallet + held) never exceeds it.

use platform::input::Int;

/// The most credits one user may have (wallet + held), and the largest
/// single movement (grant, debit, hold, capture). A grant that would take a
/// balance past it is refused (422) before anything is written; the
/// database refuses it too (`accounts_within_max_balance`).
pub const MAX_BALANCE: i64 = 1_000_000_000_000;

/// The most credits a package may buy (`credits + bonus_credits`).
pub const MAX_PACKAGE_CREDITS: i64 = 1_000_000_000;

/// The largest package price in minor units: Stripe's maximum amount for a
/// Checkout line item (eight digits).
pub const MAX_PRICE_MINOR: i64 = 99_999_999;

/// The largest price of one unit of a service, in credits (base prices,
/// overrides, approved recommendations: `engine.ceiling_credits` too).
pub const MAX_UNIT_PRICE: i64 = 100_000_000;

/// The most units one quote may cover.
pub const MAX_QUOTE_UNITS: i64 = 10_000;

/// Usage assumptions per unit of a service, thousandths of a provider unit.
pub const MAX_USAGE_MILLI: i64 = 1_000_000_000;

/// Provider unit costs, micro-credits per provider unit.
pub const MAX_COST_MICRO: i64 = 1_000_000_000_000;

/// Category multipliers, basis points (10000 = 1.0).
pub const MAX_MULTIPLIER_BPS: i64 = 100_000;

/// Hold lifetimes, seconds (a year; `credits.max_hold_ttl_secs` may lower it).
pub const MAX_HOLD_TTL_SECS: i64 = 31_536_000;

/// Page sizes of the ledger and the payments list.
pub const MAX_PAGE: i64 = 200;

/// Days covered by the daily report.
pub const MAX_REPORT_DAYS: i64 = 366;

/// Idempotency keys, characters.
pub const MAX_IDEMPOTENCY_KEY: usize = 200;

/// Credits in one movement the caller names (a hold, a refund): 1 ..= [`MAX_BALANCE`].
pub type Credits = Int<1, MAX_BALANCE>;
/// Credits that may be zero (a capture of nothing releases the hold).
pub type CreditsOrZero = Int<0, MAX_BALANCE>;
pub type PackageCredits = Int<1, MAX_PACKAGE_CREDITS>;
pub type PackageBonus = Int<0, MAX_PACKAGE_CREDITS>;
pub type PriceMinor = Int<1, MAX_PRICE_MINOR>;
pub type UnitPrice = Int<0, MAX_UNIT_PRICE>;
pub type QuoteUnits = Int<1, MAX_QUOTE_UNITS>;
pub type UsageMilli = Int<0, MAX_USAGE_MILLI>;
pub type CostMicro = Int<0, MAX_COST_MICRO>;
pub type MultiplierBps = Int<1, MAX_MULTIPLIER_BPS>;
pub type HoldTtl = Int<1, MAX_HOLD_TTL_SECS>;
pub type PageLimit = Int<1, MAX_PAGE>;
pub type ReportDays = Int<1, MAX_REPORT_DAYS>;
