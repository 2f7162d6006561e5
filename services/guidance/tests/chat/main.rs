//! Guidance answers end to end: real PostgreSQL, NATS, charts, pricing, the
//! embedding model and the local language model (and the gateway where the
//! test is about it).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod answers;
mod credits;
mod faithfulness;
mod fake_openai;
mod gateway;
mod helpers;
mod spoken;
