//! PostgreSQL over TLS: `sslmode` and `sslrootcert` in `database.url`,
//! against private PostgreSQL servers with certificates made for the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use platform::config::{ConfigError, DatabaseConfig};
use platform::db::{build_pool, connect_admin};
use secrecy::SecretString;
use std::path::Path;
use std::time::Duration;
use testkit::{PgServer, TestCerts};

fn db_config(url: &str) -> DatabaseConfig {
    DatabaseConfig {
        url: SecretString::from(url.to_owned()),
        max_connections: 2,
        connect_timeout_ms: 3000,
        wait_timeout_ms: 5000,
        create_timeout_ms: 5000,
        recycle_timeout_ms: 1000,
        statement_timeout_ms: 5000,
        idle_in_transaction_timeout_ms: 5000,
    }
}

fn url(host: &str, pg: &PgServer, params: &str) -> String {
    format!("postgres://postgres@{host}:{}/postgres{params}", pg.port)
}

fn verify(mode: &str, ca: &Path) -> String {
    format!("?sslmode={mode}&sslrootcert={}", ca.display())
}

const SSL_IN_USE: &str = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()";

/// Whether the connection the pool hands out is encrypted (per the server).
async fn pool_ssl(url: &str) -> anyhow::Result<bool> {
    let pool = build_pool(&db_config(url), "tls_test")?;
    let client = pool.get().await.map_err(anyhow::Error::new)?;
    Ok(client.query_one(SSL_IN_USE, &[]).await?.get(0))
}

async fn admin_ssl(url: &str) -> anyhow::Result<bool> {
    let client = connect_admin(url, Duration::from_secs(5)).await?;
    Ok(client.query_one(SSL_IN_USE, &[]).await?.get(0))
}

#[tokio::test]
async fn verify_full_and_verify_ca_check_the_certificate() {
    let certs = TestCerts::signed_by_new_ca(&["localhost"]).unwrap();
    let other_ca = TestCerts::signed_by_new_ca(&["localhost"]).unwrap();
    let pg = PgServer::start_with_tls(&certs).unwrap();

    // verify-full with the CA that signed the server's certificate, and the
    // host name the certificate names: encrypted, through the pool and through
    // an admin connection (migrate, tests).
    let good = url("localhost", &pg, &verify("verify-full", &certs.ca_cert));
    assert!(pool_ssl(&good).await.unwrap());
    assert!(admin_ssl(&good).await.unwrap());
    // testkit's fresh databases keep the parameters.
    let db = testkit::TestDb::create_on(&good).await.unwrap();
    assert!(db.url.contains("sslmode=verify-full"));
    assert!(admin_ssl(&db.url).await.unwrap());
    drop(db);

    // Another CA: the handshake fails, saying why.
    let wrong_ca = url("localhost", &pg, &verify("verify-full", &other_ca.ca_cert));
    let e = format!("{:#}", admin_ssl(&wrong_ca).await.unwrap_err());
    assert!(e.contains("sslmode=verify-full"), "{e}");
    assert!(e.contains("invalid peer certificate"), "{e}");
    assert!(e.contains("UnknownIssuer"), "{e}");
    let e = format!("{:#}", pool_ssl(&wrong_ca).await.unwrap_err());
    assert!(e.contains("TLS"), "{e}");
    // verify-ca too; and, as in libpq, require with a root certificate verifies the chain.
    for mode in ["verify-ca", "require"] {
        let u = url("localhost", &pg, &verify(mode, &other_ca.ca_cert));
        let e = format!("{:#}", admin_ssl(&u).await.unwrap_err());
        assert!(e.contains("UnknownIssuer"), "{mode}: {e}");
    }

    // The certificate names localhost, not 127.0.0.1: verify-full refuses
    // the address, verify-ca (chain only) accepts it.
    let by_ip_full = url("127.0.0.1", &pg, &verify("verify-full", &certs.ca_cert));
    let e = format!("{:#}", admin_ssl(&by_ip_full).await.unwrap_err());
    assert!(e.contains("not valid for name"), "{e}");
    let by_ip_ca = url("127.0.0.1", &pg, &verify("verify-ca", &certs.ca_cert));
    assert!(pool_ssl(&by_ip_ca).await.unwrap());
    assert!(admin_ssl(&by_ip_ca).await.unwrap());

    // sslmode=disable still works against a server with TLS: plain TCP.
    let plain = url("127.0.0.1", &pg, "?sslmode=disable");
    assert!(!pool_ssl(&plain).await.unwrap());
    assert!(!admin_ssl(&plain).await.unwrap());
}

