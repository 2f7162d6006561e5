//! The monitor against real PostgreSQL, NATS and real charts and pricing
//! instances (in this process), with rounds of 500 ms.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api;
mod health;
mod repairs;
mod reported;
mod support;
