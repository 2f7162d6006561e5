//! Live consultations end to end: real PostgreSQL, NATS, pricing and media
//! (billing periods shortened to seconds).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../support/mod.rs"]
mod support;

mod agora;
mod billing;
mod gateway;
mod helpers;
mod lifecycle;