#[tokio::test]
async fn require_and_prefer_encrypt_without_verifying() {
    let certs = TestCerts::self_signed(&["db.example.internal"]).unwrap();
    let pg = PgServer::start_with_tls(&certs).unwrap();
    // Self-signed, for another name: require still connects, encrypted.
    let require = url("127.0.0.1", &pg, "?sslmode=require");
    assert!(pool_ssl(&require).await.unwrap());
    assert!(admin_ssl(&require).await.unwrap());
    // No sslmode is libpq's prefer: TLS when the server offers it.
    let default = url("127.0.0.1", &pg, "");
    assert!(pool_ssl(&default).await.unwrap());
    // Verifying against that certificate as CA is refused (it is no CA).
    let full = url("127.0.0.1", &pg, &verify("verify-full", &certs.ca_cert));
    assert!(admin_ssl(&full).await.is_err());
}

#[tokio::test]
async fn require_fails_against_a_server_without_tls() {
    let pg = PgServer::start().unwrap();
    let require = url("127.0.0.1", &pg, "?sslmode=require");
    let e = format!("{:#}", admin_ssl(&require).await.unwrap_err());
    assert!(e.contains("sslmode=require"), "{e}");
    assert!(e.contains("server does not support TLS"), "{e}");
    assert!(pool_ssl(&require).await.is_err());
    // disable and prefer fall back to plain TCP.
    assert!(!pool_ssl(&url("127.0.0.1", &pg, "?sslmode=disable"))
        .await
        .unwrap());
    assert!(!admin_ssl(&url("127.0.0.1", &pg, "?sslmode=disable"))
        .await
        .unwrap());
    assert!(!pool_ssl(&url("127.0.0.1", &pg, "")).await.unwrap());
}

/// A service without sections of its own.
#[derive(serde::Deserialize)]
struct NoSections {}

impl platform::config::Validate for NoSections {
    fn validate(&self, _env: platform::config::Environment) -> Result<(), ConfigError> {
        Ok(())
    }
}

fn load_with_database_url(url: &str) -> Result<(), ConfigError> {
    let overrides = vec![
        ("env".to_owned(), "test".to_owned()),
        ("database.url".to_owned(), url.to_owned()),
    ];
    platform::config::load::<NoSections>("tls_test", 8080, &overrides, Ok).map(|_| ())
}

#[test]
fn config_validation_names_database_url_and_never_prints_it() {
    let certs = TestCerts::signed_by_new_ca(&["localhost"]).unwrap();
    let password = "pa55-word-that-must-not-print";
    let base = format!("postgres://svc:{password}@db.internal:5432/jyotiflow");
    let cases = [
        (format!("{base}?sslmode=allow"), "sslmode must be one of"),
        (format!("{base}?sslmode=verify-full"), "needs sslrootcert"),
        (format!("{base}?sslmode=verify-ca"), "needs sslrootcert"),
        (
            format!("{base}?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem"),
            "cannot be read",
        ),
        (
            format!(
                "{base}?sslmode=verify-full&sslrootcert={}",
                certs.dir.join("openssl.cnf").display()
            ),
            "no usable CA certificate",
        ),
        (
            format!("{base}?sslmode=require&sslkey=/k.pem"),
            "not supported",
        ),
        (
            format!("{base}?bogus_option=1"),
            "not a valid PostgreSQL URL",
        ),
    ];
    for (url, expected) in cases {
        let e = load_with_database_url(&url).unwrap_err();
        let text = e.to_string();
        assert!(
            matches!(&e, ConfigError::Invalid { key, .. } if key == "database.url"),
            "{text}"
        );
        assert!(text.contains(expected), "{text}");
        assert!(!text.contains(password), "{text}");
    }
    for ok in [
        format!("{base}?sslmode=disable"),
        format!("{base}?sslmode=prefer"),
        format!("{base}?sslmode=require"),
        format!(
            "{base}?sslmode=verify-full&sslrootcert={}",
            certs.ca_cert.display()
        ),
        format!(
            "{base}?sslmode=verify-ca&sslrootcert={}&application_name=x",
            certs.ca_cert.display()
        ),
    ] {
        load_with_database_url(&ok).unwrap();
    }
}
