//! The runtime every JyotiFlow service uses.
//!
//! A service builds one [`config::BaseConfig`], one database pool
//! ([`db::build_pool`]), one NATS client ([`nats::connect`]) and one HTTP
//! server ([`http::serve`]); everything else hangs off those. Nothing outside
//! this crate opens a database connection (clippy's `disallowed-methods`
//! enforces it, see `clippy.toml`).

pub mod auth;
pub mod cleanup;
pub mod cli;
pub mod config;
pub mod db;
pub mod error;
pub mod health;
pub mod http;
pub mod http_client;
pub mod input;
pub mod jwt;
pub mod metrics;
pub mod migrate;
pub mod monitoring;
pub mod nats;
pub mod outbox;
pub mod runtime;
pub mod shutdown;
pub mod telemetry;

pub use error::AppError;
