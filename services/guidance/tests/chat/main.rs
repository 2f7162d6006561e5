//! Guidance answers end to end: real PostgreSQL, NATS, charts, pricing, the
//! embedding model and the local language model (and the gateway where the
//! test is about it).

mod answers;
mod credits;
mod fake_openai;
mod faithfulness;
mod gateway;
mod helpers;
