//! Gateway integration tests: one binary, real PostgreSQL and real NATS.

mod accounts;
mod errors;
mod faults;
mod helpers;
mod outbox;
mod proxy;
mod security;
