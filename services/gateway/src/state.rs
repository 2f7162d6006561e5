//! Shared state of the gateway's handlers.

use crate::config::GatewayConfig;
use crate::passwords::Hasher;
use crate::tokens::AccessTokens;
use platform::auth::InternalAuth;
use platform::outbox::OutboxSignal;

pub struct GatewayState {
    pub pool: deadpool_postgres::Pool,
    pub cfg: GatewayConfig,
    pub hasher: Hasher,
    pub access: AccessTokens,
    pub internal_auth: InternalAuth,
    pub outbox: OutboxSignal,
    pub http: reqwest::Client,
    /// NATS (absent in one-off commands such as `create-admin`).
    pub bus: Option<platform::nats::Bus>,
    /// Access tokens revoked before their expiry.
    pub revocations: crate::revocations::Revocations,
    /// `throttle.trusted_proxies`, parsed.
    pub proxies: Vec<ipnet::IpNet>,
    pub limits: crate::ratelimit::Limits,
    /// `http.body_limit_bytes`: the largest request body a route accepts
    /// unless its `max_body_bytes` says otherwise.
    pub body_limit: usize,
}
