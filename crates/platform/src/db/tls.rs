//! PostgreSQL over TLS: libpq's `sslmode` / `sslrootcert` semantics on rustls
//! (ring provider) through `tokio-postgres-rustls`.
//!
//! tokio-postgres itself knows only `sslmode=disable|prefer|require` and
//! never verifies anything (verification is the TLS connector's job), so
//! [`parse`] takes `sslmode` and `sslrootcert` out of the URL before
//! tokio-postgres sees it, and [`TlsSettings::connector`] builds a rustls
//! configuration that does what the mode promises:
//!
//! | `sslmode` | encrypted | certificate chain checked against `sslrootcert` | host name checked |
//! | --- | --- | --- | --- |
//! | `disable` | no | - | - |
//! | `prefer` (the default) | if the server offers TLS | only when `sslrootcert` is given | no |
//! | `require` | yes, or the connection fails | only when `sslrootcert` is given | no |
//! | `verify-ca` | yes | yes (`sslrootcert` required) | no |
//! | `verify-full` | yes | yes (`sslrootcert` required) | yes (DNS name or IP address in the certificate's subjectAltName) |
//!
//! As in libpq, `prefer` and `require` verify the chain when a root
//! certificate is given. Differences from libpq: there is no default
//! `~/.postgresql/root.crt` (give `sslrootcert` explicitly), `prefer` does
//! not retry without TLS when the TLS handshake itself fails (only when the
//! server declines TLS), client certificates (`sslcert`, `sslkey`) are not
//! supported, and the settings are read from URLs (`postgres://...?sslmode=...`),
//! not from `key=value` connection strings. `sslrootcert` is read once, when
//! the pool (or an admin connection) is built: restart to pick up a new CA.
//! Even without verification the server must prove it holds the key of the
//! certificate it presents (the handshake signature is checked).

use percent_encoding::percent_decode_str;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio_postgres_rustls::MakeRustlsConnect;

/// libpq's `sslmode`, as far as JyotiFlow supports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SslMode {
    /// Plain TCP.
    Disable,
    /// TLS when the server offers it, else plain TCP (libpq's default).
    #[default]
    Prefer,
    /// TLS or no connection; the certificate is not verified (unless
    /// `sslrootcert` is given).
    Require,
    /// TLS; the certificate chain must lead to a CA in `sslrootcert`.
    VerifyCa,
    /// TLS; the chain must lead to a CA in `sslrootcert` and the
    /// certificate must name the host connected to.
    VerifyFull,
}

impl SslMode {
    /// Parses a libpq `sslmode` value (`allow` is not supported).
    pub fn parse(s: &str) -> Option<SslMode> {
        match s {
            "disable" => Some(SslMode::Disable),
            "prefer" => Some(SslMode::Prefer),
            "require" => Some(SslMode::Require),
            "verify-ca" => Some(SslMode::VerifyCa),
            "verify-full" => Some(SslMode::VerifyFull),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    fn needs_root_cert(self) -> bool {
        matches!(self, SslMode::VerifyCa | SslMode::VerifyFull)
    }
}

impl fmt::Display for SslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What is wrong with a database URL's TLS settings. The messages never
/// contain the URL (it may hold a password).
#[derive(Debug, thiserror::Error)]
pub enum UrlError {
    #[error("is not a valid PostgreSQL URL")]
    Invalid,
    #[error("sslmode must be one of disable, prefer, require, verify-ca, verify-full")]
    UnknownSslMode,
    #[error("sslmode={0} needs sslrootcert=<path of the CA certificate(s), PEM>")]
    MissingRootCert(SslMode),
    #[error("sslrootcert {path} cannot be read: {reason}")]
    UnreadableRootCert { path: PathBuf, reason: String },
    #[error("sslrootcert {0} holds no usable CA certificate")]
    NoRootCert(PathBuf),
    #[error("client certificates (sslcert, sslkey, sslpassword) are not supported")]
    ClientCertificate,
    #[error("TLS set-up failed: {0}")]
    Setup(String),
}

/// The TLS part of a database URL.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsSettings {
    pub mode: SslMode,
    /// CA certificate(s), PEM (libpq's `sslrootcert`).
    pub root_cert: Option<PathBuf>,
}

/// Splits a database URL into the tokio-postgres config (with `sslmode`
/// mapped to what tokio-postgres knows) and the TLS settings. Does not read
/// `sslrootcert` (see [`TlsSettings::connector`], [`check`]).
pub fn parse(url: &str) -> Result<(tokio_postgres::Config, TlsSettings), UrlError> {
    let (rest, settings) = strip_tls_params(url)?;
    let mut config: tokio_postgres::Config = rest.parse().map_err(|_| UrlError::Invalid)?;
    config.ssl_mode(match settings.mode {
        SslMode::Disable => tokio_postgres::config::SslMode::Disable,
        SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
            tokio_postgres::config::SslMode::Require
        }
    });
    Ok((config, settings))
}

