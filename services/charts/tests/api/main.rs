//! Charts integration tests: one binary, real PostgreSQL and real NATS.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod admin;
mod cache;
mod charts;
mod contract;
mod faults;

mod helpers;
mod nats;
mod panchang;
mod places;
mod profiles;
mod through_gateway;
mod validation;
