//! Domain types shared by every JyotiFlow service.
//!
//! Nothing here does I/O. Services exchange these types over HTTP and NATS,
//! so their serde representation is part of the platform's wire contract:
//! change it only in a backwards-compatible way, or bump the event version.

pub mod auth;
pub mod birth;
pub mod error;
pub mod event;
pub mod ids;
pub mod money;
pub mod subjects;

pub use auth::{Principal, Role};
pub use error::{ApiError, ErrorBody, ErrorCode};
pub use event::EventEnvelope;
pub use ids::*;
pub use money::{Credits, CurrencyCode, Money};