/// Validates a database URL's TLS settings completely: the mode, and for a
/// mode that verifies, that `sslrootcert` is readable and holds a
/// certificate.
pub fn check(url: &str) -> Result<TlsSettings, UrlError> {
    let (_, settings) = parse(url)?;
    settings.connector()?;
    Ok(settings)
}

/// Takes `sslmode` and `sslrootcert` out of the query of a
/// `postgres://` / `postgresql://` URL. Other strings (tokio-postgres'
/// `key=value` form) are returned unchanged, with the mode tokio-postgres
/// would use.
fn strip_tls_params(url: &str) -> Result<(String, TlsSettings), UrlError> {
    let is_url = url.starts_with("postgres://") || url.starts_with("postgresql://");
    if !is_url {
        let config: tokio_postgres::Config = url.parse().map_err(|_| UrlError::Invalid)?;
        let mode = match config.get_ssl_mode() {
            tokio_postgres::config::SslMode::Disable => SslMode::Disable,
            tokio_postgres::config::SslMode::Require => SslMode::Require,
            _ => SslMode::Prefer,
        };
        return Ok((
            url.to_owned(),
            TlsSettings {
                mode,
                root_cert: None,
            },
        ));
    }
    let Some((head, query)) = url.split_once('?') else {
        return Ok((url.to_owned(), TlsSettings::default()));
    };
    let mut settings = TlsSettings::default();
    let mut kept: Vec<&str> = Vec::new();
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = decode(key)?;
        match key.as_str() {
            "sslmode" => {
                settings.mode = SslMode::parse(&decode(value)?).ok_or(UrlError::UnknownSslMode)?;
            }
            "sslrootcert" => {
                let path = decode(value)?;
                settings.root_cert = (!path.is_empty()).then(|| PathBuf::from(path));
            }
            "sslcert" | "sslkey" | "sslpassword" => return Err(UrlError::ClientCertificate),
            _ => kept.push(pair),
        }
    }
    let rest = if kept.is_empty() {
        head.to_owned()
    } else {
        format!("{head}?{}", kept.join("&"))
    };
    Ok((rest, settings))
}

fn decode(s: &str) -> Result<String, UrlError> {
    percent_decode_str(s)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| UrlError::Invalid)
}

fn load_roots(path: &Path) -> Result<RootCertStore, UrlError> {
    let unreadable = |reason: String| UrlError::UnreadableRootCert {
        path: path.to_owned(),
        reason,
    };
    // Read first, so a missing or unreadable file says so plainly.
    let pem = std::fs::read(path).map_err(|e| unreadable(e.kind().to_string()))?;
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| unreadable(e.to_string()))?;
        roots
            .add(cert)
            .map_err(|e| unreadable(format!("not a usable CA certificate: {e}")))?;
    }
    if roots.is_empty() {
        return Err(UrlError::NoRootCert(path.to_owned()));
    }
    Ok(roots)
}

