//! Outbound HTTP clients (upstream services, providers such as Stripe, the
//! OTLP exporter). TLS is rustls with the ring crypto provider; build every
//! client through [`builder`] (or [`client`]) so the provider is installed
//! first (reqwest refuses to build a client without one).

use std::sync::Once;

static PROVIDER: Once = Once::new();

/// Installs ring as the process-wide rustls provider (once; idempotent).
pub fn install_tls_provider() {
    PROVIDER.call_once(|| {
        // Err means another provider was installed first, which is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// A client builder with TLS ready.
#[allow(clippy::disallowed_methods)]
pub fn builder() -> reqwest::ClientBuilder {
    install_tls_provider();
    reqwest::Client::builder()
}

/// A default client with TLS ready.
#[allow(clippy::disallowed_methods)]
pub fn client() -> reqwest::Client {
    install_tls_provider();
    reqwest::Client::new()
}

#[cfg(test)]
mod tests {
    #[test]
    fn clients_build_with_tls_available() {
        let c = super::builder().https_only(true).build();
        assert!(c.is_ok());
    }
}
