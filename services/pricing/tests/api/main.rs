//! Pricing integration tests: one binary, real PostgreSQL and real NATS.
//! Every test ends with `TestApp::finish`, which checks the ledger invariants.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cleanup;
mod helpers;
mod input_rules;
mod ledger;
mod outbox;
mod payment_safety;
mod payments;
mod prices;
mod welcome;
