//! Outbound HTTP clients (upstream services, providers such as Stripe, the
//! OTLP exporter). TLS is rustls with the ring crypto provider; build every
//! client through [`builder`] (or [`client`]) so the provider is installed
//! first (reqwest refuses to build a client without one).

use std::sync::Once;
use std::time::Duration;

/// Idle pooled connections are dropped after this: below the 5 s keep-alive
/// of the platform's (actix) servers, so a client never sends a request on
/// a connection the server is closing at that moment (which fails as an
/// "incomplete message" under load).
pub const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(4);

static PROVIDER: Once = Once::new();

/// Installs ring as the process-wide rustls provider (once; idempotent).
pub fn install_tls_provider() {
    PROVIDER.call_once(|| {
        // Err means another provider was installed first, which is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// A client builder with TLS ready (and [`POOL_IDLE_TIMEOUT`]).
#[allow(clippy::disallowed_methods)]
pub fn builder() -> reqwest::ClientBuilder {
    install_tls_provider();
    reqwest::Client::builder().pool_idle_timeout(POOL_IDLE_TIMEOUT)
}

/// A default client with TLS ready (and [`POOL_IDLE_TIMEOUT`]).
pub fn client() -> reqwest::Client {
    builder().build().unwrap_or_else(|_| {
        #[allow(clippy::disallowed_methods)]
        reqwest::Client::new()
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn clients_build_with_tls_available() {
        let c = super::builder().https_only(true).build();
        assert!(c.is_ok());
    }
}
