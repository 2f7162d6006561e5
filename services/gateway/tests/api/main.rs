//! Gateway integration tests: one binary, real PostgreSQL and real NATS.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod accounts;
mod errors;
mod faults;
mod hardening;
mod helpers;
mod outbox;
mod proxy;
mod security;
mod telemetry;