impl TlsSettings {
    /// The TLS connector for these settings (reads `sslrootcert`). For
    /// `disable` it is never used.
    pub fn connector(&self) -> Result<MakeRustlsConnect, UrlError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier: Arc<dyn ServerCertVerifier> = match (&self.root_cert, self.mode) {
            (None, mode) if mode.needs_root_cert() => {
                return Err(UrlError::MissingRootCert(mode));
            }
            (None, _) | (Some(_), SslMode::Disable) => Arc::new(NoCertificateCheck {
                provider: provider.clone(),
            }),
            (Some(path), mode) => {
                let roots = load_roots(path)?;
                let webpki =
                    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                        .build()
                        .map_err(|e| UrlError::UnreadableRootCert {
                            path: path.clone(),
                            reason: e.to_string(),
                        })?;
                if mode == SslMode::VerifyFull {
                    webpki
                } else {
                    Arc::new(ChainOnly(webpki))
                }
            }
        };
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| UrlError::Setup(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        Ok(MakeRustlsConnect::new(config))
    }
}

/// `prefer` / `require` without `sslrootcert`: any certificate, but the
/// handshake signature must be made with its key.
#[derive(Debug)]
struct NoCertificateCheck {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for NoCertificateCheck {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// `verify-ca`: the full WebPKI check (chain, validity, key usage) except
/// the host name. webpki checks the chain before the name, so a name
/// mismatch means the chain was good.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(url: &str) -> (String, TlsSettings) {
        strip_tls_params(url).unwrap()
    }

    #[test]
    fn tls_parameters_are_taken_out_of_the_url() {
        assert_eq!(
            split("postgres://u:p@h:5432/db"),
            ("postgres://u:p@h:5432/db".into(), TlsSettings::default())
        );
        assert_eq!(
            split("postgres://u:p@h/db?sslmode=verify-full&sslrootcert=%2Fetc%2Fca%20x.pem&application_name=a"),
            (
                "postgres://u:p@h/db?application_name=a".into(),
                TlsSettings {
                    mode: SslMode::VerifyFull,
                    root_cert: Some("/etc/ca x.pem".into())
                }
            )
        );
        assert_eq!(
            split("postgresql://h/db?sslmode=disable").1.mode,
            SslMode::Disable
        );
        assert_eq!(split("host=h sslmode=require").1.mode, SslMode::Require);
    }

    #[test]
    fn the_mode_reaches_tokio_postgres() {
        use tokio_postgres::config::SslMode as T;
        let mode = |u: &str| parse(u).unwrap().0.get_ssl_mode();
        assert_eq!(mode("postgres://h/db"), T::Prefer);
        assert_eq!(mode("postgres://h/db?sslmode=disable"), T::Disable);
        assert_eq!(mode("postgres://h/db?sslmode=require"), T::Require);
        assert_eq!(
            mode("postgres://h/db?sslmode=verify-ca&sslrootcert=/x"),
            T::Require
        );
        assert_eq!(
            mode("postgres://h/db?sslmode=verify-full&sslrootcert=/x"),
            T::Require
        );
    }

    #[test]
    fn bad_settings_are_refused_without_the_url() {
        let secret = "hunter2-secret";
        for (url, expected) in [
            (
                format!("postgres://u:{secret}@h/db?sslmode=allow"),
                "sslmode must be one of",
            ),
            (
                format!("postgres://u:{secret}@h/db?sslmode=verify-full"),
                "needs sslrootcert",
            ),
            (
                format!(
                    "postgres://u:{secret}@h/db?sslmode=verify-ca&sslrootcert=/nonexistent/ca.pem"
                ),
                "cannot be read",
            ),
            (
                format!("postgres://u:{secret}@h/db?sslcert=/c.pem"),
                "not supported",
            ),
        ] {
            let e = check(&url).unwrap_err().to_string();
            assert!(e.contains(expected), "{e}");
            assert!(!e.contains(secret), "{e}");
        }
        // A file that is not PEM holds no certificate.
        let e = check("postgres://h/db?sslmode=verify-full&sslrootcert=Cargo.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("no usable CA certificate"), "{e}");
        // Not verifying needs no root certificate.
        assert!(check("postgres://h/db?sslmode=require").is_ok());
    }
}
